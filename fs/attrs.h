/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The files inside a namespace directory: one row each, and what each does. */
#pragma once

#include "nodes.h"

#include <sys/stat.h>

struct utsfs;

/* What a write to the file does. */
enum attr_write {
	/* Opening it for writing is EACCES, for root too. */
	ATTR_READ_ONLY,
	/* A write sets the row's field inside the namespace. */
	ATTR_SETS_FIELD,
};

/* What poll(2) says of an open file. */
enum attr_poll {
	/* Always readable; nothing wakes a poll. */
	ATTR_POLL_READABLE,
	/*
	 * Readable, plus POLLPRI|POLLERR once the content differs from what
	 * the handle last read: the kernel signals every change of the field.
	 */
	ATTR_POLL_CHANGES,
};

struct attr_def {
	const char *name;
	/* File type and permission bits; the owner is the directory's. */
	mode_t mode;
	/* Append the current content (a symlink's target) of ref's file to out. */
	int (*show)(struct utsfs *fs, const struct attr_def *def, const struct ns_ref *ref,
		    GString *out);
	/*
	 * Instead of show, for a content that costs a scan of /proc: made once
	 * per open, for the caller (uid), and kept by the handle. Its stat
	 * size is ATTR_SNAPSHOT_SIZE, not its length.
	 */
	int (*snapshot)(struct utsfs *fs, const struct ns_ref *ref, uid_t uid, GString *out);
	enum attr_write write;
	/* For show_field rows and ATTR_SETS_FIELD: which string of the namespace. */
	enum nsops_field field;
	enum attr_poll poll;
	/* Only where the kernel tells NS_GET_ID ids (Linux 6.18): absent elsewhere. */
	bool needs_ns_ids;
	/* Where the row is: in every namespace directory, or only in .all's. */
	enum { ATTR_EVERYWHERE, ATTR_IN_VIEW } only;
};

/*
 * What stat of a snapshot row's path tells of its size, without a scan: a
 * page, as sysfs does. lseek(SEEK_END) on an open one finds its snapshot's
 * end (utsfs_getattr). For an asynchronous O_DIRECT read, FUSE rounds the size
 * it holds up to its largest request (128 KiB or more: some 16,000 PIDs)
 * before it cuts, so such a read gets the whole list.
 */
#define ATTR_SNAPSHOT_SIZE 4096

extern const struct attr_def attr_table[];
extern const size_t attr_count;

/*
 * Whether row def can exist in ref's directory (as nsnode_resolve gave
 * it), on this kernel; attr_present: whether it does now (ns in the view
 * only while the namespace has a name), for a listing. A stat needs only
 * the first: the show of a row that is not there fails with -ENOENT.
 */
bool attr_exists(struct utsfs *fs, const struct attr_def *def, const struct ns_ref *ref);
bool attr_present(struct utsfs *fs, const struct attr_def *def, const struct ns_ref *ref);
/* The row called name, or NULL. */
const struct attr_def *attr_by_name(const char *name);

static inline fuse_ino_t attr_ino(fuse_ino_t dir, const struct attr_def *def)
{
	return dir + 1 + (fuse_ino_t)(def - attr_table);
}

/* Attribute files' st_ino: above every nsfs inode number (those are 32-bit). */
static inline ino_t attr_st_ino(uint64_t id, const struct attr_def *def)
{
	return ((uint64_t)(def - attr_table + 1) << 32) | id;
}

/* For an attribute file's node id: its row, and its directory's node id to *dir; else NULL. */
const struct attr_def *attr_from_ino(fuse_ino_t ino, fuse_ino_t *dir);

/*
 * The current content of row def in directory node dir, as uid may see
 * it, after checking that its name still holds its namespace (nsnode_resolve).
 */
int attr_content(struct utsfs *fs, const struct attr_def *def, fuse_ino_t dir, uid_t uid,
		 GString *out);
