// SPDX-License-Identifier: GPL-2.0-or-later
/* The state directory: its set-up as a shared mount, its lock, its listing and clean-up. */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

/*
 * Bind the directory onto itself, then private, then shared: a bare bind
 * would join the parent's peer group (/ is shared under systemd) and every
 * name would propagate to, and show twice in, the parent's mount table.
 * When the directory is already a mount point (our earlier run, or a
 * deliberate mount) making it shared is all that is needed.
 */
static int make_shared_mount(const char *path)
{
	if (mount("none", path, "none", MS_SHARED | MS_REC, NULL) == 0)
		return 0;
	if (errno != EINVAL)
		return -errno;
	if (mount(path, path, "none", MS_BIND | MS_REC, NULL) < 0)
		return -errno;
	if (mount("none", path, "none", MS_PRIVATE | MS_REC, NULL) < 0 ||
	    mount("none", path, "none", MS_SHARED | MS_REC, NULL) < 0) {
		int r = -errno;

		umount2(path, MNT_DETACH);
		return r;
	}
	return 0;
}

/* A fresh directory stream: each listing needs its own file offset. */
static DIR *open_listing(int dir_fd)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d)
		nsops_close_fd(&fd);
	return d;
}

/* Empty regular files are what a creator killed before its bind mount leaves. */
static int remove_garbage(int dir_fd)
{
	DIR *d = open_listing(dir_fd);
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct stat st;

		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_size != 0)
			continue;
		if (nsops_identify(dir_fd, de->d_name, NULL) == -EINVAL)
			unlinkat(dir_fd, de->d_name, 0);
	}
	closedir(d);
	return 0;
}

int nsops_statedir_open(const char *path, struct nsops_statedir *sd)
{
	int r;

	*sd = (struct nsops_statedir){ .lock_fd = -1, .dir_fd = -1 };
	if (g_mkdir_with_parents(path, 0755) < 0)
		return -errno;
	sd->lock_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sd->lock_fd < 0)
		return -errno;
	/* flock is per inode, so the self-bind below does not dodge it. */
	if (flock(sd->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto err;
	}
	r = make_shared_mount(path);
	if (r < 0)
		goto err;
	/* Opened after the bind: names are mounted on the bind, not below it. */
	sd->dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sd->dir_fd < 0) {
		r = -errno;
		goto err;
	}
	r = remove_garbage(sd->dir_fd);
	if (r < 0)
		goto err;
	sd->path = g_strdup(path);
	return 0;
err:
	nsops_statedir_close(sd);
	return r;
}

void nsops_statedir_close(struct nsops_statedir *sd)
{
	nsops_close_fd(&sd->dir_fd);
	nsops_close_fd(&sd->lock_fd);
	g_clear_pointer(&sd->path, g_free);
}

static gint compare_entries(gconstpointer a, gconstpointer b)
{
	const struct nsops_entry *ea = *(const struct nsops_entry *const *)a;
	const struct nsops_entry *eb = *(const struct nsops_entry *const *)b;

	return strcmp(ea->name, eb->name);
}

int nsops_statedir_list(int dir_fd, GPtrArray **entries)
{
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
	DIR *d = open_listing(dir_fd);
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct nsops_entry *e;
		struct stat st;

		if (!nsops_name_is_valid(de->d_name, len))
			continue;
		if (nsops_identify(dir_fd, de->d_name, &st) < 0)
			continue;
		e = g_malloc(sizeof(*e) + len + 1);
		e->id = st.st_ino;
		memcpy(e->name, de->d_name, len + 1);
		g_ptr_array_add(out, e);
	}
	closedir(d);
	g_ptr_array_sort(out, compare_entries);
	*entries = g_steal_pointer(&out);
	return 0;
}
