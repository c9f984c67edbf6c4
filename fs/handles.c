// SPDX-License-Identifier: GPL-2.0-or-later
/* Open file and directory handles, so the ones the kernel never releases are freed at exit. */
#include "utsfs.h"

/*
 * The kernel sends release asynchronously: a daemon unmounted right after
 * a close can exit before the release arrives, and would leak the handle.
 */
void handles_init(struct utsfs *fs)
{
	g_mutex_init(&fs->handles_lock);
	fs->handles = g_hash_table_new(g_direct_hash, g_direct_equal);
}

void handles_free(struct utsfs *fs)
{
	GHashTableIter it;
	gpointer handle, free_func;

	if (!fs->handles)
		return;
	g_hash_table_iter_init(&it, fs->handles);
	while (g_hash_table_iter_next(&it, &handle, &free_func))
		((GDestroyNotify)free_func)(handle);
	g_clear_pointer(&fs->handles, g_hash_table_unref);
	g_mutex_clear(&fs->handles_lock);
}

uint64_t handle_add(struct utsfs *fs, void *handle, GDestroyNotify free_func)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs->handles_lock);

	g_hash_table_insert(fs->handles, handle, free_func);
	return (uintptr_t)handle;
}

void handle_release(struct utsfs *fs, uint64_t fh)
{
	void *handle = (void *)(uintptr_t)fh;
	GDestroyNotify free_func;

	g_mutex_lock(&fs->handles_lock);
	free_func = g_hash_table_lookup(fs->handles, handle);
	g_hash_table_remove(fs->handles, handle);
	g_mutex_unlock(&fs->handles_lock);
	if (free_func)
		free_func(handle);
}
