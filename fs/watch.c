// SPDX-License-Identifier: GPL-2.0-or-later
/* The watcher: wakes poll(2) on hostname/domainname files and takes back what the kernel caches when something changes behind our back. */
#include "open_file.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/*
 * The kernel signals POLLPRI|POLLERR on /proc/sys/kernel/{hostname,domainname}
 * after every sethostname/setdomainname in any UTS namespace (one event
 * counter for all), so watching them from the host sees changes made inside
 * namespaces by other tools too. Which handle's value changed is checked
 * afterwards.
 */
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

/*
 * The watcher waits for the same kernel events as changes.c, on its own
 * copies of the files, and for the stop and kick eventfds after them.
 */
enum { WATCH_STOP = CHANGE_SOURCES, WATCH_KICK, WATCH_FDS };

/*
 * Whether anyone needs to hear of hostname and domainname changes: a size
 * the kernel holds, a pending poll, or the record. When nobody does, the
 * watcher leaves those files alone, so a sethostname (through the mount or
 * not) wakes no thread of ours; whoever starts needing them kicks the
 * watcher. A poll after a pause still reports every change since the
 * previous one: nothing is missed, at worst something is taken back twice.
 */
static bool values_wanted(struct utsfs *fs)
{
	bool polls;

	g_mutex_lock(&fs->watch_lock);
	polls = g_hash_table_size(fs->polled) > 0;
	g_mutex_unlock(&fs->watch_lock);
	return fs->record_path || polls || cache_values_armed(fs);
}

static void values_changed(struct utsfs *fs)
{
	cache_check_values(fs);
	wake_changed(fs);
	/* A change made inside a namespace by other means belongs in the record. */
	record_changed(fs);
}

/*
 * Every mount or umount on the host wakes the watcher, our own mkdir and
 * rmdir included, and a check of the names costs an fstatat per name the
 * kernel holds (37 ms of CPU at 20,000). So a check starts no sooner than
 * CHECK_GAP_MIN after the last one, nor than COST_SHARE times the CPU that
 * one took (up to CHECK_GAP_MAX): meanwhile the watcher leaves mountinfo
 * alone (the events wait in it, and the next check sees them all) and
 * sleeps through the mount events of a burst of mkdirs instead of waking
 * for each.
 */
#define CHECK_GAP_MIN (10 * G_TIME_SPAN_MILLISECOND)
#define CHECK_GAP_MAX G_TIME_SPAN_SECOND
#define COST_SHARE 20

gint64 watch_thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

gint64 watch_spaced(gint64 start, gint64 gap_min, gint64 gap_max)
{
	gint64 used = watch_thread_cpu() - start;

	return g_get_monotonic_time() + CLAMP(COST_SHARE * used, gap_min, gap_max);
}

static gpointer watch_thread(gpointer data)
{
	struct utsfs *fs = data;
	struct pollfd fds[WATCH_FDS];
	gint64 next_check = 0;

	for (int i = 0; i < CHANGE_SOURCES; i++)
		fds[i] = (struct pollfd){ .fd = fs->watch_fds[i], .events = POLLPRI | POLLERR };
	fds[WATCH_STOP] = (struct pollfd){ .fd = fs->watch_stop_fd, .events = POLLIN };
	fds[WATCH_KICK] = (struct pollfd){ .fd = fs->watch_kick_fd, .events = POLLIN };
	for (;;) {
		bool values = values_wanted(fs);
		gint64 now = g_get_monotonic_time();
		int timeout = -1;

		/* poll(2) skips negative fds. */
		fds[CHANGE_HOSTNAME].fd = values ? fs->watch_fds[CHANGE_HOSTNAME] : -1;
		fds[CHANGE_DOMAINNAME].fd = values ? fs->watch_fds[CHANGE_DOMAINNAME] : -1;
		fds[CHANGE_MOUNTS].fd = fs->watch_fds[CHANGE_MOUNTS];
		if (now < next_check) {
			fds[CHANGE_MOUNTS].fd = -1;
			timeout = (int)((next_check - now + 999) / 1000);
		}
		if (poll(fds, G_N_ELEMENTS(fds), timeout) < 0) {
			if (errno == EINTR)
				continue;
			g_warning("watching hostnames and mounts: %s", g_strerror(errno));
			/* Nobody will take back what the kernel caches: stop it caching. */
			cache_disable(fs);
			break;
		}
		if (fds[WATCH_STOP].revents)
			break;
		if (fds[WATCH_KICK].revents)
			eventfd_read(fs->watch_kick_fd, &(eventfd_t){ 0 });
		/* Names first: a value of a name that is gone needs no news. */
		if (fds[CHANGE_MOUNTS].revents) {
			gint64 start = watch_thread_cpu();

			cache_check_names(fs);
			next_check = watch_spaced(start, CHECK_GAP_MIN, CHECK_GAP_MAX);
			/* A name another tool made or removed belongs in the record too. */
			record_changed(fs);
		}
		if (fds[CHANGE_HOSTNAME].revents || fds[CHANGE_DOMAINNAME].revents)
			values_changed(fs);
	}
	return NULL;
}

int watch_init(struct utsfs *fs)
{
	g_mutex_init(&fs->watch_lock);
	fs->polled = g_hash_table_new(g_direct_hash, g_direct_equal);
	for (int i = 0; i < CHANGE_SOURCES; i++)
		fs->watch_fds[i] = -1;
	fs->watch_stop_fd = eventfd(0, EFD_CLOEXEC);
	fs->watch_kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return fs->watch_stop_fd < 0 || fs->watch_kick_fd < 0 ? -errno : 0;
}

void watch_kick(struct utsfs *fs)
{
	eventfd_write(fs->watch_kick_fd, 1);
}

void watch_start(struct utsfs *fs)
{
	bool all = true;

	/* Opened here, before any request: a change from then on is seen. */
	for (int i = 0; i < CHANGE_SOURCES; i++) {
		fs->watch_fds[i] = changes_open_source(i);
		if (fs->watch_fds[i] < 0) {
			g_warning("cannot watch %s: %s; the kernel will cache nothing",
				  change_paths[i], g_strerror(-fs->watch_fds[i]));
			all = false;
		}
	}
	fs->watcher = g_thread_new("utsfs-watch", watch_thread, fs);
	if (all)
		cache_enable(fs);
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
	nsops_close_fd(&fs->watch_kick_fd);
	for (int i = 0; i < CHANGE_SOURCES; i++)
		nsops_close_fd(&fs->watch_fds[i]);
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
	bool first = g_hash_table_size(fs->polled) == 0;

	if (of->ph)
		fuse_pollhandle_destroy(of->ph);
	of->ph = ph;
	g_hash_table_add(fs->polled, of);
	if (first)
		watch_kick(fs);
}

void watch_forget(struct utsfs *fs, struct open_file *of)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->watch_lock);

	if (!g_hash_table_remove(fs->polled, of))
		return;
	fuse_pollhandle_destroy(of->ph);
	of->ph = NULL;
}
