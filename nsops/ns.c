// SPDX-License-Identifier: GPL-2.0-or-later
/* UTS namespaces persisted as bind mounts of their nsfs files: create, identify, rename, destroy. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

/* More stacked mounts than this on one name means something is looping. */
#define MAX_STACKED_MOUNTS 64

/* Linux 6.18; Debian 12's headers predate it. */
#ifndef NS_GET_ID
#define NS_GET_ID _IOR(NSIO, 13, __u64)
#endif

int nsops_ns_id(int fd, uint64_t *id)
{
	struct stat st;

	if (ioctl(fd, NS_GET_ID, id) == 0)
		return 0;
	/* Older kernels: the inode number, unique only while the namespace lives. */
	if (errno != ENOTTY && errno != EINVAL)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	*id = st.st_ino;
	return 0;
}

bool nsops_has_ns_ids(void)
{
	nsops_autofd int fd = open(THREAD_UTS, O_RDONLY | O_CLOEXEC);
	uint64_t id;

	return fd >= 0 && ioctl(fd, NS_GET_ID, &id) == 0;
}

/* -ENOTTY when fd is no namespace at all, -EINVAL when it is another kind. */
static int check_uts_fd(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs) < 0)
		return -errno;
	if (sfs.f_type != NSFS_MAGIC)
		return -ENOTTY;
	return ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWUTS ? 0 : -EINVAL;
}

int nsops_open(int dir_fd, const char *name, struct stat *out, uint64_t *id)
{
	struct stat st;

	/*
	 * Look before opening: opening a FIFO or a device node left in the
	 * state directory could block or have side effects. An nsfs inode
	 * is a regular file, and stat follows the bind mount to it.
	 */
	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;

	nsops_autofd int fd = openat(dir_fd, name,
				     O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ELOOP ? -EINVAL : -errno;
	/* An empty file left by a killed creator is not a namespace. */
	int r = check_uts_fd(fd);

	if (r < 0)
		return r == -ENOTTY ? -EINVAL : r;
	if (out && fstat(fd, out) < 0)
		return -errno;
	r = id ? nsops_ns_id(fd, id) : 0;
	if (r < 0)
		return r;
	int ret = fd;

	fd = -1;
	return ret;
}

int nsops_identify(int dir_fd, const char *name, struct stat *st, uint64_t *id)
{
	nsops_autofd int fd = nsops_open(dir_fd, name, st, id);

	return fd < 0 ? fd : 0;
}

/* The empty file a name is bind-mounted on; O_EXCL guards against a second creator. */
static int create_name_file(const char *path)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *tmp = NULL;
	nsops_autofd int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0);
	bool named = fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR);

	/*
	 * Marked before it has a name (linkat fails with EEXIST as O_EXCL
	 * would): a creator killed at any point leaves nothing, or a file
	 * marked as ours. Where O_TMPFILE or xattrs are missing (odd file
	 * systems), a leftover may go unmarked, and is then never cleaned up.
	 */
	if (named)
		fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	fsetxattr(fd, PLACEHOLDER_XATTR, "1", 1, 0);
	if (named)
		return 0;
	/* Through /proc: linkat's AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH before Linux 6.10. */
	tmp = g_strdup_printf("/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, tmp, AT_FDCWD, path, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
}

/* Bind source onto a new name at path: the whole name, or on failure nothing. */
static int bind_name(const char *source, const char *path)
{
	int r = create_name_file(path);

	if (r < 0)
		return r;
	if (mount(source, path, "none", MS_BIND, NULL) == 0)
		return 0;
	r = -errno;
	unlink(path);
	return r;
}

int nsops_create(int host_fd, const char *dir, const char *name,
		 const char *hostname, uint64_t *id)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	uint64_t new_id = 0;
	int r = 0;

	/* unshare(CLONE_NEWUTS) changes only this thread, so others keep serving. */
	if (unshare(CLONE_NEWUTS) < 0)
		return -errno;
	if (hostname && sethostname(hostname, strlen(hostname)) < 0)
		r = -errno;
	if (r == 0)
		r = nsops_current_id(&new_id);
	/* The bind mount comes last: once it exists, the name is complete. */
	if (r == 0)
		r = bind_name(THREAD_UTS, path);
	nsops_return_home(host_fd);
	if (r == 0 && id)
		*id = new_id;
	return r;
}

#define MAX_SYMLINKS 40

static bool is_proc_dir(int fd)
{
	struct statfs sfs;

	return fstatfs(fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC;
}

void nsops_reached_clear(struct nsops_reached *reached)
{
	g_clear_pointer(&reached->rest, g_free);
}

/*
 * 0 when directory fd is not on device avoid; when it is, -EXDEV with fd's
 * inode and rest in *reached (-EPERM without one); -errno when its stat
 * fails. Its stat to *st.
 */
static int check_device(int fd, dev_t avoid, const char *rest, struct nsops_reached *reached,
			struct stat *st)
{
	if (fstat(fd, st) < 0)
		return -errno;
	if (st->st_dev != avoid)
		return 0;
	if (!reached)
		return -EPERM;
	reached->ino = st->st_ino;
	g_free(reached->rest);
	reached->rest = g_strdup(rest);
	return -EXDEV;
}

/* Take the first component off rest. */
static char *next_component(GString *rest)
{
	gsize len = strcspn(rest->str, "/");
	char *comp = g_strndup(rest->str, len);

	g_string_erase(rest, 0, (gssize)len);
	g_string_erase(rest, 0, (gssize)strspn(rest->str, "/"));
	return comp;
}

/*
 * An O_PATH fd on what the absolute path names as the caller sees it,
 * resolved one component at a time: from the caller's root (its mount
 * namespace, its chroot), never above it by "..", with /proc/self and
 * /proc/thread-self the caller's, and never looking up a name inside the
 * file system on device avoid: the caller may be serving it while the
 * kernel holds one of its directories locked, and such a lookup would wait
 * for itself forever.
 */
static int open_path_as(const struct nsops_view *view, const char *path, dev_t avoid,
			struct nsops_reached *reached)
{
	g_autoptr(GString) rest = g_string_new(path);
	nsops_autofd int dir = -1;
	struct stat root, here;
	int links = 0;
	int r;

	if (path[0] != '/')
		return -EINVAL;
	if (fstat(view->root, &root) < 0)
		return -errno;
	while (rest->len > 0) {
		char target[PATH_MAX];
		struct stat st;
		g_autofree char *comp = NULL;
		int next;
		ssize_t n;

		/* The path, or an absolute symlink's target, starts at the caller's root. */
		if (rest->str[0] == '/') {
			nsops_close_fd(&dir);
			dir = openat(view->root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (dir < 0)
				return -errno;
			g_string_erase(rest, 0, (gssize)strspn(rest->str, "/"));
			continue;
		}
		r = check_device(dir, avoid, rest->str, reached, &here);
		if (r < 0)
			return r;
		comp = next_component(rest);
		if (g_str_equal(comp, "..") && here.st_dev == root.st_dev &&
		    here.st_ino == root.st_ino)
			continue;
		/* /proc/self would be utsfs's own: the caller's instead. */
		if (is_proc_dir(dir) && (g_str_equal(comp, "self") || g_str_equal(comp, "thread-self"))) {
			g_autofree char *self = NULL;

			r = nsops_view_self(view, dir, comp[0] == 't', &self);
			if (r < 0)
				return r;
			g_string_prepend_c(rest, '/');
			g_string_prepend(rest, self);
			continue;
		}
		next = openat(dir, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			return -errno;
		if (fstat(next, &st) < 0 || !S_ISLNK(st.st_mode)) {
			nsops_close_fd(&dir);
			dir = next;
			continue;
		}
		if (++links > MAX_SYMLINKS) {
			nsops_close_fd(&next);
			return -ELOOP;
		}
		n = readlinkat(next, "", target, sizeof(target) - 1);
		if (n < 0) {
			nsops_close_fd(&next);
			return -errno;
		}
		target[n] = '\0';
		/*
		 * /proc's magic links (ns/uts "uts:[N]", fd/N, cwd, root: text
		 * that is absolute or names an object) jump straight to their
		 * target, which only following them reaches. Its plain ones
		 * (net -> self/net, mounts) are text like any other, walked as
		 * the caller: followed by us, "self" in them would be ours.
		 */
		if (is_proc_dir(dir) && (target[0] == '/' || strstr(target, ":["))) {
			nsops_close_fd(&next);
			next = openat(dir, comp, O_PATH | O_CLOEXEC);
			if (next < 0)
				return -errno;
			nsops_close_fd(&dir);
			dir = next;
			continue;
		}
		nsops_close_fd(&next);
		if (rest->len > 0)
			g_string_prepend(rest, "/");
		g_string_prepend(rest, target);
	}
	r = check_device(dir, avoid, "", reached, &here);
	if (r < 0)
		return r;
	r = dir;
	dir = -1;
	return r;
}

int nsops_adopt_fd(const char *dir, const char *name, int ns_fd, uint64_t *id)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	g_autofree char *source = NULL;
	uint64_t new_id;
	int r = check_uts_fd(ns_fd);

	if (r == 0)
		r = nsops_ns_id(ns_fd, &new_id);
	if (r < 0)
		return r;
	/*
	 * Bind what was checked, not a path again: /proc/PID can be a
	 * different process by now.
	 */
	source = g_strdup_printf("/proc/self/fd/%d", ns_fd);
	r = bind_name(source, path);
	if (r < 0)
		return r;
	if (id)
		*id = new_id;
	return 0;
}

int nsops_reopen_uts(int opath)
{
	g_autofree char *again = g_strdup_printf("/proc/self/fd/%d", opath);
	struct statfs sfs;
	nsops_autofd int fd = -1;
	int r;

	if (fstatfs(opath, &sfs) < 0)
		return -errno;
	if (sfs.f_type != NSFS_MAGIC)
		return -ENOTTY;
	fd = open(again, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = check_uts_fd(fd);
	return r < 0 ? r : g_steal_fd(&fd);
}

/*
 * How long a walk may take before it is taken for one that waits for the
 * directory the kernel holds locked while the caller waits for us: a path
 * through a file system that looks names up in ours (an overlay with it as
 * a layer, another FUSE file system passing through to it) cannot be told
 * from afar, and would wait forever.
 */
#define WALK_DEADLINE_US (2 * G_USEC_PER_SEC)

/* One walk in a thread of its own; whoever is last of the two frees it. */
struct walk {
	GMutex lock;
	GCond cond;
	bool done;
	bool abandoned;
	struct nsops_view view;
	char *path;
	dev_t avoid;
	bool want_reached;
	struct nsops_reached reached;
	int result;
};

static void walk_free(struct walk *w)
{
	if (w->result >= 0)
		nsops_close_fd(&w->result);
	nsops_view_clear(&w->view);
	nsops_reached_clear(&w->reached);
	g_free(w->path);
	g_cond_clear(&w->cond);
	g_mutex_clear(&w->lock);
	g_free(w);
}

static gpointer walk_thread(gpointer data)
{
	struct walk *w = data;
	int r = open_path_as(&w->view, w->path, w->avoid, w->want_reached ? &w->reached : NULL);
	bool abandoned;

	g_mutex_lock(&w->lock);
	w->result = r;
	w->done = true;
	abandoned = w->abandoned;
	g_cond_signal(&w->cond);
	g_mutex_unlock(&w->lock);
	/* Done at last, once the caller was answered and the kernel let go. */
	if (abandoned)
		walk_free(w);
	return NULL;
}

/* open_path_as(), given up with -EDEADLK after WALK_DEADLINE_US. */
static int open_path_within(const struct nsops_view *view, const char *path, dev_t avoid,
			    struct nsops_reached *reached)
{
	struct walk *w = g_new0(struct walk, 1);
	gint64 end = g_get_monotonic_time() + WALK_DEADLINE_US;
	GThread *thread;
	int r;

	g_mutex_init(&w->lock);
	g_cond_init(&w->cond);
	w->result = -1;
	nsops_view_copy(view, &w->view);
	w->path = g_strdup(path);
	w->avoid = avoid;
	w->want_reached = reached != NULL;
	thread = w->view.root < 0 ? NULL : g_thread_try_new("utsfs-walk", walk_thread, w, NULL);
	if (!thread) {
		walk_free(w);
		return -EAGAIN;
	}
	g_thread_unref(thread);
	g_mutex_lock(&w->lock);
	while (!w->done && g_cond_wait_until(&w->cond, &w->lock, end))
		;
	if (!w->done) {
		w->abandoned = true;
		g_mutex_unlock(&w->lock);
		return -EDEADLK;
	}
	g_mutex_unlock(&w->lock);
	r = w->result;
	w->result = -1;
	if (reached && r == -EXDEV) {
		nsops_reached_clear(reached);
		*reached = w->reached;
		w->reached = (struct nsops_reached){ 0 };
	}
	walk_free(w);
	return r;
}

int nsops_open_target(const struct nsops_view *view, const char *target, dev_t avoid,
		      struct nsops_reached *reached)
{
	nsops_autofd int opath = open_path_within(view, target, avoid, reached);

	return opath < 0 ? opath : nsops_reopen_uts(opath);
}

int nsops_adopt(const char *dir, const char *name, const struct nsops_view *view,
		const char *target, dev_t avoid, struct nsops_reached *reached, uint64_t *id)
{
	nsops_autofd int fd = nsops_open_target(view, target, avoid, reached);

	return fd < 0 ? fd : nsops_adopt_fd(dir, name, fd, id);
}

int nsops_destroy(const char *dir, const char *name)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	int i;

	/*
	 * `unshare --uts=FILE` twice on one file stacks two mounts; unlink
	 * fails with EBUSY until all of them are gone. EINVAL means none is
	 * left (or there never was one: an empty file is removed all the same).
	 * Unlinking after each umount spares the common case, one mount, a
	 * second umount2 only to hear EINVAL.
	 */
	for (i = 0; i < MAX_STACKED_MOUNTS; i++) {
		bool none_left = false;

		if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
			if (errno != EINVAL)
				return -errno;
			none_left = true;
		}
		if (unlink(path) == 0)
			return 0;
		/* Busy with no mount of ours to take off: trying again cannot help. */
		if (errno != EBUSY || none_left)
			return -errno;
	}
	return -EBUSY;
}

int nsops_rename(const char *dir, const char *from, const char *to)
{
	g_autofree char *from_path = g_build_filename(dir, from, NULL);
	g_autofree char *to_path = g_build_filename(dir, to, NULL);
	int r = bind_name(from_path, to_path);

	if (r < 0)
		return r;
	r = nsops_destroy(dir, from);
	if (r < 0) {
		/*
		 * Undo the new name only while the old one still holds the
		 * namespace: destroy may have detached it before failing, and
		 * the namespace must keep a name.
		 */
		uint64_t id_to, id_from;
		nsops_autofd int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0 && nsops_identify(dfd, to, NULL, &id_to) == 0 &&
		    nsops_identify(dfd, from, NULL, &id_from) == 0 && id_to == id_from)
			nsops_destroy(dir, to);
		return r;
	}
	return 0;
}
