// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * aio-read: reads FILE once from offset 0 with an asynchronous O_DIRECT read
 * (Linux AIO through raw syscalls, no libaio) and writes what it got to
 * stdout, for tests/test_consistency.py.
 *
 * An asynchronous direct read is the one read FUSE trims to the size the
 * kernel holds for the file (fuse_direct_IO returns 0 at or past i_size):
 * a stale size shows there as an empty or short read, where a synchronous
 * read asks the daemon whatever the size.
 *
 * usage: aio-read FILE [SIZE]   (SIZE: bytes asked for, a multiple of 4096; 4096 by default)
 * Exit status 0 with the bytes read on stdout (maybe none), 1 with
 * "aio-read: STEP FILE: ERROR" on stderr, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* O_DIRECT wants the buffer and the length aligned to the page. */
#define PAGE 4096

static long sys_io_setup(unsigned int nr_events, aio_context_t *ctx)
{
	return syscall(SYS_io_setup, nr_events, ctx);
}

static long sys_io_destroy(aio_context_t ctx)
{
	return syscall(SYS_io_destroy, ctx);
}

static long sys_io_submit(aio_context_t ctx, long nr, struct iocb **iocbs)
{
	return syscall(SYS_io_submit, ctx, nr, iocbs);
}

static long sys_io_getevents(aio_context_t ctx, long min_nr, long nr,
			     struct io_event *events)
{
	return syscall(SYS_io_getevents, ctx, min_nr, nr, events, NULL);
}

static int fail(const char *step, const char *path, int err)
{
	fprintf(stderr, "aio-read: %s %s: %s\n", step, path, strerror(err));
	return 1;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	size_t size = argc == 3 ? strtoul(argv[2], NULL, 10) : PAGE;

	if ((argc != 2 && argc != 3) || size == 0 || size % PAGE != 0) {
		fprintf(stderr, "usage: aio-read FILE [SIZE]\n");
		return 2;
	}
	const char *path = argv[1];

	int fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return fail("open", path, errno);

	void *buf = NULL;
	int err = posix_memalign(&buf, PAGE, size);
	if (err != 0)
		return fail("posix_memalign for", path, err);

	aio_context_t ctx = 0;
	if (sys_io_setup(1, &ctx) < 0)
		return fail("io_setup for", path, errno);

	struct iocb cb = {
		.aio_fildes = (uint32_t)fd,
		.aio_lio_opcode = IOCB_CMD_PREAD,
		.aio_buf = (uint64_t)(uintptr_t)buf,
		.aio_nbytes = size,
		.aio_offset = 0,
	};
	struct iocb *cbs[] = { &cb };
	long submitted = sys_io_submit(ctx, 1, cbs);
	if (submitted != 1)
		return fail("io_submit", path, submitted < 0 ? errno : EAGAIN);

	struct io_event ev;
	long got;
	do
		got = sys_io_getevents(ctx, 1, 1, &ev);
	while (got < 0 && errno == EINTR);
	if (got != 1)
		return fail("io_getevents", path, got < 0 ? errno : EIO);
	if (ev.res < 0)
		return fail("read", path, (int)-ev.res);

	err = write_all(STDOUT_FILENO, buf, (size_t)ev.res);
	if (err < 0)
		return fail("write to stdout of", path, -err);

	sys_io_destroy(ctx);
	free(buf);
	close(fd);
	return 0;
}
