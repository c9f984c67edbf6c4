// SPDX-License-Identifier: GPL-2.0-or-later
/* Who asks: the calling thread FUSE names, pinned while utsfs looks at it. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/stat.h>
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

/* Whether two paths name one file (both followed): two namespaces' links, say. */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* Whether thread tid has CAP_SYS_ADMIN in its effective set, as /proc/TID/status's CapEff shows it. */
static bool has_sys_admin(pid_t tid)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = tid };
	struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3];

	return syscall(SYS_capget, &hdr, caps) == 0 &&
	       (caps[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective & CAP_TO_MASK(CAP_SYS_ADMIN));
}

/* PF_IO_WORKER, in the flags that /proc/TID/stat shows as its 9th field. */
#define PF_IO_WORKER 0x10

/*
 * Field n (numbered from 1 as in proc(5)) of a /proc/PID/stat line, or
 * NULL. The command name (field 2) may hold spaces and parentheses: the
 * fields from 3 on follow the last ')'.
 */
static char *stat_field(const char *stat_text, guint n)
{
	const char *p = strrchr(stat_text, ')');
	g_auto(GStrv) fields = NULL;

	if (!p || n < 3)
		return NULL;
	fields = g_strsplit(p + 2, " ", (gint)n - 1);
	return g_strv_length(fields) > n - 3 ? g_strdup(fields[n - 3]) : NULL;
}

/*
 * The thread group leader of tid when tid is an io_uring worker, else 0.
 * A worker runs each request with the submitter's credentials, but capget
 * reads the worker's own, copied when it was made: a process that dropped
 * CAP_SYS_ADMIN since would still pass.
 */
static pid_t io_worker_leader(pid_t tid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)tid);
	g_autofree char *text = NULL, *flags_text = NULL;
	const char *after;
	guint64 flags;

	if (!g_file_get_contents(path, &text, NULL, NULL) || !(flags_text = stat_field(text, 9)) ||
	    !g_ascii_string_to_unsigned(flags_text, 10, 0, G_MAXUINT64, &flags, NULL) ||
	    !(flags & PF_IO_WORKER))
		return 0;
	g_free(path);
	g_free(text);
	path = g_strdup_printf("/proc/%d/status", (int)tid);
	if (!g_file_get_contents(path, &text, NULL, NULL) || !(after = strstr(text, "\nTgid:")))
		return -1;
	return (pid_t)g_ascii_strtoll(after + 6, NULL, 10);
}

int nsops_caller_is_admin(pid_t tid)
{
	g_autofree char *user_ns = g_strdup_printf("/proc/%d/ns/user", (int)tid);
	pid_t leader;
	nsops_autofd int pidfd = -1;
	int r = pin(tid, &pidfd);

	if (r < 0)
		return r;
	/*
	 * Capabilities count in the caller's own user namespace only. Anyone
	 * may make one (`unshare -U --map-root-user`: uid 0 stays 0) and hold
	 * every capability there, and none over our namespaces and mounts.
	 */
	if (!same_file(user_ns, "/proc/self/ns/user"))
		return -EPERM;
	if (!has_sys_admin(tid))
		return -EPERM;
	/* An io_uring worker: its process must hold the capability too. */
	leader = io_worker_leader(tid);
	if (leader != 0 && (leader < 0 || !has_sys_admin(leader)))
		return -EPERM;
	return still_there(pidfd);
}

/* The numbers of a status line such as "NStgid:\t4021\t7", ours first; NULL when absent. */
static char **numbers(const char *status, const char *key)
{
	const char *line = strstr(status, key);
	g_autofree char *text = NULL;

	if (!line)
		return NULL;
	line += strlen(key);
	text = g_strndup(line, strcspn(line, "\n"));
	g_strstrip(text);
	return *text ? g_regex_split_simple("\\s+", text, 0, 0) : NULL;
}

/* A process's start time, stat's 22nd field: the same in every /proc. */
static char *start_time(const char *stat_text)
{
	return stat_field(stat_text, 22);
}

int nsops_caller_view(pid_t tid, struct nsops_view *view)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)tid);
	g_autofree char *status = NULL, *stat_text = NULL;
	nsops_autofd int pidfd = -1;
	struct stat pidns;
	int r = pin(tid, &pidfd);

	*view = (struct nsops_view){ .root = -1 };
	if (r < 0)
		return r;
	if (!g_file_get_contents(path, &status, NULL, NULL))
		return -EPERM;
	view->tgids = numbers(status, "\nNStgid:");
	view->tids = numbers(status, "\nNSpid:");
	g_free(path);
	/* The process's start, not the thread's: /proc/TGID/stat, as any /proc shows it. */
	path = g_strdup_printf("/proc/%s/stat", view->tgids ? view->tgids[0] : "0");
	if (g_file_get_contents(path, &stat_text, NULL, NULL))
		view->start = start_time(stat_text);
	g_free(path);
	path = g_strdup_printf("/proc/%d/ns/pid", (int)tid);
	if (stat(path, &pidns) == 0)
		view->pidns = pidns.st_ino;
	g_free(path);
	path = g_strdup_printf("/proc/%d/root", (int)tid);
	if (view->tgids && view->tids && g_strv_length(view->tgids) == g_strv_length(view->tids) &&
	    view->start && view->pidns)
		view->root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	r = view->root < 0 ? -EPERM : still_there(pidfd);
	if (r < 0)
		nsops_view_clear(view);
	return r;
}

/* Whether process tgid of the /proc that proc_dir is, is the caller of view. */
static bool shows_caller(const struct nsops_view *view, int proc_dir, const char *tgid)
{
	g_autofree char *stat_path = g_strdup_printf("%s/stat", tgid);
	g_autofree char *ns_path = g_strdup_printf("%s/ns/pid", tgid);
	g_autofree char *start = NULL;
	char text[1024];
	struct stat pidns;
	nsops_autofd int fd = openat(proc_dir, stat_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);

	if (n <= 0)
		return false;
	text[n] = '\0';
	start = start_time(text);
	return start && g_str_equal(start, view->start) &&
	       fstatat(proc_dir, ns_path, &pidns, 0) == 0 && pidns.st_ino == view->pidns;
}

int nsops_view_self(const struct nsops_view *view, int proc_dir, bool thread_self, char **out)
{
	/*
	 * A /proc numbers processes in the PID namespace it was mounted for,
	 * which need not be the caller's innermost (`unshare -p -f` without
	 * --mount-proc keeps the host's /proc): the one of the caller's PIDs
	 * that this /proc shows as the caller, innermost first.
	 */
	for (guint i = g_strv_length(view->tgids); i-- > 0;) {
		if (!shows_caller(view, proc_dir, view->tgids[i]))
			continue;
		*out = thread_self ? g_strdup_printf("%s/task/%s", view->tgids[i], view->tids[i])
				   : g_strdup(view->tgids[i]);
		return 0;
	}
	return -EPERM;
}

void nsops_view_copy(const struct nsops_view *from, struct nsops_view *to)
{
	*to = (struct nsops_view){
		.root = fcntl(from->root, F_DUPFD_CLOEXEC, 0),
		.tgids = g_strdupv(from->tgids),
		.tids = g_strdupv(from->tids),
		.start = g_strdup(from->start),
		.pidns = from->pidns,
	};
}

void nsops_view_clear(struct nsops_view *view)
{
	nsops_close_fd(&view->root);
	g_clear_pointer(&view->tgids, g_strfreev);
	g_clear_pointer(&view->tids, g_strfreev);
	g_clear_pointer(&view->start, g_free);
}
