// SPDX-License-Identifier: GPL-2.0-or-later
/* The values epoch: whether a hostname or domainname changed anywhere, from one poll(2) of the kernel's event files. */
#include "counters.h"

/*
 * The kernel moves its counters before sethostname or setdomainname
 * returns, and a poll of an event file says POLLPRI when they moved since
 * that file's last poll. One pair of files for all request threads, polled
 * under the lock together with moving the epoch: a change is counted once,
 * by the first request after it, and a request that finds nothing new
 * knows that whoever saw the last change has moved the epoch already. (One
 * pair per thread would need no lock, but then every thread would count
 * each change again, and each time throw away the values read since.)
 */
void counters_init(struct counters *c)
{
	g_mutex_init(&c->lock);
	c->epoch = 1;
	/* fds[0] and fds[1]: NSOPS_EVENT_HOSTNAME and NSOPS_EVENT_DOMAINNAME. */
	for (int i = NSOPS_EVENT_HOSTNAME; i <= NSOPS_EVENT_DOMAINNAME; i++) {
		c->fds[i] = nsops_event_open(i);
		if (c->fds[i] < 0)
			g_warning("cannot watch %s: %s; every read asks the namespace",
				  nsops_event_path(i), g_strerror(-c->fds[i]));
	}
}

void counters_free(struct counters *c)
{
	nsops_close_fd(&c->fds[0]);
	nsops_close_fd(&c->fds[1]);
	g_mutex_clear(&c->lock);
}

uint64_t counters_values_epoch(struct counters *c)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&c->lock);
	struct pollfd fds[2] = {
		{ .fd = c->fds[0], .events = POLLPRI },
		{ .fd = c->fds[1], .events = POLLPRI },
	};

	/* Without the files, or when poll fails, anything may have changed. */
	if (c->fds[0] < 0 || c->fds[1] < 0 || nsops_event_poll(fds, 2, 0) < 0 ||
	    ((fds[0].revents | fds[1].revents) & POLLPRI))
		c->epoch++;
	return c->epoch;
}
