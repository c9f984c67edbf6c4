// SPDX-License-Identifier: GPL-2.0-or-later
/* The values epoch: whether a hostname or domainname changed anywhere, from one poll(2) of the kernel's event files. */
#include "counters.h"

#include <poll.h>

/*
 * The kernel moves its counters before sethostname or setdomainname
 * returns, and a poll of an event file says POLLPRI when they moved since
 * that file's last poll. Each thread polls files of its own (no lock
 * between request threads), so its poll sees every change since its
 * previous poll, and moves the shared epoch before the request looks at
 * any kept value. A thread's first files know nothing of earlier changes:
 * opening them moves the epoch too.
 */
enum { FILE_HOSTNAME, FILE_DOMAINNAME, FILES };

struct thread_files {
	int fds[FILES];
	/* false when one could not be opened: every look then counts as a change. */
	bool ok;
};

static void thread_files_free(void *data)
{
	struct thread_files *t = data;

	for (int i = 0; i < FILES; i++)
		nsops_close_fd(&t->fds[i]);
	g_free(t);
}

int counters_init(struct counters *c)
{
	/* A thread's files are closed when it ends (libfuse's workers come and go). */
	int r = pthread_key_create(&c->key, thread_files_free);

	atomic_init(&c->epoch, 1);
	c->key_ok = r == 0;
	return -r;
}

void counters_free(struct counters *c)
{
	struct thread_files *t;

	if (!c->key_ok)
		return;
	/* The calling thread's, if it served requests (-s); others freed theirs. */
	t = pthread_getspecific(c->key);
	if (t) {
		thread_files_free(t);
		pthread_setspecific(c->key, NULL);
	}
	pthread_key_delete(c->key);
	c->key_ok = false;
}

static struct thread_files *thread_files(struct counters *c)
{
	static const enum nsops_event events[FILES] = {
		[FILE_HOSTNAME] = NSOPS_EVENT_HOSTNAME,
		[FILE_DOMAINNAME] = NSOPS_EVENT_DOMAINNAME,
	};
	struct thread_files *t = pthread_getspecific(c->key);

	if (t)
		return t;
	t = g_new(struct thread_files, 1);
	t->ok = true;
	for (int i = 0; i < FILES; i++) {
		t->fds[i] = nsops_event_open(events[i]);
		if (t->fds[i] < 0) {
			g_warning("cannot watch %s: %s; every read asks the namespace",
				  nsops_event_path(events[i]), g_strerror(-t->fds[i]));
			t->ok = false;
		}
	}
	pthread_setspecific(c->key, t);
	atomic_fetch_add(&c->epoch, 1);
	return t;
}

uint64_t counters_values_epoch(struct counters *c)
{
	struct thread_files *t = thread_files(c);
	struct pollfd fds[FILES];
	bool moved = true;

	if (t->ok) {
		for (int i = 0; i < FILES; i++)
			fds[i] = (struct pollfd){ .fd = t->fds[i], .events = POLLPRI };
		if (poll(fds, FILES, 0) >= 0)
			moved = (fds[FILE_HOSTNAME].revents | fds[FILE_DOMAINNAME].revents) & POLLPRI;
	}
	if (moved)
		return atomic_fetch_add(&c->epoch, 1) + 1;
	return atomic_load(&c->epoch);
}
