// SPDX-License-Identifier: GPL-2.0-or-later
/* The attribute files of a namespace directory (hostname, domainname, id, ns, pids, nsid) as rows of one table. */
#include "attrs.h"
#include "daemon.h"
#include "nsnode.h"

#include <string.h>

/* hostname and domainname, through the value cache. */
static int show_field(struct utsfs *fs, const struct attr_def *def, const struct ns_ref *ref,
		      GString *out)
{
	char value[NSOPS_VALUE_MAX + 1];
	int r = nsnode_value(fs, ref, def->field, value);

	if (r < 0)
		return r;
	g_string_append_printf(out, "%s\n", value);
	return 0;
}

/* id: the nsfs inode number (as lsns and ls -i show it); nsid: the 64-bit id. */
static int show_id(struct utsfs *fs G_GNUC_UNUSED, const struct attr_def *def,
		   const struct ns_ref *ref, GString *out)
{
	g_string_append_printf(out, "%" G_GUINT64_FORMAT "\n",
			       def->needs_ns_ids ? ref->id : ref->ns_ino);
	return 0;
}

/*
 * The state file itself, so `nsenter --uts=MOUNT/NAME/ns` needs no other
 * path; in the view, the first name's: -ENOENT for a namespace without one.
 */
static int show_ns_target(struct utsfs *fs, const struct attr_def *def G_GNUC_UNUSED,
			  const struct ns_ref *ref, GString *out)
{
	g_autoptr(GString) names = g_string_new(NULL);
	int r = ref->name ? 0 : allview_names(fs, ref->id, names);

	if (r < 0)
		return r;
	if (!ref->name) {
		if (names->len == 0)
			return -ENOENT;
		g_string_truncate(names, strcspn(names->str, "\n"));
	}
	g_string_append_printf(out, "%s/%s", fs->state.path, ref->name ? ref->name : names->str);
	return 0;
}

/* In the view: the names a namespace has in the tree, one per line. */
static int show_names(struct utsfs *fs, const struct attr_def *def G_GNUC_UNUSED,
		      const struct ns_ref *ref, GString *out)
{
	return allview_names(fs, ref->id, out);
}

/* One PID per line, like `ip netns pids`, of the processes uid may know of. */
static int snapshot_pids(struct utsfs *fs G_GNUC_UNUSED, const struct ns_ref *ref, uid_t uid,
			 GString *out)
{
	g_autoptr(GArray) pids = NULL;
	int r = nsops_pids(ref->ns_ino, uid, &pids);

	if (r < 0)
		return r;
	for (guint i = 0; i < pids->len; i++)
		g_string_append_printf(out, "%d\n", (int)g_array_index(pids, pid_t, i));
	return 0;
}

/*
 * Every row is served the same way: the content is made afresh for each
 * request (show; pids: for each open, see snapshot), after the name is
 * checked to still hold its namespace, and the kernel caches none of it
 * (attribute timeout 0, direct I/O; see stat.c and ops_file.c). Adding a
 * read-only file is one show function (and the nsops call it needs) and
 * one row.
 *
 * Rows are only ever appended: a row's index is part of its file's node id
 * and st_ino, which tools may remember. At most NODE_STRIDE - 1 rows fit
 * between two namespace directories' node ids.
 */
const struct attr_def attr_table[] = {
	{ .name = "hostname", .mode = S_IFREG | 0644, .show = show_field,
	  .write = ATTR_SETS_FIELD, .field = NSOPS_HOSTNAME, .poll = ATTR_POLL_CHANGES },
	{ .name = "domainname", .mode = S_IFREG | 0644, .show = show_field,
	  .write = ATTR_SETS_FIELD, .field = NSOPS_DOMAINNAME, .poll = ATTR_POLL_CHANGES },
	{ .name = "id", .mode = S_IFREG | 0444, .show = show_id,
	  .write = ATTR_READ_ONLY, .poll = ATTR_POLL_READABLE },
	{ .name = "ns", .mode = S_IFLNK | 0777, .show = show_ns_target,
	  .write = ATTR_READ_ONLY, .poll = ATTR_POLL_READABLE },
	{ .name = "pids", .mode = S_IFREG | 0444, .snapshot = snapshot_pids,
	  .write = ATTR_READ_ONLY, .poll = ATTR_POLL_READABLE },
	{ .name = "nsid", .mode = S_IFREG | 0444, .show = show_id,
	  .write = ATTR_READ_ONLY, .poll = ATTR_POLL_READABLE, .needs_ns_ids = true },
	{ .name = "names", .mode = S_IFREG | 0444, .show = show_names,
	  .write = ATTR_READ_ONLY, .poll = ATTR_POLL_READABLE, .only = ATTR_IN_VIEW },
};
const size_t attr_count = G_N_ELEMENTS(attr_table);

G_STATIC_ASSERT(G_N_ELEMENTS(attr_table) < NODE_STRIDE);

bool attr_exists(struct utsfs *fs, const struct attr_def *def, const struct ns_ref *ref)
{
	if (def->needs_ns_ids && !fs->state.ns_ids)
		return false;
	return def->only != ATTR_IN_VIEW || !ref->name;
}

bool attr_present(struct utsfs *fs, const struct attr_def *def, const struct ns_ref *ref)
{
	g_autoptr(GString) target = g_string_new(NULL);

	if (!attr_exists(fs, def, ref))
		return false;
	/* ns in the view: only while the namespace has a name to point at. */
	return ref->name || def->show != show_ns_target ||
	       show_ns_target(fs, def, ref, target) == 0;
}

const struct attr_def *attr_by_name(const char *name)
{
	for (const struct attr_def *def = attr_table; def < attr_table + attr_count; def++)
		if (g_str_equal(def->name, name))
			return def;
	return NULL;
}

const struct attr_def *attr_from_ino(fuse_ino_t ino, fuse_ino_t *dir)
{
	fuse_ino_t rest = ino % NODE_STRIDE;

	if (ino == FUSE_ROOT_ID || rest == 0 || rest > attr_count)
		return NULL;
	*dir = ino - rest;
	return &attr_table[rest - 1];
}

int attr_content(struct utsfs *fs, const struct attr_def *def, fuse_ino_t dir, uid_t uid,
		 GString *out)
{
	g_auto(NsRef) ref = { 0 };
	int r = nsnode_resolve(fs, dir, &ref, NULL);

	if (r < 0)
		return r;
	return def->show ? def->show(fs, def, &ref, out) : def->snapshot(fs, &ref, uid, out);
}
