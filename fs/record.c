// SPDX-License-Identifier: GPL-2.0-or-later
/* -o restore=PATH: a record of every name and its values, to bring names back after a reboot. */
#include "daemon.h"

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

/*
 * A name gone since the listing is left out; any other failure (out of fds,
 * memory) fails the whole write, which is tried again: a record that
 * silently lacks a live name would lose it at the next reboot.
 */
static int record_name(struct utsfs *fs, GKeyFile *kf, const struct nsops_entry *e)
{
	g_autofree char *group = g_uri_escape_string(e->name, NULL, FALSE);
	char host[NSOPS_VALUE_MAX + 1], domain[NSOPS_VALUE_MAX + 1];
	struct ns_meta m;
	nsops_autofd int fd = nsops_statedir_open_ns(&fs->state, e->name, e->id, NULL);
	int r = fd < 0 ? fd : nsops_get_both(fs->host_fd, fd, host, domain);

	if (r < 0)
		return r == -ENOENT || r == -ESTALE ? 0 : r;
	meta_get(&fs->meta, e->name, e->id, &m);
	g_key_file_set_string(kf, group, "hostname", host);
	g_key_file_set_string(kf, group, "domainname", domain);
	meta_to_group(kf, group, &m);
	return 0;
}

/* Names a restore failed to create stay in the record until a name takes their place. */
static void keep_missed(struct utsfs *fs, GKeyFile *kf)
{
	g_auto(GStrv) groups = g_key_file_get_groups(fs->record.missed, NULL);

	for (char **g = groups; *g; g++)
		if (!g_key_file_has_group(kf, *g))
			keyfile_copy_group(fs->record.missed, *g, kf, *g);
}

/*
 * Only a record that differs from the file goes to disk: every mount on the
 * host and every sethostname in any namespace asks for a save, and most
 * change nothing of ours (reading the file back is cheaper than a write and
 * its fsync, and sees a file someone removed). A failure is logged once,
 * until a write works again.
 */
static bool write_record(struct record *rec, GKeyFile *kf)
{
	g_autofree char *text = g_key_file_to_data(kf, NULL, NULL);
	g_autofree char *on_disk = NULL;
	int r;

	if (nsops_file_read(rec->path, &on_disk) == 0 && g_str_equal(on_disk, text))
		return true;
	r = nsops_file_write(rec->path, text, strlen(text));
	if (r < 0) {
		if (!rec->failing)
			g_warning("cannot write the record %s: %s (trying again)", rec->path,
				  g_strerror(-r));
		rec->failing = true;
		return false;
	}
	if (rec->failing)
		g_message("the record %s is written again", rec->path);
	rec->failing = false;
	return true;
}

bool record_save(struct utsfs *fs)
{
	g_autoptr(GMutexLocker) locker = NULL;
	g_autoptr(GKeyFile) kf = NULL;
	g_autoptr(GPtrArray) entries = NULL;
	int r;

	if (!fs->record.path)
		return true;
	/* One snapshot at a time, so an older one never lands last. */
	locker = g_mutex_locker_new(&fs->record.lock);
	r = nsops_statedir_list(&fs->state, &entries);
	if (r < 0) {
		g_warning("cannot list the state directory for the record: %s", g_strerror(-r));
		return false;
	}
	kf = g_key_file_new();
	g_key_file_set_comment(kf, NULL, NULL,
			       " utsfs -o restore: names to create again when the state directory lacks them",
			       NULL);
	for (guint i = 0; i < entries->len; i++) {
		const struct nsops_entry *e = entries->pdata[i];

		r = record_name(fs, kf, e);
		if (r < 0) {
			g_warning("%s: cannot look into it for the record: %s", e->name, g_strerror(-r));
			return false;
		}
	}
	keep_missed(fs, kf);
	return write_record(&fs->record, kf);
}

/*
 * Writing the record means a look into every namespace (two setns per
 * name) and an fsync: tens of ms at 1,000 names. So a change only marks
 * the record dirty, and a thread of its own writes it, at most every
 * SAVE_GAP_MIN and paced by the CPU the last write took (watch_pace()): a
 * burst of changes costs one write, a flood of them a twentieth of a CPU,
 * and nobody who reports a change waits for one.
 */
#define SAVE_GAP_MIN (100 * G_TIME_SPAN_MILLISECOND)
/* The longest pause between tries after failed writes. */
#define SAVE_RETRY_MAX (5 * G_TIME_SPAN_SECOND)

/* A listener: names, values, owners, whatever changed belongs in the record. */
static void record_changed(void *data)
{
	struct record *rec = data;

	g_mutex_lock(&rec->thread_lock);
	/* Only the first change since the last write needs to wake the thread. */
	if (!rec->dirty) {
		rec->dirty = true;
		g_cond_signal(&rec->thread_cond);
	}
	g_mutex_unlock(&rec->thread_lock);
}

static gpointer record_thread(gpointer data)
{
	struct utsfs *fs = data;
	struct record *rec = &fs->record;
	gint64 next_save = 0;
	/* After failed writes: a pause that doubles up to SAVE_RETRY_MAX. */
	gint64 fail_pause = 0;

	g_mutex_lock(&rec->thread_lock);
	while (!rec->stop) {
		gint64 start;
		bool saved;

		if (!rec->dirty) {
			g_cond_wait(&rec->thread_cond, &rec->thread_lock);
			continue;
		}
		if (g_get_monotonic_time() < next_save) {
			g_cond_wait_until(&rec->thread_cond, &rec->thread_lock, next_save);
			continue;
		}
		/* Cleared before the save: a change during it marks it again. */
		rec->dirty = false;
		g_mutex_unlock(&rec->thread_lock);
		start = watch_thread_cpu();
		saved = record_save(fs);
		if (saved) {
			fail_pause = 0;
			next_save = watch_pace(start, SAVE_GAP_MIN);
		} else {
			fail_pause = CLAMP(2 * fail_pause, SAVE_GAP_MIN, SAVE_RETRY_MAX);
			next_save = g_get_monotonic_time() + fail_pause;
		}
		g_mutex_lock(&rec->thread_lock);
		/* Not saved: still to do, after the pause. */
		if (!saved)
			rec->dirty = true;
	}
	g_mutex_unlock(&rec->thread_lock);
	return NULL;
}

void record_start(struct utsfs *fs)
{
	if (!fs->record.path)
		return;
	listeners_add(&fs->listeners, record_changed, &fs->record);
	fs->record.thread = g_thread_new("utsfs-record", record_thread, fs);
}

void record_stop(struct record *rec)
{
	if (!rec->thread)
		return;
	g_mutex_lock(&rec->thread_lock);
	rec->stop = true;
	g_cond_signal(&rec->thread_cond);
	g_mutex_unlock(&rec->thread_lock);
	g_clear_pointer(&rec->thread, g_thread_join);
}

static int restore_name(struct utsfs *fs, GKeyFile *kf, const char *group, const char *name)
{
	g_autofree char *host = g_key_file_get_string(kf, group, "hostname", NULL);
	g_autofree char *domain = g_key_file_get_string(kf, group, "domainname", NULL);
	const char *values[2] = { [NSOPS_HOSTNAME] = host, [NSOPS_DOMAINNAME] = domain };
	struct ns_meta m;
	uint64_t id;
	int r = meta_forget(&fs->meta, name);

	meta_from_group(kf, group, &m);
	/* As mkdir makes it; then the values kept, each one the kernel would take. */
	if (r == 0)
		r = nsops_create(fs->host_fd, fs->state.path, name,
				 nsops_value_is_valid(name, strlen(name)) ? name : NULL, &id);
	if (r < 0)
		return r;
	nsops_autofd int fd = nsops_statedir_open_ns(&fs->state, name, id, NULL);
	/* Each value kept in the record, when it is one the kernel would take. */
	for (int f = NSOPS_HOSTNAME; fd >= 0 && f <= NSOPS_DOMAINNAME; f++)
		if (values[f] && nsops_value_is_valid(values[f], strlen(values[f])))
			nsops_set(fs->host_fd, fd, f, values[f], strlen(values[f]));
	if (m.uid != 0 || m.gid != 0 || m.mode != META_DEFAULT_MODE)
		r = meta_change(&fs->meta, name, id, &m, META_UID | META_GID | META_MODE);
	return r;
}

int record_restore(struct utsfs *fs, const char *path)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree char *full = g_canonicalize_filename(path, NULL);
	g_autofree char *text = NULL;
	g_auto(GStrv) groups = NULL;
	/* Like the state directory: made when missing, so the first change can be kept. */
	int r = nsops_file_make_parent(full);

	if (r < 0) {
		fprintf(stderr, "utsfs: cannot create the directory of %s: %s\n", full,
			g_strerror(-r));
		return r;
	}
	/*
	 * Only a record that was read (or does not exist yet) is ever written:
	 * one that cannot be read must not be overwritten with less.
	 */
	r = keyfile_load_trusted(kf, full, &text);
	/* Whoever may write a directory above could redirect root's writes: no record. */
	if (r > 0)
		return 0;
	if (r < 0)
		return r;
	/* Written anew: one an older utsfs left readable to all becomes 0600. */
	if (text)
		nsops_file_write(full, text, strlen(text));
	g_mutex_init(&fs->record.lock);
	g_mutex_init(&fs->record.thread_lock);
	g_cond_init(&fs->record.thread_cond);
	fs->record.path = g_steal_pointer(&full);
	fs->record.missed = g_key_file_new();
	groups = g_key_file_get_groups(kf, NULL);
	for (char **g = groups; *g; g++) {
		g_autofree char *name = g_uri_unescape_string(*g, NULL);

		if (!name || !nsops_name_is_valid(name, strlen(name))) {
			g_warning("%s: not restoring [%s]: not a name mkdir would take", full, *g);
			continue;
		}
		if (nsops_statedir_identify(&fs->state, name, NULL, NULL, NULL) == 0)
			continue;
		r = restore_name(fs, kf, *g, name);
		if (r < 0) {
			g_warning("%s: cannot restore: %s", name, g_strerror(-r));
			/* Kept in the record, for the next start to try again. */
			keyfile_copy_group(kf, *g, fs->record.missed, *g);
		} else {
			g_info("%s: restored from %s", name, fs->record.path);
		}
	}
	return 0;
}

void record_close(struct record *rec)
{
	if (!rec->path)
		return;
	g_clear_pointer(&rec->path, g_free);
	g_clear_pointer(&rec->missed, g_key_file_unref);
	g_cond_clear(&rec->thread_cond);
	g_mutex_clear(&rec->thread_lock);
	g_mutex_clear(&rec->lock);
}
