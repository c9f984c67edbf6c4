// SPDX-License-Identifier: GPL-2.0-or-later
/* UTS namespaces persisted as bind mounts of their nsfs files: create, identify, rename, destroy. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

/* More stacked mounts than this on one name means something is looping. */
#define MAX_STACKED_MOUNTS 64

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

int nsops_open(int dir_fd, const char *name, struct stat *out)
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
	int ret = fd;

	fd = -1;
	return ret;
}

/* The empty file a name is bind-mounted on; O_EXCL guards against a second creator. */
static int create_name_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

int nsops_create(int host_fd, const char *dir, const char *name,
		 const char *hostname, uint64_t *id)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	uint64_t new_id = 0;
	int r = create_name_file(path);

	if (r < 0)
		return r;
	/* unshare(CLONE_NEWUTS) changes only this thread, so others keep serving. */
	if (unshare(CLONE_NEWUTS) < 0) {
		r = -errno;
		goto err_unlink;
	}
	if (hostname && sethostname(hostname, strlen(hostname)) < 0) {
		r = -errno;
		goto err_home;
	}
	r = nsops_current_id(&new_id);
	if (r < 0)
		goto err_home;
	/* The bind mount comes last: once it exists, the name is complete. */
	if (mount("/proc/thread-self/ns/uts", path, "none", MS_BIND, NULL) < 0) {
		r = -errno;
		goto err_home;
	}
	nsops_return_home(host_fd);
	if (id)
		*id = new_id;
	return 0;

err_home:
	nsops_return_home(host_fd);
err_unlink:
	unlink(path);
	return r;
}

int nsops_link(const char *dir, const char *from, const char *to)
{
	g_autofree char *from_path = g_build_filename(dir, from, NULL);
	g_autofree char *to_path = g_build_filename(dir, to, NULL);
	int r = create_name_file(to_path);

	if (r < 0)
		return r;
	if (mount(from_path, to_path, "none", MS_BIND, NULL) < 0) {
		r = -errno;
		unlink(to_path);
		return r;
	}
	return 0;
}

int nsops_adopt(const char *dir, const char *name, const char *target, uint64_t *id)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	g_autofree char *source = NULL;
	struct stat st;
	/* O_NONBLOCK: a FIFO given as target must not hang the daemon. */
	nsops_autofd int fd = open(target, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	int r;

	if (fd < 0)
		return -errno;
	r = check_uts_fd(fd);
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0)
		return -errno;
	r = create_name_file(path);
	if (r < 0)
		return r;
	/*
	 * Bind what was checked, not the path again: /proc/PID can be a
	 * different process by now.
	 */
	source = g_strdup_printf("/proc/self/fd/%d", fd);
	if (mount(source, path, "none", MS_BIND, NULL) < 0) {
		r = -errno;
		unlink(path);
		return r;
	}
	if (id)
		*id = st.st_ino;
	return 0;
}

int nsops_destroy(const char *dir, const char *name)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	int i;

	/*
	 * `unshare --uts=FILE` twice on one file stacks two mounts; unlink
	 * fails with EBUSY until all of them are gone. EINVAL means none is
	 * left (or there never was one: an empty file is removed all the same).
	 */
	for (i = 0; i < MAX_STACKED_MOUNTS; i++) {
		if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
			continue;
		if (errno == EINVAL)
			break;
		return -errno;
	}
	if (i == MAX_STACKED_MOUNTS)
		return -EBUSY;
	return unlink(path) < 0 ? -errno : 0;
}

int nsops_rename(const char *dir, const char *from, const char *to)
{
	int r = nsops_link(dir, from, to);

	if (r < 0)
		return r;
	r = nsops_destroy(dir, from);
	if (r < 0) {
		/* Keep the old name only: undo the new one. */
		nsops_destroy(dir, to);
		return r;
	}
	return 0;
}
