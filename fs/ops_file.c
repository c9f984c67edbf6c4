// SPDX-License-Identifier: GPL-2.0-or-later
/* File requests on attribute files: open, read, write (as /proc/sys/kernel/hostname does), truncate, readlink. */
#include "attrs.h"
#include "open_file.h"
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>

static void open_file_free(struct open_file *of)
{
	/* First: the watcher must not wake a handle that is being freed. */
	watch_forget(of->fs, of);
	g_mutex_clear(&of->lock);
	if (of->shown)
		g_string_free(of->shown, TRUE);
	if (of->written)
		g_string_free(of->written, TRUE);
	g_free(of);
}
typedef struct open_file OpenFile;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OpenFile, open_file_free)

int open_file_show(struct utsfs *fs, const struct open_file *of, GString *out)
{
	g_auto(NsRef) ref = { 0 };

	if (of->def->field >= 0)
		return attr_show(fs, of->def, of->dir, -1, NULL, out);
	nsops_autofd int ns_fd = ns_open_node(fs, of->dir, &ref, NULL);
	if (ns_fd < 0)
		return ns_fd;
	return attr_show(fs, of->def, of->dir, ns_fd, &ref, out);
}

void utsfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct utsfs *fs = utsfs_from_req(req);
	g_autoptr(OpenFile) of = g_new0(struct open_file, 1);
	bool writing = (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);
	size_t row;
	int r;

	g_mutex_init(&of->lock);
	of->fs = fs;
	of->def = attr_from_ino(ino, &of->dir, &row);
	if (!of->def) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	/* Read-only even for root, whom default_permissions lets through. */
	if (writing && of->def->field < 0) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (writing) {
		of->written = g_string_new(NULL);
		/* Without O_TRUNC the file holds its value; writes continue from it. */
		r = fi->flags & O_TRUNC ? 0 : open_file_show(fs, of, of->written);
	} else {
		/* Fail the open, not a later read, when the namespace is gone. */
		r = node_check(fs, of->dir);
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	/*
	 * direct_io: the kernel can change hostname behind our back, so the
	 * page cache must never answer a read. id never changes: keep it.
	 */
	fi->direct_io = of->def->volatile_content;
	fi->keep_cache = !of->def->volatile_content;
	fi->fh = handle_add(fs, g_steal_pointer(&of), (GDestroyNotify)open_file_free);
	/*
	 * Before replying: the kernel then sets the size it holds to 0 and no
	 * longer trusts it; a getattr armed after that must stay armed.
	 */
	if (fi->flags & O_TRUNC)
		cache_value_dropped(fs, ino);
	if (fuse_reply_open(req, fi) != 0)
		handle_release(fs, fi->fh);
}

void utsfs_release(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED,
		   struct fuse_file_info *fi)
{
	handle_release(utsfs_from_req(req), fi->fh);
	fuse_reply_err(req, 0);
}

/* Copy what a read at off gets into out, refreshing the snapshot at offset 0. */
static int read_content(struct utsfs *fs, struct open_file *of, size_t size,
			off_t off, GString *out)
{
	/* Offset 0 is a new read (cat, or pread 0 after a change): look again. */
	if (off == 0 || !of->shown) {
		g_autoptr(GString) fresh = g_string_new(NULL);
		int r = open_file_show(fs, of, fresh);

		if (r < 0)
			return r;
		if (of->shown)
			g_string_free(of->shown, TRUE);
		of->shown = g_steal_pointer(&fresh);
	}
	if (off >= 0 && (uint64_t)off < of->shown->len)
		g_string_append_len(out, of->shown->str + off,
				    (gssize)MIN(size, of->shown->len - (size_t)off));
	return 0;
}

void utsfs_read(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, size_t size,
		off_t off, struct fuse_file_info *fi)
{
	struct utsfs *fs = utsfs_from_req(req);
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;
	g_autoptr(GString) out = g_string_new(NULL);
	int r;

	/*
	 * Unlock before replying: once the reply is out, the kernel may send
	 * release on another thread, which frees of and its lock.
	 */
	g_mutex_lock(&of->lock);
	r = read_content(fs, of, size, off, out);
	g_mutex_unlock(&of->lock);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_buf(req, out->str, out->len);
}

/*
 * The value a write at off makes: what was written before off on this
 * handle, then buf. Beyond that (a gap) there is nothing to continue.
 */
static int write_value(struct utsfs *fs, struct open_file *of, const char *buf,
		       size_t size, off_t off)
{
	g_autoptr(GString) value = NULL;
	ssize_t len;
	int r;

	/* One trailing newline past the longest value is all a valid write holds. */
	if (off < 0 || (uint64_t)off > of->written->len ||
	    size > NSOPS_VALUE_MAX + 1 - (size_t)off)
		return -EINVAL;
	value = g_string_new_len(of->written->str, off);
	g_string_append_len(value, buf, (gssize)size);
	len = nsops_value_parse(value->str, value->len);
	if (len < 0)
		return (int)len;

	g_auto(NsRef) ref = { 0 };
	nsops_autofd int ns_fd = node_open_ns(fs, of->dir, &ref);
	if (ns_fd < 0)
		return ns_fd;
	r = nsops_set(fs->host_fd, ns_fd, of->def->field, value->str, (size_t)len);
	if (r < 0) {
		utsfs_log_failure(of->def->name, ref.name, r);
		return r;
	}
	g_string_free(of->written, TRUE);
	of->written = g_steal_pointer(&value);
	return 0;
}

void utsfs_write(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, const char *buf,
		 size_t size, off_t off, struct fuse_file_info *fi)
{
	struct utsfs *fs = utsfs_from_req(req);
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;
	int r;

	g_mutex_lock(&of->lock);
	r = write_value(fs, of, buf, size, off);
	g_mutex_unlock(&of->lock);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	/*
	 * The size the kernel may hold stays armed. A plain write(2) makes it
	 * drop that size once we answer, but an asynchronous one (io_uring,
	 * AIO) does so when it sends the WRITE, and a getattr meanwhile may
	 * read the old value and be applied. Our own sethostname wakes the
	 * watcher, which takes the size back if it changed.
	 */
	record_changed(fs);
	fuse_reply_write(req, size);
}

bool open_file_changed(struct utsfs *fs, struct open_file *of)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&of->lock);
	g_autoptr(GString) now = g_string_new(NULL);

	/* Nothing read yet: what a first read will show is news. */
	if (!of->shown)
		return false;
	if (open_file_show(fs, of, now) < 0)
		return true;
	return !g_string_equal(now, of->shown);
}

/*
 * As /proc/sys/kernel/hostname answers poll: always readable, and
 * POLLPRI|POLLERR once the value differs from what this handle last read.
 * Answers at once: a blocking poll leaves callers in D state.
 */
void utsfs_poll(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED,
		struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	struct utsfs *fs = utsfs_from_req(req);
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;
	unsigned int revents = POLLIN | POLLRDNORM;

	if (of->written)
		revents |= POLLOUT | POLLWRNORM;
	/* Only hostname and domainname changes are signalled by the kernel. */
	bool watched = of->def->field >= 0;

	/* Registered before looking: a change in between still wakes it. */
	if (ph && watched)
		watch_add(fs, of, ph);
	else if (ph)
		fuse_pollhandle_destroy(ph);
	if (watched && open_file_changed(fs, of))
		revents |= POLLPRI | POLLERR;
	fuse_reply_poll(req, revents);
}

void utsfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct utsfs *fs = utsfs_from_req(req);
	g_auto(NsRef) ref = { 0 };
	g_autoptr(GString) target = g_string_new(NULL);
	fuse_ino_t dir;
	size_t row;
	const struct attr_def *def = attr_from_ino(ino, &dir, &row);
	int r;

	if (!def || !S_ISLNK(def->mode)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	r = nodes_ref(fs, dir, &ref);
	if (r == 0)
		r = def->show(fs, -1, &ref, target);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fuse_reply_readlink(req, target->str);
}

/* chown and chmod of a namespace directory: delegation, as cgroup v2 does it. */
static int change_dir(struct utsfs *fs, fuse_ino_t ino, const struct stat *attr,
		      int to_set)
{
	g_auto(NsRef) ref = { 0 };
	struct ns_meta want = { .uid = attr->st_uid, .gid = attr->st_gid,
				.mode = attr->st_mode };
	unsigned int fields = (to_set & FUSE_SET_ATTR_UID ? META_UID : 0) |
			      (to_set & FUSE_SET_ATTR_GID ? META_GID : 0) |
			      (to_set & FUSE_SET_ATTR_MODE ? META_MODE : 0);
	int r;

	/* default_permissions made the kernel check who may do this. */
	if (!fields || (to_set & ~(FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID |
				   FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_CTIME)))
		return -EPERM;
	/* Under names_lock: a rename or rmdir must not move the name meanwhile. */
	g_autoptr(GMutexLocker) names = g_mutex_locker_new(&fs->names_lock);
	nsops_autofd int ns_fd = ns_open_node(fs, ino, &ref, NULL);
	if (ns_fd < 0)
		return ns_fd;
	r = meta_change(fs, ref.name, ref.id, &want, fields);
	utsfs_log_failure("chown/chmod", ref.name, r);
	if (r == 0) {
		struct ns_meta now;

		meta_get(fs, ref.name, ref.id, &now);
		g_info("%s: owner %u:%u, mode %04o", ref.name, (unsigned)now.uid,
		       (unsigned)now.gid, (unsigned)now.mode);
		record_changed(fs);
	}
	return r;
}

void utsfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		   int to_set, struct fuse_file_info *fi G_GNUC_UNUSED)
{
	fuse_ino_t dir;
	size_t row;
	const struct attr_def *def = attr_from_ino(ino, &dir, &row);
	int r;

	if (ino != FUSE_ROOT_ID && !def) {
		r = change_dir(utsfs_from_req(req), ino, attr, to_set);
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
		/* The files follow their directory's owner and hold it cached. */
		cache_drop_files(utsfs_from_req(req), ino);
		reply_attr(req, ino, false);
		return;
	}
	if (!def || !(to_set & FUSE_SET_ATTR_SIZE)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (def->field < 0) {
		fuse_reply_err(req, EACCES);
		return;
	}
	/*
	 * As with /proc/sys/kernel/hostname, truncating alone changes
	 * nothing (`: > hostname`); the times that come with it are ours.
	 */
	reply_attr(req, ino, false);
}
