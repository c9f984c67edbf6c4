/* SPDX-License-Identifier: GPL-2.0-or-later */
/* MOUNT/.all: every UTS namespace on the host, named or not, by its id. */
#pragma once

#include "nodes.h"

#include <sys/stat.h>

struct utsfs;

#define ALLVIEW_NAME ".all"

struct allview {
	/* Guards found and the node maps. */
	GMutex lock;
	/* The last scan (nsops_all_scan): id -> struct nsops_found. */
	GHashTable *found;
	/* Node ids of the namespaces seen, both ways: fresh ones, never a name's. */
	GHashTable *node_of;
	GHashTable *id_of;
	/* The node id of MOUNT/.all itself. */
	fuse_ino_t dir;
	/* When the last scan ended (monotonic µs): see may_rescan(). */
	gint64 scanned_at;
};

/* Who looks at the view, as FUSE tells it: what visible() needs of the caller. */
struct allview_viewer {
	uid_t uid;
	gid_t gid;
	/* The calling thread (0 when outside our PID namespace). */
	pid_t tid;
	/* Supplementary groups, all of them (none known: nothing that needs one shows). */
	int ngroups;
	gid_t *groups;
};

void allview_viewer_of(fuse_req_t req, struct allview_viewer *who);
void allview_viewer_clear(struct allview_viewer *who);
typedef struct allview_viewer AllviewViewer;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(AllviewViewer, allview_viewer_clear)
/*
 * 0 when dir is no namespace directory of the view, or the caller of req
 * may see it (root always); -EACCES when not: a working directory or an
 * open directory kept in it since gives nothing (as chmod 0500 would in
 * the named tree). Checked by the daemon at every lookup, opendir and open
 * in it: a mode shown per caller would be one inode's for all callers.
 */
int allview_check_seen(fuse_req_t req, fuse_ino_t dir);
void allview_init(struct allview *v, fuse_ino_t dir);
void allview_free(struct allview *v);
/* Whether node ino is .all or one of its namespace directories. */
bool allview_owns(struct allview *v, fuse_ino_t ino);
/*
 * nsnode_resolve() for a directory node of the view: its namespace's id
 * and inode number to *ref (no name), its nsfs file's stat to *st;
 * -ENOENT once it is gone.
 */
int allview_resolve(struct utsfs *fs, fuse_ino_t dir, struct ns_ref *ref, struct stat *st);
/* An fd to enter namespace id of the view; -ENOENT once it is gone. */
int allview_open(struct utsfs *fs, uint64_t id);
/* Requests on .all and on its entries. */
void allview_lookup(fuse_req_t req, const char *name);
void allview_entry(fuse_req_t req);
/*
 * The namespaces who may see, by ascending id, from a fresh scan: a
 * GPtrArray of struct nsops_found, each a reference that it drops.
 */
int allview_list(struct utsfs *fs, const struct allview_viewer *who, GPtrArray **found);
/*
 * The id that a relative link target names when it is ".all/ID". Text
 * only: nothing is looked up (the kernel holds our root locked during
 * SYMLINK).
 */
bool allview_link_id(const char *link, uint64_t *id);
/*
 * The id that the rest of a path names from directory node ino of ours
 * (what a walk of an absolute target found on our mount, nsops_adopt):
 * ".all/ID" from the root, "ID" from .all.
 */
bool allview_reached_id(struct utsfs *fs, uint64_t ino, const char *rest, uint64_t *id);
/* The names in the state directory that hold namespace id, one per line, into out. */
int allview_names(struct utsfs *fs, uint64_t id, GString *out);
