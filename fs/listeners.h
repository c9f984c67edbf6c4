/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Who is notified of changes (the record): by the request handlers and the watcher, never calling back into them. */
#pragma once

#include "common.h"

enum listener_change {
	/* A name came, went or was renamed (through the mount or not). */
	CHANGED_NAMES = 1,
	/* A hostname or domainname changed somewhere on the host. */
	CHANGED_VALUES = 2,
	/* An owner or mode changed. */
	CHANGED_OWNERS = 4,
};

typedef void (*listener_fn)(void *data, unsigned int changes);

/* Added before the watcher starts, read-only after: no lock. Empty at start. */
struct listeners {
	struct listener {
		listener_fn fn;
		void *data;
	} list[2];
	unsigned int len;
};

void listeners_add(struct listeners *l, listener_fn fn, void *data);
/* Notify every listener of changes (enum listener_change bits); they must not block. */
void listeners_notify(const struct listeners *l, unsigned int changes);
