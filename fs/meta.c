// SPDX-License-Identifier: GPL-2.0-or-later
/* Owner and mode of delegated namespaces, and the rename journal, kept in STATE_DIR/.utsfs.conf. */
#include "utsfs.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

/*
 * One GKeyFile beside the names, so standard tools can read it:
 *
 *   [web]            the name, URI-escaped (group names cannot hold all bytes)
 *   id=4026532177    the namespace it was set for: a group whose name now
 *   uid=1000         holds another namespace is stale and ignored
 *   gid=1000
 *   mode=0750
 *
 * Names never chowned or chmodded have no group: root:root 0755.
 * An escaped name never starts with '.', so the journal group cannot clash.
 */
#define META_FILE ".utsfs.conf"
#define RENAME_GROUP ".rename"
#define DEFAULT_MODE 0755

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
static int meta_save(struct utsfs *fs)
{
	g_autoptr(GMutexLocker) turn = g_mutex_locker_new(&fs->meta_save_lock);
	g_autoptr(GError) error = NULL;
	g_autofree char *path = g_build_filename(fs->state.path, META_FILE, NULL);
	g_autofree char *data = NULL;
	gsize groups = 0, len = 0;

	g_mutex_lock(&fs->meta_lock);
	g_strfreev(g_key_file_get_groups(fs->meta, &groups));
	data = g_key_file_to_data(fs->meta, &len, NULL);
	g_mutex_unlock(&fs->meta_lock);
	/* Nothing delegated, nothing under way: leave the state directory bare. */
	if (groups == 0) {
		int err = g_unlink(path) == 0 ? 0 : errno;

		if (err == 0 || err == ENOENT)
			return 0;
		g_warning("cannot remove %s: %s", path, g_strerror(err));
		return -err;
	}
	/* A temporary file renamed over: never half written. */
	if (g_file_set_contents(path, data, (gssize)len, &error))
		return 0;
	g_warning("cannot write %s: %s", path, error->message);
	/* A full /run is the one failure worth telling apart. */
	return g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOSPC) ? -ENOSPC : -EIO;
}

/* Whether name holds namespace id right now. */
static bool name_holds(struct utsfs *fs, const char *name, uint64_t id)
{
	struct stat st;

	return nsops_statedir_identify(&fs->state, name, &st) == 0 && st.st_ino == id;
}

/*
 * A rename binds the new name, then detaches the old one; a daemon killed
 * in between leaves both. Finish it when the new name made it, else undo.
 */
static void recover_rename(struct utsfs *fs)
{
	g_autofree char *from = g_key_file_get_string(fs->meta, RENAME_GROUP, "from", NULL);
	g_autofree char *to = g_key_file_get_string(fs->meta, RENAME_GROUP, "to", NULL);
	uint64_t id = g_key_file_get_uint64(fs->meta, RENAME_GROUP, "id", NULL);

	g_key_file_remove_group(fs->meta, RENAME_GROUP, NULL);
	if (!from || !to)
		return;
	if (name_holds(fs, to, id)) {
		if (name_holds(fs, from, id))
			nsops_destroy(fs->state.path, from);
		g_info("finished renaming %s to %s, interrupted when utsfs last stopped", from, to);
	} else {
		g_info("undid renaming %s to %s, interrupted when utsfs last stopped", from, to);
	}
}

/* Groups whose name is gone or holds another namespace: stale. */
static void prune_stale(struct utsfs *fs)
{
	g_auto(GStrv) groups = g_key_file_get_groups(fs->meta, NULL);

	for (char **g = groups; *g; g++) {
		g_autofree char *name = g_uri_unescape_string(*g, NULL);
		uint64_t id = g_key_file_get_uint64(fs->meta, *g, "id", NULL);

		if (!name || !name_holds(fs, name, id))
			g_key_file_remove_group(fs->meta, *g, NULL);
	}
}

/* g_file_set_contents' temporary files, left when the daemon was killed mid-write. */
static void remove_temporaries(struct utsfs *fs)
{
	g_autoptr(GDir) dir = g_dir_open(fs->state.path, 0, NULL);
	const char *entry;

	while (dir && (entry = g_dir_read_name(dir))) {
		if (g_str_has_prefix(entry, META_FILE ".")) {
			g_autofree char *path = g_build_filename(fs->state.path, entry, NULL);

			g_unlink(path);
		}
	}
}

int meta_open(struct utsfs *fs)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = g_build_filename(fs->state.path, META_FILE, NULL);

	g_mutex_init(&fs->meta_lock);
	g_mutex_init(&fs->meta_save_lock);
	fs->meta = g_key_file_new();
	remove_temporaries(fs);
	if (!g_key_file_load_from_file(fs->meta, path, G_KEY_FILE_KEEP_COMMENTS, &error) &&
	    !g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
		fprintf(stderr, "utsfs: cannot read %s: %s\n", path, error->message);
		return -EINVAL;
	}
	recover_rename(fs);
	prune_stale(fs);
	return meta_save(fs);
}

void meta_close(struct utsfs *fs)
{
	if (!fs->meta)
		return;
	g_clear_pointer(&fs->meta, g_key_file_unref);
	g_mutex_clear(&fs->meta_save_lock);
	g_mutex_clear(&fs->meta_lock);
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
 * A change that could not be written must not show either: put the groups
 * kept in backup (taken before the change) back as they were.
 */
static void undo_groups(struct utsfs *fs, GKeyFile *backup, const char *const *groups)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->meta_lock);

	for (; *groups; groups++)
		keyfile_copy_group(backup, *groups, fs->meta, *groups);
}

static void read_locked(struct utsfs *fs, const char *group, uint64_t id,
			struct ns_meta *m)
{
	g_autofree char *mode = NULL;

	*m = (struct ns_meta){ .uid = 0, .gid = 0, .mode = DEFAULT_MODE };
	if (g_key_file_get_uint64(fs->meta, group, "id", NULL) != id)
		return;
	m->uid = (uid_t)g_key_file_get_uint64(fs->meta, group, "uid", NULL);
	m->gid = (gid_t)g_key_file_get_uint64(fs->meta, group, "gid", NULL);
	mode = g_key_file_get_string(fs->meta, group, "mode", NULL);
	if (mode)
		m->mode = (mode_t)g_ascii_strtoull(mode, NULL, 8) & 07777;
}

void meta_get(struct utsfs *fs, const char *name, uint64_t id, struct ns_meta *m)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->meta_lock);
	g_autofree char *group = group_of(name);

	read_locked(fs, group, id, m);
}

int meta_change(struct utsfs *fs, const char *name, uint64_t id,
		const struct ns_meta *want, unsigned int fields)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->meta_lock);
	g_autofree char *group = group_of(name);
	g_autofree char *mode = NULL;
	g_autoptr(GKeyFile) backup = g_key_file_new();
	const char *changed[] = { group, NULL };
	struct ns_meta m;
	int r;

	keyfile_copy_group(fs->meta, group, backup, group);
	/* Read and change under one lock: two chowns must not lose one. */
	read_locked(fs, group, id, &m);
	if (fields & META_UID)
		m.uid = want->uid;
	if (fields & META_GID)
		m.gid = want->gid;
	if (fields & META_MODE)
		m.mode = want->mode & 07777;
	mode = g_strdup_printf("%04o", m.mode);
	g_key_file_set_uint64(fs->meta, group, "id", id);
	g_key_file_set_uint64(fs->meta, group, "uid", m.uid);
	g_key_file_set_uint64(fs->meta, group, "gid", m.gid);
	g_key_file_set_string(fs->meta, group, "mode", mode);
	g_clear_pointer(&locker, g_mutex_locker_free);
	r = meta_save(fs);
	if (r < 0)
		undo_groups(fs, backup, changed);
	return r;
}

int meta_forget(struct utsfs *fs, const char *name)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->meta_lock);
	g_autofree char *group = group_of(name);

	if (!g_key_file_remove_group(fs->meta, group, NULL))
		return 0;
	g_clear_pointer(&locker, g_mutex_locker_free);
	return meta_save(fs);
}


int meta_begin_rename(struct utsfs *fs, const char *from, const char *to, uint64_t id)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->meta_lock);
	g_autofree char *from_group = group_of(from);
	g_autofree char *to_group = group_of(to);
	g_autoptr(GKeyFile) backup = g_key_file_new();
	const char *changed[] = { RENAME_GROUP, to_group, NULL };
	int r;

	for (const char *const *g = changed; *g; g++)
		keyfile_copy_group(fs->meta, *g, backup, *g);
	g_key_file_set_string(fs->meta, RENAME_GROUP, "from", from);
	g_key_file_set_string(fs->meta, RENAME_GROUP, "to", to);
	g_key_file_set_uint64(fs->meta, RENAME_GROUP, "id", id);
	keyfile_copy_group(fs->meta, from_group, fs->meta, to_group);
	g_clear_pointer(&locker, g_mutex_locker_free);
	r = meta_save(fs);
	if (r < 0)
		undo_groups(fs, backup, changed);
	return r;
}

void meta_end_rename(struct utsfs *fs, const char *from, const char *to, bool done)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->meta_lock);
	g_autofree char *group = group_of(done ? from : to);

	g_key_file_remove_group(fs->meta, RENAME_GROUP, NULL);
	g_key_file_remove_group(fs->meta, group, NULL);
	g_clear_pointer(&locker, g_mutex_locker_free);
	/* A failed write leaves the journal; the next start settles it. */
	meta_save(fs);
}
