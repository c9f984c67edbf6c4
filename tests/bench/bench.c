// SPDX-License-Identifier: GPL-2.0-or-later
/* utsfs-bench: utsfs timed against nullfs (the FUSE floor), raw namespace syscalls (the kernel floor), libfuse's hello_ll (a reference) and one process per operation. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROWS 96
#define MAX_VARIANTS 8
#define MAX_ROUNDS 31
#define MAX_POINTS 3
/* A scale point's loops cycle through this many names spread over the tree. */
#define SPREAD 100
#define MAX_CLIENTS 8
/*
 * What utsfs may cost above nullfs, the FUSE floor of a file system that
 * keeps its promises: what is left is utsfs's own work per request (a look
 * at the name, the namespace), which must stay small beside the round trips.
 */
#define FLOOR_TARGET 1.15

struct row {
	int section;
	char what[112];
	char value[40];
	char target[24];
	const char *verdict;
};

struct bench {
	const char *mount;
	const char *state;
	const char *hello;
	/*
	 * nullfs's mount: utsfs's tree and cache policies with requests that do
	 * no work (the FUSE floor of sections 1 to 3).
	 */
	const char *null;
	/* A second utsfs, run with -o restore (section 7), or NULL. */
	const char *restore_mount;
	pid_t daemon;
	bool quick;
	int rounds;
	/* Iterations per batch: FUSE round trips, raw syscalls, mkdir+rmdir, processes. */
	long fuse_iters;
	long raw_iters;
	long dir_iters;
	long proc_iters;
	double client_seconds;
	int ls_runs;
	long points[MAX_POINTS];
	int npoints;
	int host_fd;
	ino_t host_ino;
	struct row rows[MAX_ROWS];
	size_t nrows;
};

/* The files (or namespace fds) an operation cycles through, one per iteration. */
struct target {
	char **paths;
	int *fds;
	size_t n;
};

struct variant {
	const char *label;
	void (*op)(struct bench *b, const struct target *t, long i);
	const struct target *t;
	long iters;
	/* Raw namespace syscalls run in a thread of their own: main never leaves home. */
	bool own_thread;
};

/* The two hostnames writes alternate between, so every write changes something. */
static const char *const values[2] = { "ub-a\n", "ub-b\n" };
#define VALUE_LEN 4

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("utsfs-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

#define die_errno(fmt, ...) die(fmt ": %s", ##__VA_ARGS__, strerror(errno))

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		die("out of memory");
	va_end(ap);
	return s;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p)
		die("out of memory");
	return p;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- targets ------------------------------------------------------------ */

static struct target *target_new(size_t n)
{
	struct target *t = xcalloc(1, sizeof(*t));

	t->paths = xcalloc(n, sizeof(*t->paths));
	t->fds = xcalloc(n, sizeof(*t->fds));
	t->n = n;
	for (size_t i = 0; i < n; i++)
		t->fds[i] = -1;
	return t;
}

static struct target *target_path(char *path)
{
	struct target *t = target_new(1);

	t->paths[0] = path;
	return t;
}

/* The namespace behind each state file, for the raw path's setns. */
static void target_open_fds(struct target *t)
{
	for (size_t i = 0; i < t->n; i++) {
		t->fds[i] = open(t->paths[i], O_RDONLY | O_CLOEXEC);
		if (t->fds[i] < 0)
			die_errno("open %s", t->paths[i]);
	}
}

static void target_free(struct target *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->paths[i]);
		if (t->fds[i] >= 0)
			close(t->fds[i]);
	}
	free(t->paths);
	free(t->fds);
	free(t);
}

/* --- namespaces: leaving home and coming back ---------------------------- */

static ino_t current_uts_ino(void)
{
	struct stat st;

	if (stat("/proc/thread-self/ns/uts", &st) < 0)
		die_errno("stat /proc/thread-self/ns/uts");
	return st.st_ino;
}

static void assert_home(const struct bench *b)
{
	if (current_uts_ino() != b->host_ino)
		die("a thread is outside the host UTS namespace");
}

static void enter(int ns_fd)
{
	if (setns(ns_fd, CLONE_NEWUTS) < 0)
		die_errno("setns");
}

/* A thread that cannot get home must not run anything else. */
static void return_home(const struct bench *b)
{
	if (setns(b->host_fd, CLONE_NEWUTS) < 0)
		die_errno("setns back to the host UTS namespace");
}

/* Run fn in a fresh thread, which checks it is home before it ends. */
struct thread_job {
	struct bench *b;
	void (*fn)(struct bench *b, void *arg);
	void *arg;
};

static void *thread_main(void *p)
{
	struct thread_job *job = p;

	job->fn(job->b, job->arg);
	assert_home(job->b);
	return NULL;
}

static void run_in_thread(struct bench *b, void (*fn)(struct bench *, void *), void *arg)
{
	struct thread_job job = { b, fn, arg };
	pthread_t th;
	int r = pthread_create(&th, NULL, thread_main, &job);

	if (r != 0)
		die("pthread_create: %s", strerror(r));
	pthread_join(th, NULL);
}

/* --- operations ---------------------------------------------------------- */

static void read_once(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		die_errno("open %s", path);
	n = read(fd, buf, size - 1);
	if (n < 0)
		die_errno("read %s", path);
	if (n == 0)
		die("read %s: empty", path);
	buf[n] = '\0';
	close(fd);
}

/* open + read + close, as cat does it minus the read that finds EOF. */
static void op_read(struct bench *b __attribute__((unused)),
		    const struct target *t, long i)
{
	char buf[4096];

	read_once(t->paths[(size_t)i % t->n], buf, sizeof(buf));
}

static void write_value(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	size_t len = strlen(value);

	if (fd < 0)
		die_errno("open %s for writing", path);
	if (write(fd, value, len) != (ssize_t)len)
		die_errno("write %s", path);
	/* close sends FLUSH: an error there is the write's error. */
	if (close(fd) < 0)
		die_errno("close %s", path);
}

/* open O_TRUNC + write + close, as `echo ub-a > hostname` does it. */
static void op_write(struct bench *b __attribute__((unused)),
		     const struct target *t, long i)
{
	write_value(t->paths[(size_t)i % t->n], values[i & 1]);
}

static void op_raw_get(struct bench *b, const struct target *t, long i)
{
	struct utsname u;

	enter(t->fds[(size_t)i % t->n]);
	if (uname(&u) < 0)
		die_errno("uname");
	return_home(b);
}

static void op_raw_set(struct bench *b, const struct target *t, long i)
{
	enter(t->fds[(size_t)i % t->n]);
	if (sethostname(values[i & 1], VALUE_LEN) < 0)
		die_errno("sethostname");
	return_home(b);
}

static void op_mkdir_rmdir(struct bench *b __attribute__((unused)),
			   const struct target *t, long i)
{
	const char *path = t->paths[(size_t)i % t->n];

	if (mkdir(path, 0755) < 0)
		die_errno("mkdir %s", path);
	if (rmdir(path) < 0)
		die_errno("rmdir %s", path);
}

static long count_lines(const char *path)
{
	FILE *f = fopen(path, "re");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* mount's ENOSPC means a limit on mounts, not disk space: say which. */
static void die_mount_failure(const char *path)
{
	int err = errno;
	FILE *f;
	long max = -1;

	if (err != ENOSPC)
		die("bind-mount a namespace on %s: %s", path, strerror(err));
	f = fopen("/proc/sys/fs/mount-max", "re");
	if (f) {
		if (fscanf(f, "%ld", &max) != 1)
			max = -1;
		fclose(f);
	}
	die("bind-mount a namespace on %s: %s (this mount namespace holds %ld mounts; "
	    "fs.mount-max is %ld)", path, strerror(err),
	    count_lines("/proc/thread-self/mountinfo"), max);
}

/* What `ip netns add` and utsfs's mkdir do: the name file, a namespace, its bind mount. */
static void raw_create(struct bench *b, const char *path)
{
	int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);

	if (fd < 0)
		die_errno("create %s", path);
	close(fd);
	if (unshare(CLONE_NEWUTS) < 0)
		die_errno("unshare(CLONE_NEWUTS)");
	/* thread-self: /proc/self/ns/uts is the main thread's, still the host's. */
	if (mount("/proc/thread-self/ns/uts", path, NULL, MS_BIND, NULL) < 0)
		die_mount_failure(path);
	return_home(b);
}

static void raw_destroy(const char *path)
{
	if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
		die_errno("umount %s", path);
	if (unlink(path) < 0)
		die_errno("unlink %s", path);
}

static void op_raw_create_destroy(struct bench *b, const struct target *t, long i)
{
	const char *path = t->paths[(size_t)i % t->n];

	raw_create(b, path);
	raw_destroy(path);
}

/* fork + exec + wait, output discarded, as a shell runs a command. */
static void run_cmd(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		die_errno("fork");
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		die_errno("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("%s %s: exited with status %#x", argv[0], argv[1], status);
}

static void op_proc_get(struct bench *b __attribute__((unused)),
			const struct target *t, long i)
{
	char arg[PATH_MAX + 8];
	char *argv[] = { "nsenter", arg, "hostname", NULL };

	snprintf(arg, sizeof(arg), "--uts=%s", t->paths[(size_t)i % t->n]);
	run_cmd(argv);
}

static void op_proc_set(struct bench *b __attribute__((unused)),
			const struct target *t, long i)
{
	char arg[PATH_MAX + 8];
	char value[VALUE_LEN + 1];
	char *argv[] = { "nsenter", arg, "hostname", value, NULL };

	snprintf(arg, sizeof(arg), "--uts=%s", t->paths[(size_t)i % t->n]);
	snprintf(value, sizeof(value), "%.*s", VALUE_LEN, values[i & 1]);
	run_cmd(argv);
}

/*
 * The seed's create-and-name: `touch FILE && unshare --uts=FILE hostname X`.
 * The touch and the final umount + rm are done in-process, which flatters
 * the process way: a shell would fork for them too.
 */
static void op_proc_create(struct bench *b __attribute__((unused)),
			   const struct target *t, long i)
{
	const char *path = t->paths[(size_t)i % t->n];
	char arg[PATH_MAX + 8];
	char *argv[] = { "unshare", arg, "hostname", "ubp", NULL };
	int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);

	if (fd < 0)
		die_errno("create %s", path);
	close(fd);
	snprintf(arg, sizeof(arg), "--uts=%s", path);
	run_cmd(argv);
	raw_destroy(path);
}

/* --- measuring ----------------------------------------------------------- */

struct batch {
	const struct variant *v;
	long iters;
	double ns_per_op;
};

static void time_batch(struct bench *b, void *arg)
{
	struct batch *job = arg;
	uint64_t t0 = now_ns();

	for (long i = 0; i < job->iters; i++)
		job->v->op(b, job->v->t, i);
	job->ns_per_op = (double)(now_ns() - t0) / (double)job->iters;
}

static double run_batch(struct bench *b, const struct variant *v, long iters)
{
	struct batch job = { v, iters, 0 };

	if (v->own_thread)
		run_in_thread(b, time_batch, &job);
	else
		time_batch(b, &job);
	return job.ns_per_op;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), compare_doubles);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * One batch of every variant per round, forwards on even rounds and
 * backwards on odd ones, so drift and noise hit every side alike and no
 * variant always runs first. out gets each variant's median ns per op.
 */
static void measure(struct bench *b, const struct variant *v, size_t n, double *out)
{
	double samples[MAX_VARIANTS][MAX_ROUNDS];

	/* Warm caches, dentries and daemon threads before anything counts. */
	for (size_t k = 0; k < n; k++)
		run_batch(b, &v[k], v[k].iters / 10 + 1);
	for (int r = 0; r < b->rounds; r++) {
		for (size_t j = 0; j < n; j++) {
			size_t k = r % 2 ? n - 1 - j : j;

			samples[k][r] = run_batch(b, &v[k], v[k].iters);
		}
	}
	for (size_t k = 0; k < n; k++)
		out[k] = median(samples[k], b->rounds);
}

/* --- the table ------------------------------------------------------------ */

static struct row *add_row(struct bench *b, int section, const char *what)
{
	struct row *r;

	if (b->nrows == MAX_ROWS)
		die("too many table rows");
	r = &b->rows[b->nrows++];
	*r = (struct row){ .section = section, .verdict = "" };
	snprintf(r->what, sizeof(r->what), "%s", what);
	return r;
}

static void row_text(struct bench *b, int section, const char *what,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void row_text(struct bench *b, int section, const char *what,
		     const char *fmt, ...)
{
	struct row *r = add_row(b, section, what);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->value, sizeof(r->value), fmt, ap);
	va_end(ap);
}

static void format_time(char *buf, size_t size, double ns)
{
	if (ns < 1e6)
		snprintf(buf, size, "%.2f µs", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, size, "%.2f ms", ns / 1e6);
	else
		snprintf(buf, size, "%.2f s", ns / 1e9);
}

static void row_time(struct bench *b, int section, const char *what, double ns)
{
	struct row *r = add_row(b, section, what);

	format_time(r->value, sizeof(r->value), ns);
}

/* A ratio that should stay at or below limit (or reach at least limit when at_least). */
static void row_ratio(struct bench *b, int section, const char *what,
		      double ratio, double limit, bool at_least)
{
	struct row *r = add_row(b, section, what);
	bool pass = at_least ? ratio >= limit : ratio <= limit;

	snprintf(r->value, sizeof(r->value), "%.2f×", ratio);
	if (limit > 0) {
		snprintf(r->target, sizeof(r->target), "%s %.2f×",
			 at_least ? "≥" : "≤", limit);
		r->verdict = pass ? "PASS" : "MISS";
	}
}

static size_t display_width(const char *s)
{
	size_t w = 0;

	/* Count UTF-8 code points: µ, ×, ≤ and ≥ are one column each. */
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void print_cell(const char *s, size_t width)
{
	printf("| %s%*s ", s, (int)(width - display_width(s)), "");
}

static void sort_rows(struct bench *b)
{
	/* Insertion sort: stable, so rows keep their order within a section. */
	for (size_t i = 1; i < b->nrows; i++) {
		struct row r = b->rows[i];
		size_t j = i;

		for (; j > 0 && b->rows[j - 1].section > r.section; j--)
			b->rows[j] = b->rows[j - 1];
		b->rows[j] = r;
	}
}

/* A Markdown table, padded so it also reads well on a terminal. */
static void print_table(struct bench *b)
{
	const char *head[5] = { "#", "measurement", "value", "target", "result" };
	size_t w[5];

	sort_rows(b);
	for (int c = 0; c < 5; c++)
		w[c] = display_width(head[c]);
	for (size_t i = 0; i < b->nrows; i++) {
		const struct row *r = &b->rows[i];
		const char *cells[5] = { "", r->what, r->value, r->target, r->verdict };

		for (int c = 1; c < 5; c++)
			if (display_width(cells[c]) > w[c])
				w[c] = display_width(cells[c]);
	}
	for (int c = 0; c < 5; c++)
		print_cell(head[c], w[c]);
	printf("|\n");
	for (int c = 0; c < 5; c++)
		printf("|%.*s", (int)w[c] + 2,
		       "------------------------------------------------------------"
		       "------------------------------------------------------------");
	printf("|\n");
	for (size_t i = 0; i < b->nrows; i++) {
		const struct row *r = &b->rows[i];
		char sec[8];

		snprintf(sec, sizeof(sec), "%d", r->section);
		print_cell(sec, w[0]);
		print_cell(r->what, w[1]);
		print_cell(r->value, w[2]);
		print_cell(r->target, w[3]);
		print_cell(r->verdict, w[4]);
		printf("|\n");
	}
}

/* --- the daemon ----------------------------------------------------------- */

static long daemon_rss_kib(const struct bench *b)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)b->daemon);
	f = fopen(path, "re");
	if (!f)
		die_errno("open %s", path);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	if (kib < 0)
		die("no VmRSS in %s", path);
	return kib;
}

static char *mount_path(const struct bench *b, const char *name, const char *file)
{
	return file ? xasprintf("%s/%s/%s", b->mount, name, file)
		    : xasprintf("%s/%s", b->mount, name);
}

static char *state_path(const struct bench *b, const char *name)
{
	return xasprintf("%s/%s", b->state, name);
}

static void utsfs_mkdir(const struct bench *b, const char *name)
{
	char *path = mount_path(b, name, NULL);

	if (mkdir(path, 0755) < 0)
		die_errno("mkdir %s", path);
	free(path);
}

static void utsfs_rmdir(const struct bench *b, const char *name)
{
	char *path = mount_path(b, name, NULL);

	if (rmdir(path) < 0)
		die_errno("rmdir %s", path);
	free(path);
}

/* nullfs's NAME, or a file in it (its one file is called hostname too). */
static char *null_path(const struct bench *b, const char *name, const char *file)
{
	return file ? xasprintf("%s/%s/%s", b->null, name, file)
		    : xasprintf("%s/%s", b->null, name);
}

static void null_mkdir(const struct bench *b, const char *name)
{
	char *path = null_path(b, name, NULL);

	if (mkdir(path, 0755) < 0)
		die_errno("mkdir %s", path);
	free(path);
}

static void null_rmdir(const struct bench *b, const char *name)
{
	char *path = null_path(b, name, NULL);

	if (rmdir(path) < 0)
		die_errno("rmdir %s", path);
	free(path);
}

/* --- 1 and 2: read and write hostname ------------------------------------ */

struct coherence {
	int ns_fd;
	const char *expect;
	const char *set;
};

static void raw_get_and_set(struct bench *b, void *arg)
{
	struct coherence *c = arg;
	struct utsname u;

	enter(c->ns_fd);
	if (uname(&u) < 0)
		die_errno("uname");
	if (strcmp(u.nodename, c->expect) != 0)
		die("the namespace holds %s, utsfs wrote %s", u.nodename, c->expect);
	if (sethostname(c->set, strlen(c->set)) < 0)
		die_errno("sethostname");
	return_home(b);
}

/*
 * Speed must not come from stale answers: what utsfs writes is in the
 * namespace, and what is set inside the namespace shows on the next read.
 */
static void check_coherence(struct bench *b, const struct target *file,
			    const struct target *ns)
{
	struct coherence c = { ns->fds[0], "ub-check", "ub-inside" };
	char buf[256];

	write_value(file->paths[0], "ub-check\n");
	run_in_thread(b, raw_get_and_set, &c);
	read_once(file->paths[0], buf, sizeof(buf));
	if (strcmp(buf, "ub-inside\n") != 0)
		die("utsfs read %s after the namespace was set to ub-inside", buf);
}

/*
 * utsfs's file against nullfs's, which the kernel asks the same requests
 * (the same timeouts, direct I/O, no atomic_o_trunc) and which answers them
 * without work: the ratio is what utsfs's own work costs. hello_ll promises
 * less (its attributes are cached for a second, its reads go through the
 * page cache, its root holds no directories): a reference, not a floor.
 */
static void bench_read_write(struct bench *b, const struct target *file,
			     const struct target *ns, const struct target *null,
			     const struct target *hello)
{
	const struct variant v[] = {
		{ "utsfs read", op_read, file, b->fuse_iters, false },
		{ "nullfs read", op_read, null, b->fuse_iters, false },
		{ "hello_ll read", op_read, hello, b->fuse_iters, false },
		{ "raw get", op_raw_get, ns, b->raw_iters, true },
		{ "utsfs write", op_write, file, b->fuse_iters, false },
		{ "nullfs write", op_write, null, b->fuse_iters, false },
		{ "raw set", op_raw_set, ns, b->raw_iters, true },
	};
	double m[7];

	fprintf(stderr, "utsfs-bench: 1-2 read and write hostname\n");
	check_coherence(b, file, ns);
	measure(b, v, 7, m);
	row_time(b, 1, "read: utsfs open+read+close of NAME/hostname", m[0]);
	row_time(b, 1, "read: nullfs open+read+close of NAME/hostname (FUSE floor)", m[1]);
	row_time(b, 1, "read: hello_ll open+read+close (reference)", m[2]);
	row_time(b, 1, "read: raw setns+uname+setns (kernel floor)", m[3]);
	row_ratio(b, 1, "read: utsfs / nullfs (FUSE floor)", m[0] / m[1], FLOOR_TARGET, false);
	row_ratio(b, 1, "read: utsfs / hello_ll (reference)", m[0] / m[2], 0, false);
	row_ratio(b, 1, "read: utsfs / raw", m[0] / m[3], 0, false);
	row_time(b, 2, "write: utsfs open(O_TRUNC)+write+close", m[4]);
	row_time(b, 2, "write: nullfs open(O_TRUNC)+write+close (FUSE floor)", m[5]);
	row_time(b, 2, "write: raw setns+sethostname+setns", m[6]);
	row_ratio(b, 2, "write: utsfs / nullfs (FUSE floor)", m[4] / m[5], FLOOR_TARGET, false);
	/* As section 3's: doing the raw path's work through FUSE costs both. */
	row_ratio(b, 2, "write: utsfs / (FUSE floor + raw)", m[4] / (m[5] + m[6]), 0, false);
	row_ratio(b, 2, "write: utsfs / raw", m[4] / m[6], 0, false);
	check_coherence(b, file, ns);
}

/* --- 3: mkdir + rmdir ------------------------------------------------------ */

static struct target *null_dir(const struct bench *b)
{
	return target_path(null_path(b, "ubn", NULL));
}

/*
 * A FUSE mkdir+rmdir costs its round trips before any work: nullfs's, which
 * do no work, are that floor. Doing the raw path's work through FUSE cannot
 * take less than the floor plus the raw path: the "best reachable" row, and
 * what utsfs is held to.
 */
static void bench_mkdir(struct bench *b)
{
	struct target *dir = target_path(mount_path(b, "ubm", NULL));
	struct target *raw = target_path(state_path(b, "ubr"));
	struct target *null = null_dir(b);
	const struct variant v[] = {
		{ "utsfs mkdir+rmdir", op_mkdir_rmdir, dir, b->dir_iters, false },
		{ "raw create+destroy", op_raw_create_destroy, raw, b->dir_iters, true },
		{ "nullfs mkdir+rmdir", op_mkdir_rmdir, null, b->dir_iters, false },
	};
	double m[3];

	fprintf(stderr, "utsfs-bench: 3 mkdir+rmdir\n");
	measure(b, v, 3, m);
	row_time(b, 3, "mkdir+rmdir: utsfs", m[0]);
	row_time(b, 3, "mkdir+rmdir: raw touch+unshare+bind+setns+umount+unlink", m[1]);
	row_time(b, 3, "mkdir+rmdir: nullfs, round trips only (FUSE floor)", m[2]);
	row_ratio(b, 3, "mkdir+rmdir: utsfs / raw", m[0] / m[1], 2.0, false);
	row_ratio(b, 3, "mkdir+rmdir: best reachable, (FUSE floor + raw) / raw",
		  (m[2] + m[1]) / m[1], 0, false);
	row_ratio(b, 3, "mkdir+rmdir: utsfs / (FUSE floor + raw)", m[0] / (m[2] + m[1]),
		  FLOOR_TARGET, false);
	target_free(dir);
	target_free(raw);
	target_free(null);
}

/* --- 7: -o restore, as the systemd unit runs it ---------------------------- */

/* Names the restore mount holds while it is timed: every record write visits each. */
#define RESTORE_NAMES 1000

static void restore_names(const struct bench *b, bool make)
{
	for (int i = 0; i < RESTORE_NAMES; i++) {
		char *path = xasprintf("%s/ubr%d", b->restore_mount, i);

		if (make ? mkdir(path, 0755) < 0 : rmdir(path) < 0)
			die_errno("%s %s", make ? "mkdir" : "rmdir", path);
		free(path);
	}
}

/*
 * With -o restore every change must reach the record, a file rewritten from
 * a look into every namespace: timed against the plain mount, interleaved.
 */
static void bench_restore(struct bench *b, const struct target *file)
{
	struct target *rfile, *rdir, *dir;
	char what[112];
	double m[4];

	fprintf(stderr, "utsfs-bench: 7 -o restore with %d names\n", RESTORE_NAMES);
	restore_names(b, true);
	rfile = target_path(xasprintf("%s/ubr0/hostname", b->restore_mount));
	rdir = target_path(xasprintf("%s/ubx", b->restore_mount));
	dir = target_path(mount_path(b, "ubm", NULL));
	const struct variant v[] = {
		{ "utsfs write", op_write, file, b->fuse_iters, false },
		{ "restore write", op_write, rfile, b->fuse_iters, false },
		{ "utsfs mkdir+rmdir", op_mkdir_rmdir, dir, b->dir_iters, false },
		{ "restore mkdir+rmdir", op_mkdir_rmdir, rdir, b->dir_iters, false },
	};
	measure(b, v, 4, m);
	snprintf(what, sizeof(what), "-o restore, %d names: write", RESTORE_NAMES);
	row_time(b, 7, what, m[1]);
	row_ratio(b, 7, "-o restore: write / write without it", m[1] / m[0], 0, false);
	snprintf(what, sizeof(what), "-o restore, %d names: mkdir+rmdir", RESTORE_NAMES);
	row_time(b, 7, what, m[3]);
	row_ratio(b, 7, "-o restore: mkdir+rmdir / mkdir+rmdir without it",
		  m[3] / m[2], 0, false);
	restore_names(b, false);
	target_free(rfile);
	target_free(rdir);
	target_free(dir);
}

/* --- 4: one process per operation ----------------------------------------- */

/* name is the namespace file reads and writes: the same one for both ways. */
static void bench_processes(struct bench *b, const char *name, const struct target *file)
{
	struct target *st = target_path(state_path(b, name));
	struct target *fresh = target_path(state_path(b, "ubp"));
	struct target *dir = target_path(mount_path(b, "ubm", NULL));
	struct target *raw = target_path(state_path(b, "ubr"));
	struct target *null = null_dir(b);
	double m[8];
	const struct variant v[] = {
		{ "nsenter hostname", op_proc_get, st, b->proc_iters, false },
		{ "utsfs read", op_read, file, b->fuse_iters, false },
		{ "nsenter hostname X", op_proc_set, st, b->proc_iters, false },
		{ "utsfs write", op_write, file, b->fuse_iters, false },
		{ "unshare hostname X", op_proc_create, fresh, b->proc_iters, false },
		{ "utsfs mkdir+rmdir", op_mkdir_rmdir, dir, b->dir_iters, false },
		{ "raw create+destroy", op_raw_create_destroy, raw, b->dir_iters, true },
		{ "nullfs mkdir+rmdir", op_mkdir_rmdir, null, b->dir_iters, false },
	};

	fprintf(stderr, "utsfs-bench: 4 one process per operation\n");
	measure(b, v, 8, m);
	row_time(b, 4, "process: nsenter --uts=FILE hostname", m[0]);
	row_ratio(b, 4, "speed-up: utsfs read vs nsenter hostname", m[0] / m[1], 20, true);
	row_time(b, 4, "process: nsenter --uts=FILE hostname X", m[2]);
	row_ratio(b, 4, "speed-up: utsfs write vs nsenter hostname X", m[2] / m[3], 20, true);
	row_time(b, 4, "process: touch; unshare --uts=FILE hostname X; umount; rm", m[4]);
	row_ratio(b, 4, "speed-up: utsfs mkdir+rmdir vs unshare", m[4] / m[5], 20, true);
	/*
	 * What any implementation could reach: the same steps as raw syscalls
	 * in this process. Below 20x, the kernel's own mount and namespace
	 * work leaves that target out of reach for creating a namespace.
	 */
	row_ratio(b, 4, "speed-up ceiling: raw syscalls vs unshare", m[4] / m[6], 0, true);
	/* And for FUSE: round trips alone, before the namespace work. */
	row_ratio(b, 4, "speed-up ceiling: nullfs mkdir+rmdir vs unshare", m[4] / m[7], 0, true);
	row_ratio(b, 4, "speed-up ceiling: FUSE floor + raw vs unshare",
		  m[4] / (m[7] + m[6]), 0, true);
	target_free(null);
	target_free(st);
	target_free(fresh);
	target_free(dir);
	target_free(raw);
}

/* --- 6: parallel clients -------------------------------------------------- */

struct client {
	struct bench *b;
	const struct target *t;
	pthread_barrier_t *start;
	double seconds;
	double ops_per_s;
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	uint64_t t0, t, end;
	long ops = 0;

	pthread_barrier_wait(c->start);
	t0 = now_ns();
	end = t0 + (uint64_t)(c->seconds * 1e9);
	do {
		op_read(c->b, c->t, 0);
		ops++;
	} while ((t = now_ns()) < end);
	c->ops_per_s = (double)ops * 1e9 / (double)(t - t0);
	return NULL;
}

/* Total reads per second of n clients, client k reading targets[k]. */
static double run_clients(struct bench *b, struct target *const *targets, int n)
{
	struct client c[MAX_CLIENTS];
	pthread_t th[MAX_CLIENTS];
	pthread_barrier_t start;
	double total = 0;

	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (int k = 0; k < n; k++) {
		c[k] = (struct client){ b, targets[k], &start, b->client_seconds, 0 };
		int r = pthread_create(&th[k], NULL, client_main, &c[k]);

		if (r != 0)
			die("pthread_create: %s", strerror(r));
	}
	for (int k = 0; k < n; k++) {
		pthread_join(th[k], NULL);
		total += c[k].ops_per_s;
	}
	pthread_barrier_destroy(&start);
	return total;
}

static const int client_counts[] = { 1, 2, 4, 8 };
#define NCOUNTS 4

static void parallel_rows(struct bench *b, const char *who, const double *ops, bool target)
{
	char what[112];

	for (int k = 0; k < NCOUNTS; k++) {
		snprintf(what, sizeof(what), "parallel: %s, %d client%s", who,
			 client_counts[k], client_counts[k] > 1 ? "s" : "");
		row_text(b, 6, what, "%.0f reads/s", ops[k]);
	}
	for (int k = 1; k < NCOUNTS; k++) {
		snprintf(what, sizeof(what), "parallel: %s, %d clients / 1", who,
			 client_counts[k]);
		row_ratio(b, 6, what, ops[k] / ops[0],
			  target && client_counts[k] == 2 ? 1.6 : 0, true);
	}
}

static void bench_parallel(struct bench *b, struct target *const *own,
			   struct target *hello)
{
	struct target *same[MAX_CLIENTS];
	double samples[2 * NCOUNTS][MAX_ROUNDS];
	double ops[2][NCOUNTS];

	fprintf(stderr, "utsfs-bench: 6 parallel clients\n");
	for (int k = 0; k < MAX_CLIENTS; k++)
		same[k] = hello;
	for (int r = 0; r < b->rounds; r++) {
		for (int j = 0; j < 2 * NCOUNTS; j++) {
			int k = r % 2 ? 2 * NCOUNTS - 1 - j : j;
			int n = client_counts[k % NCOUNTS];

			samples[k][r] = run_clients(b, k < NCOUNTS ? own : same, n);
		}
	}
	for (int k = 0; k < 2 * NCOUNTS; k++)
		ops[k / NCOUNTS][k % NCOUNTS] = median(samples[k], b->rounds);
	parallel_rows(b, "utsfs reads (own namespace each)", ops[0], true);
	parallel_rows(b, "hello_ll reads (reference)", ops[1], false);
}

/* --- 5: scale --------------------------------------------------------------- */

struct creation {
	long from;
	long to;
};

static char *scale_name(const struct bench *b, long i)
{
	return xasprintf("%s/s%ld", b->state, i);
}

static void create_range(struct bench *b, void *arg)
{
	const struct creation *c = arg;

	for (long i = c->from; i < c->to; i++) {
		char *path = scale_name(b, i);

		raw_create(b, path);
		free(path);
	}
}

static void destroy_range(const struct bench *b, long from, long to)
{
	for (long i = from; i < to; i++) {
		char *path = scale_name(b, i);

		raw_destroy(path);
		free(path);
	}
}

/*
 * `ls -f` (names only) or `ls -l` (a stat of each). Before each `ls -l`
 * the names the kernel knows are given time to expire (utsfs lets it trust
 * one for a second), as a user's next look at the tree would find them.
 */
static double time_ls(struct bench *b, const char *flag)
{
	char *argv[] = { "ls", (char *)flag, (char *)b->mount, NULL };
	bool cold = strcmp(flag, "-l") == 0;
	double runs[MAX_ROUNDS];

	for (int r = 0; r < b->ls_runs; r++) {
		uint64_t t0;

		if (cold)
			usleep(1200 * 1000);
		t0 = now_ns();

		run_cmd(argv);
		runs[r] = (double)(now_ns() - t0);
	}
	return median(runs, b->ls_runs);
}

static long count_names(const struct bench *b)
{
	DIR *d = opendir(b->mount);
	struct dirent *de;
	long n = 0;

	if (!d)
		die_errno("opendir %s", b->mount);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* lstat of every name: one LOOKUP each, so the daemon knows them all. */
static double lookup_all(const struct bench *b, long n)
{
	uint64_t t0 = now_ns();
	struct stat st;

	for (long i = 0; i < n; i++) {
		char *path = xasprintf("%s/s%ld", b->mount, i);

		if (lstat(path, &st) < 0)
			die_errno("lstat %s", path);
		free(path);
	}
	return (double)(now_ns() - t0) / (double)n;
}

/* SPREAD hostname files evenly spread over the n names. */
static struct target *spread_target(const struct bench *b, long n)
{
	size_t k = n < SPREAD ? (size_t)n : SPREAD;
	struct target *t = target_new(k);

	for (size_t j = 0; j < k; j++)
		t->paths[j] = xasprintf("%s/s%ld/hostname", b->mount,
					(long)j * n / (long)k);
	return t;
}

struct point {
	long n;
	double read, write, hello, ls, ls_l;
	long rss_kib;
};

static void measure_point(struct bench *b, struct point *p, const struct target *hello)
{
	struct target *spread = spread_target(b, p->n);
	const struct variant v[] = {
		{ "utsfs read", op_read, spread, b->fuse_iters, false },
		{ "utsfs write", op_write, spread, b->fuse_iters, false },
		{ "hello_ll read", op_read, hello, b->fuse_iters, false },
	};
	double m[3], lookup;
	char what[112];

	p->ls = time_ls(b, "-f");
	if (count_names(b) != p->n)
		die("utsfs lists %ld names, the state directory holds %ld",
		    count_names(b), p->n);
	lookup = lookup_all(b, p->n);
	p->rss_kib = daemon_rss_kib(b);
	measure(b, v, 3, m);
	p->read = m[0];
	p->write = m[1];
	p->hello = m[2];
	/* Last: a listing's names would spare the lstat loop its LOOKUPs. */
	p->ls_l = time_ls(b, "-l");
	snprintf(what, sizeof(what), "scale %ld: ls -f MOUNT (process)", p->n);
	row_time(b, 5, what, p->ls);
	snprintf(what, sizeof(what), "scale %ld: ls -l MOUNT (process), names expired", p->n);
	row_time(b, 5, what, p->ls_l);
	snprintf(what, sizeof(what), "scale %ld: lstat MOUNT/NAME, per name", p->n);
	row_time(b, 5, what, lookup);
	snprintf(what, sizeof(what), "scale %ld: utsfs read", p->n);
	row_time(b, 5, what, p->read);
	snprintf(what, sizeof(what), "scale %ld: utsfs write", p->n);
	row_time(b, 5, what, p->write);
	snprintf(what, sizeof(what), "scale %ld: hello_ll read (drift reference)", p->n);
	row_time(b, 5, what, p->hello);
	snprintf(what, sizeof(what), "scale %ld: daemon VmRSS", p->n);
	row_text(b, 5, what, "%ld KiB", p->rss_kib);
	target_free(spread);
}

static void scale_verdicts(struct bench *b, const struct point *lo, const struct point *hi)
{
	char what[112];
	double per_ns = (double)(hi->rss_kib - lo->rss_kib) * 1024 / (double)(hi->n - lo->n);
	struct row *r;

	snprintf(what, sizeof(what), "scale: read at %ld / read at %ld", hi->n, lo->n);
	row_ratio(b, 5, what, hi->read / lo->read, 1.5, false);
	snprintf(what, sizeof(what), "scale: write at %ld / write at %ld", hi->n, lo->n);
	row_ratio(b, 5, what, hi->write / lo->write, 1.5, false);
	snprintf(what, sizeof(what), "scale: ls -f of %ld names", hi->n);
	r = add_row(b, 5, what);
	format_time(r->value, sizeof(r->value), hi->ls);
	snprintf(r->target, sizeof(r->target), "< 1 s");
	r->verdict = hi->ls < 1e9 ? "PASS" : "MISS";
	snprintf(what, sizeof(what), "scale: daemon RSS per namespace (%ld→%ld)", lo->n, hi->n);
	r = add_row(b, 5, what);
	snprintf(r->value, sizeof(r->value), "%.0f B", per_ns);
	snprintf(r->target, sizeof(r->target), "< 1024 B");
	r->verdict = per_ns < 1024 ? "PASS" : "MISS";
}

static void bench_scale(struct bench *b, const struct target *hello)
{
	struct point p[MAX_POINTS];
	long made = 0;
	char what[112];

	for (int k = 0; k < b->npoints; k++) {
		struct creation c = { made, b->points[k] };
		uint64_t t0 = now_ns();

		fprintf(stderr, "utsfs-bench: 5 scale: %ld namespaces\n", c.to);
		run_in_thread(b, create_range, &c);
		snprintf(what, sizeof(what), "scale %ld: raw create into STATE, per name", c.to);
		row_time(b, 5, what, (double)(now_ns() - t0) / (double)(c.to - c.from));
		made = c.to;
		p[k] = (struct point){ .n = made };
		measure_point(b, &p[k], hello);
	}
	scale_verdicts(b, &p[0], &p[b->npoints - 1]);
	fprintf(stderr, "utsfs-bench: removing %ld namespaces\n", made);
	destroy_range(b, 0, made);
}

/* --- main ------------------------------------------------------------------- */

static void usage(FILE *out, int status)
{
	fprintf(out,
		"usage: utsfs-bench --mount DIR --state DIR --hello FILE --null DIR --pid PID\n"
		"                   [--restore-mount DIR] [--quick] [--rounds N]\n"
		"\n"
		"Times a running utsfs (mounted at DIR with state_dir=DIR, daemon PID)\n"
		"against nullfs's mount DIR, raw syscalls, hello_ll's FILE and\n"
		"nsenter/unshare processes.\n"
		"With --restore-mount, it times only a second utsfs, run with -o restore,\n"
		"against the first (section 7).\n"
		"Run it through tests/bench/run.sh, which sets all of that up.\n");
	exit(status);
}

static void parse_args(struct bench *b, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mount", required_argument, NULL, 'm' },
		{ "state", required_argument, NULL, 's' },
		{ "hello", required_argument, NULL, 'l' },
		{ "null", required_argument, NULL, 'n' },
		{ "pid", required_argument, NULL, 'p' },
		{ "restore-mount", required_argument, NULL, 'R' },
		{ "quick", no_argument, NULL, 'q' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': b->mount = optarg; break;
		case 's': b->state = optarg; break;
		case 'l': b->hello = optarg; break;
		case 'n': b->null = optarg; break;
		case 'p': b->daemon = (pid_t)atoi(optarg); break;
		case 'R': b->restore_mount = optarg; break;
		case 'q': b->quick = true; break;
		case 'r': b->rounds = atoi(optarg); break;
		case 'h': usage(stdout, 0); break;
		default: usage(stderr, 2);
		}
	}
	if (!b->mount || !b->state || !b->hello || !b->null || b->daemon <= 0 ||
	    optind != argc)
		usage(stderr, 2);
}

static void set_sizes(struct bench *b)
{
	static const long full_points[] = { 100, 10000, 50000 };
	static const long quick_points[] = { 100, 2000 };
	int rounds = b->rounds;

	b->rounds = b->quick ? 5 : 11;
	b->fuse_iters = b->quick ? 300 : 2000;
	b->raw_iters = b->fuse_iters * 10;
	b->dir_iters = b->quick ? 40 : 200;
	b->proc_iters = b->quick ? 8 : 30;
	b->client_seconds = b->quick ? 0.1 : 0.4;
	b->ls_runs = b->quick ? 3 : 5;
	b->npoints = b->quick ? 2 : 3;
	memcpy(b->points, b->quick ? quick_points : full_points,
	       (size_t)b->npoints * sizeof(long));
	if (rounds > 0)
		b->rounds = rounds < MAX_ROUNDS ? rounds : MAX_ROUNDS;
}

static void open_host(struct bench *b)
{
	b->host_fd = open("/proc/thread-self/ns/uts", O_RDONLY | O_CLOEXEC);
	if (b->host_fd < 0)
		die_errno("open /proc/thread-self/ns/uts");
	b->host_ino = current_uts_ino();
}

static void print_notes(const struct bench *b)
{
	printf("\nMedians over %d interleaved rounds (ABAB…, alternating direction), "
	       "per operation unless marked.\n", b->rounds);
	printf("FUSE floor: nullfs (tests/bench/nullfs.c) serves utsfs's tree under utsfs's timeouts,\n"
	       "direct I/O and mount options, and does no work; utsfs is held to %.2f× of it (with the\n"
	       "raw syscalls added for mkdir+rmdir). hello_ll, which promises less, is a reference only.\n",
	       FLOOR_TARGET);
	printf("Raw namespace syscalls run in a dedicated thread that returns to the host namespace.\n");
	printf("Section 4 does touch/umount/rm in-process: only nsenter/unshare are processes.\n");
	printf("Its ceiling row times section 3's raw syscalls against unshare: no implementation\n"
	       "of mkdir+rmdir can beat the kernel's own mount and namespace work.\n");
	printf("Scale: names are created with the raw path (touch, unshare, bind mount) straight into\n"
	       "the state directory, which utsfs reflects; reads and writes at each point cycle over\n"
	       "%d names spread across the tree; VmRSS is taken after `ls -f` and an lstat of every name.\n"
	       "`ls -l` runs last, each run 1.2 s after the one before, when every name has expired.\n",
	       SPREAD);
	printf("Parallel: each client reads its own namespace's hostname for %.1f s per round.\n",
	       b->client_seconds);
}

/*
 * Section 7 is a run of its own (run.sh starts the -o restore daemon only
 * then): an idle daemon with a record still wakes on every hostname change,
 * which would skew sections 1 to 6.
 */
static int run_restore_only(struct bench *b)
{
	struct target *file;

	utsfs_mkdir(b, "ub-read");
	file = target_path(mount_path(b, "ub-read", "hostname"));
	bench_restore(b, file);
	utsfs_rmdir(b, "ub-read");
	assert_home(b);
	print_table(b);
	printf("\nMedians over %d interleaved rounds, per operation. A second utsfs runs with\n"
	       "-o restore (its record on disk) and holds %d names made through it; it is\n"
	       "timed against the first, and writes its record in the background.\n",
	       b->rounds, RESTORE_NAMES);
	target_free(file);
	close(b->host_fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct bench b = { 0 };
	struct target *file, *ns, *null, *hello, *own[MAX_CLIENTS];

	parse_args(&b, argc, argv);
	set_sizes(&b);
	open_host(&b);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (b.restore_mount)
		return run_restore_only(&b);

	row_text(&b, 5, "daemon VmRSS at start", "%ld KiB", daemon_rss_kib(&b));
	utsfs_mkdir(&b, "ub-read");
	file = target_path(mount_path(&b, "ub-read", "hostname"));
	ns = target_path(state_path(&b, "ub-read"));
	target_open_fds(ns);
	null_mkdir(&b, "ub-read");
	null = target_path(null_path(&b, "ub-read", "hostname"));
	hello = target_path(xasprintf("%s", b.hello));
	for (int k = 0; k < MAX_CLIENTS; k++) {
		char name[16];

		snprintf(name, sizeof(name), "ub-p%d", k);
		utsfs_mkdir(&b, name);
		own[k] = target_path(mount_path(&b, name, "hostname"));
	}

	bench_read_write(&b, file, ns, null, hello);
	bench_mkdir(&b);
	bench_processes(&b, "ub-read", file);
	bench_parallel(&b, own, hello);

	/* The scale section counts names: only its own may be there. */
	utsfs_rmdir(&b, "ub-read");
	null_rmdir(&b, "ub-read");
	for (int k = 0; k < MAX_CLIENTS; k++) {
		char name[16];

		snprintf(name, sizeof(name), "ub-p%d", k);
		utsfs_rmdir(&b, name);
		target_free(own[k]);
	}
	bench_scale(&b, hello);
	assert_home(&b);

	print_table(&b);
	print_notes(&b);
	target_free(file);
	target_free(ns);
	target_free(null);
	target_free(hello);
	close(b.host_fd);
	return 0;
}
