/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What stat(2) shows of each node, and the entry and attribute replies built from it. */
#pragma once

#include "common.h"

#include <sys/stat.h>

/*
 * name's entry, holding namespace id whose nsfs file ns_st describes, as
 * looked at after kcache_name_begin() returned gen. Counts a lookup of its
 * node: the caller hands it to the kernel or forgets it.
 */
void name_entry(fuse_req_t req, const char *name, uint64_t id, const struct stat *ns_st,
		uint64_t gen, struct fuse_entry_param *e);
/* Reply with name_entry()'s entry. */
void reply_name_stat(fuse_req_t req, const char *name, uint64_t id, const struct stat *ns_st,
		     uint64_t gen);
/* Reply to a lookup of name inside the namespace directory dir. */
void reply_file_entry(fuse_req_t req, fuse_ino_t dir, const char *name);
/* Reply to getattr or setattr of ino with its attributes now; the size of snapshot when given. */
void reply_attr(fuse_req_t req, fuse_ino_t ino, const GString *snapshot);
