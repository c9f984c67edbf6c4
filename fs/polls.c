// SPDX-License-Identifier: GPL-2.0-or-later
/* Pending polls on attribute files, and waking them: as /proc/sys/kernel/hostname does, POLLPRI once the value changed. */
#include "daemon.h"
#include "open_file.h"

void polls_init(struct polls *p)
{
	g_mutex_init(&p->lock);
	p->pending = g_hash_table_new(g_direct_hash, g_direct_equal);
}

void polls_free(struct polls *p)
{
	g_clear_pointer(&p->pending, g_hash_table_unref);
	g_mutex_clear(&p->lock);
}

void polls_add(struct polls *p, struct open_file *of, struct fuse_pollhandle *ph)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&p->lock);

	g_clear_pointer(&of->ph, fuse_pollhandle_destroy);
	of->ph = ph;
	g_hash_table_add(p->pending, of);
}

void polls_forget(struct polls *p, struct open_file *of)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&p->lock);

	if (of->last_read)
		g_string_free(g_steal_pointer(&of->last_read), TRUE);
	g_hash_table_remove(p->pending, of);
	g_clear_pointer(&of->ph, fuse_pollhandle_destroy);
}

void polls_note_read(struct polls *p, struct open_file *of, const GString *content)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&p->lock);

	if (!of->last_read)
		of->last_read = g_string_new(NULL);
	g_string_assign(of->last_read, content->str);
}

/* Whether content (NULL: it could not be read) is news to of; under the lock. */
static bool is_news(const struct open_file *of, const GString *content)
{
	return of->last_read && (!content || !g_string_equal(content, of->last_read));
}

static void free_content(gpointer content)
{
	if (content)
		g_string_free(content, TRUE);
}

/* The content of row def in directory node dir now, or NULL when it cannot be read. */
static GString *content_now(struct utsfs *fs, const struct attr_def *def, fuse_ino_t dir)
{
	GString *now = g_string_new(NULL);

	if (attr_content(fs, def, dir, 0, now) < 0)
		g_clear_pointer(&now, free_content);
	return now;
}

bool polls_changed(struct utsfs *fs, struct open_file *of)
{
	g_autoptr(GString) now = content_now(fs, of->def, of->dir);
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->polls.lock);

	return is_news(of, now);
}

/* The node ids of the files polled, each once, as keys of a table for their content. */
static GHashTable *polled_files(struct polls *p)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&p->lock);
	GHashTable *files = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
						  free_content);
	GHashTableIter it;
	gpointer key;

	g_hash_table_iter_init(&it, p->pending);
	/* A file polled by several handles: insert frees the second copy of its key. */
	while (g_hash_table_iter_next(&it, &key, NULL))
		g_hash_table_insert(files, g_memdup2(&((const struct open_file *)key)->ino,
						     sizeof(fuse_ino_t)), NULL);
	return files;
}

void polls_wake_changed(struct utsfs *fs)
{
	g_autoptr(GHashTable) files = polled_files(&fs->polls);
	GHashTableIter it;
	gpointer key, content;

	/* Without the lock: reading a value may enter its namespace. */
	g_hash_table_iter_init(&it, files);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		fuse_ino_t dir;
		const struct attr_def *def = attr_from_ino(*(const fuse_ino_t *)key, &dir);

		g_hash_table_iter_replace(&it, content_now(fs, def, dir));
	}
	g_mutex_lock(&fs->polls.lock);
	g_hash_table_iter_init(&it, fs->polls.pending);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		struct open_file *of = key;

		/* A file first polled meanwhile has looked for itself, after this change. */
		if (!g_hash_table_lookup_extended(files, &of->ino, NULL, &content) ||
		    !is_news(of, content))
			continue;
		fuse_lowlevel_notify_poll(of->ph);
		g_clear_pointer(&of->ph, fuse_pollhandle_destroy);
		g_hash_table_iter_remove(&it);
	}
	g_mutex_unlock(&fs->polls.lock);
}
