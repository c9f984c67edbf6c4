/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The FUSE request handlers, gathered into one table in ops.c. */
#pragma once

#include "common.h"

extern const struct fuse_lowlevel_ops utsfs_ops;

/*
 * 0 when the caller may use root's power here: any caller but uid 0 (the
 * kernel checked it against the modes shown), and uid 0 only with
 * CAP_SYS_ADMIN: a container's root without it passes default_permissions
 * as root, but must not create, remove, rename, adopt, chown or write as
 * root. -EPERM otherwise.
 */
int caller_may_act(fuse_req_t req);

/* ops_dir.c */
void utsfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void utsfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void utsfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void utsfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		  fuse_ino_t newparent, const char *newname, unsigned int flags);
void utsfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		   const char *name);
void utsfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void utsfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void utsfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi);

/* ops_file.c */
void utsfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void utsfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void utsfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void utsfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		 off_t off, struct fuse_file_info *fi);
void utsfs_readlink(fuse_req_t req, fuse_ino_t ino);
void utsfs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		struct fuse_pollhandle *ph);
void utsfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		   int to_set, struct fuse_file_info *fi);
