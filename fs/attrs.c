// SPDX-License-Identifier: GPL-2.0-or-later
/* The attribute files of a namespace directory (hostname, domainname, id, ns) as table rows. */
#include "attrs.h"

/* hostname and domainname come from the node: kept there while nothing changes. */
static int show_value(struct utsfs *fs, fuse_ino_t dir, enum nsops_field field,
		      GString *out)
{
	char value[NSOPS_VALUE_MAX + 1];
	int r = node_value(fs, dir, field, value);

	if (r < 0)
		return r;
	g_string_append_printf(out, "%s\n", value);
	return 0;
}

static int show_id(struct utsfs *fs G_GNUC_UNUSED, int ns_fd G_GNUC_UNUSED,
		   const struct ns_ref *ref, GString *out)
{
	g_string_append_printf(out, "%" G_GUINT64_FORMAT "\n", ref->id);
	return 0;
}

/* The state file itself, so `nsenter --uts=MOUNT/NAME/ns` needs no other path. */
static int show_ns_target(struct utsfs *fs, int ns_fd G_GNUC_UNUSED,
			  const struct ns_ref *ref, GString *out)
{
	g_autofree char *path = g_build_filename(fs->state.path, ref->name, NULL);

	g_string_append(out, path);
	return 0;
}

/* One PID per line, like `ip netns pids`; changes whenever processes come and go. */
static int show_pids(struct utsfs *fs G_GNUC_UNUSED, int ns_fd,
		     const struct ns_ref *ref G_GNUC_UNUSED, GString *out)
{
	g_autoptr(GArray) pids = NULL;
	int r = nsops_pids(ns_fd, &pids);

	if (r < 0)
		return r;
	for (guint i = 0; i < pids->len; i++)
		g_string_append_printf(out, "%d\n", (int)g_array_index(pids, pid_t, i));
	return 0;
}

const struct attr_def attr_table[] = {
	{ "hostname", S_IFREG | 0644, NSOPS_HOSTNAME, true, NULL },
	{ "domainname", S_IFREG | 0644, NSOPS_DOMAINNAME, true, NULL },
	{ "id", S_IFREG | 0444, -1, false, show_id },
	{ "ns", S_IFLNK | 0777, -1, false, show_ns_target },
	{ "pids", S_IFREG | 0444, -1, true, show_pids },
};
const size_t attr_count = G_N_ELEMENTS(attr_table);

G_STATIC_ASSERT(G_N_ELEMENTS(attr_table) < NODE_STRIDE);

int attr_show(struct utsfs *fs, const struct attr_def *def, fuse_ino_t dir,
	      int ns_fd, const struct ns_ref *ref, GString *out)
{
	if (def->field >= 0)
		return show_value(fs, dir, (enum nsops_field)def->field, out);
	return def->show(fs, ns_fd, ref, out);
}

const struct attr_def *attr_by_name(const char *name, size_t *row)
{
	for (size_t i = 0; i < attr_count; i++) {
		if (g_str_equal(attr_table[i].name, name)) {
			*row = i;
			return &attr_table[i];
		}
	}
	return NULL;
}

const struct attr_def *attr_from_ino(fuse_ino_t ino, fuse_ino_t *dir,
				     size_t *row)
{
	fuse_ino_t rest = ino % NODE_STRIDE;

	if (ino == FUSE_ROOT_ID || rest == 0 || rest > attr_count)
		return NULL;
	*dir = ino - rest;
	*row = rest - 1;
	return &attr_table[*row];
}
