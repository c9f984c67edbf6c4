// SPDX-License-Identifier: GPL-2.0-or-later
/* -o restore=PATH: a record of every name and its values, to bring names back after a reboot. */
#include "utsfs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/*
 * The state directory lives in /run and its mounts die with the machine.
 * The record (a GKeyFile, one group per URI-escaped name) keeps hostname,
 * domainname, owner and mode; at start, names it holds that the state
 * directory lacks are created again. Names the state directory has are
 * left as they are: it stays the source of truth.
 */

static void record_name(struct utsfs *fs, GKeyFile *kf, const struct nsops_entry *e)
{
	g_autofree char *group = g_uri_escape_string(e->name, NULL, FALSE);
	g_autofree char *mode = NULL;
	char host[NSOPS_VALUE_MAX + 1], domain[NSOPS_VALUE_MAX + 1];
	struct ns_meta m;
	nsops_autofd int fd = nsops_open_listed(fs->state.dir_fd, e);

	if (fd < 0 || nsops_get_both(fs->host_fd, fd, host, domain) < 0)
		return;
	meta_get(fs, e->name, e->id, &m);
	mode = g_strdup_printf("%04o", m.mode);
	g_key_file_set_string(kf, group, "hostname", host);
	g_key_file_set_string(kf, group, "domainname", domain);
	g_key_file_set_uint64(kf, group, "uid", m.uid);
	g_key_file_set_uint64(kf, group, "gid", m.gid);
	g_key_file_set_string(kf, group, "mode", mode);
}

/* Names a restore failed to create stay in the record until a name takes their place. */
static void keep_missed(struct utsfs *fs, GKeyFile *kf)
{
	g_auto(GStrv) groups = g_key_file_get_groups(fs->record_missed, NULL);

	for (char **g = groups; *g; g++)
		if (!g_key_file_has_group(kf, *g))
			keyfile_copy_group(fs->record_missed, *g, kf, *g);
}

/*
 * Only a record that differs from the file goes to disk: every mount on the
 * host and every sethostname in any namespace asks for a save, and most
 * change nothing of ours (reading the file back is cheaper than a write and
 * its fsync, and sees a file someone removed). A failure is logged once,
 * until a write works again.
 */
static bool write_record(struct utsfs *fs, GKeyFile *kf)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *text = g_key_file_to_data(kf, NULL, NULL);
	g_autofree char *on_disk = NULL;

	if (g_file_get_contents(fs->record_path, &on_disk, NULL, NULL) &&
	    g_str_equal(on_disk, text))
		return true;
	if (!g_file_set_contents(fs->record_path, text, -1, &error)) {
		if (!fs->record_failing)
			g_warning("cannot write the record %s: %s (trying again)",
				  fs->record_path, error->message);
		fs->record_failing = true;
		return false;
	}
	if (fs->record_failing)
		g_message("the record %s is written again", fs->record_path);
	fs->record_failing = false;
	return true;
}

bool record_save(struct utsfs *fs)
{
	g_autoptr(GMutexLocker) locker = NULL;
	g_autoptr(GKeyFile) kf = NULL;
	g_autoptr(GPtrArray) entries = NULL;
	int r;

	if (!fs->record_path)
		return true;
	/* One snapshot at a time, so an older one never lands last. */
	locker = g_mutex_locker_new(&fs->record_lock);
	r = nsops_statedir_list(&fs->state, &entries);
	if (r < 0) {
		g_warning("cannot list the state directory for the record: %s", g_strerror(-r));
		return false;
	}
	kf = g_key_file_new();
	g_key_file_set_comment(kf, NULL, NULL,
			       " utsfs -o restore: names to create again when the state directory lacks them",
			       NULL);
	for (guint i = 0; i < entries->len; i++)
		record_name(fs, kf, entries->pdata[i]);
	keep_missed(fs, kf);
	return write_record(fs, kf);
}

/*
 * Writing the record means a look into every namespace (two setns per
 * name) and an fsync: tens of ms at 1,000 names. So requests only mark the
 * record changed, and a thread of its own writes it, at most every
 * SAVE_GAP_MIN and spaced by the CPU the last write took (watch_spaced()),
 * but never more than SAVE_GAP_MAX apart: a burst of changes costs one
 * write, and the watcher never waits for one.
 */
#define SAVE_GAP_MIN (100 * G_TIME_SPAN_MILLISECOND)
#define SAVE_GAP_MAX (5 * G_TIME_SPAN_SECOND)

void record_changed(struct utsfs *fs)
{
	if (!fs->record_path)
		return;
	g_mutex_lock(&fs->recorder_lock);
	/* Only the first change since the last save needs to wake the recorder. */
	if (!fs->record_dirty) {
		fs->record_dirty = true;
		g_cond_signal(&fs->recorder_cond);
	}
	g_mutex_unlock(&fs->recorder_lock);
}

static gpointer recorder_thread(gpointer data)
{
	struct utsfs *fs = data;
	gint64 next_save = 0;
	/* After failed writes: a pause that doubles up to SAVE_GAP_MAX. */
	gint64 fail_pause = 0;

	g_mutex_lock(&fs->recorder_lock);
	while (!fs->recorder_stop) {
		gint64 start;
		bool saved;

		if (!fs->record_dirty) {
			g_cond_wait(&fs->recorder_cond, &fs->recorder_lock);
			continue;
		}
		if (g_get_monotonic_time() < next_save) {
			g_cond_wait_until(&fs->recorder_cond, &fs->recorder_lock, next_save);
			continue;
		}
		/* Cleared before the save: a change during it marks it again. */
		fs->record_dirty = false;
		g_mutex_unlock(&fs->recorder_lock);
		start = watch_thread_cpu();
		saved = record_save(fs);
		if (saved) {
			fail_pause = 0;
			next_save = watch_spaced(start, SAVE_GAP_MIN, SAVE_GAP_MAX);
		} else {
			fail_pause = CLAMP(2 * fail_pause, SAVE_GAP_MIN, SAVE_GAP_MAX);
			next_save = g_get_monotonic_time() + fail_pause;
		}
		g_mutex_lock(&fs->recorder_lock);
		/* Not saved: still to do, after the pause. */
		if (!saved)
			fs->record_dirty = true;
	}
	g_mutex_unlock(&fs->recorder_lock);
	return NULL;
}

void record_start(struct utsfs *fs)
{
	if (fs->record_path)
		fs->recorder = g_thread_new("utsfs-record", recorder_thread, fs);
}

void record_stop(struct utsfs *fs)
{
	if (!fs->recorder)
		return;
	g_mutex_lock(&fs->recorder_lock);
	fs->recorder_stop = true;
	g_cond_signal(&fs->recorder_cond);
	g_mutex_unlock(&fs->recorder_lock);
	g_thread_join(fs->recorder);
	fs->recorder = NULL;
}

/* Set a value kept in the record, when it is one the kernel would take. */
static void restore_field(struct utsfs *fs, int ns_fd, enum nsops_field field,
			  const char *value)
{
	if (value && nsops_value_is_valid(value, strlen(value)))
		nsops_set(fs->host_fd, ns_fd, field, value, strlen(value));
}

static int restore_name(struct utsfs *fs, GKeyFile *kf, const char *group, const char *name)
{
	g_autofree char *host = g_key_file_get_string(kf, group, "hostname", NULL);
	g_autofree char *domain = g_key_file_get_string(kf, group, "domainname", NULL);
	g_autofree char *mode = g_key_file_get_string(kf, group, "mode", NULL);
	struct ns_meta m = {
		.uid = (uid_t)g_key_file_get_uint64(kf, group, "uid", NULL),
		.gid = (gid_t)g_key_file_get_uint64(kf, group, "gid", NULL),
		.mode = mode ? (mode_t)g_ascii_strtoull(mode, NULL, 8) : 0755,
	};
	uint64_t id;
	int r = meta_forget(fs, name);

	if (r == 0)
		r = nsops_create(fs->host_fd, fs->state.path, name, NULL, &id);
	if (r < 0)
		return r;
	nsops_autofd int fd = nsops_open(fs->state.dir_fd, name, NULL);
	if (fd >= 0) {
		restore_field(fs, fd, NSOPS_HOSTNAME, host);
		restore_field(fs, fd, NSOPS_DOMAINNAME, domain);
	}
	if (m.uid != 0 || m.gid != 0 || (m.mode & 07777) != 0755)
		r = meta_change(fs, name, id, &m, META_UID | META_GID | META_MODE);
	return r;
}

int record_restore(struct utsfs *fs, const char *path)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) groups = NULL;
	g_autofree char *parent = NULL;

	g_autofree char *full = g_canonicalize_filename(path, NULL);

	/* Like the state directory: made when missing, so the first change can be kept. */
	parent = g_path_get_dirname(full);
	if (g_mkdir_with_parents(parent, 0755) < 0) {
		int err = errno;

		fprintf(stderr, "utsfs: cannot create %s: %s\n", parent, g_strerror(err));
		return -err;
	}
	/*
	 * Only a record that was read (or does not exist yet) is ever written:
	 * one that cannot be read must not be overwritten with less.
	 */
	if (!g_key_file_load_from_file(kf, full, G_KEY_FILE_NONE, &error) &&
	    !g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
		fprintf(stderr, "utsfs: cannot read the record %s: %s\n", full, error->message);
		return -EINVAL;
	}
	g_mutex_init(&fs->record_lock);
	g_mutex_init(&fs->recorder_lock);
	g_cond_init(&fs->recorder_cond);
	fs->record_path = g_steal_pointer(&full);
	fs->record_missed = g_key_file_new();
	groups = g_key_file_get_groups(kf, NULL);
	for (char **g = groups; *g; g++) {
		g_autofree char *name = g_uri_unescape_string(*g, NULL);
		int r;

		if (!name || !nsops_name_is_valid(name, strlen(name)))
			continue;
		if (nsops_statedir_identify(&fs->state, name, NULL) == 0)
			continue;
		r = restore_name(fs, kf, *g, name);
		if (r < 0) {
			g_warning("%s: cannot restore: %s", name, g_strerror(-r));
			/* Kept in the record, for the next start to try again. */
			keyfile_copy_group(kf, *g, fs->record_missed, *g);
		}
		else
			g_info("%s: restored from %s", name, fs->record_path);
	}
	return 0;
}

void record_close(struct utsfs *fs)
{
	if (!fs->record_path)
		return;
	g_clear_pointer(&fs->record_path, g_free);
	g_clear_pointer(&fs->record_missed, g_key_file_unref);
	g_cond_clear(&fs->recorder_cond);
	g_mutex_clear(&fs->recorder_lock);
	g_mutex_clear(&fs->record_lock);
}
