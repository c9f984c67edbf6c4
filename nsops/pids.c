// SPDX-License-Identifier: GPL-2.0-or-later
/* Which processes live in a UTS namespace: what `ip netns pids` gives. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

gint nsops_compare_pids(gconstpointer a, gconstpointer b)
{
	pid_t pa = *(const pid_t *)a, pb = *(const pid_t *)b;

	return pa < pb ? -1 : pa > pb;
}

/*
 * What a caller may know of: whether process pid runs with real or
 * effective uid. The kernel's own rule for
 * /proc/PID/ns/uts (ptrace access, capabilities, security modules) cannot
 * be reproduced from a uid; this one errs on the side of showing less.
 */
bool nsops_pid_runs_as(pid_t pid, uid_t uid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
	g_autofree char *status = NULL;
	const char *line;
	unsigned int real, effective;

	if (!g_file_get_contents(path, &status, NULL, NULL))
		return false;
	line = strstr(status, "\nUid:");
	return line && sscanf(line, "\nUid: %u %u", &real, &effective) == 2 &&
	       (real == uid || effective == uid);
}

bool nsops_task_in(pid_t tid, uint64_t ino)
{
	char path[64];
	struct stat st;

	/* stat follows the magic link to the nsfs inode: nsfs has one device. */
	g_snprintf(path, sizeof(path), "/proc/%d/ns/uts", (int)tid);
	return tid > 0 && stat(path, &st) == 0 && st.st_ino == ino;
}

int nsops_pids(uint64_t ino, uid_t uid, GArray **pids)
{
	g_autoptr(GArray) out = g_array_new(FALSE, FALSE, sizeof(pid_t));
	g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
	const char *entry;

	if (!proc)
		return -ENOENT;
	while ((entry = g_dir_read_name(proc))) {
		guint64 pid;

		if (!g_ascii_string_to_unsigned(entry, 10, 1, G_MAXINT32, &pid, NULL))
			continue;
		if (!nsops_task_in((pid_t)pid, ino))
			continue;
		if (uid != 0 && !nsops_pid_runs_as((pid_t)pid, uid))
			continue;
		g_array_append_val(out, (pid_t){ (pid_t)pid });
	}
	g_array_sort(out, nsops_compare_pids);
	*pids = g_steal_pointer(&out);
	return 0;
}
