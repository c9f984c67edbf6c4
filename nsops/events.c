// SPDX-License-Identifier: GPL-2.0-or-later
/* The kernel's event files: what tells utsfs that a hostname, domainname or mount changed anywhere. */
#include "nsops.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>

/*
 * The kernel counts every sethostname and setdomainname on the host (one
 * counter each, whatever the namespace) and every mount and umount in our
 * mount namespace, and moves the counter before the call returns. poll(2)
 * on an open file says POLLPRI once the counter moved since that file's
 * last poll (or its open).
 */
static const char *const event_paths[NSOPS_EVENTS] = {
	[NSOPS_EVENT_HOSTNAME] = "/proc/sys/kernel/hostname",
	[NSOPS_EVENT_DOMAINNAME] = "/proc/sys/kernel/domainname",
	[NSOPS_EVENT_MOUNTS] = "/proc/self/mountinfo",
};

const char *nsops_event_path(enum nsops_event event)
{
	return event_paths[event];
}

int nsops_event_open(enum nsops_event event)
{
	int fd = open(event_paths[event], O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int nsops_event_poll(struct pollfd *fds, unsigned int n, int timeout_ms)
{
	int r = poll(fds, n, timeout_ms);

	return r < 0 ? -errno : r;
}
