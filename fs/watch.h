/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The watcher thread: waits for the kernel's events and has each handled, paced by what it costs. */
#pragma once

#include "common.h"

struct utsfs;

struct watcher {
	GThread *thread;
	int stop_fd;
	/* Its own event files, by enum nsops_event. */
	int fds[NSOPS_EVENTS];
};

int watch_init(struct watcher *w);
/*
 * Start the thread: after fuse_daemonize, whose fork would leave a thread
 * behind in the parent.
 */
void watch_start(struct utsfs *fs);
/* Stop the thread, before the session goes: it sends notifications through it. */
void watch_stop(struct utsfs *fs);
/* The calling thread's CPU time so far, in microseconds. */
gint64 watch_thread_cpu(void);
/*
 * When costly background work (the watcher's passes, the record's writes)
 * that began at thread CPU time start, and has just ended, may run again
 * (monotonic time): twenty times the CPU it took from now, and no sooner
 * than gap_min. CPU, not time: waiting for a lock or an fsync costs nobody
 * anything. No upper bound: a longer pause is what keeps the share.
 */
gint64 watch_pace(gint64 start, gint64 gap_min);
