/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The FUSE request handlers, gathered into one table in ops.c. */
#pragma once

#include "common.h"

extern const struct fuse_lowlevel_ops utsfs_ops;

/*
 * 0 when the caller may change what uid owner owns (root, 0, for the names
 * themselves). The kernel checked the modes shown (default_permissions),
 * but capabilities get anyone past them: uid 0 with no more than that, or
 * another uid with CAP_DAC_OVERRIDE, CAP_FOWNER or CAP_CHOWN (a container's
 * root after setuid, its capabilities kept ambient). So the owner acts
 * within the modes, and anyone else only with CAP_SYS_ADMIN in our user
 * namespace: -EPERM for uid 0 without it, -EACCES for others, as the modes
 * would say without capabilities.
 */
int caller_may_act(fuse_req_t req, uid_t owner);

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
void utsfs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		 struct fuse_file_info *fi);
void utsfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void utsfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		 off_t off, struct fuse_file_info *fi);
void utsfs_readlink(fuse_req_t req, fuse_ino_t ino);
void utsfs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		struct fuse_pollhandle *ph);
void utsfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		   int to_set, struct fuse_file_info *fi);
