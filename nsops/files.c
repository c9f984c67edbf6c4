// SPDX-License-Identifier: GPL-2.0-or-later
/* The files utsfs keeps beside the names (.utsfs.conf) and elsewhere (the record): read, written whole, removed. */
#include "nsops.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

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
