/* SPDX-License-Identifier: GPL-2.0-or-later */
/* How the FUSE session reads and writes /dev/fuse. */
#pragma once

#include "common.h"

/*
 * After fuse_session_mount(): serve the session's fd with our own read, which
 * ends the loop quietly on every way an unmount can end the connection.
 * Returns 0 or -errno.
 */
int device_attach(struct fuse_session *se);
