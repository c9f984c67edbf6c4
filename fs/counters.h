/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whether any hostname or domainname changed since a value was read: the kernel's event counters, as one epoch. */
#pragma once

#include "common.h"

struct counters {
	/* Guards fds and epoch: each change is seen by exactly one request. */
	GMutex lock;
	/* /proc/sys/kernel/{hostname,domainname}; negative when they could not be opened. */
	int fds[2];
	uint64_t epoch;
};

void counters_init(struct counters *c);
void counters_free(struct counters *c);
/*
 * The values epoch now. Every sethostname or setdomainname on the host
 * that returned before this call moved it past any epoch taken before:
 * a value read under an older epoch may be stale.
 */
uint64_t counters_values_epoch(struct counters *c);
