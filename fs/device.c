// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The reads and writes on /dev/fuse, as libfuse's would be, but for one
 * errno. An unmount ends the connection (fuse_abort_conn), and a read that
 * had already taken a request off the queue when it did returns
 * ECONNABORTED rather than ENODEV (fs/fuse/dev.c, fuse_dev_do_read). libfuse
 * 3.14 ends its loop quietly on ENODEV only: on ECONNABORTED it prints
 * "fuse: reading device: Software caused connection abort" and the loop
 * fails, so a plain `fusermount3 -u` right after a program closed many files
 * (each close queues a RELEASE) made utsfs exit 1 about one time in two.
 *
 * libfuse does not ask for FUSE_ABORT_ERROR, so the kernel says
 * ECONNABORTED only when the connection is already torn down: every later
 * read says ENODEV. Saying it now is saying what the next read would.
 */
#include "device.h"

#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

static ssize_t device_read(int fd, void *buf, size_t len, void *userdata G_GNUC_UNUSED)
{
	ssize_t n = read(fd, buf, len);

	if (n < 0 && errno == ECONNABORTED)
		errno = ENODEV;
	return n;
}

static ssize_t device_writev(int fd, struct iovec *iov, int count,
			     void *userdata G_GNUC_UNUSED)
{
	return writev(fd, iov, count);
}

int device_attach(struct fuse_session *se)
{
	/* No splice: utsfs never asks for it, and libfuse falls back to read. */
	static const struct fuse_custom_io io = {
		.read = device_read,
		.writev = device_writev,
	};

	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}
