/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's one state struct and what the fs/ files share. */
#pragma once

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <glib.h>

#include "nsops.h"

/*
 * FUSE node ids: the root is 1; a namespace directory gets a fresh multiple of
 * NODE_STRIDE (never reused, so the kernel can never confuse two namespaces);
 * its attribute files are that id plus 1 + their row in the attribute table.
 */
#define NODE_STRIDE 8

/* A namespace directory the kernel knows by node id. */
struct ns_node {
	fuse_ino_t ino;
	/* The name it is reached by; NULL once removed or replaced. */
	char *name;
	/* The nsfs inode number: the namespace's id and the directory's st_ino. */
	uint64_t id;
	/* How many lookups the kernel has not forgotten yet. */
	uint64_t nlookup;
};

/* A copy of what a request needs of a node, taken under the lock. */
struct ns_ref {
	char *name;
	uint64_t id;
};

struct utsfs {
	struct nsops_statedir state;
	/* The host UTS namespace every thread returns to. */
	int host_fd;
	/* Our mount's device: adoption must never look up names through it. */
	dev_t mount_dev;
	/* Times shown for the root: when the daemon started. */
	struct timespec start_time;

	/* Guards nodes_by_ino, nodes_by_name and next_ino. */
	GMutex nodes_lock;
	GHashTable *nodes_by_ino;
	GHashTable *nodes_by_name;
	fuse_ino_t next_ino;

	/* Serialises mkdir, rmdir and rename so their checks hold until they act. */
	GMutex names_lock;

	/* Guards handles: every open file and directory handle, and its free function. */
	GMutex handles_lock;
	GHashTable *handles;

	/* Guards polled: open files with a pending poll (see watch.c). */
	GMutex watch_lock;
	GHashTable *polled;
	GThread *watcher;
	int watch_stop_fd;

	/* -o restore=PATH, or NULL; record_lock serialises its snapshots. */
	char *record_path;
	GMutex record_lock;
	/* Groups of the record whose names could not be created at start. */
	GKeyFile *record_missed;

	/* Guards meta: owners and modes, mirrored in STATE_DIR/.utsfs.conf. */
	GMutex meta_lock;
	GKeyFile *meta;
	/* Taken before meta_lock: one write of .utsfs.conf at a time, newest last. */
	GMutex meta_save_lock;
};

/* Owner and permission bits of a namespace directory (and its files' owner). */
struct ns_meta {
	uid_t uid;
	gid_t gid;
	mode_t mode;
};

static inline struct utsfs *utsfs_from_req(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* nodes.c */
void nodes_init(struct utsfs *fs);
void nodes_free(struct utsfs *fs);
/* The node for name holding namespace id, created when needed; counts one lookup. */
fuse_ino_t nodes_lookup(struct utsfs *fs, const char *name, uint64_t id);
void nodes_forget(struct utsfs *fs, fuse_ino_t ino, uint64_t nlookup);
/* A node id no node will ever have: for replies the kernel forgets at once. */
fuse_ino_t nodes_reserve(struct utsfs *fs);
/* Copy name and id of the namespace directory ino; -ENOENT when stale. */
int nodes_ref(struct utsfs *fs, fuse_ino_t ino, struct ns_ref *ref);
void nodes_rename(struct utsfs *fs, const char *from, const char *to);
void nodes_unname(struct utsfs *fs, const char *name);
void ns_ref_clear(struct ns_ref *ref);
typedef struct ns_ref NsRef;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(NsRef, ns_ref_clear)

/*
 * Open the namespace of directory node ino through the state directory (its
 * name and id go to *ref), checking the name still holds the same
 * namespace: -ENOENT when it is gone or now names another.
 */
int ns_open_node(struct utsfs *fs, fuse_ino_t ino, struct ns_ref *ref, struct stat *st);

/* log.c */
/* Send glib's log to the journal or syslog, and to stderr when *foreground. */
void utsfs_log_init(const bool *foreground);
/* Log an unexpected failure once, at the FUSE boundary, with the name it concerns. */
void utsfs_log_failure(const char *what, const char *name, int err);

/* handles.c */
void handles_init(struct utsfs *fs);
/* Free every handle the kernel did not release. */
void handles_free(struct utsfs *fs);
/* Track handle; returns the value for fi->fh. */
uint64_t handle_add(struct utsfs *fs, void *handle, GDestroyNotify free_func);
/* Stop tracking and free the handle behind fh. */
void handle_release(struct utsfs *fs, uint64_t fh);

/* meta.c */
/* Make group `to` of dst a copy of group `from` of src (absent when that is). */
void keyfile_copy_group(GKeyFile *src, const char *from, GKeyFile *dst, const char *to);
/* Load STATE_DIR/.utsfs.conf, settle an interrupted rename, drop stale entries. */
int meta_open(struct utsfs *fs);
void meta_close(struct utsfs *fs);
void meta_get(struct utsfs *fs, const char *name, uint64_t id, struct ns_meta *m);
enum { META_UID = 1, META_GID = 2, META_MODE = 4 };
/* Set the fields of want named by fields (META_*), keeping the others. */
int meta_change(struct utsfs *fs, const char *name, uint64_t id,
		const struct ns_meta *want, unsigned int fields);
int meta_forget(struct utsfs *fs, const char *name);
/* Journal a rename of namespace id and copy from's entry to to, before acting. */
int meta_begin_rename(struct utsfs *fs, const char *from, const char *to, uint64_t id);
/* Drop the journal and from's entry (done) or to's copy (not done). */
void meta_end_rename(struct utsfs *fs, const char *from, const char *to, bool done);

/* record.c */
/* Take -o restore=PATH and create the names it holds that the state directory lacks. */
int record_restore(struct utsfs *fs, const char *path);
/* Write the record anew (atomically) after a change; nothing without restore=. */
void record_save(struct utsfs *fs);
void record_close(struct utsfs *fs);

/* stat.c */
int stat_ino(struct utsfs *fs, fuse_ino_t ino, struct stat *st);
/* Reply to a lookup or mkdir of name in the root from the state directory. */
void reply_ns_entry(fuse_req_t req, const char *name);
/* Reply to a lookup of name inside the namespace directory dir. */
void reply_attr_entry(fuse_req_t req, fuse_ino_t dir, const char *name);
/* Reply to getattr (and setattr) of ino. */
void reply_attr(fuse_req_t req, fuse_ino_t ino);
