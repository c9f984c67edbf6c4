/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whether any hostname or domainname changed since a value was read: the kernel's event counters, polled by each thread. */
#pragma once

#include "common.h"

#include <pthread.h>
#include <stdatomic.h>

struct counters {
	/* Each thread's own event files (see counters.c). */
	pthread_key_t key;
	bool key_ok;
	/* Moves on every change seen by any thread: the values epoch. */
	_Atomic uint64_t epoch;
};

int counters_init(struct counters *c);
void counters_free(struct counters *c);
/*
 * The values epoch now. Every sethostname or setdomainname on the host
 * that returned before this call moved it past any epoch taken before:
 * a value read under an older epoch may be stale.
 */
uint64_t counters_values_epoch(struct counters *c);
