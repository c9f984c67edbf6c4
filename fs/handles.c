// SPDX-License-Identifier: GPL-2.0-or-later
/* Open handles, freed at exit when the kernel's release (it is asynchronous) never came. */
#include "handles.h"

void handles_init(struct handles *h)
{
	g_mutex_init(&h->lock);
	h->table = g_hash_table_new(g_direct_hash, g_direct_equal);
}

void handles_free(struct handles *h)
{
	GHashTableIter it;
	gpointer handle, free_func;

	g_hash_table_iter_init(&it, h->table);
	while (g_hash_table_iter_next(&it, &handle, &free_func))
		((GDestroyNotify)free_func)(handle);
	g_clear_pointer(&h->table, g_hash_table_unref);
	g_mutex_clear(&h->lock);
}

uint64_t handle_add(struct handles *h, void *handle, GDestroyNotify free_func)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&h->lock);

	g_hash_table_insert(h->table, handle, free_func);
	return (uintptr_t)handle;
}

void handle_release(struct handles *h, uint64_t fh)
{
	void *handle = (void *)(uintptr_t)fh;
	GDestroyNotify free_func;

	g_mutex_lock(&h->lock);
	free_func = g_hash_table_lookup(h->table, handle);
	g_hash_table_remove(h->table, handle);
	g_mutex_unlock(&h->lock);
	if (free_func)
		free_func(handle);
}
