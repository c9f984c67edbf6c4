// SPDX-License-Identifier: GPL-2.0-or-later
/* From a directory node to its namespace: the per-request check of the name, entering it, and its values. */
#include "daemon.h"
#include "nsnode.h"

#include <errno.h>

/*
 * Look at the name ref has now: 0 when it holds ref's namespace. ESTALE
 * when another: the path is fine, our node is not. The kernel then walks a
 * path again with LOOKUP_REVAL, which asks us for the name and gets the new
 * namespace's node: stat and open of a re-bound name answer for it at once.
 */
static int look(struct utsfs *fs, struct ns_ref *ref, struct stat *seen)
{
	int r = nsops_statedir_holds(&fs->state, ref->name, ref->id, seen, &ref->mnt_id);

	if (r == 0)
		ref->ns_ino = seen->st_ino;
	return r;
}

int nsnode_resolve(struct utsfs *fs, fuse_ino_t dir, struct ns_ref *ref, struct stat *st)
{
	struct stat own;
	struct stat *seen = st ? st : &own;
	g_autofree char *before = NULL;
	int r;

	if (allview_owns(&fs->all, dir))
		return allview_resolve(fs, dir, ref, st);
	r = nodes_ref(&fs->nodes, dir, ref);
	if (r < 0)
		return r;
	/*
	 * Other tools can re-bind the name at any moment (umount, rm, touch,
	 * unshare --uts=FILE): the node answers only while its name holds its
	 * namespace, which a known mount tells in one statx.
	 */
	r = look(fs, ref, seen);
	/*
	 * A rename detaches the old name before the node gets the new one: an
	 * open file follows its directory, so wait for a rename under way and
	 * look again under the node's name then.
	 */
	if (r == -ENOENT) {
		before = g_steal_pointer(&ref->name);
		g_rw_lock_reader_lock(&fs->rename_lock);
		r = nodes_ref(&fs->nodes, dir, ref);
		g_rw_lock_reader_unlock(&fs->rename_lock);
		if (r == 0)
			r = g_str_equal(before, ref->name) ? -ENOENT : look(fs, ref, seen);
	}
	if (r < 0)
		ns_ref_clear(ref);
	return r;
}

int nsnode_open(struct utsfs *fs, const struct ns_ref *ref, uint64_t *mnt_id)
{
	if (ref->name)
		return nsops_statedir_open_ns(&fs->state, ref->name, ref->id, mnt_id);
	/* A namespace of the view has no mount of ours: nothing is kept of it. */
	if (mnt_id)
		*mnt_id = 0;
	return allview_open(fs, ref->id);
}

int nsnode_value(struct utsfs *fs, const struct ns_ref *ref, enum nsops_field field,
		 char value[NSOPS_VALUE_MAX + 1])
{
	/* Taken before looking: a change after this moves the epoch. */
	uint64_t epoch = counters_values_epoch(&fs->counters);
	char both[2][NSOPS_VALUE_MAX + 1];
	uint64_t mnt_id;
	int r;

	if (nodes_cached_value(&fs->nodes, ref->ino, field, epoch, ref->mnt_id, value))
		return 0;
	nsops_autofd int ns_fd = nsnode_open(fs, ref, &mnt_id);
	if (ns_fd < 0)
		return ns_fd;
	/* One uname gives both: `cat hostname domainname` enters once. */
	r = nsops_get_both(fs->host_fd, ns_fd, both[NSOPS_HOSTNAME], both[NSOPS_DOMAINNAME]);
	if (r < 0)
		return r;
	/* Kept with the mount actually read through, whatever the request saw. */
	nodes_keep_values(&fs->nodes, ref->ino, epoch, mnt_id, both);
	g_strlcpy(value, both[field], NSOPS_VALUE_MAX + 1);
	return 0;
}
