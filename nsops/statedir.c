// SPDX-License-Identifier: GPL-2.0-or-later
/* The state directory: its set-up as a shared mount, its lock, its listing and known mounts, its clean-up. */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <string.h>
#include <unistd.h>

/* statx's never-reused mount id (Linux 6.8); Debian 12's headers predate it. */
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif

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

/* Whether name is an empty file of utsfs's own that holds no namespace. */
static bool is_our_leftover(int dir_fd, const char *name)
{
	nsops_autofd int fd = openat(dir_fd, name,
				     O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);

	return fd >= 0 && fgetxattr(fd, PLACEHOLDER_XATTR, NULL, 0) >= 0 &&
	       nsops_identify(dir_fd, name, NULL, NULL) == -EINVAL;
}

/*
 * Empty files of utsfs's own are what a creator killed before its bind
 * mount leaves; other tools' files are never touched. Returns how many
 * regular files stay: about how many names there are, before any listing.
 */
static int remove_garbage(int dir_fd)
{
	DIR *d = open_listing(dir_fd);
	struct dirent *de;
	int files = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct stat st;

		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (st.st_size == 0 && is_our_leftover(dir_fd, de->d_name))
			unlinkat(dir_fd, de->d_name, 0);
		else if (files < INT_MAX)
			files++;
	}
	closedir(d);
	return files;
}

/* A known mount: keyed by its first member, as g_int64_hash reads it. */
struct known_mount {
	uint64_t mnt_id;
	uint64_t ns_id;
};

/* Known mounts, looked up by unique mount id. */
static GHashTable *mount_set_new(void)
{
	return g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
}

static void mount_set_add(GHashTable *set, uint64_t mnt_id, uint64_t ns_id)
{
	struct known_mount k = { mnt_id, ns_id };

	g_hash_table_add(set, g_memdup2(&k, sizeof(k)));
}

/* The unique id of the mount fd is on, or 0 when the kernel does not tell (before Linux 6.8). */
static uint64_t mount_of(int fd)
{
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID_UNIQUE, &sx) == 0 &&
	    (sx.stx_mask & STATX_MNT_ID_UNIQUE))
		return sx.stx_mnt_id;
	return 0;
}

int nsops_statedir_open(const char *path, struct nsops_statedir *sd)
{
	int r;

	*sd = (struct nsops_statedir){ .lock_fd = -1, .dir_fd = -1 };
	g_mutex_init(&sd->known_lock);
	sd->known = mount_set_new();
	if (g_mkdir_with_parents(path, 0755) < 0) {
		r = -errno;
		goto err;
	}
	sd->lock_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sd->lock_fd < 0) {
		r = -errno;
		goto err;
	}
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
	sd->known_listed = (guint)r;
	sd->mount_ids = mount_of(sd->dir_fd) != 0;
	sd->ns_ids = nsops_has_ns_ids();
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
	if (sd->known) {
		g_clear_pointer(&sd->known, g_hash_table_unref);
		g_mutex_clear(&sd->known_lock);
	}
}

/*
 * Identifying a name the full way (nsops_open: an open, an fstatfs, the
 * NS_GET_NSTYPE ioctl) costs some 4 µs, paid by every lookup of a name and
 * by every listing for each name. But a bind mount's root never changes,
 * and unique mount ids are never reused: a mount once seen to hold a UTS
 * namespace holds that one as long as it exists. So a name whose mount is
 * known takes one statx. The next full listing keeps only the mounts it
 * saw; between listings, lookups of ever new names could grow the set
 * without end, so it is emptied when it outgrows the last listing by
 * KNOWN_SLACK. Before Linux 6.8 (no unique mount ids) every look is the
 * full one.
 */
#define KNOWN_SLACK 4096

/* Whether mount mnt_id is known, and the namespace it holds. */
static bool known_has(struct nsops_statedir *sd, uint64_t mnt_id, uint64_t *ns_id)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&sd->known_lock);
	const struct known_mount *k = g_hash_table_lookup(sd->known, &mnt_id);

	if (k)
		*ns_id = k->ns_id;
	return k != NULL;
}

static void known_add(struct nsops_statedir *sd, uint64_t mnt_id, uint64_t ns_id)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&sd->known_lock);

	if (g_hash_table_size(sd->known) >= sd->known_listed + KNOWN_SLACK)
		g_hash_table_remove_all(sd->known);
	mount_set_add(sd->known, mnt_id, ns_id);
}

static void stat_from_statx(const struct statx *sx, struct stat *st)
{
	*st = (struct stat){
		.st_dev = makedev(sx->stx_dev_major, sx->stx_dev_minor),
		.st_ino = sx->stx_ino,
		.st_mode = sx->stx_mode,
		.st_nlink = sx->stx_nlink,
		.st_uid = sx->stx_uid,
		.st_gid = sx->stx_gid,
		.st_rdev = makedev(sx->stx_rdev_major, sx->stx_rdev_minor),
		.st_size = (off_t)sx->stx_size,
		.st_blksize = (blksize_t)sx->stx_blksize,
		.st_blocks = (blkcnt_t)sx->stx_blocks,
		.st_atim = { sx->stx_atime.tv_sec, sx->stx_atime.tv_nsec },
		.st_mtim = { sx->stx_mtime.tv_sec, sx->stx_mtime.tv_nsec },
		.st_ctim = { sx->stx_ctime.tv_sec, sx->stx_ctime.tv_nsec },
	};
}

static int identify_seen(struct nsops_statedir *sd, const char *name, struct stat *st,
			 uint64_t *id, uint64_t *mnt_id, GHashTable *seen)
{
	struct statx sx;
	struct stat own;
	uint64_t own_mnt;
	int fd;

	if (!mnt_id)
		mnt_id = &own_mnt;
	*mnt_id = 0;
	if (!sd->mount_ids)
		return nsops_identify(sd->dir_fd, name, st, id);
	if (!st)
		st = &own;
	/* As fstatat does: an automount point left there stays untriggered. */
	if (statx(sd->dir_fd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
		  STATX_BASIC_STATS | STATX_MNT_ID_UNIQUE, &sx) < 0)
		return -errno;
	if ((sx.stx_mask & STATX_MNT_ID_UNIQUE) && known_has(sd, sx.stx_mnt_id, id)) {
		stat_from_statx(&sx, st);
		*mnt_id = sx.stx_mnt_id;
	} else {
		uint64_t ns_id;

		fd = nsops_open(sd->dir_fd, name, st, &ns_id);
		if (fd < 0)
			return fd;
		/* The mount of what was checked, not of what the path showed before. */
		*mnt_id = mount_of(fd);
		nsops_close_fd(&fd);
		if (*mnt_id)
			known_add(sd, *mnt_id, ns_id);
		*id = ns_id;
	}
	if (seen && *mnt_id)
		mount_set_add(seen, *mnt_id, *id);
	return 0;
}

int nsops_statedir_identify(struct nsops_statedir *sd, const char *name, struct stat *st,
			    uint64_t *id, uint64_t *mnt_id)
{
	uint64_t own;
	int r = identify_seen(sd, name, st, id ? id : &own, mnt_id, NULL);

	/* Junk in the state directory is not a namespace: not there. */
	return r == -EINVAL ? -ENOENT : r;
}

int nsops_statedir_holds(struct nsops_statedir *sd, const char *name, uint64_t id,
			 struct stat *st, uint64_t *mnt_id)
{
	uint64_t now;
	int r = nsops_statedir_identify(sd, name, st, &now, mnt_id);

	return r == 0 && now != id ? -ESTALE : r;
}

static gint compare_entries(gconstpointer a, gconstpointer b)
{
	const struct nsops_entry *ea = *(const struct nsops_entry *const *)a;
	const struct nsops_entry *eb = *(const struct nsops_entry *const *)b;

	return strcmp(ea->name, eb->name);
}

int nsops_statedir_list(struct nsops_statedir *sd, GPtrArray **entries)
{
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GHashTable) seen = mount_set_new();
	DIR *d = open_listing(sd->dir_fd);
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct nsops_entry *e;
		struct stat st;
		uint64_t id;

		if (!nsops_name_is_valid(de->d_name, len))
			continue;
		if (identify_seen(sd, de->d_name, &st, &id, NULL, seen) < 0)
			continue;
		e = g_malloc(sizeof(*e) + len + 1);
		e->id = id;
		e->ino = st.st_ino;
		memcpy(e->name, de->d_name, len + 1);
		g_ptr_array_add(out, e);
	}
	closedir(d);
	g_mutex_lock(&sd->known_lock);
	sd->known_listed = g_hash_table_size(seen);
	g_hash_table_unref(sd->known);
	sd->known = g_steal_pointer(&seen);
	g_mutex_unlock(&sd->known_lock);
	g_ptr_array_sort(out, compare_entries);
	*entries = g_steal_pointer(&out);
	return 0;
}

int nsops_statedir_open_ns(struct nsops_statedir *sd, const char *name, uint64_t id,
			   uint64_t *mnt_id)
{
	struct stat seen, opened;
	uint64_t opened_id;
	int r = nsops_statedir_holds(sd, name, id, &seen, NULL);

	if (r < 0)
		return r;
	/*
	 * Identified just now as a UTS namespace's nsfs file (a regular file,
	 * so opening it has no side effects); checking what was opened closes
	 * the window in which another tool could have mounted something else.
	 */
	nsops_autofd int fd = openat(sd->dir_fd, name,
				     O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &opened) < 0)
		return -errno;
	if (opened.st_dev != seen.st_dev || nsops_ns_id(fd, &opened_id) < 0 || opened_id != id)
		return -ESTALE;
	if (mnt_id)
		*mnt_id = sd->mount_ids ? mount_of(fd) : 0;
	r = fd;
	fd = -1;
	return r;
}
