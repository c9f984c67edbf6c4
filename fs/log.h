/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Where utsfs's own messages go, and logging a failure once at the FUSE boundary. */
#pragma once

#include "common.h"

/* main() owns it for the whole run. */
struct utsfs_log {
	/* Trouble is shown on stderr too. */
	bool foreground;
	/* Monotonic second before which no log daemon is tried (see log.c). */
	gint retry_at;
	/* Messages waiting for the log thread (see log.c). */
	GAsyncQueue *queue;
};

/* Send glib's log to the journal or syslog, and to stderr when log->foreground. */
void utsfs_log_init(struct utsfs_log *log);
/* Give the log thread up to a second to send what waits (at exit). */
void utsfs_log_flush(struct utsfs_log *log);
/* Log an unexpected failure once, at the FUSE boundary, with the name it concerns. */
void utsfs_log_failure(const char *what, const char *name, int err);
