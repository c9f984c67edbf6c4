/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The namespace a directory node stands for: re-checked at every request, entered, its values read through the value cache. */
#pragma once

#include "nodes.h"

#include <sys/stat.h>

struct utsfs;

/*
 * Whether directory node dir's name still holds its namespace, right now
 * (one statx for a mount seen before): its name and id go to *ref and what
 * stat(2) shows of the nsfs file to *st (when not NULL). -ENOENT when the
 * node lost its name or the name is gone, -ESTALE when the name holds
 * another namespace now.
 */
int nsnode_resolve(struct utsfs *fs, fuse_ino_t dir, struct ns_ref *ref, struct stat *st);
/*
 * An fd to enter ref's namespace (by its name, or, in the view, by the
 * task that reaches it), checked to be it; *mnt_id (when not NULL) as
 * nsops_statedir_open_ns() gives it, 0 for the view.
 */
int nsnode_open(struct utsfs *fs, const struct ns_ref *ref, uint64_t *mnt_id);
/*
 * field of ref's namespace (ref as nsnode_resolve gave it): kept while the
 * values epoch stands still and the name is on the same mount, else read
 * inside it.
 */
int nsnode_value(struct utsfs *fs, const struct ns_ref *ref, enum nsops_field field,
		 char value[NSOPS_VALUE_MAX + 1]);
