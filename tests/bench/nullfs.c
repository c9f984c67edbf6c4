// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nullfs: a file system whose mkdir and rmdir only answer, mounted as utsfs
 * is (default_permissions, the same timeouts, the multi-threaded loop). Its
 * mkdir+rmdir costs the FUSE round trips the kernel makes for one, and no
 * work: the floor any FUSE mkdir+rmdir stands on (bench section 3).
 *
 * usage: nullfs [-f] [-d] MOUNTPOINT (built and run by run.sh)
 */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* As utsfs answers for a name and for what only it changes. */
#define ENTRY_TIMEOUT 1.0
#define ATTR_TIMEOUT 86400.0

/* Section 3 makes one directory at a time: one is all nullfs holds. */
struct nullfs {
	pthread_mutex_t lock;
	char name[NAME_MAX + 1];
	/* The directory's node id, 0 while there is none; a fresh one per mkdir. */
	fuse_ino_t ino;
	fuse_ino_t next_ino;
};

static struct nullfs *nullfs_from_req(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void stat_dir(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = ino == FUSE_ROOT_ID ? 1 : 2;
}

static void reply_dir(fuse_req_t req, fuse_ino_t ino)
{
	struct fuse_entry_param e = {
		.ino = ino,
		.entry_timeout = ENTRY_TIMEOUT,
		.attr_timeout = ATTR_TIMEOUT,
	};

	stat_dir(ino, &e.attr);
	fuse_reply_entry(req, &e);
}

/* The directory's node id when parent/name is it, else 0. */
static fuse_ino_t find(struct nullfs *fs, fuse_ino_t parent, const char *name)
{
	return parent == FUSE_ROOT_ID && fs->ino && strcmp(name, fs->name) == 0 ? fs->ino : 0;
}

static void nullfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct nullfs *fs = nullfs_from_req(req);
	fuse_ino_t ino;

	pthread_mutex_lock(&fs->lock);
	ino = find(fs, parent, name);
	pthread_mutex_unlock(&fs->lock);
	if (ino)
		reply_dir(req, ino);
	else
		fuse_reply_err(req, ENOENT);
}

static void nullfs_getattr(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi __attribute__((unused)))
{
	struct stat st;

	stat_dir(ino, &st);
	fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

static void nullfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode __attribute__((unused)))
{
	struct nullfs *fs = nullfs_from_req(req);
	fuse_ino_t ino = 0;
	int err = 0;

	pthread_mutex_lock(&fs->lock);
	if (parent != FUSE_ROOT_ID)
		err = EPERM;
	else if (fs->ino)
		err = strcmp(name, fs->name) == 0 ? EEXIST : ENOSPC;
	else if (strlen(name) > NAME_MAX)
		err = ENAMETOOLONG;
	if (!err) {
		strcpy(fs->name, name);
		ino = fs->ino = fs->next_ino++;
	}
	pthread_mutex_unlock(&fs->lock);
	if (err)
		fuse_reply_err(req, err);
	else
		reply_dir(req, ino);
}

static void nullfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct nullfs *fs = nullfs_from_req(req);
	int err = ENOENT;

	pthread_mutex_lock(&fs->lock);
	if (find(fs, parent, name)) {
		fs->ino = 0;
		err = 0;
	}
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_err(req, err);
}

static void nullfs_forget(fuse_req_t req, fuse_ino_t ino __attribute__((unused)),
			  uint64_t nlookup __attribute__((unused)))
{
	fuse_reply_none(req);
}

static const struct fuse_lowlevel_ops nullfs_ops = {
	.lookup = nullfs_lookup,
	.forget = nullfs_forget,
	.getattr = nullfs_getattr,
	.mkdir = nullfs_mkdir,
	.rmdir = nullfs_rmdir,
};

/* libfuse's default multi-threaded loop, as utsfs runs without options. */
static int serve(struct fuse_session *se)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int r = fuse_session_loop_mt(se, cfg);

	fuse_loop_cfg_destroy(cfg);
	return r;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct nullfs fs = { .lock = PTHREAD_MUTEX_INITIALIZER, .next_ino = 2 };
	struct fuse_cmdline_opts opts;
	struct fuse_session *se;
	int r = 1;

	if (fuse_parse_cmdline(&args, &opts) != 0)
		return 1;
	if (opts.show_help || !opts.mountpoint) {
		fprintf(stderr, "usage: %s [-f] [-d] MOUNTPOINT\n", argv[0]);
		goto out;
	}
	if (fuse_opt_add_arg(&args, "-oallow_other,default_permissions,fsname=nullfs") != 0)
		goto out;
	se = fuse_session_new(&args, &nullfs_ops, sizeof(nullfs_ops), &fs);
	if (!se)
		goto out;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_destroy;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_handlers;
	fuse_daemonize(opts.foreground);
	r = serve(se) != 0;
	fuse_session_unmount(se);
out_handlers:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
out:
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return r;
}
