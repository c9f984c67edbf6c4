// SPDX-License-Identifier: GPL-2.0-or-later
/* The watcher: the one thread that waits for the kernel's events and hands each to the module it concerns. */
#include "daemon.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <time.h>

/*
 * Both kinds of event are host-wide, and anyone can cause them (a user can
 * call sethostname in a namespace of their own by the million). So a pass
 * of each kind (kcache_check_names, polls_wake_changed) starts no sooner
 * than GAP_MIN after the last one, nor than twenty times the CPU that one
 * took, however long: events in between wait in the kernel's counter and
 * the next pass sees them all, so nobody can make the watcher use more than
 * a twentieth of a CPU beyond GAP_MIN's worth.
 */
#define GAP_MIN (10 * G_TIME_SPAN_MILLISECOND)

#define COST_SHARE 20

gint64 watch_thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

gint64 watch_pace(gint64 start, gint64 gap_min)
{
	return g_get_monotonic_time() + MAX(COST_SHARE * (watch_thread_cpu() - start), gap_min);
}

/* The stop eventfd comes after the event files. */
enum { WATCH_STOP = NSOPS_EVENTS, WATCH_FDS };

/*
 * fd, when its kind's next pass may start now; else -1 (poll(2) skips it),
 * and how long until it may, folded into *timeout.
 */
static int wait_for(int fd, gint64 next, gint64 now, int *timeout)
{
	int ms = (int)((next - now + 999) / 1000);

	if (now >= next)
		return fd;
	if (*timeout < 0 || ms < *timeout)
		*timeout = ms;
	return -1;
}

static int watch_poll(struct utsfs *fs, struct pollfd *fds, gint64 names, gint64 values)
{
	const int *ev = fs->watcher.fds;
	gint64 now = g_get_monotonic_time();
	int timeout = -1;

	fds[NSOPS_EVENT_MOUNTS].fd = wait_for(ev[NSOPS_EVENT_MOUNTS], names, now, &timeout);
	for (int i = NSOPS_EVENT_HOSTNAME; i <= NSOPS_EVENT_DOMAINNAME; i++)
		fds[i].fd = wait_for(ev[i], values, now, &timeout);
	return nsops_event_poll(fds, WATCH_FDS, timeout);
}

static bool happened(const struct pollfd *fd)
{
	return fd->revents & (POLLPRI | POLLERR);
}

static gpointer watch_thread(gpointer data)
{
	struct utsfs *fs = data;
	struct watcher *w = &fs->watcher;
	struct pollfd fds[WATCH_FDS];
	/* When the next pass of each kind may start. */
	gint64 names = 0, values = 0;

	for (int i = 0; i < NSOPS_EVENTS; i++)
		fds[i] = (struct pollfd){ .fd = -1, .events = POLLPRI };
	fds[WATCH_STOP] = (struct pollfd){ .fd = w->stop_fd, .events = POLLIN };
	for (;;) {
		int r = watch_poll(fs, fds, names, values);
		gint64 start;

		if (r < 0) {
			if (r == -EINTR)
				continue;
			g_warning("watching hostnames and mounts: %s", g_strerror(-r));
			/* Nobody will check the names the kernel looked up: stop it caching them. */
			kcache_cache_names(&fs->kcache, false);
			break;
		}
		if (fds[WATCH_STOP].revents)
			break;
		/* Names first: a value of a name that is gone needs no news. */
		if (happened(&fds[NSOPS_EVENT_MOUNTS])) {
			start = watch_thread_cpu();
			kcache_check_names(fs);
			names = watch_pace(start, GAP_MIN);
			listeners_notify(&fs->listeners);
		}
		if (happened(&fds[NSOPS_EVENT_HOSTNAME]) || happened(&fds[NSOPS_EVENT_DOMAINNAME])) {
			start = watch_thread_cpu();
			polls_wake_changed(fs);
			values = watch_pace(start, GAP_MIN);
			listeners_notify(&fs->listeners);
		}
	}
	return NULL;
}

int watch_init(struct watcher *w)
{
	for (int i = 0; i < NSOPS_EVENTS; i++)
		w->fds[i] = -1;
	w->stop_fd = eventfd(0, EFD_CLOEXEC);
	return w->stop_fd < 0 ? -errno : 0;
}

void watch_start(struct utsfs *fs)
{
	struct watcher *w = &fs->watcher;
	bool all = true;

	/* Opened here, before any request: a change from then on is seen. */
	for (int i = 0; i < NSOPS_EVENTS; i++) {
		w->fds[i] = nsops_event_open(i);
		if (w->fds[i] < 0) {
			g_warning("cannot watch %s: %s; the kernel will cache no names",
				  nsops_event_path(i), g_strerror(-w->fds[i]));
			all = false;
		}
	}
	w->thread = g_thread_new("utsfs-watch", watch_thread, fs);
	kcache_cache_names(&fs->kcache, all);
}

void watch_stop(struct utsfs *fs)
{
	struct watcher *w = &fs->watcher;

	if (w->thread) {
		kcache_cache_names(&fs->kcache, false);
		eventfd_write(w->stop_fd, 1);
		g_clear_pointer(&w->thread, g_thread_join);
	}
	nsops_close_fd(&w->stop_fd);
	for (int i = 0; i < NSOPS_EVENTS; i++)
		nsops_close_fd(&w->fds[i]);
}
