// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nullfs: the FUSE floor of a file system that keeps utsfs's promises. Like
 * utsfs it holds one directory per name in its root, and in each a file
 * called hostname, served under utsfs's policies (fs/kcache.h, fs/stat.c,
 * fs/ops_file.c, fs/ops_dir.c, fs/ops.c, fs/main.c): the file's attributes
 * are never cached and it is opened with direct I/O, so every stat, read and
 * write reaches the daemon; names have entry timeout 1 s; directory
 * attributes and the file's entry 86,400 s; a name's listing is cached by
 * the kernel, the root's comes with READDIRPLUS; no atomic_o_trunc, so an
 * O_TRUNC open is a SETATTR too; allow_other,default_permissions; libfuse's
 * multi-threaded loop, configured from the same command line options.
 *
 * None of its requests does any work: a read answers a short fixed string,
 * a write takes the bytes and forgets them, mkdir and rmdir only answer. So
 * the kernel asks it what it asks utsfs, and what utsfs costs beyond it is
 * utsfs's own (bench sections 1 to 3).
 *
 * usage: nullfs [-f] [-d] MOUNTPOINT (built and run by run.sh)
 */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* utsfs's NAME_TIMEOUT (fs/kcache.c), which holds while its watcher runs. */
#define NAME_ENTRY_TIMEOUT 1.0
/* utsfs's KCACHE_FIXED_TIMEOUT: directory attributes and the file's entry. */
#define FIXED_TIMEOUT 86400.0
/* utsfs's KCACHE_FILE_ATTR_TIMEOUT: the file's attributes, never cached. */
#define FILE_ATTR_TIMEOUT 0.0

/* Named as the utsfs file it stands in for, so both paths cost one walk. */
#define FILE_NAME "hostname"
static const char content[] = "nullfs\n";

/* The bench holds two names at a time (one to read, one to make): room to spare. */
#define MAX_NAMES 16

struct name {
	char name[NAME_MAX + 1];
	/* The directory's node id, 0 while the slot is free; its file's is one more. */
	fuse_ino_t ino;
};

struct nullfs {
	pthread_mutex_t lock;
	struct name names[MAX_NAMES];
	/*
	 * Even, and never reused (as utsfs's node ids): the kernel cannot
	 * mistake a name made again for the one it still holds.
	 */
	fuse_ino_t next_ino;
};

static struct nullfs *nullfs_from_req(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static bool is_file(fuse_ino_t ino)
{
	return ino != FUSE_ROOT_ID && ino % 2 == 1;
}

/* The slot of the name called name, or -1. Under lock. */
static int find_name(struct nullfs *fs, const char *name)
{
	for (int i = 0; i < MAX_NAMES; i++)
		if (fs->names[i].ino && strcmp(fs->names[i].name, name) == 0)
			return i;
	return -1;
}

/* Whether the directory ino (or the file ino is in) still has its name, as utsfs checks at each request. */
static bool exists(struct nullfs *fs, fuse_ino_t ino)
{
	fuse_ino_t dir = is_file(ino) ? ino - 1 : ino;
	bool found = dir == FUSE_ROOT_ID;

	pthread_mutex_lock(&fs->lock);
	for (int i = 0; i < MAX_NAMES && !found; i++)
		found = fs->names[i].ino == dir;
	pthread_mutex_unlock(&fs->lock);
	return found;
}

static void stat_node(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (is_file(ino)) {
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		/* Exact, as utsfs's: what the read will answer. */
		st->st_size = sizeof(content) - 1;
	} else {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = ino == FUSE_ROOT_ID ? 1 : 2;
	}
}

static double attr_timeout(fuse_ino_t ino)
{
	return is_file(ino) ? FILE_ATTR_TIMEOUT : FIXED_TIMEOUT;
}

static void name_entry(fuse_ino_t ino, struct fuse_entry_param *e)
{
	*e = (struct fuse_entry_param){
		.ino = ino,
		.entry_timeout = NAME_ENTRY_TIMEOUT,
		.attr_timeout = FIXED_TIMEOUT,
	};
	stat_node(ino, &e->attr);
}

static void nullfs_init(void *userdata __attribute__((unused)), struct fuse_conn_info *conn)
{
	/* What utsfs_init() turns off: an O_TRUNC open then costs a SETATTR, as on utsfs. */
	conn->want &= ~(FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_WRITEBACK_CACHE |
			FUSE_CAP_AUTO_INVAL_DATA);
}

static void nullfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct nullfs *fs = nullfs_from_req(req);
	struct fuse_entry_param e;
	fuse_ino_t ino = 0;
	int i;

	if (parent == FUSE_ROOT_ID) {
		pthread_mutex_lock(&fs->lock);
		i = find_name(fs, name);
		ino = i < 0 ? 0 : fs->names[i].ino;
		pthread_mutex_unlock(&fs->lock);
		if (!ino) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		name_entry(ino, &e);
		fuse_reply_entry(req, &e);
		return;
	}
	if (strcmp(name, FILE_NAME) != 0 || !exists(fs, parent)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	e = (struct fuse_entry_param){
		.ino = parent + 1,
		.entry_timeout = FIXED_TIMEOUT,
		.attr_timeout = FILE_ATTR_TIMEOUT,
	};
	stat_node(e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void nullfs_forget(fuse_req_t req, fuse_ino_t ino __attribute__((unused)),
			  uint64_t nlookup __attribute__((unused)))
{
	fuse_reply_none(req);
}

static void nullfs_forget_multi(fuse_req_t req, size_t count __attribute__((unused)),
				struct fuse_forget_data *forgets __attribute__((unused)))
{
	fuse_reply_none(req);
}

static void nullfs_getattr(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi __attribute__((unused)))
{
	struct stat st;

	if (!exists(nullfs_from_req(req), ino)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	stat_node(ino, &st);
	fuse_reply_attr(req, &st, attr_timeout(ino));
}

/* O_TRUNC's SETATTR: truncating changes nothing, as on utsfs. */
static void nullfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr __attribute__((unused)),
			   int to_set, struct fuse_file_info *fi __attribute__((unused)))
{
	struct stat st;

	if (!is_file(ino) || !(to_set & FUSE_SET_ATTR_SIZE)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	stat_node(ino, &st);
	fuse_reply_attr(req, &st, FILE_ATTR_TIMEOUT);
}

static void nullfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode __attribute__((unused)))
{
	struct nullfs *fs = nullfs_from_req(req);
	struct fuse_entry_param e;
	fuse_ino_t ino = 0;
	int err = ENOSPC;

	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (strlen(name) > NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	if (find_name(fs, name) >= 0) {
		err = EEXIST;
	} else {
		for (int i = 0; i < MAX_NAMES && !ino; i++) {
			if (fs->names[i].ino)
				continue;
			strcpy(fs->names[i].name, name);
			ino = fs->names[i].ino = fs->next_ino;
			fs->next_ino += 2;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	if (!ino) {
		fuse_reply_err(req, err);
		return;
	}
	name_entry(ino, &e);
	fuse_reply_entry(req, &e);
}

static void nullfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct nullfs *fs = nullfs_from_req(req);
	int i = -1;

	if (parent == FUSE_ROOT_ID) {
		pthread_mutex_lock(&fs->lock);
		i = find_name(fs, name);
		if (i >= 0)
			fs->names[i].ino = 0;
		pthread_mutex_unlock(&fs->lock);
	}
	fuse_reply_err(req, i < 0 ? ENOENT : 0);
}

static void nullfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (!is_file(ino)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (!exists(nullfs_from_req(req), ino)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* As utsfs's files: the page cache never answers. */
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

static void nullfs_read(fuse_req_t req, fuse_ino_t ino __attribute__((unused)), size_t size,
			off_t off, struct fuse_file_info *fi __attribute__((unused)))
{
	size_t len = sizeof(content) - 1;

	if (off < 0 || (size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, content + off, size < len - (size_t)off ? size : len - (size_t)off);
}

static void nullfs_write(fuse_req_t req, fuse_ino_t ino __attribute__((unused)),
			 const char *buf __attribute__((unused)), size_t size,
			 off_t off __attribute__((unused)),
			 struct fuse_file_info *fi __attribute__((unused)))
{
	fuse_reply_write(req, size);
}

static void nullfs_release(fuse_req_t req, fuse_ino_t ino __attribute__((unused)),
			   struct fuse_file_info *fi __attribute__((unused)))
{
	fuse_reply_err(req, 0);
}

static void nullfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (is_file(ino)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (!exists(nullfs_from_req(req), ino)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* As utsfs's: a name lists the same file for its node's life, the root does not. */
	if (ino != FUSE_ROOT_ID) {
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
	}
	fuse_reply_open(req, fi);
}

/*
 * Item i of directory ino's listing: ".", "..", then the root's names (the
 * offset of a name is its slot's; a free slot is an empty name, skipped) or
 * a name's one file. As in utsfs's READDIRPLUS, a name comes with its entry;
 * the others go without (node id 0), left to a lookup, but with their
 * st_ino: readdir(3) skips an entry whose d_ino is 0. false past the end.
 */
static bool dir_item(struct nullfs *fs, fuse_ino_t ino, size_t i, char *name,
		     struct fuse_entry_param *e)
{
	fuse_ino_t item;

	*e = (struct fuse_entry_param){ .attr.st_mode = S_IFDIR };
	if (i < 2) {
		strcpy(name, i == 0 ? "." : "..");
		e->attr.st_ino = i == 0 ? ino : FUSE_ROOT_ID;
		return true;
	}
	if (ino != FUSE_ROOT_ID) {
		strcpy(name, FILE_NAME);
		e->attr.st_ino = ino + 1;
		e->attr.st_mode = S_IFREG;
		return i == 2;
	}
	if (i - 2 >= MAX_NAMES)
		return false;
	pthread_mutex_lock(&fs->lock);
	item = fs->names[i - 2].ino;
	strcpy(name, item ? fs->names[i - 2].name : "");
	pthread_mutex_unlock(&fs->lock);
	if (item)
		name_entry(item, e);
	return true;
}

/* readdir and readdirplus: the same listing, with entries or without. */
static void list(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct nullfs *fs = nullfs_from_req(req);
	char *buf = malloc(size);
	char name[NAME_MAX + 1];
	struct fuse_entry_param e;
	size_t pos = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = off < 0 ? MAX_NAMES + 2 : (size_t)off;
	     dir_item(fs, ino, i, name, &e); i++) {
		size_t n;

		if (!name[0])
			continue;
		n = plus ? fuse_add_direntry_plus(req, buf + pos, size - pos, name, &e, (off_t)i + 1)
			 : fuse_add_direntry(req, buf + pos, size - pos, name, &e.attr, (off_t)i + 1);
		if (n > size - pos)
			break;
		pos += n;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void nullfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi __attribute__((unused)))
{
	list(req, ino, size, off, false);
}

static void nullfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			       struct fuse_file_info *fi __attribute__((unused)))
{
	list(req, ino, size, off, true);
}

static void nullfs_releasedir(fuse_req_t req, fuse_ino_t ino __attribute__((unused)),
			      struct fuse_file_info *fi __attribute__((unused)))
{
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops nullfs_ops = {
	.init = nullfs_init,
	.lookup = nullfs_lookup,
	.forget = nullfs_forget,
	.forget_multi = nullfs_forget_multi,
	.getattr = nullfs_getattr,
	.setattr = nullfs_setattr,
	.mkdir = nullfs_mkdir,
	.rmdir = nullfs_rmdir,
	.open = nullfs_open,
	.read = nullfs_read,
	.write = nullfs_write,
	.release = nullfs_release,
	.opendir = nullfs_opendir,
	.readdir = nullfs_readdir,
	.readdirplus = nullfs_readdirplus,
	.releasedir = nullfs_releasedir,
};

/* utsfs's run_loop() (fs/main.c): the same loop from the same options. */
static int serve(struct fuse_session *se, const struct fuse_cmdline_opts *opts)
{
	struct fuse_loop_config *cfg;
	int r;

	if (opts->singlethread)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(cfg, opts->clone_fd);
	/* UINT_MAX means "not given"; libfuse 3.14 would print a warning for it. */
	if (opts->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(cfg, opts->max_idle_threads);
	fuse_loop_cfg_set_max_threads(cfg, opts->max_threads);
	r = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return r;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct nullfs fs = { .lock = PTHREAD_MUTEX_INITIALIZER, .next_ino = 2 };
	struct fuse_cmdline_opts opts = { 0 };
	struct fuse_session *se;
	int r = 1;

	if (fuse_parse_cmdline(&args, &opts) != 0)
		return 1;
	if (opts.show_help || !opts.mountpoint) {
		fprintf(stderr, "usage: %s [-f] [-d] MOUNTPOINT\n", argv[0]);
		goto out;
	}
	/* utsfs's ROOT_MOUNT_OPTIONS (fs/main.c), under its own name. */
	if (fuse_opt_add_arg(&args,
			     "-oallow_other,default_permissions,fsname=nullfs,subtype=nullfs") != 0)
		goto out;
	se = fuse_session_new(&args, &nullfs_ops, sizeof(nullfs_ops), &fs);
	if (!se)
		goto out;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_destroy;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_handlers;
	fuse_daemonize(opts.foreground);
	r = serve(se, &opts) != 0;
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
