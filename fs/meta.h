/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Owner and mode of delegated namespaces, and the rename journal, kept in STATE_DIR/.utsfs.conf. */
#pragma once

#include "common.h"

struct meta {
	/* Guards kf. */
	GMutex lock;
	/* Taken before lock: one write of the file at a time, newest last. */
	GMutex save_lock;
	GKeyFile *kf;
	/* STATE_DIR/.utsfs.conf */
	char *path;
	/* The kernel's boot id: entries are for ids of this boot only. */
	char *boot;
	struct nsops_statedir *sd;
};

/* Namespace directories never show write bits: nothing can be made in them. */
#define META_DEFAULT_MODE 0555

/* Owner and permission bits of a namespace directory (and its files' owner). */
struct ns_meta {
	uid_t uid;
	gid_t gid;
	mode_t mode;
};

enum { META_UID = 1, META_GID = 2, META_MODE = 4 };

/* Owner and mode as a group of a key file holds them (uid=, gid=, mode=0550); root:root 0555 by default. */
void meta_from_group(GKeyFile *kf, const char *group, struct ns_meta *out);
void meta_to_group(GKeyFile *kf, const char *group, const struct ns_meta *m);
/* Make group `to` of dst a copy of group `from` of src (absent when that is). */
void keyfile_copy_group(GKeyFile *src, const char *from, GKeyFile *dst, const char *to);
/*
 * Load one of utsfs's own files (.utsfs.conf, the record) into kf, and its
 * text into *text (NULL when absent). One that someone but root could have
 * written is set aside first, with a log line, and counts as absent: 0;
 * 1 when that is so because of a directory above it, where nothing should
 * be written either. -errno, with a message, when it cannot be set aside,
 * read or parsed.
 */
int keyfile_load_trusted(GKeyFile *kf, const char *path, char **text);
/* Load STATE_DIR/.utsfs.conf, settle an interrupted rename, drop stale entries. */
int meta_open(struct meta *m, struct nsops_statedir *sd);
void meta_close(struct meta *m);
void meta_get(struct meta *m, const char *name, uint64_t id, struct ns_meta *out);
/* Set the fields of want named by fields (META_*), keeping the others. */
int meta_change(struct meta *m, const char *name, uint64_t id,
		const struct ns_meta *want, unsigned int fields);
int meta_forget(struct meta *m, const char *name);
/* Journal a rename of namespace id and copy from's entry to to, before acting. */
int meta_begin_rename(struct meta *m, const char *from, const char *to, uint64_t id);
/* Drop the journal and from's entry (done) or to's copy (not done). */
void meta_end_rename(struct meta *m, const char *from, const char *to, bool done);
