/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Who is notified of changes (the record): by the request handlers and the watcher, never calling back into them. */
#pragma once

#include "common.h"

typedef void (*listener_fn)(void *data);

/* Added before the watcher starts, read-only after: no lock. Empty at start. */
struct listeners {
	struct listener {
		listener_fn fn;
		void *data;
	} list[2];
	unsigned int len;
};

void listeners_add(struct listeners *l, listener_fn fn, void *data);
/*
 * Notify every listener (they must not block) that a name came, went or was
 * renamed (through the mount or not), a hostname or domainname changed
 * somewhere on the host, or an owner or mode changed.
 */
void listeners_notify(const struct listeners *l);
