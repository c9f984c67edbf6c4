// SPDX-License-Identifier: GPL-2.0-or-later
/* Who asks: the calling thread FUSE names, pinned while utsfs looks at it. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Linux 6.9: a pidfd on any thread, not only a thread-group leader. */
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

int nsops_pidfd_open(pid_t tid)
{
	int fd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);

	/* Before Linux 6.9 only a thread-group leader has one. */
	if (fd < 0 && errno == EINVAL)
		fd = (int)syscall(SYS_pidfd_open, tid, 0);
	return fd;
}

/*
 * A pidfd on thread tid: whatever is read of /proc/tid afterwards was that
 * thread's if it still lives then (a thread id is not reused while its
 * thread lives). 0 is what FUSE sends for a caller outside our PID
 * namespace: nobody to look at. Where pidfds are missing (before Linux
 * 5.3, or under valgrind 3.19) the caller is looked at unpinned: -1.
 */
static int pin(pid_t tid, int *pidfd)
{
	if (tid <= 0)
		return -EPERM;
	*pidfd = nsops_pidfd_open(tid);
	return *pidfd >= 0 || errno == ENOSYS ? 0 : -EPERM;
}

static int still_there(int pidfd)
{
	if (pidfd < 0)
		return 0;
	return syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0 ? 0 : -EPERM;
}

int nsops_caller_is_admin(pid_t tid)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = tid };
	struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3];
	nsops_autofd int pidfd = -1;
	int r = pin(tid, &pidfd);

	if (r < 0)
		return r;
	/* The effective set, as /proc/TID/status's CapEff shows it, in one call. */
	if (syscall(SYS_capget, &hdr, caps) < 0)
		return -EPERM;
	if (!(caps[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective & CAP_TO_MASK(CAP_SYS_ADMIN)))
		return -EPERM;
	return still_there(pidfd);
}

/* The last number of a status line such as "NStgid:\t4021\t7": the innermost PID namespace's. */
static char *last_number(const char *status, const char *key)
{
	const char *line = strstr(status, key);
	const char *end;

	if (!line)
		return NULL;
	line++;
	end = line + strcspn(line, "\n");
	while (end > line && g_ascii_isdigit(end[-1]))
		end--;
	return g_strndup(end, strcspn(end, "\n"));
}

int nsops_caller_view(pid_t tid, struct nsops_view *view)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)tid);
	g_autofree char *status = NULL;
	g_autofree char *tgid = NULL, *pid = NULL;
	nsops_autofd int pidfd = -1;
	int r = pin(tid, &pidfd);

	*view = (struct nsops_view){ .root = -1 };
	if (r < 0)
		return r;
	if (!g_file_get_contents(path, &status, NULL, NULL))
		return -EPERM;
	tgid = last_number(status, "\nNStgid:");
	pid = last_number(status, "\nNSpid:");
	if (!tgid || !*tgid || !pid || !*pid)
		return -EPERM;
	g_free(path);
	path = g_strdup_printf("/proc/%d/root", (int)tid);
	view->root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	r = view->root < 0 ? -EPERM : still_there(pidfd);
	if (r < 0) {
		nsops_view_clear(view);
		return r;
	}
	view->self = g_steal_pointer(&tgid);
	view->thread_self = g_strdup_printf("%s/task/%s", view->self, pid);
	return 0;
}

void nsops_view_clear(struct nsops_view *view)
{
	nsops_close_fd(&view->root);
	g_clear_pointer(&view->self, g_free);
	g_clear_pointer(&view->thread_self, g_free);
}
