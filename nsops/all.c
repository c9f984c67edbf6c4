// SPDX-License-Identifier: GPL-2.0-or-later
/* Every UTS namespace on the host, found without entering one: tasks and nsfs bind mounts. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

/* Linux 6.11: a fd on the UTS namespace of a pidfd's task. */
#ifndef PIDFD_GET_UTS_NAMESPACE
#define PIDFD_GET_UTS_NAMESPACE _IO(0xFF, 10)
#endif

static void found_clear(struct nsops_found *f)
{
	nsops_close_fd(&f->pidfd);
	g_free(f->mount);
	g_array_unref(f->pids);
}

struct nsops_found *nsops_found_ref(struct nsops_found *f)
{
	return g_atomic_rc_box_acquire(f);
}

void nsops_found_unref(struct nsops_found *f)
{
	g_atomic_rc_box_release_full(f, (GDestroyNotify)found_clear);
}

/*
 * An fd on path if it is a UTS namespace's nsfs file, with its id and
 * stat. Looked at through O_PATH first: a mount may have been replaced by
 * a device node since mountinfo was read, and opening one has effects.
 */
static int open_uts(const char *path, uint64_t *id, struct stat *st)
{
	nsops_autofd int opath = open(path, O_PATH | O_CLOEXEC);
	nsops_autofd int fd = opath < 0 ? -errno : nsops_reopen_uts(opath);
	int r;

	if (fd < 0)
		return fd;
	r = nsops_ns_id(fd, id);
	if (r == 0 && fstat(fd, st) < 0)
		r = -errno;
	if (r < 0)
		return r;
	r = fd;
	fd = -1;
	return r;
}

/* One scan's state: namespaces by inode number (unique among live ones) and mount namespaces read. */
struct scan {
	GHashTable *by_ino;
	GHashTable *mnt_seen;
};

/* The namespace of nsfs inode ino, found at path (held by task tid, or by a mount of tid's: mount). */
static struct nsops_found *found_at(struct scan *s, uint64_t ino, const char *path, pid_t tid,
				    const char *mount)
{
	struct nsops_found *f = g_hash_table_lookup(s->by_ino, &ino);
	struct stat st;
	uint64_t id;
	int fd;

	if (f)
		return f;
	fd = open_uts(path, &id, &st);
	if (fd < 0)
		return NULL;
	nsops_close_fd(&fd);
	/*
	 * What path reaches now is not always what was listed: a mount that
	 * another covers (`unshare --uts=FILE` twice) is listed but reached
	 * through the top one, whose own line lists it too.
	 */
	if (st.st_ino != ino)
		return NULL;
	f = g_atomic_rc_box_new0(struct nsops_found);
	f->id = id;
	f->ino = ino;
	f->st = st;
	f->pid = tid;
	f->pidfd = nsops_pidfd_open(tid);
	f->mount = g_strdup(mount);
	f->pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
	g_hash_table_insert(s->by_ino, &f->ino, f);
	return f;
}

/* The nsfs bind mounts of UTS namespaces that process pid's mount namespace has. */
static void scan_mounts(struct scan *s, const char *pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%s/mountinfo", pid);
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return;
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++) {
		g_auto(GStrv) f = g_strsplit(*l, " ", -1);
		g_autofree char *mount = NULL, *where = NULL;
		guint n = g_strv_length(f), sep;
		guint64 ino;

		/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
		for (sep = 6; sep < n && !g_str_equal(f[sep], "-"); sep++)
			;
		if (sep + 1 >= n || !g_str_equal(f[sep + 1], "nsfs") || !g_str_has_prefix(f[3], "uts:["))
			continue;
		ino = g_ascii_strtoull(f[3] + 5, NULL, 10);
		mount = g_strcompress(f[4]);
		where = g_strdup_printf("/proc/%s/root%s", pid, mount);
		found_at(s, ino, where, (pid_t)g_ascii_strtoll(pid, NULL, 10), mount);
	}
}

/* The tasks of process pid: each one's namespace gets pid as one of its processes. */
static void scan_tasks(struct scan *s, const char *pid)
{
	g_autofree char *dir = g_strdup_printf("/proc/%s/task", pid);
	g_autoptr(GDir) tasks = NULL;
	pid_t p = (pid_t)g_ascii_strtoll(pid, NULL, 10);
	const char *tid;
	struct stat dst;

	/* The task directory's link count is 2 + its threads: most have one, itself. */
	if (stat(dir, &dst) == 0 && dst.st_nlink <= 3)
		tasks = NULL;
	else
		tasks = g_dir_open(dir, 0, NULL);
	if (!tasks) {
		g_autofree char *path = g_strdup_printf("/proc/%s/ns/uts", pid);
		struct nsops_found *f;
		struct stat st;

		if (stat(path, &st) == 0 && (f = found_at(s, st.st_ino, path, p, NULL)))
			g_array_append_val(f->pids, p);
		return;
	}
	while ((tid = g_dir_read_name(tasks))) {
		g_autofree char *path = g_strdup_printf("%s/%s/ns/uts", dir, tid);
		struct nsops_found *f;
		struct stat st;

		if (stat(path, &st) < 0)
			continue;
		f = found_at(s, st.st_ino, path, (pid_t)g_ascii_strtoll(tid, NULL, 10), NULL);
		if (f && (f->pids->len == 0 || g_array_index(f->pids, pid_t, f->pids->len - 1) != p))
			g_array_append_val(f->pids, p);
	}
}

int nsops_all_scan(GHashTable **found)
{
	g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
	g_autoptr(GHashTable) out = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
							  (GDestroyNotify)nsops_found_unref);
	struct scan s = {
		.by_ino = g_hash_table_new(g_int64_hash, g_int64_equal),
		.mnt_seen = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL),
	};
	GHashTableIter it;
	struct nsops_found *f;
	const char *pid;

	if (!proc)
		return -ENOENT;
	while ((pid = g_dir_read_name(proc))) {
		g_autofree char *mnt = g_strdup_printf("/proc/%s/ns/mnt", pid);
		struct stat st;
		guint64 n;

		if (!g_ascii_string_to_unsigned(pid, 10, 1, G_MAXINT32, &n, NULL))
			continue;
		scan_tasks(&s, pid);
		/* Each mount namespace's table once: thousands of processes share a few. */
		if (stat(mnt, &st) == 0 && !g_hash_table_contains(s.mnt_seen, &(guint64){ st.st_ino })) {
			g_hash_table_add(s.mnt_seen, g_memdup2(&(guint64){ st.st_ino }, sizeof(guint64)));
			scan_mounts(&s, pid);
		}
	}
	g_hash_table_iter_init(&it, s.by_ino);
	while (g_hash_table_iter_next(&it, NULL, (gpointer *)&f)) {
		g_array_sort(f->pids, nsops_compare_pids);
		g_hash_table_insert(out, &f->id, f);
	}
	g_hash_table_unref(s.by_ino);
	g_hash_table_unref(s.mnt_seen);
	*found = g_steal_pointer(&out);
	return 0;
}

/*
 * Another process the scan saw in it: the id is checked, so a PID reused
 * meanwhile by a process elsewhere is no harm, and one in it proves it lives.
 */
static int open_by_pids(const struct nsops_found *f)
{
	for (guint i = 0; i < f->pids->len; i++) {
		g_autofree char *path = g_strdup_printf("/proc/%d/ns/uts",
							(int)g_array_index(f->pids, pid_t, i));
		struct stat st;
		uint64_t id;
		int fd = open_uts(path, &id, &st);

		if (fd >= 0 && id == f->id)
			return fd;
		if (fd >= 0)
			nsops_close_fd(&fd);
	}
	return -ENOENT;
}

/*
 * Through the task the scan found it by (or its mount namespace's bind
 * mount): by its pidfd where the kernel can (Linux 6.11), else by its
 * PID's /proc path. A PID reused meanwhile is no harm: nothing is opened
 * but an nsfs file, and the id is checked.
 */
static int open_pinned(const struct nsops_found *f)
{
	g_autofree char *path = NULL;
	struct stat st;
	uint64_t id;
	int fd = -1;

	if (!f->mount && f->pidfd >= 0) {
		fd = ioctl(f->pidfd, PIDFD_GET_UTS_NAMESPACE, 0);
		/* ESRCH: the task is gone. ENOTTY, EINVAL: before Linux 6.11. */
		if (fd < 0 && errno != ENOTTY && errno != EINVAL)
			return -ENOENT;
	}
	if (fd < 0) {
		path = f->mount ? g_strdup_printf("/proc/%d/root%s", (int)f->pid, f->mount)
				: g_strdup_printf("/proc/%d/ns/uts", (int)f->pid);
		fd = open_uts(path, &id, &st);
	} else if (nsops_ns_id(fd, &id) < 0) {
		id = 0;
	}
	if (fd >= 0 && id != f->id)
		nsops_close_fd(&fd);
	return fd >= 0 ? fd : -ENOENT;
}

int nsops_all_open(const struct nsops_found *f)
{
	int fd = open_pinned(f);

	return fd >= 0 ? fd : open_by_pids(f);
}
