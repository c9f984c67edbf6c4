// SPDX-License-Identifier: GPL-2.0-or-later
/* Owner and mode of delegated namespaces, and the rename journal, kept in STATE_DIR/.utsfs.conf. */
#include "meta.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/*
 * One GKeyFile beside the names, so standard tools can read it:
 *
 *   [web]            the name, URI-escaped (group names cannot hold all bytes)
 *   id=42003         the namespace it was set for (nsops_ns_id), in the boot
 *   boot=8c0e…       boot: ids last one boot. A group whose name is seen
 *   uid=1000         holding another namespace is dropped then and there.
 *   gid=1000
 *   mode=0550
 *
 * Names never chowned or chmodded have no group: root:root 0555.
 * An escaped name never starts with '.', so the journal group cannot clash.
 * Groups without boot= were written by utsfs before 64-bit ids: their id is
 * an inode number, migrated once at start.
 */
#define META_FILE ".utsfs.conf"
#define RENAME_GROUP ".rename"
#define BOOT_ID_FILE "/proc/sys/kernel/random/boot_id"

static char *group_of(const char *name)
{
	return g_uri_escape_string(name, NULL, FALSE);
}

/*
 * Write the file from a snapshot taken under meta_lock, but outside it:
 * writing syncs to disk, and lookups (meta_get) must not wait for that.
 * Saves take turns under save_lock, each snapshotting only once it has its
 * turn, so the last save to finish writes the newest state.
 */
static int meta_save(struct meta *m)
{
	g_autoptr(GMutexLocker) turn = g_mutex_locker_new(&m->save_lock);
	g_autofree char *data = NULL;
	gsize groups = 0, len = 0;
	int r;

	g_mutex_lock(&m->lock);
	g_strfreev(g_key_file_get_groups(m->kf, &groups));
	data = g_key_file_to_data(m->kf, &len, NULL);
	g_mutex_unlock(&m->lock);
	/* Nothing delegated, nothing under way: leave the state directory bare. */
	r = groups == 0 ? nsops_file_remove(m->path) : nsops_file_write(m->path, data, len);
	if (r < 0)
		g_warning("cannot %s %s: %s", groups == 0 ? "remove" : "write", m->path,
			  g_strerror(-r));
	return r;
}

/* Whether name holds namespace id right now. */
static bool name_holds(struct meta *m, const char *name, uint64_t id)
{
	return nsops_statedir_holds(m->sd, name, id, NULL, NULL) == 0;
}

/* Whether group was written in this boot. */
static bool this_boot(struct meta *m, const char *group)
{
	g_autofree char *boot = g_key_file_get_string(m->kf, group, "boot", NULL);

	return boot && g_str_equal(boot, m->boot);
}

/* Key group to namespace id of this boot. */
static void set_id(struct meta *m, const char *group, uint64_t id)
{
	g_key_file_set_uint64(m->kf, group, "id", id);
	g_key_file_set_string(m->kf, group, "boot", m->boot);
}

/*
 * A group written before 64-bit ids (no boot=) keyed its namespace by
 * inode number: keyed anew when its name still holds that inode now.
 */
static void migrate(struct meta *m, const char *group, const char *name)
{
	struct stat st;
	uint64_t id;

	if (!g_key_file_has_key(m->kf, group, "boot", NULL) &&
	    nsops_statedir_identify(m->sd, name, &st, &id, NULL) == 0 &&
	    st.st_ino == g_key_file_get_uint64(m->kf, group, "id", NULL))
		set_id(m, group, id);
}

/*
 * A rename binds the new name, then detaches the old one; a daemon killed
 * in between leaves both. Finish it when the new name made it, else undo.
 */
static void recover_rename(struct meta *m)
{
	g_autofree char *from = g_key_file_get_string(m->kf, RENAME_GROUP, "from", NULL);
	g_autofree char *to = g_key_file_get_string(m->kf, RENAME_GROUP, "to", NULL);
	uint64_t id;
	bool now;

	/* What a file says is checked as mkdir checks a name: never a path. */
	if (!from || !to || !nsops_name_is_valid(from, strlen(from)) ||
	    !nsops_name_is_valid(to, strlen(to))) {
		g_key_file_remove_group(m->kf, RENAME_GROUP, NULL);
		return;
	}
	migrate(m, RENAME_GROUP, to);
	id = g_key_file_get_uint64(m->kf, RENAME_GROUP, "id", NULL);
	now = this_boot(m, RENAME_GROUP);
	g_key_file_remove_group(m->kf, RENAME_GROUP, NULL);
	if (!now)
		return;
	if (name_holds(m, to, id)) {
		if (name_holds(m, from, id))
			nsops_destroy(m->sd->path, from);
		g_info("finished renaming %s to %s, interrupted when utsfs last stopped", from, to);
	} else {
		g_info("undid renaming %s to %s, interrupted when utsfs last stopped", from, to);
	}
}

/* Whether group's namespace is gone: from another boot, or its name holds another. */
static bool is_stale(struct meta *m, const char *group, const char *name)
{
	return !this_boot(m, group) ||
	       !name_holds(m, name, g_key_file_get_uint64(m->kf, group, "id", NULL));
}

/*
 * Groups whose name is gone or holds another namespace: stale. Those of an
 * earlier boot too: no namespace outlives one; -o restore brings names
 * back with the owner and mode the record keeps.
 */
static void prune_stale(struct meta *m)
{
	g_auto(GStrv) groups = g_key_file_get_groups(m->kf, NULL);
	struct ns_meta now;

	for (char **g = groups; *g; g++) {
		g_autofree char *name = g_uri_unescape_string(*g, NULL);

		/* What a file says is checked as mkdir checks a name. */
		if (!name || !nsops_name_is_valid(name, strlen(name))) {
			g_key_file_remove_group(m->kf, *g, NULL);
			continue;
		}
		migrate(m, *g, name);
		if (is_stale(m, *g, name)) {
			g_key_file_remove_group(m->kf, *g, NULL);
			continue;
		}
		/* The file says what the tree shows: no write bits an older utsfs kept. */
		meta_from_group(m->kf, *g, &now);
		meta_to_group(m->kf, *g, &now);
	}
}

int keyfile_load_trusted(GKeyFile *kf, const char *path, char **text)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *why = NULL, *aside = NULL;
	int r = nsops_file_read_trusted(path, text, &why, &aside);

	if (r > 0) {
		g_warning("not trusting %s: %s; moved it to %s, going on without it", path, why,
			  aside);
		return 0;
	}
	if (r == -EPERM && why) {
		g_warning("not trusting %s: %s%s%s, going on without it", path, why,
			  aside ? "; moved it to " : "", aside ? aside : "");
		return 1;
	}
	if (r == 0 && *text &&
	    !g_key_file_load_from_data(kf, *text, (gsize)-1, G_KEY_FILE_KEEP_COMMENTS, &error))
		r = -EINVAL;
	if (r < 0 && why)
		fprintf(stderr, "utsfs: cannot set aside untrusted %s (%s): %s\n", path, why,
			g_strerror(-r));
	else if (r < 0)
		fprintf(stderr, "utsfs: cannot read %s: %s\n", path,
			error ? error->message : g_strerror(-r));
	return r;
}

int meta_open(struct meta *m, struct nsops_statedir *sd)
{
	g_autofree char *text = NULL;
	int r;

	g_mutex_init(&m->lock);
	g_mutex_init(&m->save_lock);
	m->kf = g_key_file_new();
	m->sd = sd;
	m->path = g_build_filename(sd->path, META_FILE, NULL);
	r = nsops_file_read(BOOT_ID_FILE, &m->boot);
	if (r < 0) {
		fprintf(stderr, "utsfs: cannot read %s: %s\n", BOOT_ID_FILE, g_strerror(-r));
		return r;
	}
	g_strstrip(m->boot);
	/* What an atomic write killed midway leaves. */
	nsops_statedir_remove_temporaries(sd, META_FILE ".");
	/* In a state directory others may write, owners are kept from now on all the same. */
	r = keyfile_load_trusted(m->kf, m->path, &text);
	if (r < 0)
		return r;
	recover_rename(m);
	prune_stale(m);
	return meta_save(m);
}

void meta_close(struct meta *m)
{
	if (!m->kf)
		return;
	g_clear_pointer(&m->kf, g_key_file_unref);
	g_clear_pointer(&m->path, g_free);
	g_clear_pointer(&m->boot, g_free);
	g_mutex_clear(&m->save_lock);
	g_mutex_clear(&m->lock);
}

void keyfile_copy_group(GKeyFile *src, const char *from, GKeyFile *dst, const char *to)
{
	g_auto(GStrv) keys = g_key_file_get_keys(src, from, NULL, NULL);

	g_key_file_remove_group(dst, to, NULL);
	for (char **k = keys; k && *k; k++) {
		g_autofree char *v = g_key_file_get_value(src, from, *k, NULL);

		g_key_file_set_value(dst, to, *k, v);
	}
}

/*
 * Write a change to groups, made under the lock and released since. A
 * change that could not be written must not show either: the groups kept
 * in backup (taken before the change) go back as they were.
 */
static int save_or_undo(struct meta *m, GKeyFile *backup, const char *const *groups)
{
	int r = meta_save(m);

	if (r < 0) {
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&m->lock);

		for (; *groups; groups++)
			keyfile_copy_group(backup, *groups, m->kf, *groups);
	}
	return r;
}

/* key of group as a number in base up to max; fallback when absent or anything else. */
static guint64 number_of(GKeyFile *kf, const char *group, const char *key, guint base,
			 guint64 max, guint64 fallback)
{
	g_autofree char *text = g_key_file_get_string(kf, group, key, NULL);
	guint64 n;

	if (!text)
		return fallback;
	g_strstrip(text);
	if (g_ascii_string_to_unsigned(text, base, 0, max, &n, NULL))
		return n;
	g_warning("%s: ignoring %s=%s: not a %s", group, key, text,
		  base == 8 ? "mode" : "user or group id");
	return fallback;
}

void meta_from_group(GKeyFile *kf, const char *group, struct ns_meta *out)
{
	/* (uid_t)-1 means "unchanged" to chown: never an owner. */
	*out = (struct ns_meta){
		.uid = (uid_t)number_of(kf, group, "uid", 10, G_MAXUINT32 - 1, 0),
		.gid = (gid_t)number_of(kf, group, "gid", 10, G_MAXUINT32 - 1, 0),
		/* No write bits, whatever an older utsfs kept. */
		.mode = (mode_t)number_of(kf, group, "mode", 8, 07777, META_DEFAULT_MODE) & 07555,
	};
}

void meta_to_group(GKeyFile *kf, const char *group, const struct ns_meta *m)
{
	g_autofree char *mode = g_strdup_printf("%04o", m->mode);

	g_key_file_set_uint64(kf, group, "uid", m->uid);
	g_key_file_set_uint64(kf, group, "gid", m->gid);
	g_key_file_set_string(kf, group, "mode", mode);
}

/* Only an entry set for namespace id in this boot counts; false when another's is there. */
static bool read_locked(struct meta *m, const char *group, uint64_t id,
			struct ns_meta *out)
{
	bool mine = this_boot(m, group) && g_key_file_get_uint64(m->kf, group, "id", NULL) == id;

	if (mine)
		meta_from_group(m->kf, group, out);
	else
		*out = (struct ns_meta){ .uid = 0, .gid = 0, .mode = META_DEFAULT_MODE };
	return mine || !g_key_file_has_group(m->kf, group);
}

void meta_get(struct meta *m, const char *name, uint64_t id, struct ns_meta *out)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&m->lock);
	g_autofree char *group = group_of(name);

	if (read_locked(m, group, id, out))
		return;
	/*
	 * Seen holding another namespace than its entry's: the entry goes now,
	 * so nothing (a reused inode number before Linux 6.18) can revive it.
	 * Asked again, not trusted from id: the caller's look may be older.
	 */
	if (!is_stale(m, group, name))
		return;
	g_key_file_remove_group(m->kf, group, NULL);
	g_clear_pointer(&locker, g_mutex_locker_free);
	meta_save(m);
}

int meta_change(struct meta *m, const char *name, uint64_t id,
		const struct ns_meta *want, unsigned int fields)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&m->lock);
	g_autofree char *group = group_of(name);
	g_autoptr(GKeyFile) backup = g_key_file_new();
	const char *changed[] = { group, NULL };
	struct ns_meta now;

	keyfile_copy_group(m->kf, group, backup, group);
	/* Read and change under one lock: two chowns must not lose one. */
	read_locked(m, group, id, &now);
	if (fields & META_UID)
		now.uid = want->uid;
	if (fields & META_GID)
		now.gid = want->gid;
	if (fields & META_MODE)
		now.mode = want->mode & 07777;
	set_id(m, group, id);
	meta_to_group(m->kf, group, &now);
	g_clear_pointer(&locker, g_mutex_locker_free);
	return save_or_undo(m, backup, changed);
}

int meta_forget(struct meta *m, const char *name)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&m->lock);
	g_autofree char *group = group_of(name);

	if (!g_key_file_remove_group(m->kf, group, NULL))
		return 0;
	g_clear_pointer(&locker, g_mutex_locker_free);
	return meta_save(m);
}

int meta_begin_rename(struct meta *m, const char *from, const char *to, uint64_t id)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&m->lock);
	g_autofree char *from_group = group_of(from);
	g_autofree char *to_group = group_of(to);
	g_autoptr(GKeyFile) backup = g_key_file_new();
	const char *changed[] = { RENAME_GROUP, to_group, NULL };

	for (const char *const *g = changed; *g; g++)
		keyfile_copy_group(m->kf, *g, backup, *g);
	g_key_file_set_string(m->kf, RENAME_GROUP, "from", from);
	g_key_file_set_string(m->kf, RENAME_GROUP, "to", to);
	set_id(m, RENAME_GROUP, id);
	keyfile_copy_group(m->kf, from_group, m->kf, to_group);
	g_clear_pointer(&locker, g_mutex_locker_free);
	return save_or_undo(m, backup, changed);
}

void meta_end_rename(struct meta *m, const char *from, const char *to, bool done)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&m->lock);
	g_autofree char *group = group_of(done ? from : to);

	g_key_file_remove_group(m->kf, RENAME_GROUP, NULL);
	g_key_file_remove_group(m->kf, group, NULL);
	g_clear_pointer(&locker, g_mutex_locker_free);
	/* A failed write leaves the journal; the next start settles it. */
	meta_save(m);
}
