// SPDX-License-Identifier: GPL-2.0-or-later
/* What the kernel may cache of the tree, and invalidating the names that change behind our back. */
#include "daemon.h"

#include <errno.h>
#include <linux/fuse.h>
#include <unistd.h>

/*
 * A name in the root, while the watcher runs: whatever another tool does to
 * a name in the state directory is a mount or umount, which the watcher
 * sees and answers with kcache_check_names(). Once it stops, the names the
 * kernel has looked up expire on their own within this.
 */
#define NAME_TIMEOUT 1.0

void kcache_cache_names(struct kcache *k, bool on)
{
	atomic_store(&k->names_on, on);
}

uint64_t kcache_name_begin(struct kcache *k)
{
	return atomic_load(&k->names_gen);
}

/*
 * A check that began after the lookup looked may have missed the node (it
 * was not counted yet): such a reply is not cached. A check that begins
 * later sees the node and unnames it if it is stale.
 */
double kcache_name_timeout(struct kcache *k, uint64_t gen)
{
	if (!atomic_load(&k->names_on) || atomic_load(&k->names_gen) != gen)
		return 0;
	return NAME_TIMEOUT;
}

/*
 * FUSE_NOTIFY_INC_EPOCH (Linux 6.16; libfuse 3.14 predates it): the kernel
 * looks up again every name it has cached, on its next use, and takes no lock
 * to do so. A name re-bound by another tool then shows its new namespace
 * at once instead of ENOENT until it expires.
 */
#define NOTIFY_INC_EPOCH 8

static void expire_all_names(struct utsfs *fs)
{
	struct fuse_out_header out = { .len = sizeof(out), .error = NOTIFY_INC_EPOCH };

	if (atomic_load(&fs->kcache.epoch_refused))
		return;
	if (write(fuse_session_fd(fs->se), &out, sizeof(out)) == (ssize_t)sizeof(out))
		return;
	/* An older kernel: names expire on their own (NAME_TIMEOUT). */
	g_info("kernel cannot expire names (%s): a re-bound name shows within %.0f s",
	       g_strerror(errno), NAME_TIMEOUT);
	atomic_store(&fs->kcache.epoch_refused, true);
}

/*
 * Take the name away from the node the kernel looked up: its requests answer
 * ENOENT from then on, or ESTALE when the name holds another namespace now
 * (a path walk then tries again and finds the new node); the kernel is told
 * to look names up again, and the directory's attributes are invalidated.
 *
 * The kernel's dentry is left to expire (NAME_TIMEOUT) rather than
 * invalidated with inval_entry: that waits for the root's lock, which a
 * request holds until we answer it, and a thread blocked there cannot even
 * be killed: a SIGKILL of the daemon would hang the mount instead of
 * ending it. mkdir revalidates a name anyway (LOOKUP_EXCL).
 *
 * Under names_lock, which our own rmdir and rename hold until they have
 * unnamed or renamed what they changed: a name that still has its node and
 * is stale now is someone else's doing. Without this, every rmdir (its
 * umount wakes the watcher) would expire every name the kernel looked up.
 */
static void unname_stale(struct utsfs *fs, GPtrArray *suspects)
{
	g_autoptr(GArray) stale = g_array_new(FALSE, FALSE, sizeof(fuse_ino_t));

	g_mutex_lock(&fs->names_lock);
	for (guint i = 0; i < suspects->len; i++) {
		const struct ns_ref *ref = suspects->pdata[i];
		int r = nsops_statedir_holds(&fs->state, ref->name, ref->id, NULL, NULL);

		if (r < 0 && nodes_unname_stale(&fs->nodes, ref->ino, ref->name, r == -ESTALE))
			g_array_append_val(stale, ref->ino);
	}
	if (stale->len > 0)
		expire_all_names(fs);
	g_mutex_unlock(&fs->names_lock);
	/* -ENOENT: the kernel forgot the node meanwhile. Nothing else can go wrong here. */
	for (guint i = 0; i < stale->len; i++)
		fuse_lowlevel_notify_inval_inode(fs->se, g_array_index(stale, fuse_ino_t, i), -1, 0);
}

void kcache_check_names(struct utsfs *fs)
{
	g_autoptr(GArray) named = NULL;
	/* Pointers into named, which outlives them. */
	g_autoptr(GPtrArray) suspects = g_ptr_array_new();

	atomic_fetch_add(&fs->kcache.names_gen, 1);
	named = nodes_named_copy(&fs->nodes);
	/* Without names_lock: one statx per name must not hold up mkdir. */
	for (guint i = 0; i < named->len; i++) {
		struct ns_ref *ref = &g_array_index(named, struct ns_ref, i);

		if (nsops_statedir_holds(&fs->state, ref->name, ref->id, NULL, NULL) < 0)
			g_ptr_array_add(suspects, ref);
	}
	if (suspects->len > 0)
		unname_stale(fs, suspects);
}
