/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Pacing background work by the CPU it costs. */
#pragma once

#include "common.h"

/* The calling thread's CPU time so far, in microseconds. */
gint64 pace_thread_cpu(void);
/*
 * When costly background work that began when the thread's CPU time was
 * start, and has just ended, may run again (monotonic time): twenty times
 * the CPU it took from now, but within [gap_min, gap_max]. CPU, not time:
 * waiting for a lock or an fsync costs nobody anything.
 */
gint64 pace_next(gint64 start, gint64 gap_min, gint64 gap_max);
