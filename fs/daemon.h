/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's one state struct: each module's part of it, and what they share. */
#pragma once

#include "allview.h"
#include "common.h"
#include "counters.h"
#include "handles.h"
#include "kcache.h"
#include "listeners.h"
#include "meta.h"
#include "nodes.h"
#include "polls.h"
#include "record.h"
#include "watch.h"

#include <time.h>

struct utsfs {
	/* Our FUSE session, for the notifications the watcher sends. */
	struct fuse_session *se;
	struct nsops_statedir state;
	/* The host UTS namespace every thread returns to. */
	int host_fd;
	/* Our mount's device: adoption must never look up names through it. */
	dev_t mount_dev;
	/* Where we are mounted (absolute), to tell links into .all from others. */
	const char *mountpoint;
	/* Times shown for the root: when the daemon started. */
	struct timespec start_time;
	/* Serialises mkdir, rmdir, rename, adoption and chown, so their checks hold until they act. */
	GMutex names_lock;
	/*
	 * Held (writer) by a rename from binding the new name until the node
	 * has it: a request that finds its node's name gone waits (reader).
	 */
	GRWLock rename_lock;

	struct nodes nodes;
	struct counters counters;
	struct handles handles;
	struct polls polls;
	struct kcache kcache;
	struct watcher watcher;
	struct listeners listeners;
	struct meta meta;
	struct record record;
	struct allview all;
};

static inline struct utsfs *utsfs_from_req(fuse_req_t req)
{
	return fuse_req_userdata(req);
}
