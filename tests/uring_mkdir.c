// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * uring-mkdir: makes an io_uring worker while the process holds every
 * capability it has, drops CAP_SYS_ADMIN (effective, permitted and
 * inheritable), then asks that worker to mkdir PATH (IORING_OP_MKDIRAT,
 * IOSQE_ASYNC), for tests/test_trust.py. A worker runs each request with
 * the submitter's credentials, but its own are the ones it was made with:
 * a file system that asks the calling thread's capabilities sees those.
 *
 * usage: uring-mkdir PATH
 * Exit status 0 when the mkdir succeeded; 1 with "uring-mkdir: ERROR" on
 * stderr when it failed (or the ring could not be used); 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ring {
	int fd;
	unsigned int *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int ring_open(struct ring *r)
{
	struct io_uring_params p;
	void *sq, *cq;

	memset(&p, 0, sizeof(p));
	r->fd = (int)syscall(SYS_io_uring_setup, 4, &p);
	if (r->fd < 0)
		return -errno;
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned int),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
	r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqes == MAP_FAILED)
		return -errno;
	r->sq_tail = (unsigned int *)((char *)sq + p.sq_off.tail);
	r->sq_mask = (unsigned int *)((char *)sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned int *)((char *)sq + p.sq_off.array);
	r->cq_head = (unsigned int *)((char *)cq + p.cq_off.head);
	r->cq_tail = (unsigned int *)((char *)cq + p.cq_off.tail);
	r->cq_mask = (unsigned int *)((char *)cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)((char *)cq + p.cq_off.cqes);
	return 0;
}

/* Submit one request, forced onto a worker, and wait for its result. */
static int ring_run(struct ring *r, const struct io_uring_sqe *sqe)
{
	unsigned int tail = *r->sq_tail, index = tail & *r->sq_mask, head;
	int res;

	r->sqes[index] = *sqe;
	r->sqes[index].flags |= IOSQE_ASYNC;
	r->sq_array[index] = index;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(SYS_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	head = __atomic_load_n(r->cq_head, __ATOMIC_ACQUIRE);
	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		return -EAGAIN;
	res = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

static int drop_sys_admin(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, caps) < 0)
		return -errno;
	caps[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
	caps[CAP_TO_INDEX(CAP_SYS_ADMIN)].permitted &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
	caps[CAP_TO_INDEX(CAP_SYS_ADMIN)].inheritable &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
	return syscall(SYS_capset, &hdr, caps) < 0 ? -errno : 0;
}

int main(int argc, char *argv[])
{
	struct io_uring_sqe nop, mkdir_sqe;
	struct ring r;
	int res;

	if (argc != 2) {
		fprintf(stderr, "usage: uring-mkdir PATH\n");
		return 2;
	}
	memset(&nop, 0, sizeof(nop));
	nop.opcode = IORING_OP_NOP;
	memset(&mkdir_sqe, 0, sizeof(mkdir_sqe));
	mkdir_sqe.opcode = IORING_OP_MKDIRAT;
	mkdir_sqe.fd = AT_FDCWD;
	mkdir_sqe.addr = (uint64_t)(uintptr_t)argv[1];
	mkdir_sqe.len = 0755;
	res = ring_open(&r);
	/* The worker is made now, with CAP_SYS_ADMIN in its credentials. */
	if (res == 0)
		res = ring_run(&r, &nop);
	if (res == 0)
		res = drop_sys_admin();
	if (res == 0)
		res = ring_run(&r, &mkdir_sqe);
	if (res < 0) {
		fprintf(stderr, "uring-mkdir: %s\n", strerror(-res));
		return 1;
	}
	return 0;
}
