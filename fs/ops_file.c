// SPDX-License-Identifier: GPL-2.0-or-later
/* File requests on attribute files: open, read, write and truncate (as /proc/sys/kernel/hostname does), poll, readlink, chown/chmod. */
#include "daemon.h"
#include "log.h"
#include "nsnode.h"
#include "open_file.h"
#include "ops.h"
#include "stat.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>

static void open_file_free(void *data)
{
	struct open_file *of = data;

	/* First: the watcher must not wake a handle that is being freed. */
	polls_forget(of->polls, of);
	g_mutex_clear(&of->lock);
	if (of->written)
		g_string_free(of->written, TRUE);
	if (of->snapshot)
		g_string_free(of->snapshot, TRUE);
	g_free(of);
}

static struct open_file *open_file_of(struct fuse_file_info *fi)
{
	return (struct open_file *)(uintptr_t)fi->fh;
}

/* Whether the caller of req may open ino with flags: -errno when not. */
static int may_open(fuse_req_t req, const struct attr_def *def, fuse_ino_t dir, int flags)
{
	struct utsfs *fs = utsfs_from_req(req);
	g_auto(NsRef) ref = { 0 };
	struct ns_meta m = { .uid = 0 };
	int r;

	if (!def)
		return -EISDIR;
	r = allview_check_seen(req, dir);
	if (r < 0)
		return r;
	/* Read-only even for root, whom default_permissions lets through. */
	if ((flags & O_ACCMODE) != O_RDONLY && def->write == ATTR_READ_ONLY)
		return -EACCES;
	/* Fail the open, not a later read, when the namespace is gone. */
	r = nsnode_resolve(fs, dir, &ref, NULL);
	if (r < 0 || (flags & O_ACCMODE) == O_RDONLY)
		return r;
	/* Checked once per open, as the kernel checks a file's modes; the view's are root's. */
	if (ref.name)
		meta_get(&fs->meta, ref.name, ref.id, &m);
	return caller_may_act(req, m.uid);
}

void utsfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct utsfs *fs = utsfs_from_req(req);
	fuse_ino_t dir = 0;
	const struct attr_def *def = attr_from_ino(ino, &dir);
	g_autoptr(GString) snapshot = NULL;
	struct open_file *of;
	int r = may_open(req, def, dir, fi->flags);

	/* One scan of /proc per open, whatever the reads and stats after it. */
	if (r == 0 && def->snapshot) {
		snapshot = g_string_new(NULL);
		r = attr_content(fs, def, dir, fuse_req_ctx(req)->uid, snapshot);
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	of = g_new0(struct open_file, 1);
	of->polls = &fs->polls;
	of->ino = ino;
	of->dir = dir;
	of->def = def;
	of->snapshot = g_steal_pointer(&snapshot);
	g_mutex_init(&of->lock);
	/*
	 * What a poll measures a change against until the first read, as
	 * /proc/sys/kernel/hostname takes its event count at open: a poll
	 * before any read still wakes on the next change.
	 */
	if (def->poll == ATTR_POLL_CHANGES && (fi->flags & O_ACCMODE) != O_WRONLY) {
		g_autoptr(GString) now = g_string_new(NULL);

		if (attr_content(fs, def, dir, 0, now) == 0)
			polls_note_read(&fs->polls, of, now);
	}
	/* The kernel can change every row behind our back: the page cache never answers. */
	fi->direct_io = 1;
	fi->fh = handle_add(&fs->handles, of, open_file_free);
	if (fuse_reply_open(req, fi) != 0)
		handle_release(&fs->handles, fi->fh);
}

/*
 * A GETATTR that comes with a handle (lseek to SEEK_END, and reads that
 * check the size) gets a snapshot's exact size: tail, which seeks to the
 * end and reads back from there, reads all of it.
 */
void utsfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	reply_attr(req, ino, fi ? open_file_of(fi)->snapshot : NULL);
}

/*
 * SEEK_DATA and SEEK_HOLE agree with what stat shows, as on sysfs: data up
 * to st_size (or a longer snapshot's end), the hole after it. Left to the
 * kernel they would answer from the size a GETATTR with the handle gave, a
 * snapshot's exact length: cp, seeing st_size 4096 and a hole from that
 * length on, padded its copy of pids with NULs up to 4096.
 */
void utsfs_lseek(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, off_t off, int whence,
		 struct fuse_file_info *fi)
{
	struct open_file *of = open_file_of(fi);
	g_autoptr(GString) content = g_string_new(NULL);
	int r = of->snapshot ? 0 : attr_content(utsfs_from_req(req), of->def, of->dir, 0, content);
	off_t end = of->snapshot ? (off_t)MAX(of->snapshot->len, ATTR_SNAPSHOT_SIZE)
				 : (off_t)content->len;

	if (r == 0 && whence != SEEK_DATA && whence != SEEK_HOLE)
		r = -EINVAL;
	if (r == 0 && (off < 0 || off >= end))
		r = -ENXIO;
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_lseek(req, whence == SEEK_DATA ? off : end);
}

/*
 * Every read shows the current value from its offset, as
 * /proc/sys/kernel/hostname does: a pread at 3 after a change elsewhere
 * reads the new value from byte 3.
 */
void utsfs_read(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct utsfs *fs = utsfs_from_req(req);
	struct open_file *of = open_file_of(fi);
	/*
	 * A copy even of a snapshot: once the reply is out, a release may free
	 * the handle while writev still returns (and ASan looks at its buffer).
	 */
	g_autoptr(GString) content = of->snapshot ? g_string_new_len(of->snapshot->str,
								       (gssize)of->snapshot->len)
						  : g_string_new(NULL);
	int r = of->snapshot ? 0 : attr_content(fs, of->def, of->dir, 0, content);

	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	/* What a later poll measures a change against. */
	if (of->def->poll == ATTR_POLL_CHANGES)
		polls_note_read(&fs->polls, of, content);
	if (off < 0 || (uint64_t)off >= content->len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, content->str + off, MIN(size, content->len - (size_t)off));
}

/*
 * What a write at off continues: what this handle wrote so far, else the
 * current content (so `pwrite(fd, "x", 0)` sets x, and a write at the end
 * of "web01\n" cannot make a value).
 */
static int write_base(struct utsfs *fs, struct open_file *of, const struct ns_ref *ref,
		      GString **base)
{
	if (of->written) {
		*base = g_string_new_len(of->written->str, (gssize)of->written->len);
		return 0;
	}
	*base = g_string_new(NULL);
	return of->def->show(fs, of->def, ref, *base);
}

/*
 * The value a write at off makes: what it continues, cut at off, then buf.
 * Past the end of that there is nothing to continue (EINVAL), and O_APPEND
 * asks for the end of a value that may have changed since the kernel last
 * heard its size: refused too. The flags come with each WRITE, so an
 * O_APPEND set later with fcntl(F_SETFL) is seen.
 */
static int write_value(struct utsfs *fs, struct open_file *of, const char *buf, size_t size,
		       off_t off, int flags)
{
	g_autoptr(GString) value = NULL;
	g_auto(NsRef) ref = { 0 };
	ssize_t len;
	int r;

	if (flags & O_APPEND)
		return -EINVAL;
	r = nsnode_resolve(fs, of->dir, &ref, NULL);
	if (r == 0)
		r = write_base(fs, of, &ref, &value);
	if (r < 0)
		return r;
	/* One trailing newline past the longest value is all a valid write holds. */
	if (off < 0 || (uint64_t)off > value->len || size > NSOPS_VALUE_MAX + 1 - (size_t)off)
		return -EINVAL;
	g_string_truncate(value, (gsize)off);
	g_string_append_len(value, buf, (gssize)size);
	len = nsops_value_parse(value->str, value->len);
	if (len < 0)
		return (int)len;
	nsops_autofd int ns_fd = nsnode_open(fs, &ref, NULL);
	if (ns_fd < 0)
		return ns_fd;
	r = nsops_set(fs->host_fd, ns_fd, of->def->field, value->str, (size_t)len);
	if (r < 0) {
		utsfs_log_failure(of->def->name, ref.name ? ref.name : ALLVIEW_NAME, r);
		return r;
	}
	if (of->written)
		g_string_free(of->written, TRUE);
	of->written = g_steal_pointer(&value);
	return 0;
}

void utsfs_write(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, const char *buf, size_t size,
		 off_t off, struct fuse_file_info *fi)
{
	struct utsfs *fs = utsfs_from_req(req);
	struct open_file *of = open_file_of(fi);
	int r;

	/* Unlock before replying: once the reply is out, release may free of. */
	g_mutex_lock(&of->lock);
	r = write_value(fs, of, buf, size, off, fi->flags);
	g_mutex_unlock(&of->lock);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	listeners_notify(&fs->listeners);
	fuse_reply_write(req, size);
}

/*
 * As /proc/sys/kernel/hostname answers poll: always readable, and
 * POLLPRI|POLLERR once the value differs from what this handle last read.
 * Answers at once: a blocking poll leaves callers in D state.
 */
void utsfs_poll(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, struct fuse_file_info *fi,
		struct fuse_pollhandle *ph)
{
	struct utsfs *fs = utsfs_from_req(req);
	struct open_file *of = open_file_of(fi);
	unsigned int revents = POLLIN | POLLRDNORM;
	bool changes = of->def->poll == ATTR_POLL_CHANGES;

	if (of->def->write == ATTR_SETS_FIELD)
		revents |= POLLOUT | POLLWRNORM;
	/* Registered before looking: a change in between still wakes it. */
	if (ph && changes)
		polls_add(&fs->polls, of, ph);
	else if (ph)
		fuse_pollhandle_destroy(ph);
	if (changes && polls_changed(fs, of))
		revents |= POLLPRI | POLLERR;
	fuse_reply_poll(req, revents);
}

void utsfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct utsfs *fs = utsfs_from_req(req);
	g_autoptr(GString) target = g_string_new(NULL);
	fuse_ino_t dir;
	const struct attr_def *def = attr_from_ino(ino, &dir);
	int r;

	if (!def || !S_ISLNK(def->mode)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	r = attr_content(fs, def, dir, 0, target);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_readlink(req, target->str);
}

/* chown and chmod of a namespace directory: delegation, as cgroup v2 does it. */
static int change_dir(fuse_req_t req, fuse_ino_t ino, const struct stat *attr, int to_set)
{
	struct utsfs *fs = utsfs_from_req(req);
	g_auto(NsRef) ref = { 0 };
	struct ns_meta want = { .uid = attr->st_uid, .gid = attr->st_gid, .mode = attr->st_mode };
	unsigned int fields = (to_set & FUSE_SET_ATTR_UID ? META_UID : 0) |
			      (to_set & FUSE_SET_ATTR_GID ? META_GID : 0) |
			      (to_set & FUSE_SET_ATTR_MODE ? META_MODE : 0);
	struct ns_meta now;
	int r;

	/* default_permissions made the kernel check who may do this. */
	if (!fields || (to_set & ~(FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID | FUSE_SET_ATTR_MODE |
				   FUSE_SET_ATTR_CTIME)))
		return -EPERM;
	/*
	 * Write bits would let an owner mount over the directory (fusermount3
	 * asks for write access) and hide the name from root, or block rmdir.
	 */
	if ((fields & META_MODE) && (attr->st_mode & 0222))
		return -EPERM;
	/* Under names_lock: a rename or rmdir must not move the name meanwhile. */
	g_autoptr(GMutexLocker) names = g_mutex_locker_new(&fs->names_lock);
	r = nsnode_resolve(fs, ino, &ref, NULL);
	if (r < 0)
		return r;
	/* The view's namespaces are root's, and show what they are. */
	if (!ref.name)
		return -EPERM;
	meta_get(&fs->meta, ref.name, ref.id, &now);
	/*
	 * A delegated owner may hide its name (chmod); giving it to another
	 * owner or group is root's, whatever the kernel lets an owner do.
	 */
	r = caller_may_act(req, ((fields & META_UID) && want.uid != now.uid) ||
					((fields & META_GID) && want.gid != now.gid)
					? 0 : now.uid);
	if (r < 0)
		return r;
	r = meta_change(&fs->meta, ref.name, ref.id, &want, fields);
	utsfs_log_failure("chown/chmod", ref.name, r);
	if (r < 0)
		return r;
	meta_get(&fs->meta, ref.name, ref.id, &now);
	g_info("%s: owner %u:%u, mode %04o", ref.name, (unsigned)now.uid, (unsigned)now.gid,
	       (unsigned)now.mode);
	listeners_notify(&fs->listeners);
	return 0;
}

/*
 * As with /proc/sys/kernel/hostname, truncating changes nothing: not the
 * value, and not what a later write continues. An O_TRUNC open comes here
 * too, as a SETATTR of size 0 without the file handle (see utsfs_init).
 */
static int truncate_file(const struct attr_def *def, int to_set)
{
	if (!(to_set & FUSE_SET_ATTR_SIZE))
		return -EPERM;
	return def->write == ATTR_READ_ONLY ? -EACCES : 0;
}

void utsfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		   struct fuse_file_info *fi G_GNUC_UNUSED)
{
	fuse_ino_t dir;
	const struct attr_def *def = attr_from_ino(ino, &dir);
	int r;

	if (ino == FUSE_ROOT_ID || ino == utsfs_from_req(req)->all.dir)
		r = -EPERM;
	else if (def)
		r = truncate_file(def, to_set);
	else
		r = change_dir(req, ino, attr, to_set);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_attr(req, ino, NULL);
}
