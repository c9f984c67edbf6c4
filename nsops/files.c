// SPDX-License-Identifier: GPL-2.0-or-later
/* The files utsfs keeps beside the names (.utsfs.conf) and elsewhere (the record): read, written whole, removed. */
#include "nsops.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* GFileError keeps no errno: the few worth telling apart, the rest as EIO. */
static int error_to_errno(const GError *error)
{
	if (g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
		return -ENOENT;
	if (g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOSPC))
		return -ENOSPC;
	if (g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_ACCES))
		return -EACCES;
	return -EIO;
}

int nsops_file_read(const char *path, char **text)
{
	g_autoptr(GError) error = NULL;

	if (g_file_get_contents(path, text, NULL, &error))
		return 0;
	return error_to_errno(error);
}

int nsops_file_write(const char *path, const char *text, size_t len)
{
	g_autoptr(GError) error = NULL;

	/*
	 * A temporary file renamed over the old one: never half written. 0600
	 * whatever the umask: it holds names hidden from others, and utsfs
	 * trusts what it says.
	 */
	if (g_file_set_contents_full(path, text, (gssize)len, G_FILE_SET_CONTENTS_CONSISTENT,
				     0600, &error))
		return 0;
	return error_to_errno(error);
}

int nsops_file_remove(const char *path)
{
	if (g_unlink(path) == 0 || errno == ENOENT)
		return 0;
	return -errno;
}

int nsops_file_make_parent(const char *path)
{
	g_autofree char *parent = g_path_get_dirname(path);

	return g_mkdir_with_parents(parent, 0700) < 0 ? -errno : 0;
}

/*
 * Why st cannot be trusted, or NULL: it must be root's, and nobody else
 * may write it (in a sticky directory nobody else can replace root's
 * files, as in /tmp).
 */
static const char *distrust(const struct stat *st)
{
	if (st->st_uid != 0)
		return "is not owned by root";
	if ((st->st_mode & 022) && !(S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX)))
		return "is writable by group or others";
	return NULL;
}

/*
 * Why directory dir, or one above it, cannot be trusted (g_free it), or
 * NULL. The directories themselves, walked up by "..", not the path's
 * spelling: a symlink on the way is judged by where it leads.
 */
static char *distrust_dirs(int dir, const char *path)
{
	g_autofree char *at_path = g_strdup(path);
	nsops_autofd int at = dup(dir);

	if (at < 0)
		return g_strdup_printf("%s cannot be looked at", path);
	for (;;) {
		struct stat st, up_st;
		const char *why;
		char *up_path;
		nsops_autofd int up = -1;

		if (fstat(at, &st) < 0)
			return g_strdup_printf("%s cannot be looked at", at_path);
		why = distrust(&st);
		if (why)
			return g_strdup_printf("%s %s", at_path, why);
		up = openat(at, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up < 0 || fstat(up, &up_st) < 0)
			return g_strdup_printf("the directory above %s cannot be looked at", at_path);
		/* "/" is its own parent. */
		if (up_st.st_dev == st.st_dev && up_st.st_ino == st.st_ino)
			return NULL;
		nsops_close_fd(&at);
		at = up;
		up = -1;
		/* For messages only: the walk goes by the directories themselves. */
		up_path = g_path_get_dirname(at_path);
		g_free(at_path);
		at_path = up_path;
	}
}

/*
 * Renamed, never overwritten: no name it holds is lost. The name ends in a
 * random number, so that nobody can take every name it could have ahead
 * and keep utsfs from starting. 0 with *aside set, or -errno.
 */
static int set_aside(int dir, const char *dir_path, const char *base, char **aside)
{
	for (int n = 0; n < 100; n++) {
		g_autofree char *name = g_strdup_printf(".untrusted-%s-%lld-%08x", base,
							(long long)time(NULL), g_random_int());

		if (renameat2(dir, base, dir, name, RENAME_NOREPLACE) == 0) {
			*aside = g_build_filename(dir_path, name, NULL);
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int nsops_file_read_trusted(const char *path, char **text, char **why, char **aside)
{
	g_autofree char *dir_path = g_path_get_dirname(path);
	g_autofree char *base = g_path_get_basename(path);
	g_autofree char *again = NULL;
	nsops_autofd int dir = open(dir_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	nsops_autofd int fd = -1;
	const char *reason;
	struct stat st;
	int r;

	*text = *why = *aside = NULL;
	if (dir < 0)
		return errno == ENOENT ? 0 : -errno;
	/*
	 * Untrusted directories: whoever may write them may swap what utsfs
	 * would write there later, so the file is not used at all.
	 */
	*why = distrust_dirs(dir, dir_path);
	if (*why) {
		r = faccessat(dir, base, F_OK, AT_SYMLINK_NOFOLLOW) == 0
			    ? set_aside(dir, dir_path, base, aside) : 0;
		return r < 0 ? r : -EPERM;
	}
	/*
	 * One descriptor is checked and read: a file swapped in after the
	 * check (in a sticky directory anyone may add one) is never read.
	 */
	fd = openat(dir, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 && errno != ELOOP)
		return -errno;
	if (fd >= 0 && fstat(fd, &st) < 0)
		return -errno;
	/* A directory is no file of ours, however it came there (-o restore=DIR): never moved. */
	if (fd >= 0 && S_ISDIR(st.st_mode))
		return -EISDIR;
	reason = fd < 0 || !S_ISREG(st.st_mode) ? "is not a regular file" : distrust(&st);
	if (reason) {
		*why = g_strdup_printf("%s %s", path, reason);
		r = set_aside(dir, dir_path, base, aside);
		return r < 0 ? r : 1;
	}
	again = g_strdup_printf("/proc/self/fd/%d", fd);
	return nsops_file_read(again, text);
}

/*
 * Whether entry is a temporary file glib's g_file_set_contents made for
 * PREFIX: PREFIX and six letters or digits (mkstemp's XXXXXX). Anything
 * else (a backup an administrator made, .utsfs.conf.bak) is not ours.
 */
static bool is_temporary_of(const char *entry, const char *prefix)
{
	const char *tail;

	if (!g_str_has_prefix(entry, prefix))
		return false;
	tail = entry + strlen(prefix);
	if (strlen(tail) != 6)
		return false;
	for (; *tail; tail++)
		if (!g_ascii_isalnum(*tail))
			return false;
	return true;
}

void nsops_statedir_remove_temporaries(struct nsops_statedir *sd, const char *prefix)
{
	g_autoptr(GDir) dir = g_dir_open(sd->path, 0, NULL);
	const char *entry;

	while (dir && (entry = g_dir_read_name(dir))) {
		if (is_temporary_of(entry, prefix)) {
			g_autofree char *path = g_build_filename(sd->path, entry, NULL);

			g_unlink(path);
		}
	}
}
