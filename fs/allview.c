// SPDX-License-Identifier: GPL-2.0-or-later
/* MOUNT/.all: every UTS namespace on the host, named or not, by its id. */
#include "allview.h"
#include "daemon.h"
#include "meta.h"

#include <errno.h>
#include <string.h>

/*
 * The view keeps the last scan of the host (no namespace fds: they would
 * keep dead namespaces alive; each found one is reached again through the
 * task it was found by) and one node id per namespace seen, dropped once a
 * scan no longer sees it: ids are never reused, so a gone one stays gone.
 * Nothing of the view is cached by the kernel (timeouts 0, no kept
 * listing): no event tells of a namespace's end.
 */
struct view_node {
	uint64_t id;
	fuse_ino_t node;
};

void allview_init(struct allview *v, fuse_ino_t dir)
{
	g_mutex_init(&v->lock);
	v->found = g_hash_table_new(g_int64_hash, g_int64_equal);
	v->node_of = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	v->id_of = g_hash_table_new(g_int64_hash, g_int64_equal);
	v->dir = dir;
}

void allview_free(struct allview *v)
{
	if (!v->found)
		return;
	g_clear_pointer(&v->found, g_hash_table_unref);
	g_clear_pointer(&v->id_of, g_hash_table_unref);
	g_clear_pointer(&v->node_of, g_hash_table_unref);
	g_mutex_clear(&v->lock);
}

bool allview_owns(struct allview *v, fuse_ino_t ino)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&v->lock);

	return ino == v->dir || g_hash_table_contains(v->id_of, &ino);
}

/* A fresh look at the host replaces the last one. */
static int rescan(struct utsfs *fs)
{
	struct allview *v = &fs->all;
	GHashTable *found = NULL;
	GHashTableIter it;
	struct view_node *vn;
	int r = nsops_all_scan(&found);

	if (r < 0)
		return r;
	g_mutex_lock(&v->lock);
	g_hash_table_iter_init(&it, v->node_of);
	while (g_hash_table_iter_next(&it, NULL, (gpointer *)&vn)) {
		if (!g_hash_table_contains(found, &vn->id)) {
			g_hash_table_remove(v->id_of, &vn->node);
			g_hash_table_iter_remove(&it);
		}
	}
	g_hash_table_unref(v->found);
	v->found = found;
	v->scanned_at = g_get_monotonic_time();
	g_mutex_unlock(&v->lock);
	return 0;
}

/*
 * A lookup of an id the last scan did not see rescans; for others than
 * root not more than four times a second: anyone can ask for made-up ids,
 * and a scan costs some 40 ms at 2,000 processes. A namespace made since
 * then waits for the next such scan, or a listing.
 */
#define LOOKUP_SCAN_GAP_US (G_USEC_PER_SEC / 4)

static bool may_rescan(struct allview *v, uid_t uid)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&v->lock);

	return uid == 0 || g_get_monotonic_time() - v->scanned_at >= LOOKUP_SCAN_GAP_US;
}

/* The node id of namespace id, made when first needed. Under v->lock. */
static fuse_ino_t node_for(struct utsfs *fs, uint64_t id)
{
	struct view_node *vn = g_hash_table_lookup(fs->all.node_of, &id);

	if (!vn) {
		vn = g_new(struct view_node, 1);
		*vn = (struct view_node){ .id = id, .node = nodes_reserve(&fs->nodes) };
		g_hash_table_insert(fs->all.node_of, &vn->id, vn);
		g_hash_table_insert(fs->all.id_of, &vn->node, vn);
	}
	return vn->node;
}

/* The names in the state directory that hold namespace id (struct nsops_entry). */
static int names_of(struct utsfs *fs, uint64_t id, GPtrArray **names)
{
	g_autoptr(GPtrArray) entries = NULL;
	int r = nsops_statedir_list(&fs->state, &entries);

	for (guint i = 0; r == 0 && i < entries->len; i++)
		if (((const struct nsops_entry *)entries->pdata[i])->id != id)
			g_ptr_array_remove_index(entries, i--);
	if (r == 0)
		*names = g_steal_pointer(&entries);
	return r;
}

/* Through a name in the state directory: one named since the scan (ln -s .all/ID NAME). */
static int open_by_name(struct utsfs *fs, uint64_t id)
{
	g_autoptr(GPtrArray) names = NULL;
	int r = names_of(fs, id, &names);

	if (r == 0 && names->len == 0)
		return -ENOENT;
	return r < 0 ? r : nsops_statedir_open_ns(&fs->state,
						  ((const struct nsops_entry *)names->pdata[0])->name,
						  id, NULL);
}

/* What the last scan found of id, with a reference of the caller's; NULL if nothing. */
static struct nsops_found *found_ref(struct allview *v, uint64_t id)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&v->lock);
	struct nsops_found *f = g_hash_table_lookup(v->found, &id);

	return f ? nsops_found_ref(f) : NULL;
}

/*
 * An fd on namespace id, and what the scan found of it (a reference,
 * *found), through the tasks the last scan found in it, else a name of
 * ours. An id the last scan did not see (a namespace made since), or whose
 * tasks it saw are all gone (others may have entered since), costs one more
 * scan. Outside the view's lock: every request takes it.
 */
static int reach(struct utsfs *fs, uint64_t id, uid_t uid, struct nsops_found **found)
{
	for (int scans = 0;; scans++) {
		struct nsops_found *f = found_ref(&fs->all, id);
		int fd = f ? nsops_all_open(f) : -ENOENT;

		if (f && fd < 0)
			fd = open_by_name(fs, id);
		if (fd >= 0) {
			*found = f;
			return fd;
		}
		if (f)
			nsops_found_unref(f);
		if (scans > 0 || !may_rescan(&fs->all, uid) || rescan(fs) < 0)
			return -ENOENT;
	}
}

int allview_open(struct utsfs *fs, uint64_t id)
{
	g_autoptr(NsopsFound) f = NULL;

	return reach(fs, id, 0, &f);
}

/* The namespace id of view directory node dir; false when dir is none. */
static bool id_of_node(struct allview *v, fuse_ino_t dir, uint64_t *id)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&v->lock);
	struct view_node *vn = g_hash_table_lookup(v->id_of, &dir);

	if (vn)
		*id = vn->id;
	return vn != NULL;
}

int allview_resolve(struct utsfs *fs, fuse_ino_t dir, struct ns_ref *ref, struct stat *st)
{
	g_autoptr(NsopsFound) f = NULL;
	uint64_t id;
	int fd = id_of_node(&fs->all, dir, &id) ? reach(fs, id, 0, &f) : -ENOENT;

	if (fd < 0)
		return fd;
	nsops_close_fd(&fd);
	*ref = (struct ns_ref){ .ino = dir, .id = f->id, .ns_ino = f->ino };
	if (st)
		*st = f->st;
	return 0;
}

void allview_viewer_of(fuse_req_t req, struct allview_viewer *who)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	*who = (struct allview_viewer){ .uid = ctx->uid, .gid = ctx->gid, .tid = ctx->pid };
	if (who->uid != 0) {
		/* Asked twice: first how many there are. */
		int n = fuse_req_getgroups(req, 0, NULL);

		who->groups = n > 0 ? g_new(gid_t, n) : NULL;
		if (n > 0 && fuse_req_getgroups(req, n, who->groups) == n)
			who->ngroups = n;
	}
}

void allview_viewer_clear(struct allview_viewer *who)
{
	g_clear_pointer(&who->groups, g_free);
	who->ngroups = 0;
}

/* Whether who holds a process in namespace f: one the last scan saw, or who's own thread. */
static bool holds_process_of(const struct nsops_found *f, const struct allview_viewer *who)
{
	for (guint i = 0; i < f->pids->len; i++)
		if (nsops_pid_runs_as(g_array_index(f->pids, pid_t, i), who->uid))
			return true;
	return nsops_task_in(who->tid, f->ino);
}

/* The x bit the kernel would check for who on a directory of owner and mode m. */
static bool may_search(const struct ns_meta *m, const struct allview_viewer *who)
{
	bool in_group = who->gid == m->gid;

	if (who->uid == m->uid)
		return m->mode & S_IXUSR;
	for (int i = 0; i < who->ngroups && !in_group; i++)
		in_group = who->groups[i] == m->gid;
	return m->mode & (in_group ? S_IXGRP : S_IXOTH);
}

/*
 * Whether the names (struct nsops_entry) of namespace id in entries keep it
 * from who: it has names and who may search none of them (chmod 0700 hid
 * its hostname; the view must not show it another way).
 */
static bool hidden_by_names(struct utsfs *fs, uint64_t id, GPtrArray *entries,
			    const struct allview_viewer *who)
{
	bool named = false;

	for (guint i = 0; i < entries->len; i++) {
		const struct nsops_entry *e = entries->pdata[i];
		struct ns_meta m;

		if (e->id != id)
			continue;
		meta_get(&fs->meta, e->name, id, &m);
		if (may_search(&m, who))
			return false;
		named = true;
	}
	return named;
}

/*
 * Root sees every namespace; anyone else those that hold a process of
 * theirs (the pids rule) and that no name hides from them. entries: the
 * state directory's (struct nsops_entry).
 */
static bool visible(struct utsfs *fs, const struct nsops_found *f, GPtrArray *entries,
		    const struct allview_viewer *who)
{
	return who->uid == 0 ||
	       (holds_process_of(f, who) && !hidden_by_names(fs, f->id, entries, who));
}

/* visible() with the state directory as it is now: 0, -ENOENT when not, or -errno. */
static int visible_now(struct utsfs *fs, const struct nsops_found *f,
		       const struct allview_viewer *who)
{
	g_autoptr(GPtrArray) entries = NULL;
	int r = who->uid == 0 ? 0 : nsops_statedir_list(&fs->state, &entries);

	return r < 0 ? r : visible(fs, f, entries, who) ? 0 : -ENOENT;
}

int allview_check_seen(fuse_req_t req, fuse_ino_t dir)
{
	struct utsfs *fs = utsfs_from_req(req);
	g_auto(AllviewViewer) who = { 0 };
	g_autoptr(NsopsFound) f = NULL;
	uint64_t id;

	if (fuse_req_ctx(req)->uid == 0 || !id_of_node(&fs->all, dir, &id))
		return 0;
	f = found_ref(&fs->all, id);
	allview_viewer_of(req, &who);
	return f && visible_now(fs, f, &who) == 0 ? 0 : -EACCES;
}

static gint compare_ids(gconstpointer a, gconstpointer b)
{
	const struct nsops_found *fa = *(const struct nsops_found *const *)a;
	const struct nsops_found *fb = *(const struct nsops_found *const *)b;

	return fa->id < fb->id ? -1 : fa->id > fb->id;
}

int allview_list(struct utsfs *fs, const struct allview_viewer *who, GPtrArray **found)
{
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)nsops_found_unref);
	g_autoptr(GPtrArray) entries = NULL;
	GHashTableIter it;
	struct nsops_found *f;
	int r = rescan(fs);

	if (r == 0 && who->uid != 0)
		r = nsops_statedir_list(&fs->state, &entries);
	if (r < 0)
		return r;
	g_mutex_lock(&fs->all.lock);
	g_hash_table_iter_init(&it, fs->all.found);
	while (g_hash_table_iter_next(&it, NULL, (gpointer *)&f))
		g_ptr_array_add(out, nsops_found_ref(f));
	g_mutex_unlock(&fs->all.lock);
	/* Who may see what reads /proc: outside the lock. */
	for (guint i = 0; i < out->len; i++)
		if (!visible(fs, out->pdata[i], entries, who))
			g_ptr_array_remove_index_fast(out, i--);
	g_ptr_array_sort(out, compare_ids);
	*found = g_steal_pointer(&out);
	return 0;
}

/* What stat shows of a namespace of the view: root's, no write bits, its nsfs inode. */
static void stat_view_dir(const struct nsops_found *f, struct stat *st)
{
	*st = (struct stat){
		.st_ino = f->ino,
		.st_mode = S_IFDIR | 0555,
		.st_nlink = 2,
		.st_atim = f->st.st_atim,
		.st_mtim = f->st.st_mtim,
		.st_ctim = f->st.st_ctim,
	};
}

/* ID in canonical decimal: one spelling per namespace, as one directory has one name. */
static bool parse_id(const char *text, uint64_t *id)
{
	guint64 n;

	if (text[0] == '0' || !g_ascii_string_to_unsigned(text, 10, 1, G_MAXUINT64, &n, NULL))
		return false;
	*id = n;
	return true;
}

/* Whether namespace id can be reached and is who's to see; its scan to *found. */
static int reach_for(struct utsfs *fs, uint64_t id, const struct allview_viewer *who,
		     struct nsops_found **found)
{
	int r = reach(fs, id, who->uid, found);

	if (r < 0)
		return r;
	nsops_close_fd(&r);
	r = visible_now(fs, *found, who);
	if (r < 0)
		g_clear_pointer(found, nsops_found_unref);
	return r;
}

void allview_lookup(fuse_req_t req, const char *name)
{
	struct utsfs *fs = utsfs_from_req(req);
	g_auto(AllviewViewer) who = { 0 };
	struct fuse_entry_param e = { 0 };
	g_autoptr(NsopsFound) f = NULL;
	uint64_t id;
	int r;

	if (!parse_id(name, &id)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	allview_viewer_of(req, &who);
	r = reach_for(fs, id, &who, &f);
	/* A process of theirs may have entered since the last scan: one more look, if due. */
	if (r == -ENOENT && who.uid != 0 && may_rescan(&fs->all, who.uid) && rescan(fs) == 0)
		r = reach_for(fs, id, &who, &f);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	g_mutex_lock(&fs->all.lock);
	e.ino = node_for(fs, id);
	g_mutex_unlock(&fs->all.lock);
	stat_view_dir(f, &e.attr);
	fuse_reply_entry(req, &e);
}

void allview_entry(fuse_req_t req)
{
	struct utsfs *fs = utsfs_from_req(req);
	struct fuse_entry_param e = {
		.ino = fs->all.dir,
		.attr = { .st_ino = fs->all.dir, .st_mode = S_IFDIR | 0555, .st_nlink = 1,
			  .st_atim = fs->start_time, .st_mtim = fs->start_time,
			  .st_ctim = fs->start_time },
		.attr_timeout = KCACHE_FIXED_TIMEOUT,
		.entry_timeout = KCACHE_FIXED_TIMEOUT,
	};

	fuse_reply_entry(req, &e);
}

/*
 * The id that path names from the root (".all/ID"), or from .all ("ID"),
 * spelt any way the kernel would read the same ("./.all//ID/"); ".." is
 * not followed (it would take a lookup to know where it leads).
 */
static bool id_of_path(const char *path, bool from_root, uint64_t *id)
{
	g_auto(GStrv) parts = g_strsplit(path, "/", -1);
	const char *want[2];
	guint n = 0;

	for (char **p = parts; *p; p++) {
		if (!**p || g_str_equal(*p, "."))
			continue;
		if (n == G_N_ELEMENTS(want))
			return false;
		want[n++] = *p;
	}
	if (from_root)
		return n == 2 && g_str_equal(want[0], ALLVIEW_NAME) && parse_id(want[1], id);
	return n == 1 && parse_id(want[0], id);
}

bool allview_link_id(const char *link, uint64_t *id)
{
	return id_of_path(link, true, id);
}

bool allview_reached_id(struct utsfs *fs, uint64_t ino, const char *rest, uint64_t *id)
{
	if (ino == FUSE_ROOT_ID)
		return id_of_path(rest, true, id);
	return ino == fs->all.dir && id_of_path(rest, false, id);
}

int allview_names(struct utsfs *fs, uint64_t id, GString *out)
{
	g_autoptr(GPtrArray) names = NULL;
	int r = names_of(fs, id, &names);

	for (guint i = 0; r == 0 && i < names->len; i++)
		g_string_append_printf(out, "%s\n", ((const struct nsops_entry *)names->pdata[i])->name);
	return r;
}
