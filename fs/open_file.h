/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What one open attribute file holds, shared by its handlers and the watcher. */
#pragma once

#include "attrs.h"

struct open_file {
	struct utsfs *fs;
	/* The kernel may send concurrent reads and writes on one handle. */
	GMutex lock;
	/* The directory's node, not its name: an open file follows a rename. */
	fuse_ino_t dir;
	const struct attr_def *def;
	/* The content at the last read from offset 0: later offsets read it. */
	GString *shown;
	/* The bytes written at offsets 0..len: a write at k continues them. */
	GString *written;
	/* The pending poll, guarded by fs->watch_lock, not by lock. */
	struct fuse_pollhandle *ph;
};

/* The current content of of's file, read afresh from its namespace. */
int open_file_show(struct utsfs *fs, const struct open_file *of, GString *out);
/* Whether the content now differs from what of last read. */
bool open_file_changed(struct utsfs *fs, struct open_file *of);

/* watch.c */
/* Set up the registry of pending polls. */
int watch_init(struct utsfs *fs);
/*
 * Start the thread that wakes polls when a hostname or domainname changes:
 * after fuse_daemonize, whose fork would leave a thread behind in the parent.
 */
void watch_start(struct utsfs *fs);
/* Stop the thread; then free, once no handle can reach the registry any more. */
void watch_stop(struct utsfs *fs);
void watch_free(struct utsfs *fs);
/* Keep ph (replacing of's previous one) until of's value changes. */
void watch_add(struct utsfs *fs, struct open_file *of, struct fuse_pollhandle *ph);
/* Drop of and its poll handle: it is being freed. */
void watch_forget(struct utsfs *fs, struct open_file *of);
