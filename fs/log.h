/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Where utsfs's own messages go, and logging a failure once at the FUSE boundary. */
#pragma once

#include "common.h"

/* main() owns it for the whole run. */
struct utsfs_log {
	/* Trouble is shown on stderr too. */
	bool foreground;
	/* Sends what is logged: at once, or from a thread once started (see log.c). */
	struct log_sender *sender;
};

/* Send glib's log to the journal or syslog, and to stderr when log->foreground. */
void utsfs_log_init(struct utsfs_log *log);
/* Send from a thread of its own from now on (once the daemon serves). */
void utsfs_log_start(struct utsfs_log *log);
/* At exit: give the thread up to a second to send what waits, then end it. */
void utsfs_log_stop(struct utsfs_log *log);
/* Log an unexpected failure once, at the FUSE boundary, with the name it concerns. */
void utsfs_log_failure(const char *what, const char *name, int err);
