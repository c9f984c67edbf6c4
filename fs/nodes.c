// SPDX-License-Identifier: GPL-2.0-or-later
/* The table of namespace directories the kernel holds node ids for, keyed by id and by name, with their kept values. */
#include "nodes.h"

#include <errno.h>

/* hostname and domainname, as one uname(2) in the namespace gave them. */
struct kept_values {
	/* By enum nsops_field; NULL before the first read. */
	char *value[2];
	/* The values epoch taken before they were read. */
	uint64_t epoch;
	/* The mount they were read through: only that one surely holds the same namespace. */
	uint64_t mnt_id;
};

struct ns_node {
	fuse_ino_t ino;
	/* The name it is reached by; NULL once removed or replaced. */
	char *name;
	/* Unnamed because another tool bound another namespace to the name: ESTALE, not ENOENT. */
	bool stale;
	uint64_t id;
	/* How many lookups the kernel has not forgotten yet. */
	uint64_t nlookup;
	struct kept_values kept;
};

static void node_free(struct ns_node *node)
{
	g_free(node->kept.value[NSOPS_HOSTNAME]);
	g_free(node->kept.value[NSOPS_DOMAINNAME]);
	g_free(node->name);
	g_free(node);
}

void nodes_init(struct nodes *n)
{
	g_mutex_init(&n->lock);
	/* fuse_ino_t is 64-bit: key by a pointer to the node's own ino field. */
	n->by_ino = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
					  (GDestroyNotify)node_free);
	n->by_name = g_hash_table_new(g_str_hash, g_str_equal);
	n->next_ino = NODE_STRIDE;
}

void nodes_free(struct nodes *n)
{
	g_clear_pointer(&n->by_name, g_hash_table_unref);
	g_clear_pointer(&n->by_ino, g_hash_table_unref);
	g_mutex_clear(&n->lock);
}

/* Take a node's name away: it keeps its id until the kernel forgets it. */
static void node_unname(struct nodes *n, struct ns_node *node)
{
	if (!node->name)
		return;
	g_hash_table_remove(n->by_name, node->name);
	g_clear_pointer(&node->name, g_free);
}

fuse_ino_t nodes_lookup(struct nodes *n, const char *name, uint64_t id)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&n->lock);
	struct ns_node *node = g_hash_table_lookup(n->by_name, name);

	/*
	 * nsfs inode numbers are reused once a namespace dies, and a name can
	 * be re-bound by other tools: a different id under the same name is a
	 * different namespace and gets a new node id.
	 */
	if (node && node->id != id) {
		node_unname(n, node);
		node = NULL;
	}
	if (!node) {
		node = g_new0(struct ns_node, 1);
		node->ino = n->next_ino;
		n->next_ino += NODE_STRIDE;
		node->name = g_strdup(name);
		node->id = id;
		g_hash_table_insert(n->by_ino, &node->ino, node);
		g_hash_table_insert(n->by_name, node->name, node);
	}
	node->nlookup++;
	return node->ino;
}

fuse_ino_t nodes_reserve(struct nodes *n)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&n->lock);
	fuse_ino_t ino = n->next_ino;

	n->next_ino += NODE_STRIDE;
	return ino;
}

void nodes_forget(struct nodes *n, fuse_ino_t ino, uint64_t nlookup)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&n->lock);
	struct ns_node *node = g_hash_table_lookup(n->by_ino, &ino);

	if (!node)
		return;
	node->nlookup -= MIN(nlookup, node->nlookup);
	if (node->nlookup == 0) {
		node_unname(n, node);
		g_hash_table_remove(n->by_ino, &ino);
	}
}

static void ref_of(const struct ns_node *node, struct ns_ref *ref)
{
	*ref = (struct ns_ref){ .ino = node->ino, .name = g_strdup(node->name), .id = node->id };
}

int nodes_ref(struct nodes *n, fuse_ino_t ino, struct ns_ref *ref)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&n->lock);
	struct ns_node *node = g_hash_table_lookup(n->by_ino, &ino);

	if (!node || !node->name)
		return node && node->stale ? -ESTALE : -ENOENT;
	ref_of(node, ref);
	return 0;
}

void nodes_rename(struct nodes *n, const char *from, const char *to)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&n->lock);
	struct ns_node *node = g_hash_table_lookup(n->by_name, to);

	if (node)
		node_unname(n, node);
	node = g_hash_table_lookup(n->by_name, from);
	if (!node)
		return;
	/* The kernel moves its dentry to the new name and keeps the node id. */
	g_hash_table_remove(n->by_name, from);
	g_free(node->name);
	node->name = g_strdup(to);
	g_hash_table_insert(n->by_name, node->name, node);
}

void nodes_unname(struct nodes *n, const char *name)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&n->lock);
	struct ns_node *node = g_hash_table_lookup(n->by_name, name);

	if (node)
		node_unname(n, node);
}

GArray *nodes_named_copy(struct nodes *n)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&n->lock);
	GArray *named = g_array_sized_new(FALSE, FALSE, sizeof(struct ns_ref),
					  g_hash_table_size(n->by_name));
	GHashTableIter it;
	gpointer value;

	g_array_set_clear_func(named, (GDestroyNotify)ns_ref_clear);
	g_hash_table_iter_init(&it, n->by_name);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		struct ns_ref ref;

		ref_of(value, &ref);
		g_array_append_val(named, ref);
	}
	return named;
}

bool nodes_unname_stale(struct nodes *n, fuse_ino_t ino, const char *name, bool rebound)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&n->lock);
	struct ns_node *node = g_hash_table_lookup(n->by_ino, &ino);

	if (!node || !node->name || !g_str_equal(node->name, name))
		return false;
	node_unname(n, node);
	node->stale = rebound;
	return true;
}

void ns_ref_clear(struct ns_ref *ref)
{
	g_clear_pointer(&ref->name, g_free);
}

/*
 * A value stays true until the values epoch moves, as long as it is asked
 * of the same namespace. The node's id does not tell that: the kernel
 * gives a new namespace the number of a dead one, and another tool can
 * bind it under the same name. The mount does: a mount's root never
 * changes and unique mount ids are never reused. So a value is kept with
 * the mount it was read through, and served only to a request that saw
 * the name on that mount (nsnode_resolve).
 */
bool nodes_cached_value(struct nodes *n, fuse_ino_t ino, enum nsops_field field,
			uint64_t epoch, uint64_t mnt_id, char value[NSOPS_VALUE_MAX + 1])
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&n->lock);
	struct ns_node *node = g_hash_table_lookup(n->by_ino, &ino);

	if (!node || !node->kept.value[field] || mnt_id == 0 || node->kept.mnt_id != mnt_id ||
	    node->kept.epoch != epoch)
		return false;
	g_strlcpy(value, node->kept.value[field], NSOPS_VALUE_MAX + 1);
	return true;
}

void nodes_keep_values(struct nodes *n, fuse_ino_t ino, uint64_t epoch, uint64_t mnt_id,
		       char values[2][NSOPS_VALUE_MAX + 1])
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&n->lock);
	struct ns_node *node = g_hash_table_lookup(n->by_ino, &ino);

	/* A read that began earlier and ended later must not replace newer values. */
	if (!node || epoch < node->kept.epoch)
		return;
	for (int f = 0; f < 2; f++) {
		g_free(node->kept.value[f]);
		node->kept.value[f] = g_strdup(values[f]);
	}
	node->kept.epoch = epoch;
	node->kept.mnt_id = mnt_id;
}
