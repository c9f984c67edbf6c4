/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the nsops files share with each other and nobody else. */
#pragma once

#include "nsops.h"

/* The calling thread's own UTS namespace: /proc/self is the main thread's. */
#define THREAD_UTS "/proc/thread-self/ns/uts"

/* Enter ns_fd's UTS namespace in the calling thread; -errno on failure. */
int nsops_enter(int ns_fd);
/* Go back to host_fd's namespace; aborts the process when that fails. */
void nsops_return_home(int host_fd);
