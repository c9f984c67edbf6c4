/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The files inside a namespace directory: one row each. */
#pragma once

#include "utsfs.h"

struct attr_def {
	const char *name;
	mode_t mode;
	/* For files that writes change: the UTS field they set; else -1. */
	int field;
	/* Content changes behind our back: never cache it in the kernel. */
	bool volatile_content;
	/*
	 * Append the content (a symlink's target) of ref, open as ns_fd, to
	 * out. NULL for fields: attr_show reads them without ns_fd.
	 */
	int (*show)(struct utsfs *fs, int ns_fd, const struct ns_ref *ref,
		    GString *out);
};

extern const struct attr_def attr_table[];
extern const size_t attr_count;

/*
 * Append the content of row def of directory node dir to out. Fields need
 * neither ns_fd (the namespace, open) nor ref (dir's name and id); the
 * other rows need both.
 */
int attr_show(struct utsfs *fs, const struct attr_def *def, fuse_ino_t dir,
	      int ns_fd, const struct ns_ref *ref, GString *out);

/* The row called name, or NULL; its index goes to *row. */
const struct attr_def *attr_by_name(const char *name, size_t *row);

static inline fuse_ino_t attr_ino(fuse_ino_t dir, size_t row)
{
	return dir + 1 + row;
}

/* Attribute files' st_ino: above every nsfs inode number (those are 32-bit). */
static inline ino_t attr_st_ino(uint64_t id, size_t row)
{
	return ((uint64_t)(row + 1) << 32) | id;
}

/* For an attribute file's node id: its directory's node id and its row. */
const struct attr_def *attr_from_ino(fuse_ino_t ino, fuse_ino_t *dir,
				     size_t *row);
