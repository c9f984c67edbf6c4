/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The libfuse API version utsfs is written against, and nsops: what every fs/ file includes first. */
#pragma once

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <glib.h>

#include "nsops.h"
