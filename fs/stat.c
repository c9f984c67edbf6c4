// SPDX-License-Identifier: GPL-2.0-or-later
/* What stat(2) shows for each node, and the entry and attribute replies built from it. */
#include "daemon.h"
#include "attrs.h"
#include "nsnode.h"
#include "stat.h"

#include <errno.h>

/* The root (0755: root makes names in it) and .all (0555). */
static void stat_root(struct utsfs *fs, fuse_ino_t ino, struct stat *st)
{
	*st = (struct stat){
		.st_ino = ino,
		.st_mode = S_IFDIR | (ino == FUSE_ROOT_ID ? 0755 : 0555),
		/* 1: "subdirectories not counted", as btrfs does; counting means a scan. */
		.st_nlink = 1,
		.st_atim = fs->start_time,
		.st_mtim = fs->start_time,
		.st_ctim = fs->start_time,
	};
}

/* ns_st is the nsfs inode's own stat: its times are the namespace's. */
static void stat_ns_dir(const struct stat *ns_st, const struct ns_meta *m, struct stat *st)
{
	*st = (struct stat){
		.st_ino = ns_st->st_ino,
		.st_mode = S_IFDIR | m->mode,
		.st_nlink = 2,
		.st_uid = m->uid,
		.st_gid = m->gid,
		.st_atim = ns_st->st_atim,
		.st_mtim = ns_st->st_mtim,
		.st_ctim = ns_st->st_ctim,
	};
}

/*
 * A file's stat from its directory's (st): the files follow their
 * directory's owner (delegating it delegates them) and times.
 */
static int stat_file(struct utsfs *fs, const struct ns_ref *ref, const struct attr_def *def,
		     struct stat *st)
{
	g_autoptr(GString) content = g_string_new(NULL);

	if (!attr_exists(fs, def, ref))
		return -ENOENT;
	/* Exact st_size: tools that trust it would otherwise cut or pad. */
	int r = def->show ? def->show(fs, def, ref, content) : 0;

	if (r < 0)
		return r;
	st->st_ino = attr_st_ino(ref->ns_ino, def);
	st->st_mode = def->mode;
	st->st_nlink = 1;
	st->st_size = (off_t)(def->show ? content->len : ATTR_SNAPSHOT_SIZE);
	return 0;
}

static int stat_node(struct utsfs *fs, fuse_ino_t ino, struct stat *st)
{
	g_auto(NsRef) ref = { 0 };
	fuse_ino_t dir = ino;
	const struct attr_def *def = attr_from_ino(ino, &dir);
	struct ns_meta m;
	struct stat ns_st;
	int r;

	if (ino == FUSE_ROOT_ID || ino == fs->all.dir) {
		stat_root(fs, ino, st);
		return 0;
	}
	r = nsnode_resolve(fs, dir, &ref, &ns_st);
	if (r < 0)
		return r;
	/* The view's namespaces are root's: no owner entry counts there. */
	if (ref.name)
		meta_get(&fs->meta, ref.name, ref.id, &m);
	else
		m = (struct ns_meta){ .mode = META_DEFAULT_MODE };
	stat_ns_dir(&ns_st, &m, st);
	return def ? stat_file(fs, &ref, def, st) : 0;
}

void name_entry(fuse_req_t req, const char *name, uint64_t id, const struct stat *ns_st,
		uint64_t gen, struct fuse_entry_param *e)
{
	struct utsfs *fs = utsfs_from_req(req);
	struct ns_meta m;

	*e = (struct fuse_entry_param){ 0 };
	e->ino = nodes_lookup(&fs->nodes, name, id);
	meta_get(&fs->meta, name, id, &m);
	stat_ns_dir(ns_st, &m, &e->attr);
	e->entry_timeout = kcache_name_timeout(&fs->kcache, gen);
	e->attr_timeout = KCACHE_FIXED_TIMEOUT;
}

void reply_name_stat(fuse_req_t req, const char *name, uint64_t id, const struct stat *ns_st,
		     uint64_t gen)
{
	struct fuse_entry_param e;

	name_entry(req, name, id, ns_st, gen, &e);
	if (fuse_reply_entry(req, &e) != 0)
		nodes_forget(&utsfs_from_req(req)->nodes, e.ino, 1);
}

void reply_file_entry(fuse_req_t req, fuse_ino_t dir, const char *name)
{
	struct utsfs *fs = utsfs_from_req(req);
	struct fuse_entry_param e = { 0 };
	const struct attr_def *def = attr_by_name(name);
	int r;

	if (!def) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	r = allview_check_seen(req, dir);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	e.ino = attr_ino(dir, def);
	r = stat_node(fs, e.ino, &e.attr);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	/*
	 * The file stays what it is for its directory's life; its attributes
	 * do not. In the view nothing is kept: ns comes and goes with names.
	 */
	e.entry_timeout = allview_owns(&fs->all, dir) ? 0 : KCACHE_FIXED_TIMEOUT;
	e.attr_timeout = KCACHE_FILE_ATTR_TIMEOUT;
	fuse_reply_entry(req, &e);
}

void reply_attr(fuse_req_t req, fuse_ino_t ino, const GString *snapshot)
{
	struct utsfs *fs = utsfs_from_req(req);
	struct stat st;
	/* The view's namespace directories end with no event to tell: never kept. */
	bool kept = ino == fs->all.dir || !allview_owns(&fs->all, ino);
	int r = stat_node(fs, ino, &st);

	if (r == 0 && snapshot)
		st.st_size = (off_t)snapshot->len;
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, S_ISDIR(st.st_mode) && kept ? KCACHE_FIXED_TIMEOUT
								       : KCACHE_FILE_ATTR_TIMEOUT);
}
