/* SPDX-License-Identifier: GPL-2.0-or-later */
/* -o restore=PATH: a record of every name and its values, written after changes, to bring names back after a reboot. */
#pragma once

#include "common.h"

struct utsfs;

struct record {
	/* -o restore=PATH, or NULL. */
	char *path;
	/* One snapshot at a time, so an older one never lands last. */
	GMutex lock;
	/* Under lock: whether writing fails (logged once). */
	bool failing;
	/* Groups whose names could not be created at start. */
	GKeyFile *missed;
	/* The thread that writes the record after changes. */
	GThread *thread;
	GMutex thread_lock;
	GCond thread_cond;
	/* Under thread_lock: a change awaits a write; the thread must end. */
	bool dirty;
	bool stop;
};

/* Take -o restore=PATH and create the names it holds that the state directory lacks. */
int record_restore(struct utsfs *fs, const char *path);
/* Write the record anew (atomically) now; false (logged) when that failed. */
bool record_save(struct utsfs *fs);
/* Listen for changes and start the thread that writes them (after fuse_daemonize). */
void record_start(struct utsfs *fs);
void record_stop(struct record *rec);
void record_close(struct record *rec);
