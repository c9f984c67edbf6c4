// SPDX-License-Identifier: GPL-2.0-or-later
/* The files utsfs keeps beside the names (.utsfs.conf) and elsewhere (the record): read, written whole, removed. */
#include "nsops.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

/* Why path, or a directory above it, cannot be trusted (g_free it), or NULL. */
static char *distrust_path(const char *path, const struct stat *st)
{
	g_autofree char *at = g_strdup(path);
	const char *why = S_ISREG(st->st_mode) ? distrust(st) : "is not a regular file";

	while (!why) {
		struct stat dst;
		char *up;

		if (g_str_equal(at, "/") || g_str_equal(at, "."))
			return NULL;
		up = g_path_get_dirname(at);
		g_free(at);
		at = up;
		if (stat(at, &dst) < 0)
			return g_strdup_printf("%s cannot be looked at", at);
		why = distrust(&dst);
	}
	return g_strdup_printf("%s %s", at, why);
}

int nsops_file_set_aside_untrusted(const char *path, char **why, char **aside)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *base = g_path_get_basename(path);
	struct stat st;

	*why = *aside = NULL;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	*why = distrust_path(path, &st);
	if (!*why)
		return 0;
	/* Renamed, never overwritten: no name it holds is lost. */
	for (int n = 0; n < 100; n++) {
		g_free(*aside);
		*aside = g_strdup_printf("%s/.untrusted-%s-%lld-%d", dir, base, (long long)time(NULL), n);
		if (renameat2(AT_FDCWD, path, AT_FDCWD, *aside, RENAME_NOREPLACE) == 0)
			return 1;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

void nsops_statedir_remove_temporaries(struct nsops_statedir *sd, const char *prefix)
{
	g_autoptr(GDir) dir = g_dir_open(sd->path, 0, NULL);
	const char *entry;

	while (dir && (entry = g_dir_read_name(dir))) {
		if (g_str_has_prefix(entry, prefix) && strlen(entry) > strlen(prefix)) {
			g_autofree char *path = g_build_filename(sd->path, entry, NULL);

			g_unlink(path);
		}
	}
}
