/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The watcher thread: waits for the kernel's events and has each handled, paced by what it costs. */
#pragma once

#include "common.h"

struct utsfs;

struct watcher {
	GThread *thread;
	int stop_fd;
	int kick_fd;
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
/* Make the watcher look again at which events it must wait for (a first poll). */
void watch_kick(struct watcher *w);
