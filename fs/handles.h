/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Open file and directory handles, so those the kernel never releases are freed at exit. */
#pragma once

#include "common.h"

struct handles {
	GMutex lock;
	/* Every handle the kernel has open, and its free function. */
	GHashTable *table;
};

void handles_init(struct handles *h);
/* Free every handle the kernel did not release. */
void handles_free(struct handles *h);
/* Track handle; returns the value for fi->fh. */
uint64_t handle_add(struct handles *h, void *handle, GDestroyNotify free_func);
/* Stop tracking and free the handle behind fh. */
void handle_release(struct handles *h, uint64_t fh);
