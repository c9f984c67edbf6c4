// SPDX-License-Identifier: GPL-2.0-or-later
/* The listeners of changes: callbacks set up at start. */
#include "listeners.h"

void listeners_add(struct listeners *l, listener_fn fn, void *data)
{
	g_assert(l->len < G_N_ELEMENTS(l->list));
	l->list[l->len++] = (struct listener){ .fn = fn, .data = data };
}

void listeners_notify(const struct listeners *l)
{
	for (unsigned int i = 0; i < l->len; i++)
		l->list[i].fn(l->list[i].data);
}
