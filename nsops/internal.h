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
