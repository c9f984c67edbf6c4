// SPDX-License-Identifier: GPL-2.0-or-later
/* The fd cleanup helper behind nsops_autofd. */
#include "nsops.h"

#include <errno.h>
#include <unistd.h>

void nsops_close_fd(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;

		close(*fd);
		errno = saved;
		*fd = -1;
	}
}
