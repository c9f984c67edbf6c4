/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nsops: every system call utsfs makes on UTS namespaces, the state directory, its own files and mount, and /proc. */
#pragma once

#include <glib.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/*
 * Conventions: functions return 0 (or a non-negative value) on success and a
 * negative errno on failure. Nothing here logs except the one fatal case: a
 * thread that cannot return to the host UTS namespace aborts the process,
 * because it would otherwise serve later requests from the wrong namespace.
 * Nothing here knows about FUSE.
 */

/* The longest hostname/domainname the kernel accepts (__NEW_UTS_LEN). */
#define NSOPS_VALUE_MAX 64
/* The longest name of a namespace (one path component). */
#define NSOPS_NAME_MAX 255

/* Which string of a UTS namespace an operation reads or writes. */
enum nsops_field {
	NSOPS_HOSTNAME,
	NSOPS_DOMAINNAME,
};

/* --- validate.c: pure input checks, no system calls --------------------- */

/* 1-255 bytes, not starting with '.', no '/', no control characters. */
bool nsops_name_is_valid(const char *name, size_t len);
/* 1-64 bytes of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool nsops_value_is_valid(const char *value, size_t len);
/*
 * Turn bytes written to a hostname/domainname file into the value to set:
 * strips one trailing '\n' and validates. Returns the value's length, or
 * -EINVAL when the bytes do not make a valid value.
 */
ssize_t nsops_value_parse(const char *buf, size_t len);

/* --- fd.c: the one fd cleanup helper (glib 2.74 has no g_autofd) --------- */

void nsops_close_fd(int *fd);
#define nsops_autofd __attribute__((cleanup(nsops_close_fd)))

/* --- uts.c: entering namespaces and reading/writing their names ---------- */

/*
 * An fd on the calling thread's UTS namespace, taken once at start-up in the
 * main thread: every other function that enters a namespace returns to it.
 * -EPERM when this thread may not enter it again (no CAP_SYS_ADMIN over it).
 */
int nsops_open_host(void);
/* Id (nsops_ns_id) of the UTS namespace the calling thread is in. */
int nsops_current_id(uint64_t *id);
/* Both fields of the namespace ns_fd (NUL-terminated), with one visit to it. */
int nsops_get_both(int host_fd, int ns_fd, char hostname[NSOPS_VALUE_MAX + 1],
		   char domainname[NSOPS_VALUE_MAX + 1]);
/* Set a field; value must already be valid (nsops_value_is_valid). */
int nsops_set(int host_fd, int ns_fd, enum nsops_field field,
	      const char *value, size_t len);

/* --- caller.c: who asks (a thread id as FUSE tells it) ---------------------- */

/*
 * 0 when thread tid has CAP_SYS_ADMIN in its effective set, in our user
 * namespace; -EPERM when not, when tid is 0 (outside our PID namespace) or
 * the thread is gone.
 */
int nsops_caller_is_admin(pid_t tid);

/*
 * A path as a caller sees it: its root, and who it is, to find what
 * /proc/self and /proc/thread-self are in whichever /proc the path crosses.
 */
struct nsops_view {
	int root;
	/* Its thread-group and thread ids, one per PID namespace, ours first (NStgid, NSpid). */
	char **tgids;
	char **tids;
	/* What tells it apart in any /proc: its start time (stat's 22nd field), its PID namespace. */
	char *start;
	uint64_t pidns;
};

/* The view of thread tid (pinned while looking); -EPERM when tid is 0 or gone. */
int nsops_caller_view(pid_t tid, struct nsops_view *view);
/*
 * What /proc/self (thread_self false) or /proc/thread-self is for the
 * caller of view in the /proc that proc_dir is: "TGID" or "TGID/task/TID"
 * in that /proc's PID namespace. -EPERM when that /proc does not show it.
 */
int nsops_view_self(const struct nsops_view *view, int proc_dir, bool thread_self, char **out);
/* A copy of from that lives on its own (to->root -1 when the fd could not be copied). */
void nsops_view_copy(const struct nsops_view *from, struct nsops_view *to);
void nsops_view_clear(struct nsops_view *view);
typedef struct nsops_view NsopsView;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(NsopsView, nsops_view_clear)

/* --- ns.c: namespaces persisted as bind mounts in a state directory ------ */

/* Where a walk of a path reached the file system it must not look into. */
struct nsops_reached {
	/* The directory it reached there (its inode number as stat shows it). */
	uint64_t ino;
	/* What was left of the path from that directory ("" for nothing). */
	char *rest;
};

void nsops_reached_clear(struct nsops_reached *reached);
typedef struct nsops_reached NsopsReached;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(NsopsReached, nsops_reached_clear)

/*
 * What tells namespaces apart: the 64-bit id NS_GET_ID gives (Linux 6.18),
 * never reused while the system runs; on older kernels the nsfs inode
 * number, which a new namespace may get once the old one is gone. Every
 * "id" below is this one; st_ino stays the inode number (lsns shows it).
 */
int nsops_ns_id(int ns_fd, uint64_t *id);
/* Whether the kernel tells NS_GET_ID ids. */
bool nsops_has_ns_ids(void);

/*
 * Open dir/name and check it is a bind mount of a UTS nsfs file. Returns an
 * O_RDONLY fd (>= 0), fills *st (when not NULL) with the nsfs inode's stat
 * and *id (when not NULL) with the namespace's id. -ENOENT when absent,
 * -EINVAL when the file is not a UTS namespace.
 */
int nsops_open(int dir_fd, const char *name, struct stat *st, uint64_t *id);
/* nsops_open without keeping the fd: whether dir/name is a namespace, its stat and id. */
int nsops_identify(int dir_fd, const char *name, struct stat *st, uint64_t *id);
/*
 * Create a new UTS namespace and persist it as dir/name: unshare in this
 * thread, set hostname (when hostname is not NULL), bind-mount
 * /proc/thread-self/ns/uts onto a new (O_EXCL) empty file, return to the
 * host. Every failure undoes the earlier steps. -EEXIST when the name exists.
 */
int nsops_create(int host_fd, const char *dir, const char *name,
		 const char *hostname, uint64_t *id);
/*
 * Name an existing UTS namespace (as `ip netns attach` does): bind the nsfs
 * file target (e.g. /proc/PID/ns/uts), an absolute path as view sees it,
 * onto dir/name. -ENOENT when target is absent, -ENOTTY when it is no
 * namespace, -EINVAL when another kind. Reaching device avoid (the
 * caller's own FUSE mount, whose directory the kernel may hold locked
 * meanwhile) ends the walk before any name there is looked up: -EXDEV with
 * where it got to in *reached (-EPERM when reached is NULL). A walk that
 * takes over two seconds is given up with -EDEADLK: it may go through a file
 * system that looks names up in the caller's (an overlay of it), which
 * would wait for that lock for ever; the walk ends once the caller has its
 * answer and the kernel lets go.
 */
int nsops_adopt(const char *dir, const char *name, const struct nsops_view *view,
		const char *target, dev_t avoid, struct nsops_reached *reached, uint64_t *id);
/* nsops_adopt()'s first half: an fd on the UTS namespace target names (checked), or -errno. */
int nsops_open_target(const struct nsops_view *view, const char *target, dev_t avoid,
		      struct nsops_reached *reached);
/* Name the UTS namespace ns_fd is open on (checked to be one) as dir/name; its id to *id. */
int nsops_adopt_fd(const char *dir, const char *name, int ns_fd, uint64_t *id);
/* Forget a name: lazy unmount and unlink. -ENOENT when absent. */
int nsops_destroy(const char *dir, const char *name);
/*
 * Rename: the kernel refuses rename(2) of a mount point (EBUSY) and MS_MOVE
 * under a shared mount, so this binds the new name first, then destroys the
 * old one. -EEXIST when to exists.
 */
int nsops_rename(const char *dir, const char *from, const char *to);

/* --- statedir.c: the state directory itself ------------------------------ */

/* An open state directory. */
struct nsops_statedir {
	char *path;
	/* Holds the flock: one daemon owns a state directory at a time. */
	int lock_fd;
	/* The directory as seen through its own bind mount, where names live. */
	int dir_fd;
	/*
	 * The bind mounts seen to hold a UTS namespace, by unique mount id,
	 * with that namespace's id; how many the last listing saw, and whether
	 * the kernel tells such mount ids at all: see statedir.c.
	 */
	GMutex known_lock;
	GHashTable *known;
	guint known_listed;
	bool mount_ids;
	/* Whether ids are NS_GET_ID's (nsops_has_ns_ids), not inode numbers. */
	bool ns_ids;
};

/*
 * Create path (0755) when missing, take an exclusive flock on it, make it a
 * shared mount in its own peer group (as `ip netns` does with /run/netns, so
 * names propagate into mount namespaces created later), and remove the
 * empty files a killed creator of ours left (marked as ours). -EBUSY when
 * another process holds the lock.
 */
int nsops_statedir_open(const char *path, struct nsops_statedir *sd);
void nsops_statedir_close(struct nsops_statedir *sd);

/* One name in the state directory and the namespace it holds: its id and nsfs inode number. */
struct nsops_entry {
	uint64_t id;
	uint64_t ino;
	char name[];
};

/*
 * nsops_identify() of a name in sd: one statx when the name's bind mount
 * was identified before, the full check otherwise; -ENOENT, not -EINVAL,
 * when the name holds no UTS namespace. Safe from any thread.
 * *mnt_id (when not NULL) gets the unique id of the mount that holds it (0
 * before Linux 6.8): the same mount is the same namespace.
 */
int nsops_statedir_identify(struct nsops_statedir *sd, const char *name, struct stat *st,
			    uint64_t *id, uint64_t *mnt_id);

/*
 * Whether name still holds namespace id (nsops_statedir_identify, then a
 * comparison): 0 when it does, -ESTALE when it holds another namespace,
 * -ENOENT when none; st and mnt_id as there.
 */
int nsops_statedir_holds(struct nsops_statedir *sd, const char *name, uint64_t id,
			 struct stat *st, uint64_t *mnt_id);

/*
 * The UTS namespaces in the state directory, sorted by name, each checked
 * with nsops_statedir_identify; anything else there is ignored. *entries is
 * a GPtrArray of struct nsops_entry, freed with g_ptr_array_unref.
 */
int nsops_statedir_list(struct nsops_statedir *sd, GPtrArray **entries);

/*
 * An fd to enter the namespace that name holds, when it still is namespace
 * id: identified as nsops_statedir_identify() does (one statx for a known
 * mount), then opened and checked again; *mnt_id (when not NULL) gets the
 * unique id of the mount opened (0 before Linux 6.8). -ENOENT when the name
 * is gone or holds no UTS namespace, -ESTALE when it holds another one.
 */
int nsops_statedir_open_ns(struct nsops_statedir *sd, const char *name, uint64_t id,
			   uint64_t *mnt_id);
/* Remove files named prefix + six letters or digits: what a write killed midway leaves. */
void nsops_statedir_remove_temporaries(struct nsops_statedir *sd, const char *prefix);

/* --- pids.c: which processes are in a namespace --------------------------- */

/*
 * The PIDs whose UTS namespace is nsfs inode ino (a live namespace's:
 * unique while it lives), ascending, as a GArray of pid_t: all of them for
 * uid 0, for others those whose real or effective uid is uid. Processes
 * that exit meanwhile are skipped.
 */
int nsops_pids(uint64_t ino, uid_t uid, GArray **pids);
/* Whether process pid runs with real or effective uid uid (false when gone). */
bool nsops_pid_runs_as(pid_t pid, uid_t uid);
/* Whether thread tid is in the UTS namespace of nsfs inode ino (false when gone). */
bool nsops_task_in(pid_t tid, uint64_t ino);

/* --- all.c: every UTS namespace on the host ------------------------------ */

/* One namespace a scan found, and how to reach it again without a scan. */
struct nsops_found {
	uint64_t id;
	uint64_t ino;
	/* The nsfs inode's stat: its times are the namespace's. */
	struct stat st;
	/*
	 * A task that is in it (mount NULL), or whose mount namespace has a
	 * bind mount of it at mount; its pidfd (-1 when none could be had)
	 * reaches it without a path. No namespace fd is kept: it would keep a
	 * dead namespace alive.
	 */
	pid_t pid;
	int pidfd;
	char *mount;
	/* Its processes (thread-group ids), ascending. */
	GArray *pids;
};

/*
 * Every UTS namespace that a task is in (/proc/PID/task/TID/ns/uts) or that
 * an nsfs bind mount in some process's mount table holds, each opened once:
 * a GHashTable from id (uint64_t *) to struct nsops_found *. Namespaces held
 * only by an open fd, or by mounts of mount namespaces no process is in,
 * cannot be seen.
 */
int nsops_all_scan(GHashTable **found);
/*
 * A reference on f (the scan's table holds one): what a caller reaches a
 * namespace through stays while a newer scan replaces the table.
 */
struct nsops_found *nsops_found_ref(struct nsops_found *f);
void nsops_found_unref(struct nsops_found *f);
typedef struct nsops_found NsopsFound;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NsopsFound, nsops_found_unref)
/*
 * An fd on f's namespace, through its pinned task, else through any of
 * its processes the scan saw; -ENOENT when none reaches it any more.
 */
int nsops_all_open(const struct nsops_found *f);

/* --- events.c: the kernel's event files ----------------------------------- */

enum nsops_event {
	NSOPS_EVENT_HOSTNAME,
	NSOPS_EVENT_DOMAINNAME,
	NSOPS_EVENT_MOUNTS,
	NSOPS_EVENTS,
};

/*
 * An fd whose poll(2) says POLLPRI once the event happened since its last
 * poll: any sethostname or setdomainname on the host, or any mount or
 * umount in our mount namespace. -errno.
 */
int nsops_event_open(enum nsops_event event);
/* The file behind event, for messages. */
const char *nsops_event_path(enum nsops_event event);
/* poll(2) of event files (and other fds beside them): how many have revents, or -errno. */
int nsops_event_poll(struct pollfd *fds, unsigned int n, int timeout_ms);

/* --- files.c: utsfs's own files (.utsfs.conf, the record) ----------------- */

/* The whole file, NUL-terminated, into *text (g_free it); -ENOENT when absent. */
int nsops_file_read(const char *path, char **text);
/* Replace the file atomically (a temporary file renamed over it), mode 0600. */
int nsops_file_write(const char *path, const char *text, size_t len);
/* Remove the file; 0 when it is gone or never was there. */
int nsops_file_remove(const char *path);
/* Create the directories above path (0700) when missing. */
int nsops_file_make_parent(const char *path);
/*
 * Read a file utsfs trusts, as sshd's StrictModes would: it must be a
 * regular file, root's and writable by nobody else, and so must every
 * directory above it (a sticky one may be writable by all). What is read is
 * the very file checked. 0 with the text in *text (NULL when absent); 1
 * when the file was not trusted and is renamed aside to
 * DIR/.untrusted-NAME-TIME-RANDOM (never over another file), with why and
 * aside set; -EPERM with why set (and aside, if there was a file) when a
 * directory is not, so that nothing should be written there either; other
 * -errno. g_free all three.
 */
int nsops_file_read_trusted(const char *path, char **text, char **why, char **aside);

/* --- mountpoint.c: utsfs's own mount point -------------------------------- */

/* 0 when mountpoint is a directory: the tree's root is one (-ENOTDIR, -errno otherwise). */
int nsops_mountpoint_check(const char *mountpoint);

/*
 * A daemon killed with -9 leaves its mount behind, answering ENOTCONN:
 * detach it. 1 when one was cleared, 0 when there was none, -errno.
 */
int nsops_clear_dead_mount(const char *mountpoint);
/* The device of the mount of type fstype (e.g. "fuse.utsfs") on mountpoint, from mountinfo; 0 if none. */
dev_t nsops_mount_device(const char *mountpoint, const char *fstype);
