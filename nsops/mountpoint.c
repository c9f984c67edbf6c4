// SPDX-License-Identifier: GPL-2.0-or-later
/* utsfs's own mount point: a dead one left by a killed daemon, and its device once mounted. */
#include "nsops.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

int nsops_mountpoint_check(const char *mountpoint)
{
	struct stat st;

	if (stat(mountpoint, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int nsops_clear_dead_mount(const char *mountpoint)
{
	struct statfs sfs;

	/* statfs, not stat: the kernel answers stat from cached attributes. */
	if (statfs(mountpoint, &sfs) == 0 || errno != ENOTCONN)
		return 0;
	return umount2(mountpoint, MNT_DETACH) == 0 ? 1 : -errno;
}

dev_t nsops_mount_device(const char *mountpoint, const char *fstype)
{
	g_autofree char *info = NULL;
	g_autofree char *sep = g_strdup_printf(" - %s ", fstype);
	g_auto(GStrv) lines = NULL;
	dev_t dev = 0;

	if (!g_file_get_contents("/proc/self/mountinfo", &info, NULL, NULL))
		return 0;
	lines = g_strsplit(info, "\n", -1);
	for (char **l = lines; *l; l++) {
		g_auto(GStrv) f = g_strsplit(*l, " ", 0);
		g_autofree char *target = NULL;
		unsigned int major, minor;

		if (g_strv_length(f) < 5 || sscanf(f[2], "%u:%u", &major, &minor) != 2)
			continue;
		/* mountinfo escapes spaces and the like as \NNN, as C strings do. */
		target = g_strcompress(f[4]);
		/* The last match: a mount stacked on top is the one in use. */
		if (strstr(*l, sep) && g_str_equal(target, mountpoint))
			dev = makedev(major, minor);
	}
	return dev;
}
