// SPDX-License-Identifier: GPL-2.0-or-later
/* Whether anything changed since we last looked, from the kernel's own event counters, with one poll(2). */
#include "utsfs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

/*
 * The kernel counts every sethostname and setdomainname on the host (one
 * counter each, whatever the namespace) and every mount and umount in our
 * mount namespace, and bumps the counter before the call returns. A poll
 * of /proc/sys/kernel/{hostname,domainname} and /proc/self/mountinfo says
 * POLLPRI when the counter moved since that open file's last poll.
 *
 * Each thread polls files of its own (no lock between request threads):
 * its poll sees every change since its previous poll, and moves the shared
 * epochs before it looks at anything kept. So a change made before a
 * request began has moved the epochs by the time the request compares
 * them: whatever was kept under an older epoch is looked at afresh. A
 * thread's first files know nothing of earlier changes: opening them moves
 * the epochs too.
 */
const char *const change_paths[CHANGE_SOURCES] = {
	"/proc/sys/kernel/hostname",
	"/proc/sys/kernel/domainname",
	"/proc/self/mountinfo",
};

/* One thread's files; ok is false when one could not be opened. */
struct thread_files {
	int fds[CHANGE_SOURCES];
	bool ok;
};

int changes_open_source(int source)
{
	/* The counter's value now is what a poll compares with from now on. */
	int fd = open(change_paths[source], O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static void thread_files_free(void *data)
{
	struct thread_files *t = data;

	for (int i = 0; i < CHANGE_SOURCES; i++)
		nsops_close_fd(&t->fds[i]);
	g_free(t);
}

int changes_init(struct utsfs *fs)
{
	fs->values_epoch = 1;
	fs->mounts_epoch = 1;
	/* A thread's files are closed when the thread ends (libfuse's workers come and go). */
	int r = pthread_key_create(&fs->change_key, thread_files_free);

	fs->change_key_ok = r == 0;
	return -r;
}

void changes_free(struct utsfs *fs)
{
	struct thread_files *t;

	if (!fs->change_key_ok)
		return;
	t = pthread_getspecific(fs->change_key);
	/* The calling thread's, if it served requests (-s); others freed theirs. */
	if (t) {
		thread_files_free(t);
		pthread_setspecific(fs->change_key, NULL);
	}
	pthread_key_delete(fs->change_key);
	fs->change_key_ok = false;
}

static struct thread_files *thread_files(struct utsfs *fs)
{
	struct thread_files *t = pthread_getspecific(fs->change_key);

	if (t)
		return t;
	t = g_new(struct thread_files, 1);
	t->ok = true;
	for (int i = 0; i < CHANGE_SOURCES; i++) {
		t->fds[i] = changes_open_source(i);
		if (t->fds[i] < 0) {
			g_warning("cannot watch %s: %s; every read asks the namespace",
				  change_paths[i], g_strerror(-t->fds[i]));
			t->ok = false;
		}
	}
	pthread_setspecific(fs->change_key, t);
	g_atomic_int_inc(&fs->values_epoch);
	g_atomic_int_inc(&fs->mounts_epoch);
	return t;
}

void changes_poll(struct utsfs *fs, guint *values, guint *mounts)
{
	struct thread_files *t = thread_files(fs);
	struct pollfd fds[CHANGE_SOURCES];
	bool values_moved = true, mounts_moved = true;

	if (t->ok) {
		for (int i = 0; i < CHANGE_SOURCES; i++)
			fds[i] = (struct pollfd){ .fd = t->fds[i], .events = POLLPRI };
		if (poll(fds, CHANGE_SOURCES, 0) >= 0) {
			values_moved = (fds[CHANGE_HOSTNAME].revents |
					fds[CHANGE_DOMAINNAME].revents) & POLLPRI;
			mounts_moved = fds[CHANGE_MOUNTS].revents & POLLPRI;
		}
	}
	if (values_moved)
		g_atomic_int_inc(&fs->values_epoch);
	if (mounts_moved)
		g_atomic_int_inc(&fs->mounts_epoch);
	*values = (guint)g_atomic_int_get(&fs->values_epoch);
	*mounts = (guint)g_atomic_int_get(&fs->mounts_epoch);
}
