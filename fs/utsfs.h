/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's one state struct and what the fs/ files share. */
#pragma once

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <glib.h>
#include <pthread.h>

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
	/* The mounts epoch (changes.c) when name was last seen holding id. */
	guint checked;
	/* hostname and domainname as last read, and the values epoch before that read. */
	char *value[2];
	guint value_epoch[2];
	/* The mounts epoch of that read: a mount since may have re-bound the name. */
	guint value_mounts[2];
};

/* Where changes.c looks for changes, in change_fds order. */
enum { CHANGE_HOSTNAME, CHANGE_DOMAINNAME, CHANGE_MOUNTS, CHANGE_SOURCES };

/* A copy of what a request needs of a node, taken under the lock. */
struct ns_ref {
	char *name;
	uint64_t id;
};

struct utsfs {
	/* Our FUSE session, for the notifications the watcher sends. */
	struct fuse_session *se;
	struct nsops_statedir state;
	/* The host UTS namespace every thread returns to. */
	int host_fd;
	/* The nsfs device: with an id, what a name in the state directory holds. */
	dev_t nsfs_dev;
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
	int watch_kick_fd;
	/* The watcher's own copies of changes.c's files (see watch.c). */
	int watch_fds[CHANGE_SOURCES];

	/*
	 * Whether a kept value or a checked name may be stale (changes.c):
	 * each thread's own files to poll, and the epochs they move (atomic).
	 */
	pthread_key_t change_key;
	bool change_key_ok;
	guint values_epoch;
	guint mounts_epoch;

	/*
	 * What the kernel may cache (see cache.c). cache_on: whether the
	 * watcher sees every change, so long timeouts are safe (atomic).
	 * names_gen: bumped before each check of the names the kernel holds
	 * (atomic). armed: what the kernel may hold of the sizes of hostname
	 * and domainname files (struct armed_size by node id), and the last
	 * arming series, guarded by cache_lock.
	 */
	gint cache_on;
	/* Whether the kernel takes FUSE_NOTIFY_INC_EPOCH (atomic; cache.c). */
	gint epoch_works;
	guint names_gen;
	GMutex cache_lock;
	GHashTable *armed;
	guint64 armed_series;

	/* -o restore=PATH, or NULL; record_lock serialises its snapshots. */
	char *record_path;
	GMutex record_lock;
	/* The thread that writes the record after changes (see record.c). */
	GThread *recorder;
	GMutex recorder_lock;
	GCond recorder_cond;
	/* Under recorder_lock: a change awaits a save; the recorder must end. */
	bool record_dirty;
	bool recorder_stop;
	/* Groups of the record whose names could not be created at start. */
	GKeyFile *record_missed;
	/* Under record_lock: whether writing the record fails (logged once). */
	bool record_failing;

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
/* Whether node ino is still called name. */
bool nodes_named(struct utsfs *fs, fuse_ino_t ino, const char *name);
/* Unname node ino if it is still called name. */
void nodes_unname_node(struct utsfs *fs, fuse_ino_t ino, const char *name);
/* A node the kernel holds under a name, as nodes_held copies it. */
struct held_node {
	fuse_ino_t ino;
	uint64_t id;
	char *name;
};
/* Copies of every named node, as a GArray of struct held_node that frees them. */
GArray *nodes_held(struct utsfs *fs);
void ns_ref_clear(struct ns_ref *ref);
typedef struct ns_ref NsRef;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(NsRef, ns_ref_clear)

/* Whether directory node ino's name still holds its namespace: -ENOENT when not. */
int node_check(struct utsfs *fs, fuse_ino_t ino);
/*
 * Open directory node ino's namespace (to enter it), its name and id going
 * to *ref: as ns_open_node, with fewer checks while no mount changed.
 */
int node_open_ns(struct utsfs *fs, fuse_ino_t ino, struct ns_ref *ref);
/*
 * field of directory node ino's namespace, as nsops_get gives it: kept in
 * the node until changes.c says it may have changed, then read afresh.
 */
int node_value(struct utsfs *fs, fuse_ino_t ino, enum nsops_field field,
	       char value[NSOPS_VALUE_MAX + 1]);
/*
 * Open the namespace of directory node ino through the state directory (its
 * name and id go to *ref), checking the name still holds the same
 * namespace: -ENOENT when it is gone or now names another.
 */
int ns_open_node(struct utsfs *fs, fuse_ino_t ino, struct ns_ref *ref, struct stat *st);

/* log.c */
/* Where messages go; main() owns it for the whole run. */
struct utsfs_log {
	/* Trouble is shown on stderr too. */
	bool foreground;
	/* Monotonic second before which no log daemon is tried (see log.c). */
	gint retry_at;
};
/* Send glib's log to the journal or syslog, and to stderr when log->foreground. */
void utsfs_log_init(struct utsfs_log *log);
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

/* watch.c (the rest is in open_file.h) */
/* Make the watcher look again at what it must wait for. */
void watch_kick(struct utsfs *fs);
/* The calling thread's CPU time so far, in microseconds. */
gint64 watch_thread_cpu(void);
/*
 * When costly background work that began when the thread's CPU time was
 * start, and has just ended, may run again (monotonic time): twenty times
 * the CPU it took from now, but within [gap_min, gap_max]. CPU, not time:
 * waiting for a lock or an fsync costs nobody anything.
 */
gint64 watch_spaced(gint64 start, gint64 gap_min, gint64 gap_max);

/* record.c */
/* Take -o restore=PATH and create the names it holds that the state directory lacks. */
int record_restore(struct utsfs *fs, const char *path);
/* Write the record anew (atomically) now; false (logged) when that failed. */
bool record_save(struct utsfs *fs);
/* A change for the record: the recorder thread writes it soon. */
void record_changed(struct utsfs *fs);
/* Start the recorder (after fuse_daemonize, as for the watcher), and stop it. */
void record_start(struct utsfs *fs);
void record_stop(struct utsfs *fs);
void record_close(struct utsfs *fs);

/* changes.c */
/* /proc/sys/kernel/hostname, .../domainname, /proc/self/mountinfo. */
extern const char *const change_paths[CHANGE_SOURCES];
/* A file whose POLLPRI says source changed since its last poll; -errno. */
int changes_open_source(int source);
int changes_init(struct utsfs *fs);
void changes_free(struct utsfs *fs);
/* Look for changes since the last look; the current epochs go to *values and *mounts. */
void changes_poll(struct utsfs *fs, guint *values, guint *mounts);

/* cache.c */
void cache_init(struct utsfs *fs);
void cache_free(struct utsfs *fs);
/* Long timeouts from now on: the watcher is running and sees every change. */
void cache_enable(struct utsfs *fs);
/* Back to timeouts of 0, and take back all the kernel holds: the watcher stopped. */
void cache_disable(struct utsfs *fs);
/* Taken before a lookup of a name looks at the state directory... */
guint cache_name_begin(struct utsfs *fs);
/* ...and the entry timeout for its reply, after the node is counted. */
double cache_name_timeout(struct utsfs *fs, guint gen);
/*
 * The attribute timeout for a getattr reply about a hostname or domainname
 * file, before it is computed; *series is for cache_value_sized().
 */
double cache_value_timeout(struct utsfs *fs, fuse_ino_t ino, guint64 *series);
/* Whether the kernel holds any size the watcher must take back on a change. */
bool cache_values_armed(struct utsfs *fs);
/* The kernel dropped the size of ino itself (a write or O_TRUNC through us). */
void cache_value_dropped(struct utsfs *fs, fuse_ino_t ino);
/* The size ino's getattr reply armed in series tells, once the value is read... */
void cache_value_sized(struct utsfs *fs, fuse_ino_t ino, guint64 series, off_t size);
/* ...or that it tells none (an error reply). */
void cache_value_unsized(struct utsfs *fs, fuse_ino_t ino, guint64 series);
/* Take back every size the kernel holds. */
void cache_drop_values(struct utsfs *fs);
/* A hostname or domainname changed somewhere: take back the held sizes that changed. */
void cache_check_values(struct utsfs *fs);
/* The mount table changed: unname the nodes whose names no longer hold their namespace. */
void cache_check_names(struct utsfs *fs);
/* Take back the attributes of the files of namespace directory dir (a new owner). */
void cache_drop_files(struct utsfs *fs, fuse_ino_t dir);

/* stat.c */
int stat_ino(struct utsfs *fs, fuse_ino_t ino, struct stat *st);
/* Reply to a lookup of name in the root from the state directory. */
void reply_ns_entry(fuse_req_t req, const char *name);
/*
 * name's entry, whose namespace ns_st describes (its nsfs file), as looked
 * at after cache_name_begin() returned gen. Counts a lookup of its node:
 * the caller hands it to the kernel or forgets it.
 */
void ns_entry(struct utsfs *fs, const char *name, const struct stat *ns_st, guint gen,
	      struct fuse_entry_param *e);
/* Reply with ns_entry()'s entry. */
void reply_ns_stat(fuse_req_t req, const char *name, const struct stat *ns_st, guint gen);
/* Reply to a lookup of name inside the namespace directory dir. */
void reply_attr_entry(fuse_req_t req, fuse_ino_t dir, const char *name);
/* Reply to getattr (getattr true) or setattr of ino. */
void reply_attr(fuse_req_t req, fuse_ino_t ino, bool getattr);
