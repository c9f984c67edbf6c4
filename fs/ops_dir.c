// SPDX-License-Identifier: GPL-2.0-or-later
/* Directory requests: the root (one entry per namespace) and each namespace directory. */
#include "attrs.h"
#include "daemon.h"
#include "log.h"
#include "nsnode.h"
#include "ops.h"
#include "stat.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/*
 * What opendir hands out: libfuse passes readdir a copy of fi, so a fresh
 * listing has to replace the one inside the handle, not fi->fh itself.
 */
struct dir_handle {
	GPtrArray *items;
	/* Whether a readdir has served items: offset 0 after that is a rewind. */
	bool served;
};

struct dir_item {
	ino_t st_ino;
	/* A name's namespace id, as listed (READDIRPLUS hands out its entry); 0 for the rest. */
	uint64_t id;
	mode_t mode;
	char name[];
};

static void add_item(GPtrArray *items, const char *name, ino_t st_ino, uint64_t id,
		     mode_t mode)
{
	size_t len = strlen(name);
	struct dir_item *it = g_malloc(sizeof(*it) + len + 1);

	it->st_ino = st_ino;
	it->id = id;
	it->mode = mode;
	memcpy(it->name, name, len + 1);
	g_ptr_array_add(items, it);
}

/* .all: the namespaces the caller may see, by id, from a fresh scan of the host. */
static int list_view(fuse_req_t req, GPtrArray *items)
{
	g_autoptr(GPtrArray) found = NULL;
	g_auto(AllviewViewer) who = { 0 };
	int r;

	allview_viewer_of(req, &who);
	r = allview_list(utsfs_from_req(req), &who, &found);

	for (guint i = 0; r == 0 && i < found->len; i++) {
		const struct nsops_found *f = found->pdata[i];
		char name[24];

		g_snprintf(name, sizeof(name), "%" G_GUINT64_FORMAT, f->id);
		add_item(items, name, f->ino, 0, S_IFDIR);
	}
	return r;
}

/* A listing is taken once per opendir (and on rewind) so later offsets see one snapshot. */
static int list_dir(fuse_req_t req, fuse_ino_t ino, GPtrArray **out)
{
	struct utsfs *fs = utsfs_from_req(req);
	g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) entries = NULL;
	g_auto(NsRef) ref = { 0 };
	int r;

	if (ino == fs->all.dir) {
		add_item(items, ".", ino, 0, S_IFDIR);
		add_item(items, "..", FUSE_ROOT_ID, 0, S_IFDIR);
		r = list_view(req, items);
		if (r < 0)
			return r;
	} else if (ino == FUSE_ROOT_ID) {
		r = nsops_statedir_list(&fs->state, &entries);
		if (r < 0)
			return r;
		add_item(items, ".", FUSE_ROOT_ID, 0, S_IFDIR);
		add_item(items, "..", FUSE_ROOT_ID, 0, S_IFDIR);
		add_item(items, ALLVIEW_NAME, fs->all.dir, 0, S_IFDIR);
		for (guint i = 0; i < entries->len; i++) {
			const struct nsops_entry *e = entries->pdata[i];

			add_item(items, e->name, e->ino, e->id, S_IFDIR);
		}
	} else {
		r = nsnode_resolve(fs, ino, &ref, NULL);
		if (r < 0)
			return r;
		add_item(items, ".", ref.ns_ino, 0, S_IFDIR);
		add_item(items, "..", FUSE_ROOT_ID, 0, S_IFDIR);
		for (const struct attr_def *def = attr_table; def < attr_table + attr_count; def++)
			if (attr_present(fs, def, &ref))
				add_item(items, def->name, attr_st_ino(ref.ns_ino, def), 0,
					 def->mode & S_IFMT);
	}
	*out = g_steal_pointer(&items);
	return 0;
}

static void dir_handle_free(struct dir_handle *dh)
{
	g_ptr_array_unref(dh->items);
	g_free(dh);
}

void utsfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir_handle *dh;
	GPtrArray *items = NULL;
	int r;

	if (attr_from_ino(ino, &(fuse_ino_t){ 0 })) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	r = allview_check_seen(req, ino);
	if (r == 0)
		r = list_dir(req, ino, &items);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	dh = g_new0(struct dir_handle, 1);
	dh->items = items;
	fi->fh = handle_add(&utsfs_from_req(req)->handles, dh, (GDestroyNotify)dir_handle_free);
	/*
	 * A namespace directory lists the same files for as long as its node
	 * lives (a node keeps its namespace): the kernel may keep the listing,
	 * and `find` or a file manager walking the tree asks for it once.
	 */
	if (ino != FUSE_ROOT_ID && !allview_owns(&utsfs_from_req(req)->all, ino)) {
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
	}
	if (fuse_reply_open(req, fi) != 0)
		handle_release(&utsfs_from_req(req)->handles, fi->fh);
}

/*
 * The listing a readdir at off serves. A rewind (seekdir 0) asks for a
 * fresh look at the state directory; the first readdir after opendir gets
 * its listing as it is.
 */
static GPtrArray *dir_items(fuse_req_t req, fuse_ino_t ino, off_t off,
			    struct fuse_file_info *fi)
{
	struct dir_handle *dh = (struct dir_handle *)(uintptr_t)fi->fh;
	GPtrArray *fresh = NULL;

	if (off == 0 && dh->served &&
	    list_dir(req, ino, &fresh) == 0) {
		g_ptr_array_unref(dh->items);
		dh->items = fresh;
	}
	dh->served = true;
	return dh->items;
}

/* The index of the item at a seekdir cookie: past the end (or a huge one) lists nothing. */
static guint first_item(GPtrArray *items, off_t off)
{
	return off < 0 || (uint64_t)off > items->len ? items->len : (guint)off;
}

/*
 * What READDIRPLUS tells of an item. A name is identified again (one statx
 * for a mount checked before): the listing may be older than the last
 * rmdir, and the kernel keeps the entries it is given. Meanwhile it holds
 * the directory's lock shared, so no mkdir, rmdir or rename through the
 * mount runs until it has taken the reply in; changes behind our back are
 * the watcher's (gen, as for a lookup). A name that no longer holds the
 * namespace listed, and every other item, goes as it is (node id 0): the
 * kernel leaves those to a lookup.
 */
static void plus_entry(fuse_req_t req, const struct dir_item *it, uint64_t gen,
		       struct fuse_entry_param *e)
{
	struct utsfs *fs = utsfs_from_req(req);
	struct stat ns_st;

	if (it->id && nsops_statedir_holds(&fs->state, it->name, it->id, &ns_st, NULL) == 0)
		name_entry(req, it->name, it->id, &ns_st, gen, e);
}

/*
 * Both listings: READDIRPLUS (plus) hands each name's attributes out with
 * it, as `ls -l` and file managers stat every name they list: a name then
 * costs them no LOOKUP of its own.
 */
static void reply_listing(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			  struct fuse_file_info *fi, bool plus)
{
	struct utsfs *fs = utsfs_from_req(req);
	uint64_t gen = kcache_name_begin(&fs->kcache);
	GPtrArray *items = dir_items(req, ino, off, fi);
	g_autofree char *buf = g_malloc(size);
	g_autoptr(GArray) counted = g_array_new(FALSE, FALSE, sizeof(fuse_ino_t));
	size_t pos = 0;

	for (guint i = first_item(items, off); i < items->len; i++) {
		const struct dir_item *it = items->pdata[i];
		struct fuse_entry_param e = { .attr = { .st_ino = it->st_ino, .st_mode = it->mode } };

		/* Sized first: an entry that does not fit must not count a lookup. */
		if ((plus ? fuse_add_direntry_plus(req, NULL, 0, it->name, NULL, 0)
			  : fuse_add_direntry(req, NULL, 0, it->name, NULL, 0)) > size - pos)
			break;
		if (!plus) {
			pos += fuse_add_direntry(req, buf + pos, size - pos, it->name, &e.attr,
						 (off_t)i + 1);
			continue;
		}
		plus_entry(req, it, gen, &e);
		if (e.ino)
			g_array_append_val(counted, e.ino);
		pos += fuse_add_direntry_plus(req, buf + pos, size - pos, it->name, &e,
					      (off_t)i + 1);
	}
	/* The kernel counts every entry of a reply it got, and none of one it did not. */
	if (fuse_reply_buf(req, buf, pos) != 0)
		for (guint k = 0; k < counted->len; k++)
			nodes_forget(&fs->nodes, g_array_index(counted, fuse_ino_t, k), 1);
}

void utsfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	reply_listing(req, ino, size, off, fi, false);
}

void utsfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	reply_listing(req, ino, size, off, fi, true);
}

void utsfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct utsfs *fs = utsfs_from_req(req);
	uint64_t gen = kcache_name_begin(&fs->kcache);
	struct stat ns_st;
	uint64_t id;
	int r;

	if (parent == fs->all.dir) {
		allview_lookup(req, name);
		return;
	}
	if (parent != FUSE_ROOT_ID) {
		reply_file_entry(req, parent, name);
		return;
	}
	if (g_str_equal(name, ALLVIEW_NAME)) {
		allview_entry(req);
		return;
	}
	/* File managers probe .Trash-UID, .hidden and the like: never ours. */
	r = nsops_name_is_valid(name, strlen(name)) ?
		    nsops_statedir_identify(&fs->state, name, &ns_st, &id, NULL) : -ENOENT;
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_name_stat(req, name, id, &ns_st, gen);
}

/* Where a new name may go: into the root only, and only a valid name. */
static int check_new_name(fuse_ino_t parent, const char *name)
{
	if (parent != FUSE_ROOT_ID)
		return -EPERM;
	return nsops_name_is_valid(name, strlen(name)) ? 0 : -EINVAL;
}

/* After mkdir, rmdir, rename or adoption: log the outcome once and keep the record. */
static void names_changed(struct utsfs *fs, const char *what, const char *name,
			  int r, const char *event)
{
	utsfs_log_failure(what, name, r);
	if (r < 0)
		return;
	g_info("%s: %s", name, event);
	listeners_notify(&fs->listeners);
}

static int create_ns(struct utsfs *fs, const char *name, uint64_t *id)
{
	/* Before Linux 6.18 ids are reused: an old owner must not carry over. */
	int r = meta_forget(&fs->meta, name);

	if (r < 0)
		return r;
	/* A name that is a valid hostname becomes it: `mkdir web01` is web01. */
	return nsops_create(fs->host_fd, fs->state.path, name,
			    nsops_value_is_valid(name, strlen(name)) ? name : NULL, id);
}

void utsfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode G_GNUC_UNUSED)
{
	struct utsfs *fs = utsfs_from_req(req);
	struct stat ns_st;
	uint64_t id;
	uint64_t gen = 0;
	int r = check_new_name(parent, name);

	if (r == 0)
		r = caller_may_act(req, 0);
	if (r == 0) {
		g_mutex_lock(&fs->names_lock);
		r = create_ns(fs, name, &id);
		g_mutex_unlock(&fs->names_lock);
		names_changed(fs, "mkdir", name, r, "created a UTS namespace");
	}
	if (r == 0) {
		/*
		 * After our own bind mount, which may start a check of the
		 * names: begun before it, the reply would seldom be cached
		 * (one that starts after this look still makes it uncached,
		 * which is only slower). The stat is of the mounted inode,
		 * the one the name keeps.
		 */
		gen = kcache_name_begin(&fs->kcache);
		r = nsops_statedir_holds(&fs->state, name, id, &ns_st, NULL);
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_name_stat(req, name, id, &ns_st, gen);
}

/*
 * Name namespace id of the view. It is held by an fd (reached through the
 * task the view found it by) while it is bound: one that dies meanwhile
 * is ENOENT, never another namespace.
 */
/*
 * An fd on what link names as view sees it. A path that reaches this mount
 * (in the caller's mount namespace, through its symlinks, at any mount
 * point) names a namespace of .all or nothing: nothing is looked up in it.
 */
static int open_target(struct utsfs *fs, const struct nsops_view *view, const char *link)
{
	g_auto(NsopsReached) reached = { 0 };
	uint64_t id;
	int fd = nsops_open_target(view, link, fs->mount_dev, &reached);

	if (fd != -EXDEV)
		return fd;
	return allview_reached_id(fs, reached.ino, reached.rest, &id) ? allview_open(fs, id)
								    : -EPERM;
}

/*
 * Adopt namespace *view_id of the view, or what link names as the calling
 * thread sees it. The target is reached before names_lock is taken: a walk
 * may take its two seconds, and nothing else should wait for it.
 */
static int adopt(fuse_req_t req, const char *link, const uint64_t *view_id, const char *name)
{
	struct utsfs *fs = utsfs_from_req(req);
	g_auto(NsopsView) view = { .root = -1 };
	nsops_autofd int fd = -1;
	/* The target as the caller sees it: its root, its /proc/self. */
	int r = view_id ? 0 : nsops_caller_view(fuse_req_ctx(req)->pid, &view);

	if (r < 0)
		return r;
	fd = view_id ? allview_open(fs, *view_id) : open_target(fs, &view, link);
	if (fd < 0)
		return fd == -ENOTTY ? -EPERM : fd;
	g_mutex_lock(&fs->names_lock);
	r = meta_forget(&fs->meta, name);
	if (r == 0)
		r = nsops_adopt_fd(fs->state.path, name, fd, NULL);
	g_mutex_unlock(&fs->names_lock);
	return r;
}

/*
 * `ln -s /proc/PID/ns/uts MOUNT/NAME` names the UTS namespace of a running
 * process, as `ip netns attach` does. The name then is a directory like any
 * other; the kernel is answered with the symlink it asked for, under a node
 * id never used again, and finds the directory on its next lookup.
 */
void utsfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		   const char *name)
{
	struct utsfs *fs = utsfs_from_req(req);
	struct fuse_entry_param e = { 0 };
	uint64_t id;
	bool in_view = allview_link_id(link, &id);
	/* Only namespaces can be named: other symlinks cannot be made. */
	int r = link[0] != '/' && !in_view ? -EPERM : check_new_name(parent, name);

	if (r == 0)
		r = caller_may_act(req, 0);
	if (r == 0) {
		r = adopt(req, link, in_view ? &id : NULL, name);
		names_changed(fs, "adopt", name, r, "adopted a running UTS namespace");
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	e.ino = nodes_reserve(&fs->nodes);
	e.attr.st_ino = e.ino;
	e.attr.st_mode = S_IFLNK | 0777;
	e.attr.st_nlink = 1;
	e.attr.st_size = (off_t)strlen(link);
	fuse_reply_entry(req, &e);
}

static int remove_ns(struct utsfs *fs, const char *name)
{
	/* Only a name that holds a namespace: other files there are not ours. */
	int r = nsops_statedir_identify(&fs->state, name, NULL, NULL, NULL);

	if (r < 0)
		return r;
	/*
	 * Unnamed only once gone: a lookup meanwhile (a revalidation takes no
	 * lock of ours) must not make a second node. The watcher, woken by the
	 * umount, waits for names_lock and then finds the node unnamed.
	 */
	r = nsops_destroy(fs->state.path, name);
	if (r < 0)
		return r;
	nodes_unname(&fs->nodes, name);
	/* A stale entry left by a failed write is pruned at the next start. */
	meta_forget(&fs->meta, name);
	return 0;
}

void utsfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct utsfs *fs = utsfs_from_req(req);
	/* .all and what it shows are no names: `rm -rf MOUNT/.all` removes nothing. */
	int r = parent != FUSE_ROOT_ID || g_str_equal(name, ALLVIEW_NAME) ? -EPERM
									 : caller_may_act(req, 0);

	if (r == 0) {
		g_mutex_lock(&fs->names_lock);
		r = remove_ns(fs, name);
		g_mutex_unlock(&fs->names_lock);
		names_changed(fs, "rmdir", name, r, "removed");
	}
	fuse_reply_err(req, -r);
}

static int rename_ns(struct utsfs *fs, const char *from, const char *to,
		     unsigned int flags)
{
	uint64_t id;
	int r = nsops_statedir_identify(&fs->state, from, NULL, &id, NULL);

	if (r < 0)
		return r;
	if (g_str_equal(from, to))
		return 0;
	r = nsops_statedir_identify(&fs->state, to, NULL, NULL, NULL);
	if (r == 0)
		/* rename(2) onto a non-empty directory; RENAME_NOREPLACE asks for EEXIST. */
		return flags & RENAME_NOREPLACE ? -EEXIST : -ENOTEMPTY;
	if (r != -ENOENT)
		return r;
	/* Journalled first: a crash between the two mounts is settled at start. */
	r = meta_begin_rename(&fs->meta, from, to, id);
	if (r < 0)
		return r;
	/* Held until the node has its new name: see nsnode_resolve(). */
	g_rw_lock_writer_lock(&fs->rename_lock);
	r = nsops_rename(fs->state.path, from, to);
	if (r == 0)
		nodes_rename(&fs->nodes, from, to);
	g_rw_lock_writer_unlock(&fs->rename_lock);
	meta_end_rename(&fs->meta, from, to, r == 0);
	return r;
}

void utsfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		  fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct utsfs *fs = utsfs_from_req(req);
	int r;

	if (flags & ~RENAME_NOREPLACE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	r = parent != FUSE_ROOT_ID || g_str_equal(name, ALLVIEW_NAME) ? -EPERM
								       : check_new_name(newparent, newname);
	if (r == 0)
		r = caller_may_act(req, 0);
	if (r == 0) {
		g_autofree char *event = g_strdup_printf("renamed to %s", newname);

		g_mutex_lock(&fs->names_lock);
		r = rename_ns(fs, name, newname, flags);
		g_mutex_unlock(&fs->names_lock);
		names_changed(fs, "rename", name, r, event);
	}
	fuse_reply_err(req, -r);
}
