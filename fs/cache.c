// SPDX-License-Identifier: GPL-2.0-or-later
/* What the kernel may cache of the tree, and taking it back when something changes behind our back. */
#include "attrs.h"
#include "open_file.h"

#include <errno.h>
#include <string.h>
#include <linux/fuse.h>
#include <unistd.h>

/*
 * A walk of MOUNT/NAME/hostname would otherwise ask us for NAME (LOOKUP)
 * and for hostname's mode (GETATTR: default_permissions checks it) before
 * every OPEN: two of the three round trips of open+read+close. The kernel
 * may keep both for as long as nothing changes them, because the watcher
 * (watch.c) sees every change that happens behind our back:
 *
 *  - Names. Whatever another tool does to a name in the state directory
 *    (umount, rm, mount --bind, mv) is a mount or umount there, and every
 *    mount or umount bumps /proc/self/mountinfo (POLLPRI). Then each name
 *    the kernel holds is checked with one fstatat; the stale ones lose
 *    their node (see drop_names()). The kernel keeps a name for a second.
 *    Such checks are spaced out (watch.c): events meanwhile wait for the
 *    next one.
 *  - Sizes of hostname and domainname. Any sethostname or setdomainname on
 *    the host bumps /proc/sys/kernel/{hostname,domainname}. Then each size
 *    the kernel holds ("armed" ids) is looked at again, and taken back
 *    (inval_inode) when it changed (see cache_check_values()).
 *
 * Content never comes from the page cache (direct_io): every read comes to
 * us, and changes.c tells at once whether the value we kept is current.
 * Changes through the mount show at once (the kernel updates what it holds
 * from our replies); changes behind our back show as soon as the watcher
 * wakes: well under a millisecond later for sizes, milliseconds for
 * names. Without a watcher every timeout is 0.
 */
#define CACHE_TIMEOUT 86400.0
/* How long the kernel may keep a name: see drop_names() for why not longer. */
#define NAME_TIMEOUT 1.0

/*
 * What the kernel may hold of one file's size. Getattr replies armed in
 * one series (until a change or a write takes the size back) reach the
 * kernel in an order we cannot know, and it keeps the first one it
 * applies: a size is kept through a change elsewhere only when every
 * reply of its series has told it, and all told the same.
 */
struct armed_size {
	/* The key. */
	fuse_ino_t ino;
	/* Which series; each taking back ends one. */
	guint64 series;
	/* Replies of the series whose size is not told yet. */
	guint pending;
	/* The size + 1 the told replies agree on; 0 before the first. */
	gsize told;
	/* The told replies disagreed. */
	bool mixed;
};

static GHashTable *armed_new(void)
{
	return g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
}

void cache_init(struct utsfs *fs)
{
	g_mutex_init(&fs->cache_lock);
	fs->armed = armed_new();
}

void cache_free(struct utsfs *fs)
{
	g_clear_pointer(&fs->armed, g_hash_table_unref);
	g_mutex_clear(&fs->cache_lock);
}

static bool cache_is_on(struct utsfs *fs)
{
	return g_atomic_int_get(&fs->cache_on);
}

void cache_enable(struct utsfs *fs)
{
	g_atomic_int_set(&fs->epoch_works, 1);
	g_atomic_int_set(&fs->cache_on, 1);
}

guint cache_name_begin(struct utsfs *fs)
{
	return (guint)g_atomic_int_get(&fs->names_gen);
}

/*
 * A check that began after the lookup looked may have missed the node
 * (it was not counted yet): such a reply is not cached. A check that
 * began later sees the node and unnames it if it is stale.
 */
double cache_name_timeout(struct utsfs *fs, guint gen)
{
	if (!cache_is_on(fs) || (guint)g_atomic_int_get(&fs->names_gen) != gen)
		return 0;
	return NAME_TIMEOUT;
}

/*
 * Armed before the value is read: a change after that takes it back.
 * Only the kernel's getattr replies may arm: for an inode it already has,
 * it ignores a reply that an inval_inode overtook; a lookup reply can
 * create the inode after the inval_inode found none, so lookups never
 * give hostname and domainname a timeout (see stat.c).
 *
 * *series names the arming for cache_value_sized().
 */
double cache_value_timeout(struct utsfs *fs, fuse_ino_t ino, guint64 *series)
{
	struct armed_size *a;
	bool first;

	g_mutex_lock(&fs->cache_lock);
	/* Under the lock: cache_disable() must not miss an arming. */
	if (!cache_is_on(fs)) {
		g_mutex_unlock(&fs->cache_lock);
		return 0;
	}
	first = g_hash_table_size(fs->armed) == 0;
	a = g_hash_table_lookup(fs->armed, &ino);
	if (!a) {
		a = g_new0(struct armed_size, 1);
		a->ino = ino;
		a->series = ++fs->armed_series;
		g_hash_table_insert(fs->armed, &a->ino, a);
	}
	a->pending++;
	*series = a->series;
	g_mutex_unlock(&fs->cache_lock);
	/* The watcher may have stopped listening for changes: it must hear this one's. */
	if (first)
		watch_kick(fs);
	return CACHE_TIMEOUT;
}

static void note_told(struct armed_size *a, gsize told)
{
	if (a->told == 0)
		a->told = told;
	else if (a->told != told)
		a->mixed = true;
}

/*
 * ino's armed size, if its series is still series, with one reply fewer
 * pending; under cache_lock. A series taken back since is gone: an
 * inval_inode overtook its replies.
 */
static struct armed_size *reply_done(struct utsfs *fs, fuse_ino_t ino, guint64 series)
{
	struct armed_size *a = g_hash_table_lookup(fs->armed, &ino);

	if (!a || a->series != series)
		return NULL;
	a->pending--;
	return a;
}

void cache_value_sized(struct utsfs *fs, fuse_ino_t ino, guint64 series, off_t size)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->cache_lock);
	struct armed_size *a = reply_done(fs, ino, series);

	if (a)
		note_told(a, (gsize)size + 1);
}

void cache_value_unsized(struct utsfs *fs, fuse_ino_t ino, guint64 series)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->cache_lock);

	/* An error reply changes nothing the kernel holds. */
	reply_done(fs, ino, series);
}

bool cache_values_armed(struct utsfs *fs)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->cache_lock);

	return g_hash_table_size(fs->armed) > 0;
}

void cache_value_dropped(struct utsfs *fs, fuse_ino_t ino)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->cache_lock);

	g_hash_table_remove(fs->armed, &ino);
}

static void inval_inode(struct utsfs *fs, fuse_ino_t ino)
{
	/* -ENOENT: the kernel holds nothing of ino. Nothing else can go wrong here. */
	fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
}

/* Every armed size, out of the table, which starts empty again. */
static GHashTable *take_armed(struct utsfs *fs)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->cache_lock);
	GHashTable *taken = g_steal_pointer(&fs->armed);

	fs->armed = armed_new();
	return taken;
}

void cache_drop_values(struct utsfs *fs)
{
	g_autoptr(GHashTable) taken = take_armed(fs);
	GHashTableIter it;
	gpointer key;

	/* Taken out under the lock, told to the kernel outside it. */
	g_hash_table_iter_init(&it, taken);
	while (g_hash_table_iter_next(&it, &key, NULL))
		inval_inode(fs, *(fuse_ino_t *)key);
}

/*
 * Looking at a value again costs entering its namespace (some 5 µs); past
 * this many armed sizes, a change takes them all back unlooked, as the
 * next open of each then asks for its size anyway.
 */
#define CHECK_VALUES_MAX 64

/* Whether the kernel surely holds the size a's replies told, and the value still has it. */
static bool same_size(struct utsfs *fs, const struct armed_size *a)
{
	char value[NSOPS_VALUE_MAX + 1];
	fuse_ino_t dir;
	size_t row;
	const struct attr_def *def = attr_from_ino(a->ino, &dir, &row);

	if (!def || def->field < 0 || a->pending > 0 || a->told == 0 || a->mixed)
		return false;
	return node_value(fs, dir, def->field, value) == 0 &&
	       strlen(value) + 1 == a->told - 1;
}

/* Back into the table; replies armed meanwhile may tell another size. */
static void keep_size(struct utsfs *fs, struct armed_size *a)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->cache_lock);
	struct armed_size *now = g_hash_table_lookup(fs->armed, &a->ino);

	if (!now) {
		g_hash_table_insert(fs->armed, &a->ino, a);
		return;
	}
	note_told(now, a->told);
	g_free(a);
}

/*
 * A sethostname somewhere (our own mkdir's too, or a container starting):
 * only sizes that changed are taken back, so a hostname file read every
 * so often does not pay a GETATTR after every change elsewhere.
 */
void cache_check_values(struct utsfs *fs)
{
	g_autoptr(GHashTable) taken = take_armed(fs);
	bool look = g_hash_table_size(taken) <= CHECK_VALUES_MAX;
	GHashTableIter it;
	gpointer a;

	g_hash_table_iter_init(&it, taken);
	while (g_hash_table_iter_next(&it, NULL, &a)) {
		if (!look || !same_size(fs, a)) {
			inval_inode(fs, ((struct armed_size *)a)->ino);
			continue;
		}
		g_hash_table_iter_steal(&it);
		keep_size(fs, a);
	}
}

void cache_drop_files(struct utsfs *fs, fuse_ino_t dir)
{
	for (size_t row = 0; row < attr_count; row++)
		inval_inode(fs, attr_ino(dir, row));
}

/*
 * FUSE_NOTIFY_INC_EPOCH (Linux 6.16; libfuse 3.14 predates it): the kernel
 * looks up again every name it holds, on its next use, and takes no lock
 * to do so. A name re-bound by another tool then shows its new namespace
 * at once instead of ENOENT until it expires.
 */
#define NOTIFY_INC_EPOCH 8

static void expire_all_names(struct utsfs *fs)
{
	struct fuse_out_header out = { .len = sizeof(out), .error = NOTIFY_INC_EPOCH };

	if (!g_atomic_int_get(&fs->epoch_works))
		return;
	if (write(fuse_session_fd(fs->se), &out, sizeof(out)) == (ssize_t)sizeof(out))
		return;
	/* An older kernel: names expire on their own (NAME_TIMEOUT). */
	g_info("kernel cannot expire names (%s): a re-bound name shows within %.0f s",
	       g_strerror(errno), NAME_TIMEOUT);
	g_atomic_int_set(&fs->epoch_works, 0);
}

/*
 * Under names_lock, which our own rmdir and rename hold until they have
 * unnamed or renamed what they changed: a name that still has its node and
 * is stale now is someone else's doing. Without this, every rmdir (its
 * umount wakes the watcher) would expire every name the kernel holds.
 */
static bool taken_behind_our_back(struct utsfs *fs, const struct held_node *h)
{
	return nodes_named(fs, h->ino, h->name) &&
	       nsops_still_holds(fs->state.dir_fd, h->name, fs->nsfs_dev, h->id) < 0;
}

/*
 * Take the name away from the node the kernel holds: its requests answer
 * ENOENT from then on, and the attributes it holds are taken back, so a
 * stat asks again.
 *
 * The kernel's dentry is left to expire (NAME_TIMEOUT) rather than taken
 * back with inval_entry: that waits for the root's lock, which a request
 * holds until we answer it, and a thread blocked there cannot even be
 * killed: a SIGKILL of the daemon would hang the mount instead of ending
 * it. mkdir revalidates a name anyway (LOOKUP_EXCL); a name that someone
 * re-binds to another namespace needs expire_all_names().
 */
static void drop_names(struct utsfs *fs, GPtrArray *suspects)
{
	g_autoptr(GPtrArray) stale = g_ptr_array_new();

	g_mutex_lock(&fs->names_lock);
	for (guint i = 0; i < suspects->len; i++)
		if (taken_behind_our_back(fs, suspects->pdata[i]))
			g_ptr_array_add(stale, suspects->pdata[i]);
	/* First, so a walk meanwhile finds the name's new namespace, not ENOENT. */
	if (stale->len > 0)
		expire_all_names(fs);
	for (guint i = 0; i < stale->len; i++) {
		const struct held_node *h = stale->pdata[i];

		nodes_unname_node(fs, h->ino, h->name);
	}
	g_mutex_unlock(&fs->names_lock);
	for (guint i = 0; i < stale->len; i++) {
		const struct held_node *h = stale->pdata[i];

		cache_drop_files(fs, h->ino);
		inval_inode(fs, h->ino);
	}
}

void cache_check_names(struct utsfs *fs)
{
	g_autoptr(GArray) held = NULL;
	/* Pointers into held, which outlives them. */
	g_autoptr(GPtrArray) suspects = g_ptr_array_new();

	g_atomic_int_inc(&fs->names_gen);
	held = nodes_held(fs);
	/* Without names_lock: one fstatat per name must not hold up mkdir. */
	for (guint i = 0; i < held->len; i++) {
		struct held_node *h = &g_array_index(held, struct held_node, i);

		if (nsops_still_holds(fs->state.dir_fd, h->name, fs->nsfs_dev, h->id) < 0)
			g_ptr_array_add(suspects, h);
	}
	if (suspects->len > 0)
		drop_names(fs, suspects);
}

void cache_disable(struct utsfs *fs)
{
	/* Names the kernel holds expire on their own, soon (NAME_TIMEOUT). */
	g_mutex_lock(&fs->cache_lock);
	g_atomic_int_set(&fs->cache_on, 0);
	g_mutex_unlock(&fs->cache_lock);
	cache_drop_values(fs);
}
