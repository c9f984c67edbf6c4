/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the nsops files share with each other and nobody else. */
#pragma once

#include "nsops.h"

/*
 * Marks the empty file a name is bound on as utsfs's own: only such files
 * are cleaned up at start (another tool's may be mid-way, as `unshare
 * --uts=FILE` takes no lock). trusted.*: only root can set or fake it.
 */
#define PLACEHOLDER_XATTR "trusted.utsfs.placeholder"

/* The calling thread's own UTS namespace: /proc/self is the main thread's. */
#define THREAD_UTS "/proc/thread-self/ns/uts"

/* Go back to host_fd's namespace; aborts the process when that fails. */
void nsops_return_home(int host_fd);

/*
 * A readable fd on what the O_PATH fd opath is, if that is a UTS
 * namespace's nsfs file: nothing else is opened for real (a device's open
 * has effects). -ENOTTY when it is no namespace, -EINVAL another kind.
 */
int nsops_reopen_uts(int opath);
/* A pidfd on thread tid, or -1 with errno (ENOSYS where pidfds are missing). */
int nsops_pidfd_open(pid_t tid);
/* Ascending pid_t, for g_array_sort. */
gint nsops_compare_pids(gconstpointer a, gconstpointer b);
