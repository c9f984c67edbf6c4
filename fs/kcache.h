/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the kernel may cache of the tree (entry and attribute timeouts), and invalidating it. */
#pragma once

#include "common.h"

#include <stdatomic.h>

struct utsfs;

/*
 * For what changes only through our own replies: the root's attributes, a
 * namespace directory's (its node stands for one namespace; owner and mode
 * change only through our setattr, whose reply updates the kernel), and
 * the entries of the files inside one (fixed for the node's life).
 */
#define KCACHE_FIXED_TIMEOUT 86400.0
/* The attributes of the files in a namespace directory: never cached. */
#define KCACHE_FILE_ATTR_TIMEOUT 0.0

/* All false and 0 at start. */
struct kcache {
	/* Whether the watcher sees every mount change, so names may be cached. */
	atomic_bool names_on;
	/* Whether the kernel refused FUSE_NOTIFY_INC_EPOCH (before Linux 6.16). */
	atomic_bool epoch_refused;
	/* Moved before each check of the names the kernel looked up. */
	_Atomic uint64_t names_gen;
};

/* Whether names may be cached: only while the watcher runs and sees every mount change. */
void kcache_cache_names(struct kcache *k, bool on);
/* Taken before a lookup looks at the state directory... */
uint64_t kcache_name_begin(struct kcache *k);
/* ...and the entry timeout for its reply, once the node is counted. */
double kcache_name_timeout(struct kcache *k, uint64_t gen);
/*
 * The mount table changed: every named node (lookup count > 0) is looked at (one
 * fstatat each); those that no longer hold their node's namespace lose
 * their node, and the kernel is notified.
 */
void kcache_check_names(struct utsfs *fs);
