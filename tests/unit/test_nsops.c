// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for nsops' namespace and state-directory operations: need root. */
#include "nsops.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

struct fixture {
	char *tmp;
	char *state;
	struct nsops_statedir sd;
	int host_fd;
	uint64_t host_id;
	char host_name[NSOPS_VALUE_MAX + 1];
};

static bool skip_unless_root(void)
{
	if (geteuid() == 0)
		return false;
	g_test_skip("needs root: creates namespaces and mounts");
	return true;
}

static void assert_at_home(struct fixture *f)
{
	uint64_t id = 0;
	char name[NSOPS_VALUE_MAX + 1];

	g_assert_cmpint(nsops_current_id(&id), ==, 0);
	g_assert_cmpuint(id, ==, f->host_id);
	g_assert_cmpint(gethostname(name, sizeof(name)), ==, 0);
	g_assert_cmpstr(name, ==, f->host_name);
}

static void fixture_setup(struct fixture *f, gconstpointer data G_GNUC_UNUSED)
{
	*f = (struct fixture){ .sd = { .lock_fd = -1, .dir_fd = -1 }, .host_fd = -1 };
	if (geteuid() != 0)
		return;
	f->tmp = g_dir_make_tmp("nsops-test-XXXXXX", NULL);
	g_assert_nonnull(f->tmp);
	/* A state directory that does not exist yet: open must create it. */
	f->state = g_build_filename(f->tmp, "state", NULL);
	f->host_fd = nsops_open_host();
	g_assert_cmpint(f->host_fd, >=, 0);
	g_assert_cmpint(nsops_current_id(&f->host_id), ==, 0);
	g_assert_cmpint(gethostname(f->host_name, sizeof(f->host_name)), ==, 0);
}

static void remove_tree(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;

	if (!d)
		return;
	while ((name = g_dir_read_name(d))) {
		g_autofree char *path = g_build_filename(dir, name, NULL);

		if (g_file_test(path, G_FILE_TEST_IS_DIR) &&
		    !g_file_test(path, G_FILE_TEST_IS_SYMLINK))
			remove_tree(path);
		else
			g_unlink(path);
	}
	g_rmdir(dir);
}

static void fixture_teardown(struct fixture *f, gconstpointer data G_GNUC_UNUSED)
{
	if (!f->tmp)
		return;
	assert_at_home(f);
	nsops_statedir_close(&f->sd);
	/* The self-bind and every name on it go in one lazy unmount. */
	while (umount2(f->state, MNT_DETACH) == 0)
		;
	remove_tree(f->tmp);
	nsops_close_fd(&f->host_fd);
	g_free(f->state);
	g_free(f->tmp);
}

static void open_state(struct fixture *f)
{
	g_assert_cmpint(nsops_statedir_open(f->state, &f->sd), ==, 0);
}

static char *state_path(struct fixture *f, const char *name)
{
	return g_build_filename(f->state, name, NULL);
}

static bool mountinfo_has(const char *path, const char *what)
{
	g_autofree char *info = NULL;
	g_auto(GStrv) lines = NULL;

	g_assert_true(g_file_get_contents("/proc/self/mountinfo", &info, NULL, NULL));
	lines = g_strsplit(info, "\n", -1);
	for (char **l = lines; *l; l++) {
		g_auto(GStrv) fields = g_strsplit(*l, " ", 6);

		if (g_strv_length(fields) >= 6 && g_str_equal(fields[4], path) &&
		    strstr(fields[5], what))
			return true;
	}
	return false;
}

static uint64_t id_of(struct fixture *f, const char *name)
{
	uint64_t id = 0;
	int fd = nsops_open(f->sd.dir_fd, name, NULL, &id);

	g_assert_cmpint(fd, >=, 0);
	nsops_close_fd(&fd);
	return id;
}

/* Create name (with hostname, when not NULL) and return its namespace's id. */
static uint64_t create_ns(struct fixture *f, const char *name, const char *hostname)
{
	uint64_t id = 0;

	g_assert_cmpint(nsops_create(f->host_fd, f->state, name, hostname, &id), ==, 0);
	return id;
}

static void get_field(struct fixture *f, const char *name, enum nsops_field field,
		      char buf[NSOPS_VALUE_MAX + 1])
{
	nsops_autofd int fd = nsops_open(f->sd.dir_fd, name, NULL, NULL);
	char both[2][NSOPS_VALUE_MAX + 1];

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(nsops_get_both(f->host_fd, fd, both[0], both[1]), ==, 0);
	g_strlcpy(buf, both[field], NSOPS_VALUE_MAX + 1);
}

static void test_statedir_is_shared_mount(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	if (skip_unless_root())
		return;
	open_state(f);
	g_assert_true(g_file_test(f->state, G_FILE_TEST_IS_DIR));
	g_assert_true(mountinfo_has(f->state, "shared:"));
}

static void test_statedir_is_locked(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	struct nsops_statedir second = { .lock_fd = -1, .dir_fd = -1 };

	if (skip_unless_root())
		return;
	open_state(f);
	g_assert_cmpint(nsops_statedir_open(f->state, &second), ==, -EBUSY);
	g_assert_cmpint(second.lock_fd, ==, -1);
}

static void test_create_persists_new_namespace(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	char buf[NSOPS_VALUE_MAX + 1];
	g_autofree char *path = NULL;
	uint64_t id = 0;

	if (skip_unless_root())
		return;
	open_state(f);
	g_assert_cmpint(nsops_create(f->host_fd, f->state, "web", "web01", &id), ==, 0);
	assert_at_home(f);
	g_assert_cmpuint(id, !=, f->host_id);
	g_assert_cmpuint(id_of(f, "web"), ==, id);
	path = state_path(f, "web");
	g_assert_true(mountinfo_has(path, "nsfs"));
	get_field(f, "web", NSOPS_HOSTNAME, buf);
	g_assert_cmpstr(buf, ==, "web01");
	assert_at_home(f);
}

static void test_create_without_hostname_keeps_hosts(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	char buf[NSOPS_VALUE_MAX + 1];

	if (skip_unless_root())
		return;
	open_state(f);
	g_assert_cmpint(nsops_create(f->host_fd, f->state, "with space", NULL, NULL), ==, 0);
	get_field(f, "with space", NSOPS_HOSTNAME, buf);
	g_assert_cmpstr(buf, ==, f->host_name);
}

static void test_create_existing_name_fails(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	uint64_t first = 0;

	if (skip_unless_root())
		return;
	open_state(f);
	first = create_ns(f, "a", "a");
	g_assert_cmpint(nsops_create(f->host_fd, f->state, "a", "b", NULL), ==, -EEXIST);
	g_assert_cmpuint(id_of(f, "a"), ==, first);
	assert_at_home(f);
}

static void test_create_failure_leaves_nothing(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	g_autofree char *too_long = g_strnfill(NSOPS_VALUE_MAX + 1, 'h');
	g_autofree char *path = NULL;

	if (skip_unless_root())
		return;
	open_state(f);
	/* sethostname refuses 65 bytes after the file exists: it must go again. */
	g_assert_cmpint(nsops_create(f->host_fd, f->state, "x", too_long, NULL), ==, -EINVAL);
	path = state_path(f, "x");
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	g_assert_false(mountinfo_has(path, "nsfs"));
	assert_at_home(f);
}

static void test_set_changes_only_target(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	char buf[NSOPS_VALUE_MAX + 1];

	if (skip_unless_root())
		return;
	open_state(f);
	g_assert_cmpint(nsops_create(f->host_fd, f->state, "a", "a", NULL), ==, 0);
	g_assert_cmpint(nsops_create(f->host_fd, f->state, "b", "b", NULL), ==, 0);
	{
		nsops_autofd int fd = nsops_open(f->sd.dir_fd, "a", NULL, NULL);

		g_assert_cmpint(nsops_set(f->host_fd, fd, NSOPS_HOSTNAME, "alpha", 5), ==, 0);
		g_assert_cmpint(nsops_set(f->host_fd, fd, NSOPS_DOMAINNAME, "example.org", 11), ==, 0);
	}
	assert_at_home(f);
	get_field(f, "a", NSOPS_HOSTNAME, buf);
	g_assert_cmpstr(buf, ==, "alpha");
	get_field(f, "a", NSOPS_DOMAINNAME, buf);
	g_assert_cmpstr(buf, ==, "example.org");
	get_field(f, "b", NSOPS_HOSTNAME, buf);
	g_assert_cmpstr(buf, ==, "b");
	{
		nsops_autofd int fd = nsops_open(f->sd.dir_fd, "a", NULL, NULL);
		char domain[NSOPS_VALUE_MAX + 1];

		g_assert_cmpint(nsops_get_both(f->host_fd, fd, buf, domain), ==, 0);
		g_assert_cmpstr(buf, ==, "alpha");
		g_assert_cmpstr(domain, ==, "example.org");
	}
	assert_at_home(f);
}

static void test_rename_keeps_namespace(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	g_autofree char *old_path = NULL;
	uint64_t id = 0;

	if (skip_unless_root())
		return;
	open_state(f);
	id = create_ns(f, "old", "old");
	g_assert_cmpint(nsops_create(f->host_fd, f->state, "taken", "t", NULL), ==, 0);
	g_assert_cmpint(nsops_rename(f->state, "old", "taken"), ==, -EEXIST);
	g_assert_cmpuint(id_of(f, "old"), ==, id);
	g_assert_cmpint(nsops_rename(f->state, "old", "new"), ==, 0);
	g_assert_cmpuint(id_of(f, "new"), ==, id);
	g_assert_cmpint(nsops_open(f->sd.dir_fd, "old", NULL, NULL), ==, -ENOENT);
	old_path = state_path(f, "old");
	g_assert_false(mountinfo_has(old_path, "nsfs"));
}

static void test_destroy_removes_name(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	g_autofree char *path = NULL;

	if (skip_unless_root())
		return;
	open_state(f);
	g_assert_cmpint(nsops_create(f->host_fd, f->state, "gone", "gone", NULL), ==, 0);
	g_assert_cmpint(nsops_destroy(f->state, "gone"), ==, 0);
	path = state_path(f, "gone");
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	g_assert_false(mountinfo_has(path, "nsfs"));
	g_assert_cmpint(nsops_destroy(f->state, "gone"), ==, -ENOENT);
}

static void test_destroy_removes_stacked_mounts(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	g_autofree char *path = NULL;
	g_autofree char *other = NULL;

	if (skip_unless_root())
		return;
	open_state(f);
	g_assert_cmpint(nsops_create(f->host_fd, f->state, "a", "a", NULL), ==, 0);
	g_assert_cmpint(nsops_create(f->host_fd, f->state, "b", "b", NULL), ==, 0);
	path = state_path(f, "a");
	other = state_path(f, "b");
	/* What a second `unshare --uts=FILE` on the same file does. */
	g_assert_cmpint(mount(other, path, NULL, MS_BIND, NULL), ==, 0);
	g_assert_cmpint(nsops_destroy(f->state, "a"), ==, 0);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	g_assert_false(mountinfo_has(path, "nsfs"));
}

/* Things other tools may leave in the state directory. */
static void make_junk(struct fixture *f)
{
	g_autofree char *dir = state_path(f, "a-directory");
	g_autofree char *text = state_path(f, "notes");
	g_autofree char *empty = state_path(f, "killed-creator");
	g_autofree char *fifo = state_path(f, "fifo");
	g_autofree char *link = state_path(f, "link");
	g_autofree char *target = state_path(f, "real");

	g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
	g_assert_true(g_file_set_contents(text, "not a namespace", -1, NULL));
	g_assert_true(g_file_set_contents(empty, "", 0, NULL));
	/* As a creator of ours killed before its bind mount leaves it. */
	g_assert_cmpint(setxattr(empty, "trusted.utsfs.placeholder", "1", 1, 0), ==, 0);
	g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
	g_assert_cmpint(symlink(target, link), ==, 0);
}

static void test_open_refuses_junk(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	if (skip_unless_root())
		return;
	open_state(f);
	g_assert_cmpint(nsops_create(f->host_fd, f->state, "real", "real", NULL), ==, 0);
	make_junk(f);
	g_assert_cmpint(nsops_open(f->sd.dir_fd, "a-directory", NULL, NULL), ==, -EINVAL);
	g_assert_cmpint(nsops_open(f->sd.dir_fd, "notes", NULL, NULL), ==, -EINVAL);
	g_assert_cmpint(nsops_open(f->sd.dir_fd, "killed-creator", NULL, NULL), ==, -EINVAL);
	g_assert_cmpint(nsops_open(f->sd.dir_fd, "fifo", NULL, NULL), ==, -EINVAL);
	g_assert_cmpint(nsops_open(f->sd.dir_fd, "link", NULL, NULL), ==, -EINVAL);
	g_assert_cmpint(nsops_open(f->sd.dir_fd, "absent", NULL, NULL), ==, -ENOENT);
}

static void test_list_shows_only_namespaces(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	g_autoptr(GPtrArray) entries = NULL;
	uint64_t id_b = 0, id_a = 0;

	if (skip_unless_root())
		return;
	open_state(f);
	id_b = create_ns(f, "real", "b");
	id_a = create_ns(f, "alpha", "a");
	make_junk(f);
	g_assert_cmpint(nsops_statedir_list(&f->sd, &entries), ==, 0);
	g_assert_cmpuint(entries->len, ==, 2);
	g_assert_cmpstr(((struct nsops_entry *)entries->pdata[0])->name, ==, "alpha");
	g_assert_cmpuint(((struct nsops_entry *)entries->pdata[0])->id, ==, id_a);
	g_assert_cmpstr(((struct nsops_entry *)entries->pdata[1])->name, ==, "real");
	g_assert_cmpuint(((struct nsops_entry *)entries->pdata[1])->id, ==, id_b);
}

static void test_reopen_removes_only_empty_files(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	g_autofree char *empty = NULL;
	g_autofree char *text = NULL;
	uint64_t id = 0;

	if (skip_unless_root())
		return;
	open_state(f);
	id = create_ns(f, "real", "real");
	make_junk(f);
	nsops_statedir_close(&f->sd);
	open_state(f);
	empty = state_path(f, "killed-creator");
	text = state_path(f, "notes");
	g_assert_false(g_file_test(empty, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(text, G_FILE_TEST_EXISTS));
	/* Another tool's empty file (`touch X && unshare --uts=X`, mid-way): left alone. */
	g_assert_true(g_file_set_contents(empty, "", 0, NULL));
	nsops_statedir_close(&f->sd);
	open_state(f);
	g_assert_true(g_file_test(empty, G_FILE_TEST_EXISTS));
	g_assert_cmpuint(id_of(f, "real"), ==, id);
	/* Reopening must not stack another self-bind on the state directory. */
	g_assert_cmpint(umount2(f->state, MNT_DETACH), ==, 0);
	g_assert_false(mountinfo_has(f->state, "shared:"));
}

/* This thread's view of paths: its root, its /proc/self. */
static void own_view(struct nsops_view *view)
{
	g_assert_cmpint(nsops_caller_view((pid_t)syscall(SYS_gettid), view), ==, 0);
}

static void test_adopt_names_an_existing_namespace(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	struct nsops_view view;
	uint64_t id = 0;

	if (skip_unless_root())
		return;
	open_state(f);
	own_view(&view);
	/* This thread's own namespace: the host's. */
	g_assert_cmpint(nsops_adopt(f->state, "host", &view, "/proc/thread-self/ns/uts", 0, NULL, &id), ==, 0);
	g_assert_cmpuint(id, ==, f->host_id);
	g_assert_cmpuint(id_of(f, "host"), ==, f->host_id);
	g_assert_cmpint(nsops_adopt(f->state, "host", &view, "/proc/thread-self/ns/uts", 0, NULL, NULL), ==, -EEXIST);
	g_assert_cmpint(nsops_destroy(f->state, "host"), ==, 0);
	/* /proc/self is the caller's, here this process's. */
	g_assert_cmpint(nsops_adopt(f->state, "self", &view, "/proc/self/ns/uts", 0, NULL, &id), ==, 0);
	g_assert_cmpuint(id, ==, f->host_id);
	g_assert_cmpint(nsops_destroy(f->state, "self"), ==, 0);
	/* ".." never climbs above the caller's root. */
	g_assert_cmpint(nsops_adopt(f->state, "up", &view, "/../../proc/thread-self/ns/uts", 0, NULL, &id), ==, 0);
	g_assert_cmpint(nsops_destroy(f->state, "up"), ==, 0);
	nsops_view_clear(&view);
	/* Nobody to ask: a caller outside our PID namespace (0), or gone. */
	g_assert_cmpint(nsops_caller_view(0, &view), ==, -EPERM);
	g_assert_cmpint(nsops_caller_is_admin(0), ==, -EPERM);
	g_assert_cmpint(nsops_caller_is_admin((pid_t)syscall(SYS_gettid)), ==, 0);
}

static void test_adopt_refuses_what_is_no_uts_namespace(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	g_autofree char *path = NULL;
	g_auto(NsopsView) view = { .root = -1 };
	struct stat root;

	if (skip_unless_root())
		return;
	open_state(f);
	own_view(&view);
	g_assert_cmpint(nsops_adopt(f->state, "x", &view, "/proc/self/ns/net", 0, NULL, NULL), ==, -EINVAL);
	g_assert_cmpint(nsops_adopt(f->state, "x", &view, "/etc/hostname", 0, NULL, NULL), ==, -ENOTTY);
	g_assert_cmpint(nsops_adopt(f->state, "x", &view, "/nonexistent/uts", 0, NULL, NULL), ==, -ENOENT);
	g_assert_cmpint(nsops_adopt(f->state, "x", &view, "relative", 0, NULL, NULL), ==, -EINVAL);
	/* A path through the device to avoid is refused before any lookup in it. */
	g_assert_cmpint(stat("/", &root), ==, 0);
	g_assert_cmpint(nsops_adopt(f->state, "x", &view, "/proc/self/ns/uts", root.st_dev, NULL, NULL), ==, -EPERM);
	/* Asked where: the directory reached on it, and what was left of the path. */
	{
		g_auto(NsopsReached) reached = { 0 };
		struct stat proc;

		g_assert_cmpint(stat("/proc", &proc), ==, 0);
		g_assert_cmpint(nsops_adopt(f->state, "x", &view, "/proc//self/ns/uts", proc.st_dev,
					    &reached, NULL), ==, -EXDEV);
		g_assert_cmpuint(reached.ino, ==, proc.st_ino);
		g_assert_cmpstr(reached.rest, ==, "self/ns/uts");
		g_assert_cmpint(nsops_adopt(f->state, "x", &view, "/", root.st_dev, &reached, NULL),
				==, -EXDEV);
		g_assert_cmpuint(reached.ino, ==, root.st_ino);
		g_assert_cmpstr(reached.rest, ==, "");
	}
	path = state_path(f, "x");
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

static void test_holds_follows_the_name(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	g_autofree char *junk = NULL;
	struct stat x, seen;
	uint64_t id_x, id_y;

	if (skip_unless_root())
		return;
	open_state(f);
	g_assert_cmpint(nsops_create(f->host_fd, f->state, "x", "x", &id_x), ==, 0);
	g_assert_cmpint(nsops_create(f->host_fd, f->state, "y", "y", &id_y), ==, 0);
	g_assert_cmpint(nsops_identify(f->sd.dir_fd, "x", &x, NULL), ==, 0);
	g_assert_cmpint(nsops_statedir_holds(&f->sd, "x", id_x, NULL, NULL), ==, 0);
	/* Given a stat, it hands back what stat(2) of the name shows. */
	g_assert_cmpint(nsops_statedir_holds(&f->sd, "x", id_x, &seen, NULL), ==, 0);
	g_assert_cmpuint(seen.st_ino, ==, x.st_ino);
	g_assert_cmpint(seen.st_mtim.tv_sec, ==, x.st_mtim.tv_sec);
	g_assert_cmpint(seen.st_mtim.tv_nsec, ==, x.st_mtim.tv_nsec);
	/* Another namespace under the name: no. */
	g_assert_cmpint(nsops_statedir_holds(&f->sd, "x", id_y, NULL, NULL), ==, -ESTALE);
	/* Renamed: the old name holds nothing, the new one the same namespace. */
	g_assert_cmpint(nsops_rename(f->state, "x", "z"), ==, 0);
	g_assert_cmpint(nsops_statedir_holds(&f->sd, "x", id_x, NULL, NULL), ==, -ENOENT);
	g_assert_cmpint(nsops_statedir_holds(&f->sd, "z", id_x, NULL, NULL), ==, 0);
	/* Unmounted, leaving the empty file behind: the namespace is gone from it. */
	junk = state_path(f, "y");
	g_assert_cmpint(umount2(junk, MNT_DETACH), ==, 0);
	g_assert_true(g_file_test(junk, G_FILE_TEST_IS_REGULAR));
	g_assert_cmpint(nsops_statedir_holds(&f->sd, "y", id_y, NULL, NULL), ==, -ENOENT);
	g_assert_cmpint(nsops_destroy(f->state, "z"), ==, 0);
	g_assert_cmpint(nsops_statedir_holds(&f->sd, "z", id_x, NULL, NULL), ==, -ENOENT);
}

/*
 * Ids are NS_GET_ID's where the kernel has it: what creating, opening and
 * listing tell agree, and differ from the inode number (which lsns shows).
 */
static void test_ids_are_64_bit_ids(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	g_autoptr(GPtrArray) entries = NULL;
	struct stat st;
	uint64_t created, seen = 0;

	if (skip_unless_root())
		return;
	open_state(f);
	created = create_ns(f, "x", "x");
	g_assert_cmpint(nsops_statedir_identify(&f->sd, "x", &st, &seen, NULL), ==, 0);
	g_assert_cmpuint(seen, ==, created);
	g_assert_cmpuint(id_of(f, "x"), ==, created);
	g_assert_cmpint(nsops_statedir_list(&f->sd, &entries), ==, 0);
	g_assert_cmpuint(((struct nsops_entry *)entries->pdata[0])->id, ==, created);
	g_assert_cmpuint(((struct nsops_entry *)entries->pdata[0])->ino, ==, st.st_ino);
	if (!f->sd.ns_ids) {
		g_assert_cmpuint(created, ==, st.st_ino);
		g_test_skip("no NS_GET_ID before Linux 6.18");
		return;
	}
	g_assert_true(nsops_has_ns_ids());
	/* nsfs inode numbers sit above 0xF0000000; the host's 64-bit id is 1. */
	g_assert_cmpuint(created, !=, st.st_ino);
	g_assert_cmpuint(f->host_id, <, st.st_ino);
	g_assert_cmpint(nsops_destroy(f->state, "x"), ==, 0);
}

/* How many mounts sd knows; as many as expected where the kernel has no unique mount ids. */
static guint known_mounts(struct fixture *f, guint expected)
{
	return f->sd.mount_ids ? g_hash_table_size(f->sd.known) : expected;
}

static void bind_mount(const char *source, const char *target)
{
	g_assert_cmpint(mount(source, target, NULL, MS_BIND, NULL), ==, 0);
}

/*
 * A name whose bind mount was identified once takes a statx afterwards
 * (Linux 6.8 on); whatever is mounted there later is a new mount,
 * identified afresh.
 */
static void test_identify_knows_a_mount_not_a_name(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	g_autoptr(GPtrArray) entries = NULL;
	g_autofree char *x = NULL, *y = NULL;
	struct stat st, again;
	uint64_t id_x, id_y, seen_id = 0;

	if (skip_unless_root())
		return;
	open_state(f);
	id_x = create_ns(f, "x", "x");
	id_y = create_ns(f, "y", "y");
	x = state_path(f, "x");
	y = state_path(f, "y");
	g_assert_cmpint(nsops_statedir_identify(&f->sd, "x", &st, &seen_id, NULL), ==, 0);
	g_assert_cmpuint(known_mounts(f, 1), ==, 1);
	/* The second look is the statx one, and tells the same. */
	g_assert_cmpint(nsops_statedir_identify(&f->sd, "x", &again, &seen_id, NULL), ==, 0);
	g_assert_cmpuint(seen_id, ==, id_x);
	g_assert_cmpuint(again.st_dev, ==, st.st_dev);
	g_assert_cmpint(again.st_mtim.tv_nsec, ==, st.st_mtim.tv_nsec);
	g_assert_true(S_ISREG(again.st_mode));
	/* Another kind of namespace stacked on the known mount: not a name. */
	bind_mount("/proc/self/ns/net", x);
	g_assert_cmpint(nsops_statedir_identify(&f->sd, "x", &st, &seen_id, NULL), ==, -ENOENT);
	g_assert_cmpint(nsops_statedir_identify(&f->sd, "x", &st, &seen_id, NULL), ==, -ENOENT);
	/* Off again: the known mount is back on top. */
	g_assert_cmpint(umount2(x, MNT_DETACH), ==, 0);
	g_assert_cmpint(nsops_statedir_identify(&f->sd, "x", &st, &seen_id, NULL), ==, 0);
	g_assert_cmpuint(seen_id, ==, id_x);
	/* Re-bound to y's namespace: y's id, at once. */
	g_assert_cmpint(umount2(x, MNT_DETACH), ==, 0);
	bind_mount(y, x);
	g_assert_cmpint(nsops_statedir_identify(&f->sd, "x", &st, &seen_id, NULL), ==, 0);
	g_assert_cmpuint(seen_id, ==, id_y);
	/* Only an empty file left: nothing, however well its mounts were known. */
	g_assert_cmpint(umount2(x, MNT_DETACH), ==, 0);
	g_assert_cmpint(nsops_statedir_identify(&f->sd, "x", &st, &seen_id, NULL), ==, -ENOENT);
	/* A listing keeps only the mounts it saw: y's. */
	g_assert_cmpint(nsops_statedir_list(&f->sd, &entries), ==, 0);
	g_assert_cmpuint(entries->len, ==, 1);
	g_assert_cmpstr(((struct nsops_entry *)entries->pdata[0])->name, ==, "y");
	g_assert_cmpuint(known_mounts(f, 1), ==, 1);
	g_assert_cmpint(unlink(x), ==, 0);
}

/* A name is opened only while it holds the namespace asked for, and only a UTS one. */
static void test_open_ns_opens_only_the_namespace_asked_for(struct fixture *f,
							    gconstpointer d G_GNUC_UNUSED)
{
	char host[NSOPS_VALUE_MAX + 1], domain[NSOPS_VALUE_MAX + 1];
	g_autoptr(GPtrArray) entries = NULL;
	g_autofree char *x = NULL;
	const struct nsops_entry *e;
	struct stat net;
	int fd;

	if (skip_unless_root())
		return;
	open_state(f);
	create_ns(f, "x", "listed");
	x = state_path(f, "x");
	g_assert_cmpint(nsops_statedir_list(&f->sd, &entries), ==, 0);
	g_assert_cmpuint(entries->len, ==, 1);
	e = entries->pdata[0];
	fd = nsops_statedir_open_ns(&f->sd, e->name, e->id, NULL);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(nsops_get_both(f->host_fd, fd, host, domain), ==, 0);
	g_assert_cmpstr(host, ==, "listed");
	nsops_close_fd(&fd);
	g_assert_cmpint(nsops_statedir_open_ns(&f->sd, e->name, e->id + 1, NULL), ==, -ESTALE);
	/* Another kind of namespace there since the listing: not opened, even by its own number. */
	bind_mount("/proc/self/ns/net", x);
	g_assert_cmpint(nsops_statedir_open_ns(&f->sd, e->name, e->id, NULL), ==, -ENOENT);
	g_assert_cmpint(stat(x, &net), ==, 0);
	g_assert_cmpint(nsops_statedir_open_ns(&f->sd, e->name, net.st_ino, NULL), ==, -ENOENT);
	assert_at_home(f);
	/* A FIFO or a directory in its place: refused, without blocking. */
	g_assert_cmpint(umount2(x, MNT_DETACH), ==, 0);
	g_assert_cmpint(umount2(x, MNT_DETACH), ==, 0);
	g_assert_cmpint(unlink(x), ==, 0);
	g_assert_cmpint(mkfifo(x, 0600), ==, 0);
	g_assert_cmpint(nsops_statedir_open_ns(&f->sd, e->name, e->id, NULL), ==, -ENOENT);
	g_assert_cmpint(unlink(x), ==, 0);
	g_assert_cmpint(g_mkdir(x, 0755), ==, 0);
	g_assert_cmpint(nsops_statedir_open_ns(&f->sd, e->name, e->id, NULL), ==, -ENOENT);
	g_assert_cmpint(g_rmdir(x), ==, 0);
	g_assert_cmpint(nsops_statedir_open_ns(&f->sd, e->name, e->id, NULL), ==, -ENOENT);
}

/* A kernel without unique mount ids (before 6.8): every look is the full one. */
static void test_identify_without_mount_ids(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	g_autoptr(GPtrArray) entries = NULL;
	g_autofree char *x = NULL;
	struct stat st;
	uint64_t id_x, seen_id = 0;

	if (skip_unless_root())
		return;
	open_state(f);
	f->sd.mount_ids = false;
	id_x = create_ns(f, "x", "x");
	x = state_path(f, "x");
	g_assert_cmpint(nsops_statedir_identify(&f->sd, "x", &st, &seen_id, NULL), ==, 0);
	g_assert_cmpuint(seen_id, ==, id_x);
	bind_mount("/proc/self/ns/net", x);
	g_assert_cmpint(nsops_statedir_identify(&f->sd, "x", &st, &seen_id, NULL), ==, -ENOENT);
	g_assert_cmpint(nsops_statedir_list(&f->sd, &entries), ==, 0);
	g_assert_cmpuint(entries->len, ==, 0);
	g_assert_cmpuint(g_hash_table_size(f->sd.known), ==, 0);
}

/* The mount id a look and an open report is the name's mount: another one after a re-bind. */
static void test_mount_id_follows_the_binding(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	g_autofree char *x = NULL;
	uint64_t looked = 0, opened = 0, again = 0, seen_id = 0;
	struct stat st;
	uint64_t id;
	int fd;

	if (skip_unless_root())
		return;
	open_state(f);
	id = create_ns(f, "x", "x");
	x = state_path(f, "x");
	g_assert_cmpint(nsops_statedir_identify(&f->sd, "x", &st, &seen_id, &looked), ==, 0);
	fd = nsops_statedir_open_ns(&f->sd, "x", id, &opened);
	g_assert_cmpint(fd, >=, 0);
	nsops_close_fd(&fd);
	if (!f->sd.mount_ids) {
		g_assert_cmpuint(looked, ==, 0);
		g_test_skip("no unique mount ids before Linux 6.8");
		return;
	}
	g_assert_cmpuint(looked, !=, 0);
	g_assert_cmpuint(opened, ==, looked);
	/* The same namespace bound again: the same inode number, another mount. */
	bind_mount(x, x);
	g_assert_cmpint(nsops_statedir_identify(&f->sd, "x", &st, &seen_id, &again), ==, 0);
	g_assert_cmpuint(seen_id, ==, id);
	g_assert_cmpuint(again, !=, looked);
	g_assert_cmpint(nsops_destroy(f->state, "x"), ==, 0);
}

static bool pids_has(GArray *pids, pid_t pid)
{
	for (guint i = 0; i < pids->len; i++)
		if (g_array_index(pids, pid_t, i) == pid)
			return true;
	return false;
}

/* pids lists this process for the host's namespace, and nobody for a new empty one. */
static void test_pids_of_a_namespace(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	g_autoptr(GArray) host = NULL;
	g_autoptr(GArray) empty = NULL;
	g_autoptr(GArray) others = NULL;
	struct stat st, new;

	if (skip_unless_root())
		return;
	open_state(f);
	g_assert_cmpint(fstat(f->host_fd, &st), ==, 0);
	g_assert_cmpint(nsops_pids(st.st_ino, 0, &host), ==, 0);
	g_assert_true(pids_has(host, getpid()));
	for (guint i = 1; i < host->len; i++)
		g_assert_cmpint(g_array_index(host, pid_t, i - 1), <, g_array_index(host, pid_t, i));
	create_ns(f, "empty", NULL);
	g_assert_cmpint(nsops_identify(f->sd.dir_fd, "empty", &new, NULL), ==, 0);
	g_assert_cmpint(nsops_pids(new.st_ino, 0, &empty), ==, 0);
	g_assert_cmpuint(empty->len, ==, 0);
	g_assert_cmpint(nsops_destroy(f->state, "empty"), ==, 0);
	/* Others see only processes running as them: not this one, root's. */
	g_assert_cmpint(nsops_pids(st.st_ino, 65534, &others), ==, 0);
	g_assert_false(pids_has(others, getpid()));
}

/* A child in a UTS namespace of its own, named nowhere, until it is killed. */
static pid_t contained_child(void)
{
	int ready[2];
	char c;
	pid_t pid;

	g_assert_cmpint(pipe(ready), ==, 0);
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWUTS) < 0 || sethostname("contained", 9) < 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	g_assert_cmpint(read(ready[0], &c, 1), ==, 1);
	close(ready[0]);
	return pid;
}

/* The host-wide scan finds tasks' namespaces and bound ones, and each can be reached again. */
static void test_all_scan_finds_every_namespace(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	g_autoptr(GHashTable) found = NULL;
	const struct nsops_found *host, *named, *child;
	uint64_t named_id, child_id;
	pid_t pid;
	int fd;

	if (skip_unless_root())
		return;
	open_state(f);
	named_id = create_ns(f, "named", "named");
	pid = contained_child();
	{
		g_autofree char *path = g_strdup_printf("/proc/%d/ns/uts", (int)pid);
		nsops_autofd int cfd = open(path, O_RDONLY | O_CLOEXEC);

		g_assert_cmpint(nsops_ns_id(cfd, &child_id), ==, 0);
	}
	g_assert_cmpint(nsops_all_scan(&found), ==, 0);
	host = g_hash_table_lookup(found, &f->host_id);
	named = g_hash_table_lookup(found, &named_id);
	child = g_hash_table_lookup(found, &child_id);
	g_assert_nonnull(host);
	g_assert_nonnull(named);
	g_assert_nonnull(child);
	g_assert_true(pids_has(host->pids, getpid()));
	/* Held by our bind mount only: no process. */
	g_assert_cmpuint(named->pids->len, ==, 0);
	g_assert_nonnull(named->mount);
	g_assert_cmpuint(child->pids->len, ==, 1);
	g_assert_cmpint(g_array_index(child->pids, pid_t, 0), ==, pid);
	fd = nsops_all_open(child);
	g_assert_cmpint(fd, >=, 0);
	nsops_close_fd(&fd);
	fd = nsops_all_open(named);
	g_assert_cmpint(fd, >=, 0);
	nsops_close_fd(&fd);
	/* Its only process gone: the namespace is, at once. */
	kill(pid, SIGKILL);
	g_assert_cmpint(waitpid(pid, NULL, 0), ==, pid);
	g_assert_cmpint(nsops_all_open(child), ==, -ENOENT);
	g_assert_cmpint(nsops_destroy(f->state, "named"), ==, 0);
	g_assert_cmpint(nsops_all_open(named), ==, -ENOENT);
}

/* A sethostname in another namespace moves the kernel's counter: the event file says so once. */
static void test_event_file_reports_a_change_once(struct fixture *f,
						  gconstpointer d G_GNUC_UNUSED)
{
	int fd, mounts;
	struct pollfd p;

	if (skip_unless_root())
		return;
	open_state(f);
	fd = nsops_event_open(NSOPS_EVENT_HOSTNAME);
	g_assert_cmpint(fd, >=, 0);
	p = (struct pollfd){ .fd = fd, .events = POLLPRI };
	/* Opening it took the counter as it was: nothing new yet. */
	g_assert_cmpint(nsops_event_poll(&p, 1, 0), ==, 0);
	create_ns(f, "ev", "ev");
	g_assert_cmpint(nsops_event_poll(&p, 1, 0), ==, 1);
	g_assert_true(p.revents & POLLPRI);
	g_assert_cmpint(nsops_event_poll(&p, 1, 0), ==, 0);
	mounts = nsops_event_open(NSOPS_EVENT_MOUNTS);
	g_assert_cmpint(mounts, >=, 0);
	g_assert_cmpstr(nsops_event_path(NSOPS_EVENT_MOUNTS), ==, "/proc/self/mountinfo");
	nsops_close_fd(&mounts);
	nsops_close_fd(&fd);
	g_assert_cmpint(nsops_destroy(f->state, "ev"), ==, 0);
	assert_at_home(f);
}

/* utsfs's own files: read whole, written whole, removed, their directory made. */
static void test_own_files(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	g_autofree char *path = NULL;
	g_autofree char *text = NULL;

	if (skip_unless_root())
		return;
	path = g_build_filename(f->tmp, "a", "b", "record.conf", NULL);
	g_assert_cmpint(nsops_file_read(path, &text), ==, -ENOENT);
	g_assert_cmpint(nsops_file_write(path, "x", 1), ==, -ENOENT);
	g_assert_cmpint(nsops_file_make_parent(path), ==, 0);
	g_assert_cmpint(nsops_file_write(path, "[x]\n", 4), ==, 0);
	g_assert_cmpint(nsops_file_read(path, &text), ==, 0);
	g_assert_cmpstr(text, ==, "[x]\n");
	g_assert_cmpint(nsops_file_remove(path), ==, 0);
	g_assert_cmpint(nsops_file_remove(path), ==, 0);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

/* Only files named prefix + something go: not the prefix itself, not others. */
static void test_remove_temporaries(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	/* Only glib's own temporaries (six letters or digits) are utsfs's. */
	const char *const names[] = { ".utsfs.conf", ".utsfs.conf.AB12CD", ".keep", "x",
				       ".utsfs.conf.bak", ".utsfs.conf.AB12CD7", ".utsfs.conf.AB-2CD" };

	if (skip_unless_root())
		return;
	open_state(f);
	for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree char *path = state_path(f, names[i]);

		g_assert_true(g_file_set_contents(path, "", 0, NULL));
	}
	nsops_statedir_remove_temporaries(&f->sd, ".utsfs.conf.");
	for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree char *path = state_path(f, names[i]);

		g_assert_cmpint(g_file_test(path, G_FILE_TEST_EXISTS), ==, i != 1);
		g_unlink(path);
	}
}

/* A trusted file is read through the descriptor that was checked; others are set aside, unread. */
static void test_read_trusted(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	g_autofree char *dir = NULL, *path = NULL, *link = NULL;
	char *text = NULL, *why = NULL, *aside = NULL;

	if (skip_unless_root())
		return;
	dir = g_build_filename(f->tmp, "trusted", NULL);
	g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
	path = g_build_filename(dir, "conf", NULL);
	/* Absent: nothing to read, nothing set aside. */
	g_assert_cmpint(nsops_file_read_trusted(path, &text, &why, &aside), ==, 0);
	g_assert_null(text);
	g_assert_null(why);
	g_assert_cmpint(nsops_file_write(path, "[x]\n", 4), ==, 0);
	g_assert_cmpint(nsops_file_read_trusted(path, &text, &why, &aside), ==, 0);
	g_assert_cmpstr(text, ==, "[x]\n");
	g_clear_pointer(&text, g_free);
	/* Writable by others: renamed aside, never read. */
	g_assert_cmpint(chmod(path, 0606), ==, 0);
	g_assert_cmpint(nsops_file_read_trusted(path, &text, &why, &aside), ==, 1);
	g_assert_null(text);
	g_assert_nonnull(strstr(why, "writable by group or others"));
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(aside, G_FILE_TEST_EXISTS));
	g_clear_pointer(&why, g_free);
	g_clear_pointer(&aside, g_free);
	/* A symlink, even to a trusted file: no regular file. */
	link = g_build_filename(dir, "elsewhere", NULL);
	g_assert_cmpint(nsops_file_write(link, "[y]\n", 4), ==, 0);
	g_assert_cmpint(symlink(link, path), ==, 0);
	g_assert_cmpint(nsops_file_read_trusted(path, &text, &why, &aside), ==, 1);
	g_assert_null(text);
	g_assert_nonnull(strstr(why, "not a regular file"));
	g_clear_pointer(&why, g_free);
	g_clear_pointer(&aside, g_free);
	/* A directory above that others may write: set aside, and nothing to be written there. */
	g_assert_cmpint(nsops_file_write(path, "[x]\n", 4), ==, 0);
	g_assert_cmpint(chmod(dir, 0777), ==, 0);
	g_assert_cmpint(nsops_file_read_trusted(path, &text, &why, &aside), ==, -EPERM);
	g_assert_null(text);
	g_assert_true(g_str_has_prefix(why, dir));
	g_assert_nonnull(aside);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	g_clear_pointer(&why, g_free);
	g_clear_pointer(&aside, g_free);
	/* Even with no file yet. */
	g_assert_cmpint(nsops_file_read_trusted(path, &text, &why, &aside), ==, -EPERM);
	g_assert_null(aside);
	g_free(why);
}

/* A live mount point is no dead one, and an unmounted directory has no device. */
static void test_mount_point_helpers(struct fixture *f, gconstpointer d G_GNUC_UNUSED)
{
	if (skip_unless_root())
		return;
	open_state(f);
	g_assert_cmpint(nsops_clear_dead_mount(f->state), ==, 0);
	g_assert_cmpint(nsops_clear_dead_mount(f->tmp), ==, 0);
	g_assert_cmpuint(nsops_mount_device(f->tmp, "fuse.utsfs"), ==, 0);
	g_assert_cmpuint(nsops_mount_device(f->state, "fuse.utsfs"), ==, 0);
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) \
	g_test_add(path, struct fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("/nsops/statedir-is-shared-mount", test_statedir_is_shared_mount);
	ADD("/nsops/statedir-is-locked", test_statedir_is_locked);
	ADD("/nsops/create-persists-new-namespace", test_create_persists_new_namespace);
	ADD("/nsops/create-without-hostname-keeps-hosts", test_create_without_hostname_keeps_hosts);
	ADD("/nsops/create-existing-name-fails", test_create_existing_name_fails);
	ADD("/nsops/create-failure-leaves-nothing", test_create_failure_leaves_nothing);
	ADD("/nsops/set-changes-only-target", test_set_changes_only_target);
	ADD("/nsops/rename-keeps-namespace", test_rename_keeps_namespace);
	ADD("/nsops/destroy-removes-name", test_destroy_removes_name);
	ADD("/nsops/destroy-removes-stacked-mounts", test_destroy_removes_stacked_mounts);
	ADD("/nsops/open-refuses-junk", test_open_refuses_junk);
	ADD("/nsops/list-shows-only-namespaces", test_list_shows_only_namespaces);
	ADD("/nsops/identify-knows-a-mount-not-a-name", test_identify_knows_a_mount_not_a_name);
	ADD("/nsops/identify-without-mount-ids", test_identify_without_mount_ids);
	ADD("/nsops/open-ns-opens-only-the-namespace-asked-for",
	    test_open_ns_opens_only_the_namespace_asked_for);
	ADD("/nsops/reopen-removes-only-empty-files", test_reopen_removes_only_empty_files);
	ADD("/nsops/adopt-names-an-existing-namespace", test_adopt_names_an_existing_namespace);
	ADD("/nsops/adopt-refuses-what-is-no-uts-namespace", test_adopt_refuses_what_is_no_uts_namespace);
	ADD("/nsops/holds-follows-the-name", test_holds_follows_the_name);
	ADD("/nsops/ids-are-64-bit-ids", test_ids_are_64_bit_ids);
	ADD("/nsops/mount-id-follows-the-binding", test_mount_id_follows_the_binding);
	ADD("/nsops/pids-of-a-namespace", test_pids_of_a_namespace);
	ADD("/nsops/all-scan-finds-every-namespace", test_all_scan_finds_every_namespace);
	ADD("/nsops/event-file-reports-a-change-once", test_event_file_reports_a_change_once);
	ADD("/nsops/own-files", test_own_files);
	ADD("/nsops/remove-temporaries", test_remove_temporaries);
	ADD("/nsops/read-trusted", test_read_trusted);
	ADD("/nsops/mount-point-helpers", test_mount_point_helpers);
#undef ADD
	return g_test_run();
}
