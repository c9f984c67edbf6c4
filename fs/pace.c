// SPDX-License-Identifier: GPL-2.0-or-later
/* Pacing background work (the watcher's checks, the record's writes) to a twentieth of a CPU. */
#include "pace.h"

#include <time.h>

#define COST_SHARE 20

gint64 pace_thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

gint64 pace_next(gint64 start, gint64 gap_min, gint64 gap_max)
{
	gint64 used = pace_thread_cpu() - start;

	return g_get_monotonic_time() + CLAMP(COST_SHARE * used, gap_min, gap_max);
}
