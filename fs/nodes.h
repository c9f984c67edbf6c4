/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The namespace directories the kernel knows by node id, and the daemon's value cache. */
#pragma once

#include "common.h"

/*
 * FUSE node ids: the root is 1; a namespace directory gets a fresh multiple
 * of NODE_STRIDE (never reused, so the kernel can never confuse two
 * namespaces); its attribute files are that id plus 1 + their row in the
 * attribute table (attrs.c).
 */
#define NODE_STRIDE 8

struct nodes {
	/* Guards the tables and next_ino. */
	GMutex lock;
	/* struct ns_node by node id; the named ones by name too. */
	GHashTable *by_ino;
	GHashTable *by_name;
	fuse_ino_t next_ino;
};

/* A copy of what a request needs of a namespace directory node. */
struct ns_ref {
	fuse_ino_t ino;
	char *name;
	/* The namespace's id (nsops_ns_id). */
	uint64_t id;
	/* Its nsfs inode number, the directory's st_ino: set by nsnode_resolve. */
	uint64_t ns_ino;
	/* The unique id of the mount the name was seen on by this request (nsnode_resolve); 0 if none. */
	uint64_t mnt_id;
};

void ns_ref_clear(struct ns_ref *ref);
typedef struct ns_ref NsRef;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(NsRef, ns_ref_clear)

void nodes_init(struct nodes *n);
void nodes_free(struct nodes *n);
/* The node for name holding namespace id, created when needed; counts one lookup. */
fuse_ino_t nodes_lookup(struct nodes *n, const char *name, uint64_t id);
/* The kernel forgot nlookup lookups of ino. */
void nodes_forget(struct nodes *n, fuse_ino_t ino, uint64_t nlookup);
/* A node id no node will ever have: for replies the kernel forgets at once. */
fuse_ino_t nodes_reserve(struct nodes *n);
/*
 * Copy name and id of directory node ino; when it has no name any more,
 * -ENOENT (removed) or -ESTALE (re-bound: nodes_unname_stale).
 */
int nodes_ref(struct nodes *n, fuse_ino_t ino, struct ns_ref *ref);
void nodes_rename(struct nodes *n, const char *from, const char *to);
void nodes_unname(struct nodes *n, const char *name);
/*
 * Unname node ino if it is still called name (false if not): another tool
 * removed the name, or re-bound it (rebound: a path walk that finds the
 * node should then try again, so nodes_ref says -ESTALE).
 */
bool nodes_unname_stale(struct nodes *n, fuse_ino_t ino, const char *name, bool rebound);
/* Copies of every named node: a GArray of struct ns_ref that frees them. */
GArray *nodes_named_copy(struct nodes *n);

/*
 * The value cache: field of node ino's namespace as last read, if it was
 * read through mount mnt_id (never 0) under values epoch epoch, into value.
 */
bool nodes_cached_value(struct nodes *n, fuse_ino_t ino, enum nsops_field field,
			uint64_t epoch, uint64_t mnt_id, char value[NSOPS_VALUE_MAX + 1]);
/*
 * Keep both values (by enum nsops_field), read through mount mnt_id after
 * values epoch epoch was taken, unless newer ones are kept.
 */
void nodes_keep_values(struct nodes *n, fuse_ino_t ino, uint64_t epoch, uint64_t mnt_id,
		       char values[2][NSOPS_VALUE_MAX + 1]);
