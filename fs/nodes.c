// SPDX-License-Identifier: GPL-2.0-or-later
/* The table of namespace directories the kernel holds node ids for, keyed by id and by name. */
#include "utsfs.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static void node_free(struct ns_node *node)
{
	g_free(node->value[NSOPS_HOSTNAME]);
	g_free(node->value[NSOPS_DOMAINNAME]);
	g_free(node->name);
	g_free(node);
}

void nodes_init(struct utsfs *fs)
{
	g_mutex_init(&fs->nodes_lock);
	/* fuse_ino_t is 64-bit: key by a pointer to the node's own ino field. */
	fs->nodes_by_ino = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
						 (GDestroyNotify)node_free);
	fs->nodes_by_name = g_hash_table_new(g_str_hash, g_str_equal);
	fs->next_ino = NODE_STRIDE;
}

void nodes_free(struct utsfs *fs)
{
	g_clear_pointer(&fs->nodes_by_name, g_hash_table_unref);
	g_clear_pointer(&fs->nodes_by_ino, g_hash_table_unref);
	g_mutex_clear(&fs->nodes_lock);
}

/* Take a node's name away: it keeps its id until the kernel forgets it. */
static void node_unname(struct utsfs *fs, struct ns_node *node)
{
	if (!node->name)
		return;
	g_hash_table_remove(fs->nodes_by_name, node->name);
	g_clear_pointer(&node->name, g_free);
}

fuse_ino_t nodes_lookup(struct utsfs *fs, const char *name, uint64_t id)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->nodes_lock);
	struct ns_node *node = g_hash_table_lookup(fs->nodes_by_name, name);

	/*
	 * nsfs inode numbers are reused once a namespace dies, and a name can
	 * be re-bound by other tools: a different id under the same name is a
	 * different namespace and gets a new node id.
	 */
	if (node && node->id != id) {
		node_unname(fs, node);
		node = NULL;
	}
	if (!node) {
		node = g_new0(struct ns_node, 1);
		node->ino = fs->next_ino;
		fs->next_ino += NODE_STRIDE;
		node->name = g_strdup(name);
		node->id = id;
		g_hash_table_insert(fs->nodes_by_ino, &node->ino, node);
		g_hash_table_insert(fs->nodes_by_name, node->name, node);
	}
	node->nlookup++;
	return node->ino;
}

fuse_ino_t nodes_reserve(struct utsfs *fs)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->nodes_lock);
	fuse_ino_t ino = fs->next_ino;

	fs->next_ino += NODE_STRIDE;
	return ino;
}

void nodes_forget(struct utsfs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->nodes_lock);
	struct ns_node *node = g_hash_table_lookup(fs->nodes_by_ino, &ino);

	if (!node)
		return;
	node->nlookup -= MIN(nlookup, node->nlookup);
	if (node->nlookup == 0) {
		node_unname(fs, node);
		g_hash_table_remove(fs->nodes_by_ino, &ino);
	}
}

int nodes_ref(struct utsfs *fs, fuse_ino_t ino, struct ns_ref *ref)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->nodes_lock);
	struct ns_node *node = g_hash_table_lookup(fs->nodes_by_ino, &ino);

	if (!node || !node->name)
		return -ENOENT;
	ref->name = g_strdup(node->name);
	ref->id = node->id;
	return 0;
}

void nodes_rename(struct utsfs *fs, const char *from, const char *to)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->nodes_lock);
	struct ns_node *node = g_hash_table_lookup(fs->nodes_by_name, to);

	if (node)
		node_unname(fs, node);
	node = g_hash_table_lookup(fs->nodes_by_name, from);
	if (!node)
		return;
	/* The kernel moves its dentry to the new name and keeps the node id. */
	g_hash_table_remove(fs->nodes_by_name, from);
	g_free(node->name);
	node->name = g_strdup(to);
	g_hash_table_insert(fs->nodes_by_name, node->name, node);
}

void nodes_unname(struct utsfs *fs, const char *name)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->nodes_lock);
	struct ns_node *node = g_hash_table_lookup(fs->nodes_by_name, name);

	if (node)
		node_unname(fs, node);
}

static void held_node_clear(struct held_node *h)
{
	g_free(h->name);
}

GArray *nodes_held(struct utsfs *fs)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->nodes_lock);
	GArray *held = g_array_sized_new(FALSE, FALSE, sizeof(struct held_node),
					 g_hash_table_size(fs->nodes_by_name));
	GHashTableIter it;
	gpointer value;

	g_array_set_clear_func(held, (GDestroyNotify)held_node_clear);
	g_hash_table_iter_init(&it, fs->nodes_by_name);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		const struct ns_node *node = value;
		struct held_node h = { node->ino, node->id, g_strdup(node->name) };

		g_array_append_val(held, h);
	}
	return held;
}

/* Node ino, if it is still called name; under nodes_lock. */
static struct ns_node *node_called(struct utsfs *fs, fuse_ino_t ino, const char *name)
{
	struct ns_node *node = g_hash_table_lookup(fs->nodes_by_ino, &ino);

	return node && node->name && g_str_equal(node->name, name) ? node : NULL;
}

bool nodes_named(struct utsfs *fs, fuse_ino_t ino, const char *name)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->nodes_lock);

	return node_called(fs, ino, name) != NULL;
}

void nodes_unname_node(struct utsfs *fs, fuse_ino_t ino, const char *name)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->nodes_lock);
	struct ns_node *node = node_called(fs, ino, name);

	if (node)
		node_unname(fs, node);
}

void ns_ref_clear(struct ns_ref *ref)
{
	g_clear_pointer(&ref->name, g_free);
}

/* The node ino, when it still has a name; under nodes_lock. */
static struct ns_node *named_node(struct utsfs *fs, fuse_ino_t ino)
{
	struct ns_node *node = g_hash_table_lookup(fs->nodes_by_ino, &ino);

	return node && node->name ? node : NULL;
}

/* After a look at the state directory that began at mounts epoch checked. */
static void node_checked(struct utsfs *fs, fuse_ino_t ino, const struct ns_ref *ref,
			 guint checked)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->nodes_lock);
	struct ns_node *node = named_node(fs, ino);

	/* A rename meanwhile moved a mount: that epoch is past already. */
	if (node && g_str_equal(node->name, ref->name) && checked > node->checked)
		node->checked = checked;
}

/*
 * Whether node ino's name was last seen holding its namespace under mounts
 * epoch mounts (so it still does); its name and id go to *ref when not NULL.
 */
static bool node_known(struct utsfs *fs, fuse_ino_t ino, guint mounts, struct ns_ref *ref)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->nodes_lock);
	struct ns_node *node = named_node(fs, ino);

	if (!node || node->checked != mounts)
		return false;
	if (ref) {
		ref->name = g_strdup(node->name);
		ref->id = node->id;
	}
	return true;
}

int node_check(struct utsfs *fs, fuse_ino_t ino)
{
	g_auto(NsRef) ref = { 0 };
	guint values, mounts;
	int r;

	changes_poll(fs, &values, &mounts);
	if (node_known(fs, ino, mounts, NULL))
		return 0;
	/*
	 * Not remembered as checked: an nsfs number may be reused by a new
	 * namespace (of any type) once the old one is gone, which only a full
	 * open tells apart (open_ns).
	 */
	r = nodes_ref(fs, ino, &ref);
	if (r == 0)
		r = nsops_still_holds(fs->state.dir_fd, ref.name, fs->nsfs_dev, ref.id);
	return r;
}

/*
 * Open node ino's namespace. While no mount changed since its name was
 * last seen holding it, the name is still that bind mount (the kernel
 * refuses to unlink or rename a mount point): open it and check the
 * inode. Else go all the way (ns_open_node), and remember the name holds.
 */
static int open_ns(struct utsfs *fs, fuse_ino_t ino, guint mounts, struct ns_ref *ref)
{
	struct stat st;
	int fd;

	if (node_known(fs, ino, mounts, ref)) {
		fd = openat(fs->state.dir_fd, ref->name,
			    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == fs->nsfs_dev &&
		    st.st_ino == ref->id)
			return fd;
		if (fd >= 0)
			close(fd);
		ns_ref_clear(ref);
	}
	fd = ns_open_node(fs, ino, ref, NULL);
	if (fd >= 0)
		node_checked(fs, ino, ref, mounts);
	return fd;
}

int node_open_ns(struct utsfs *fs, fuse_ino_t ino, struct ns_ref *ref)
{
	guint values, mounts;

	changes_poll(fs, &values, &mounts);
	return open_ns(fs, ino, mounts, ref);
}

/* The kept value, when nothing changed since it was read; under nodes_lock. */
static bool kept_value(struct ns_node *node, enum nsops_field field, guint values,
		       guint mounts, char value[NSOPS_VALUE_MAX + 1])
{
	/* Read under this mounts epoch too: a mount may put a namespace with the same number there. */
	if (!node || node->checked != mounts || node->value_mounts[field] != mounts ||
	    node->value_epoch[field] != values || !node->value[field])
		return false;
	g_strlcpy(value, node->value[field], NSOPS_VALUE_MAX + 1);
	return true;
}

int node_value(struct utsfs *fs, fuse_ino_t ino, enum nsops_field field,
	       char value[NSOPS_VALUE_MAX + 1])
{
	g_auto(NsRef) ref = { 0 };
	guint values, mounts;
	bool kept;
	int r;

	/* The epochs are taken before looking: a change after that moves them. */
	changes_poll(fs, &values, &mounts);
	g_mutex_lock(&fs->nodes_lock);
	kept = kept_value(named_node(fs, ino), field, values, mounts, value);
	g_mutex_unlock(&fs->nodes_lock);
	if (kept)
		return 0;

	nsops_autofd int ns_fd = open_ns(fs, ino, mounts, &ref);
	if (ns_fd < 0)
		return ns_fd;
	r = nsops_get(fs->host_fd, ns_fd, field, value);
	if (r < 0)
		return r;
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->nodes_lock);
	struct ns_node *node = named_node(fs, ino);
	if (node && g_str_equal(node->name, ref.name) && values >= node->value_epoch[field]) {
		g_free(node->value[field]);
		node->value[field] = g_strdup(value);
		node->value_epoch[field] = values;
		node->value_mounts[field] = mounts;
	}
	return 0;
}

int ns_open_node(struct utsfs *fs, fuse_ino_t ino, struct ns_ref *ref, struct stat *st)
{
	struct stat tmp;
	int fd = nodes_ref(fs, ino, ref);

	if (fd < 0)
		return fd;
	fd = nsops_open(fs->state.dir_fd, ref->name, &tmp);
	if (fd < 0)
		return fd == -EINVAL ? -ENOENT : fd;
	if (tmp.st_ino != ref->id) {
		nsops_close_fd(&fd);
		return -ENOENT;
	}
	if (st)
		*st = tmp;
	return fd;
}
