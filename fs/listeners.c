// SPDX-License-Identifier: GPL-2.0-or-later
/* The listeners of changes: a list of callbacks set up at start. */
#include "listeners.h"

struct listener {
	listener_fn fn;
	void *data;
};

void listeners_init(struct listeners *l)
{
	l->list = g_array_new(FALSE, FALSE, sizeof(struct listener));
}

void listeners_free(struct listeners *l)
{
	g_clear_pointer(&l->list, g_array_unref);
}

void listeners_add(struct listeners *l, listener_fn fn, void *data)
{
	struct listener one = { .fn = fn, .data = data };

	g_array_append_val(l->list, one);
}

bool listeners_any(const struct listeners *l)
{
	return l->list && l->list->len > 0;
}

void listeners_tell(const struct listeners *l, unsigned int changes)
{
	for (guint i = 0; l->list && i < l->list->len; i++) {
		const struct listener *one = &g_array_index(l->list, struct listener, i);

		one->fn(one->data, changes);
	}
}
