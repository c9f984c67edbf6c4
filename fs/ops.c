// SPDX-License-Identifier: GPL-2.0-or-later
/* The FUSE operations table, connection set-up, and the requests utsfs refuses. */
#include "attrs.h"
#include "daemon.h"
#include "ops.h"
#include "stat.h"

#include <errno.h>

static void utsfs_init(void *userdata G_GNUC_UNUSED, struct fuse_conn_info *conn)
{
	/*
	 * No atomic_o_trunc: with it the kernel sets the size it holds to 0 on
	 * an O_TRUNC open, and an asynchronous O_DIRECT read is then cut off
	 * without asking us. Without it, O_TRUNC comes as a SETATTR of size 0
	 * (without the file handle), answered with the real size. Our
	 * content is not the page cache's to keep or to write back.
	 */
	conn->want &= ~(FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_WRITEBACK_CACHE |
			FUSE_CAP_AUTO_INVAL_DATA);
}

int caller_may_act(fuse_req_t req, uid_t owner)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	if (ctx->uid != 0 && ctx->uid == owner)
		return 0;
	if (nsops_caller_is_admin(ctx->pid) == 0)
		return 0;
	return ctx->uid == 0 ? -EPERM : -EACCES;
}

/* Only directory nodes count lookups: nodes_forget() ignores any other node id. */
static void utsfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	nodes_forget(&utsfs_from_req(req)->nodes, ino, nlookup);
	fuse_reply_none(req);
}

static void utsfs_forget_multi(fuse_req_t req, size_t count,
			       struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		nodes_forget(&utsfs_from_req(req)->nodes, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* Open files and directories alike: their handles free themselves. */
static void utsfs_release(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED,
			  struct fuse_file_info *fi)
{
	handle_release(&utsfs_from_req(req)->handles, fi->fh);
	fuse_reply_err(req, 0);
}

/* The tree's shape is fixed: only namespace directories come and go. */
static void utsfs_mknod(fuse_req_t req, fuse_ino_t parent G_GNUC_UNUSED,
			const char *name G_GNUC_UNUSED, mode_t mode G_GNUC_UNUSED,
			dev_t rdev G_GNUC_UNUSED)
{
	fuse_reply_err(req, EPERM);
}

static void utsfs_create(fuse_req_t req, fuse_ino_t parent G_GNUC_UNUSED,
			 const char *name G_GNUC_UNUSED, mode_t mode G_GNUC_UNUSED,
			 struct fuse_file_info *fi G_GNUC_UNUSED)
{
	fuse_reply_err(req, EPERM);
}

static void utsfs_link(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED,
		       fuse_ino_t newparent G_GNUC_UNUSED,
		       const char *newname G_GNUC_UNUSED)
{
	fuse_reply_err(req, EPERM);
}

/*
 * `rm -r`, `find -delete` and file managers remove a directory's files
 * before the directory. So for root, who may remove the name, unlinking a
 * file of a namespace directory succeeds and changes nothing: the kernel
 * drops its dentry, and the next lookup finds the file again. Anyone else
 * gets EPERM, as for every other file in the tree.
 */
static void utsfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	bool ours = parent != FUSE_ROOT_ID && !allview_owns(&utsfs_from_req(req)->all, parent) &&
		    attr_by_name(name);

	fuse_reply_err(req, ours && fuse_req_ctx(req)->uid == 0 && caller_may_act(req, 0) == 0 ? 0
										       : EPERM);
}

const struct fuse_lowlevel_ops utsfs_ops = {
	.init = utsfs_init,
	.lookup = utsfs_lookup,
	.forget = utsfs_forget,
	.forget_multi = utsfs_forget_multi,
	.getattr = utsfs_getattr,
	.setattr = utsfs_setattr,
	.readlink = utsfs_readlink,
	.mknod = utsfs_mknod,
	.mkdir = utsfs_mkdir,
	.unlink = utsfs_unlink,
	.rmdir = utsfs_rmdir,
	.symlink = utsfs_symlink,
	.rename = utsfs_rename,
	.link = utsfs_link,
	.open = utsfs_open,
	.read = utsfs_read,
	.lseek = utsfs_lseek,
	.write = utsfs_write,
	.release = utsfs_release,
	.opendir = utsfs_opendir,
	.readdir = utsfs_readdir,
	.readdirplus = utsfs_readdirplus,
	.releasedir = utsfs_release,
	.create = utsfs_create,
	.poll = utsfs_poll,
};
