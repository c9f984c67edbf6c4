/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What one open attribute file holds, shared by its handlers (ops_file.c) and its poll (polls.c). */
#pragma once

#include "attrs.h"
#include "polls.h"

struct open_file {
	/* Where its pending poll is kept, to be dropped when it is freed. */
	struct polls *polls;
	/* The file's node id, its directory's (not its name: an open file follows a rename), its row. */
	fuse_ino_t ino;
	fuse_ino_t dir;
	const struct attr_def *def;
	/* The kernel may send concurrent writes on one handle. */
	GMutex lock;
	/*
	 * What writes on this handle made so far, from offset 0: a write at k
	 * continues it. NULL until the first write: a write then continues the
	 * current value, as on /proc/sys/kernel/hostname.
	 */
	GString *written;
	/* A snapshot row's content, made at open for the opener; NULL for the others. */
	GString *snapshot;
	/* Guarded by the polls lock: the content this handle last read, and its pending poll. */
	GString *last_read;
	struct fuse_pollhandle *ph;
};
