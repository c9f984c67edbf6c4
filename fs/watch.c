// SPDX-License-Identifier: GPL-2.0-or-later
/* The watcher: wakes poll(2) on hostname/domainname files when a value changes, wherever it was changed. */
#include "open_file.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/*
 * The kernel signals POLLPRI|POLLERR on these two files after every
 * sethostname/setdomainname in any UTS namespace (one event counter for
 * all), so watching them from the host sees changes made inside namespaces
 * by other tools too. Which handle's value changed is checked afterwards.
 */
static const char *const watched_files[] = {
	"/proc/sys/kernel/hostname",
	"/proc/sys/kernel/domainname",
};

static void wake_changed(struct utsfs *fs)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->watch_lock);
	GHashTableIter it;
	gpointer key;

	g_hash_table_iter_init(&it, fs->polled);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		struct open_file *of = key;

		if (!open_file_changed(fs, of))
			continue;
		fuse_lowlevel_notify_poll(of->ph);
		fuse_pollhandle_destroy(of->ph);
		of->ph = NULL;
		g_hash_table_iter_remove(&it);
	}
}

static gpointer watch_thread(gpointer data)
{
	struct utsfs *fs = data;
	struct pollfd fds[G_N_ELEMENTS(watched_files) + 1];
	size_t n = 0;

	for (size_t i = 0; i < G_N_ELEMENTS(watched_files); i++) {
		int fd = open(watched_files[i], O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			g_warning("cannot watch %s: %s", watched_files[i], g_strerror(errno));
			continue;
		}
		fds[n++] = (struct pollfd){ .fd = fd, .events = POLLPRI | POLLERR };
	}
	fds[n] = (struct pollfd){ .fd = fs->watch_stop_fd, .events = POLLIN };
	for (;;) {
		if (poll(fds, n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			g_warning("watching hostnames: %s", g_strerror(errno));
			break;
		}
		if (fds[n].revents)
			break;
		wake_changed(fs);
		/* A change made inside a namespace by other means belongs in the record. */
		record_save(fs);
	}
	for (size_t i = 0; i < n; i++)
		close(fds[i].fd);
	return NULL;
}

int watch_init(struct utsfs *fs)
{
	g_mutex_init(&fs->watch_lock);
	fs->polled = g_hash_table_new(g_direct_hash, g_direct_equal);
	fs->watch_stop_fd = eventfd(0, EFD_CLOEXEC);
	return fs->watch_stop_fd < 0 ? -errno : 0;
}

void watch_start(struct utsfs *fs)
{
	fs->watcher = g_thread_new("utsfs-watch", watch_thread, fs);
}

void watch_stop(struct utsfs *fs)
{
	if (!fs->polled)
		return;
	if (fs->watcher) {
		eventfd_write(fs->watch_stop_fd, 1);
		g_thread_join(fs->watcher);
		fs->watcher = NULL;
	}
	nsops_close_fd(&fs->watch_stop_fd);
}

void watch_free(struct utsfs *fs)
{
	if (!fs->polled)
		return;
	g_clear_pointer(&fs->polled, g_hash_table_unref);
	g_mutex_clear(&fs->watch_lock);
}

void watch_add(struct utsfs *fs, struct open_file *of, struct fuse_pollhandle *ph)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->watch_lock);

	if (of->ph)
		fuse_pollhandle_destroy(of->ph);
	of->ph = ph;
	g_hash_table_add(fs->polled, of);
}

void watch_forget(struct utsfs *fs, struct open_file *of)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->watch_lock);

	if (!g_hash_table_remove(fs->polled, of))
		return;
	fuse_pollhandle_destroy(of->ph);
	of->ph = NULL;
}
