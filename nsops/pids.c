// SPDX-License-Identifier: GPL-2.0-or-later
/* Which processes live in a UTS namespace: what `ip netns pids` gives. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>

static gint compare_pids(gconstpointer a, gconstpointer b)
{
	pid_t pa = *(const pid_t *)a, pb = *(const pid_t *)b;

	return pa < pb ? -1 : pa > pb;
}

int nsops_pids(dev_t dev, uint64_t id, GArray **pids)
{
	g_autoptr(GArray) out = g_array_new(FALSE, FALSE, sizeof(pid_t));
	g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
	const char *entry;

	if (!proc)
		return -ENOENT;
	while ((entry = g_dir_read_name(proc))) {
		char path[64];
		struct stat st;
		guint64 pid;

		if (!g_ascii_string_to_unsigned(entry, 10, 1, G_MAXINT32, &pid, NULL))
			continue;
		/* stat follows the magic link to the nsfs inode: dev and ino identify it. */
		snprintf(path, sizeof(path), "/proc/%s/ns/uts", entry);
		if (stat(path, &st) < 0 || st.st_ino != id || st.st_dev != dev)
			continue;
		g_array_append_val(out, (pid_t){ (pid_t)pid });
	}
	g_array_sort(out, compare_pids);
	*pids = g_steal_pointer(&out);
	return 0;
}
