// SPDX-License-Identifier: GPL-2.0-or-later
/* Entering UTS namespaces and reading or writing their hostname and domainname. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

int nsops_open_host(void)
{
	int fd = open(THREAD_UTS, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	/*
	 * Every visit to a namespace ends with this setns. Where it is refused
	 * (CAP_SYS_ADMIN only in a user namespace below the one owning ours, as
	 * under `unshare -r`), the first request would kill the daemon.
	 */
	if (setns(fd, CLONE_NEWUTS) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

int nsops_current_id(uint64_t *id)
{
	nsops_autofd int fd = open(THREAD_UTS, O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : nsops_ns_id(fd, id);
}

void nsops_return_home(int host_fd)
{
	/*
	 * setns back into a namespace we were in only fails on resource
	 * exhaustion or a closed fd; either way this thread would answer the
	 * next request from the wrong namespace, which is worse than dying.
	 */
	if (setns(host_fd, CLONE_NEWUTS) < 0)
		g_error("cannot return to the host UTS namespace: %s",
			g_strerror(errno));
}

int nsops_get_both(int host_fd, int ns_fd, char hostname[NSOPS_VALUE_MAX + 1],
		   char domainname[NSOPS_VALUE_MAX + 1])
{
	struct utsname u;
	int r;

	if (setns(ns_fd, CLONE_NEWUTS) < 0)
		return -errno;
	r = uname(&u) < 0 ? -errno : 0;
	nsops_return_home(host_fd);
	if (r < 0)
		return r;
	g_strlcpy(hostname, u.nodename, NSOPS_VALUE_MAX + 1);
	g_strlcpy(domainname, u.domainname, NSOPS_VALUE_MAX + 1);
	return 0;
}

int nsops_set(int host_fd, int ns_fd, enum nsops_field field,
	      const char *value, size_t len)
{
	int r;

	if (setns(ns_fd, CLONE_NEWUTS) < 0)
		return -errno;
	if (field == NSOPS_HOSTNAME)
		r = sethostname(value, len);
	else
		r = setdomainname(value, len);
	r = r < 0 ? -errno : 0;
	nsops_return_home(host_fd);
	return r;
}
