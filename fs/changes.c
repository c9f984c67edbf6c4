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
 * POLLPRI when the counter moved since this file's last poll. So one poll
 * tells, synchronously, whether a kept value or a checked name may be
 * stale: the epochs below move then, and whatever was kept under an older
 * epoch is looked at afresh. These files are ours alone (the watcher has
 * its own): a poll here sees every change since the previous poll here.
 */
static const char *const change_paths[CHANGE_SOURCES] = {
	"/proc/sys/kernel/hostname",
	"/proc/sys/kernel/domainname",
	"/proc/self/mountinfo",
};

void changes_open(struct utsfs *fs)
{
	g_mutex_init(&fs->change_lock);
	fs->values_epoch = 1;
	fs->mounts_epoch = 1;
	fs->change_fds_ok = true;
	for (int i = 0; i < CHANGE_SOURCES; i++) {
		fs->change_fds[i] = open(change_paths[i], O_RDONLY | O_CLOEXEC);
		if (fs->change_fds[i] < 0) {
			g_warning("cannot watch %s: %s; every read asks the namespace",
				  change_paths[i], g_strerror(errno));
			fs->change_fds_ok = false;
		}
	}
}

void changes_close(struct utsfs *fs)
{
	for (int i = 0; i < CHANGE_SOURCES; i++)
		nsops_close_fd(&fs->change_fds[i]);
	g_mutex_clear(&fs->change_lock);
}

void changes_poll(struct utsfs *fs, guint *values, guint *mounts)
{
	struct pollfd fds[CHANGE_SOURCES];
	bool values_moved = !fs->change_fds_ok, mounts_moved = !fs->change_fds_ok;

	for (int i = 0; i < CHANGE_SOURCES; i++)
		fds[i] = (struct pollfd){ .fd = fs->change_fds[i], .events = POLLPRI };
	/*
	 * One poll at a time, and the epochs moved before the lock is let go:
	 * whoever polls next and sees nothing new also sees the moved epochs.
	 */
	g_mutex_lock(&fs->change_lock);
	if (fs->change_fds_ok && poll(fds, CHANGE_SOURCES, 0) < 0) {
		values_moved = true;
		mounts_moved = true;
	}
	if (values_moved || fds[CHANGE_HOSTNAME].revents & POLLPRI ||
	    fds[CHANGE_DOMAINNAME].revents & POLLPRI)
		fs->values_epoch++;
	if (mounts_moved || fds[CHANGE_MOUNTS].revents & POLLPRI)
		fs->mounts_epoch++;
	*values = fs->values_epoch;
	*mounts = fs->mounts_epoch;
	g_mutex_unlock(&fs->change_lock);
}
