// SPDX-License-Identifier: GPL-2.0-or-later
/* What stat(2) shows for each node, and the entry replies built from it. */
#include "attrs.h"

#include <errno.h>
#include <string.h>

/*
 * What the kernel may cache for good: the root's attributes, a namespace
 * directory's (they change only through our own setattr, whose reply
 * updates the kernel), the attribute files' entries (they never change
 * identity), and id's and ns's attributes (their content never changes).
 * Names, and the sizes of hostname and domainname, can change behind our
 * back: cache.c decides how long the kernel keeps them.
 */
#define STATIC_TIMEOUT 86400.0

static void stat_root(struct utsfs *fs, struct stat *st)
{
	*st = (struct stat){
		.st_ino = FUSE_ROOT_ID,
		.st_mode = S_IFDIR | 0755,
		/* 1: "subdirectories not counted", as btrfs does; counting means a scan. */
		.st_nlink = 1,
		.st_atim = fs->start_time,
		.st_mtim = fs->start_time,
		.st_ctim = fs->start_time,
	};
}

/* ns_st is the nsfs inode's own stat: its times are the namespace's. */
static void stat_ns_dir(const struct stat *ns_st, const struct ns_meta *m,
			struct stat *st)
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

/* The files follow their directory's owner: delegating it delegates them. */
static int stat_attr(struct utsfs *fs, fuse_ino_t dir, const struct ns_ref *ref,
		     int ns_fd, const struct stat *ns_st, const struct ns_meta *m,
		     size_t row, struct stat *st)
{
	const struct attr_def *def = &attr_table[row];
	g_autoptr(GString) content = g_string_new(NULL);
	/* Exact st_size: tools that trust it would otherwise cut or pad. */
	int r = attr_show(fs, def, dir, ns_fd, ref, content);

	if (r < 0)
		return r;
	*st = (struct stat){
		.st_ino = attr_st_ino(ref->id, row),
		.st_mode = def->mode,
		.st_nlink = 1,
		.st_uid = m->uid,
		.st_gid = m->gid,
		.st_size = (off_t)content->len,
		.st_atim = ns_st->st_atim,
		.st_mtim = ns_st->st_mtim,
		.st_ctim = ns_st->st_ctim,
	};
	return 0;
}

int stat_ino(struct utsfs *fs, fuse_ino_t ino, struct stat *st)
{
	g_auto(NsRef) ref = { 0 };
	fuse_ino_t dir = ino;
	size_t row = 0;
	const struct attr_def *def = NULL;
	struct ns_meta m;
	struct stat ns_st;

	if (ino == FUSE_ROOT_ID) {
		stat_root(fs, st);
		return 0;
	}
	def = attr_from_ino(ino, &dir, &row);
	nsops_autofd int ns_fd = ns_open_node(fs, dir, &ref, &ns_st);
	if (ns_fd < 0)
		return ns_fd;
	meta_get(fs, ref.name, ref.id, &m);
	if (!def) {
		stat_ns_dir(&ns_st, &m, st);
		return 0;
	}
	return stat_attr(fs, dir, &ref, ns_fd, &ns_st, &m, row, st);
}

void ns_entry(struct utsfs *fs, const char *name, const struct stat *ns_st, guint gen,
	      struct fuse_entry_param *e)
{
	struct ns_meta m;

	*e = (struct fuse_entry_param){ 0 };
	e->ino = nodes_lookup(fs, name, ns_st->st_ino);
	meta_get(fs, name, ns_st->st_ino, &m);
	stat_ns_dir(ns_st, &m, &e->attr);
	e->entry_timeout = cache_name_timeout(fs, gen);
	e->attr_timeout = STATIC_TIMEOUT;
}

void reply_ns_stat(fuse_req_t req, const char *name, const struct stat *ns_st, guint gen)
{
	struct utsfs *fs = utsfs_from_req(req);
	struct fuse_entry_param e;

	ns_entry(fs, name, ns_st, gen, &e);
	if (fuse_reply_entry(req, &e) != 0)
		nodes_forget(fs, e.ino, 1);
}

void reply_ns_entry(fuse_req_t req, const char *name)
{
	struct utsfs *fs = utsfs_from_req(req);
	struct stat ns_st;
	guint gen = cache_name_begin(fs);
	int r = nsops_statedir_identify(&fs->state, name, &ns_st);

	if (r < 0)
		/* Junk in the state directory is not a namespace: not there. */
		fuse_reply_err(req, r == -EINVAL ? ENOENT : -r);
	else
		reply_ns_stat(req, name, &ns_st, gen);
}

void reply_attr_entry(fuse_req_t req, fuse_ino_t dir, const char *name)
{
	struct utsfs *fs = utsfs_from_req(req);
	struct fuse_entry_param e = { 0 };
	size_t row;
	const struct attr_def *def = attr_by_name(name, &row);
	int r;

	if (!def) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	e.ino = attr_ino(dir, row);
	r = stat_ino(fs, e.ino, &e.attr);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	e.entry_timeout = STATIC_TIMEOUT;
	/* Never a volatile size: see cache_value_timeout(). */
	e.attr_timeout = def->volatile_content ? 0 : STATIC_TIMEOUT;
	fuse_reply_entry(req, &e);
}

/*
 * hostname and domainname: kept until the watcher sees their size change
 * (armed before the value is read), after a getattr only: the kernel
 * applies a setattr reply even when an inval_inode overtook it. pids
 * changes with every process: never kept.
 */
static double attr_timeout(struct utsfs *fs, fuse_ino_t ino,
			   const struct attr_def *def, bool getattr, guint64 *series)
{
	if (!def || !def->volatile_content)
		return STATIC_TIMEOUT;
	return def->field >= 0 && getattr ? cache_value_timeout(fs, ino, series) : 0;
}

void reply_attr(fuse_req_t req, fuse_ino_t ino, bool getattr)
{
	struct utsfs *fs = utsfs_from_req(req);
	struct stat st;
	fuse_ino_t dir;
	size_t row;
	const struct attr_def *def = attr_from_ino(ino, &dir, &row);
	guint64 series = 0;
	double timeout = attr_timeout(fs, ino, def, getattr, &series);
	int r = stat_ino(fs, ino, &st);

	if (r < 0) {
		if (series)
			cache_value_unsized(fs, ino, series);
		fuse_reply_err(req, -r);
		return;
	}
	if (series)
		cache_value_sized(fs, ino, series, st.st_size);
	fuse_reply_attr(req, &st, timeout);
}
