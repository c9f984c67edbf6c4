# SPDX-License-Identifier: GPL-2.0-or-later
"""Who may do what: every operation on every kind of node, as root, as the
delegated owner of a name and as another user, each case checked against
README ("The tree", "Delegation", "Errors") and the kernel's own rules.

One daemon serves the whole module; each case runs its operation through a
long-lived helper process of its actor (setpriv, no supplementary groups),
so a case costs a few FUSE requests, not a process start. Before each case
the tree is put back as CANON describes it; after it, a refused operation
must have changed nothing (names in the tree and in the state directory,
the nsfs mounts, each namespace's id, hostname and domainname as seen from
inside it, every owner and mode, .utsfs.conf), and a successful one exactly
what it promises.

Reading the table: `ok` is success; an errno is the error the operation must
fail with. Columns are the actor's relation to the node: `root` (uid 0),
`owner` (DELEGATE, on a name chowned to it and the files in it), `other`
(anyone else: NOBODY everywhere, DELEGATE on the mount root and on the
root-owned name). Namespace directories never show write bits (README:
0555, and a chmod asking for one is EPERM), so the kernel refuses the owner
as well as `other` whatever needs write permission on the directory.
Inside the 0500 name, `other` cannot search the directory, so every
operation on a path below it fails with EACCES (no row needed).

MOUNT/.all, the view of every UTS namespace on the host, is root's 0555,
and so is each namespace directory in it (.all/ID) and its files; nothing
under .all can be changed but a value, by root. The matrix looks at one
such directory: the namespace of a process run by NOBODY (VIEWED below).
The view shows a namespace to anyone else only while it holds a process of
theirs, so for .all/ID and its files the columns mean: `owner` the actor
whose process is in it (NOBODY: it sees the directory, owns nothing),
`other` one without (DELEGATE: the directory does not exist for it).

How each operation is done (see _AGENT):
  stat/lstat    stat(2) / lstat(2)
  listdir       opendir + readdir (os.listdir)
  read          open(O_RDONLY) + read(2)
  write         open(O_WRONLY) + write(2) of a valid value ("matrixw\\n")
  redirect      the same with O_CREAT|O_TRUNC: `echo matrixw > FILE`
  append        the same with O_APPEND: `echo matrixw >> FILE`
  truncate      open(O_WRONLY|O_TRUNC), close
  chmod         chmod(2) to a mode without write bits (MOUNT 0555, a namespace
                directory 0550, a file 0400); on `ns` fchmodat2(AT_SYMLINK_NOFOLLOW),
                the link itself (0500)
  chmod_w       the same to a mode with write bits (MOUNT 0777, the namespace
                directories 0755 and 0700, what they were before, a file 0666,
                `ns` 0700)
  chown         lchown(2), giving the node away (root and DELEGATE give it to
                NOBODY, NOBODY to DELEGATE)
  chown_same    lchown(2) to the owner and group it has: a change of nothing
  utime         utimensat(NULL times, AT_SYMLINK_NOFOLLOW): `touch`
  mkdir, create (open O_CREAT|O_EXCL), mknod (mkfifo), symlink (-> /dev/null),
  attach (symlink -> /proc/PID/ns/uts of a process in a UTS namespace of its
  own, README's `ip netns attach` form): a new entry "new" inside the node
  rmdir, unlink  of the node itself
  rename        the node to a new sibling name (the mount point: in its parent)
  link          linkat(2) without AT_SYMLINK_FOLLOW: a new name "linked" in
                MOUNT for the mount root and the namespace directories, in the
                node's own directory for the files
  readlink      readlink(2)
  setxattr      lsetxattr(2) of user.x
Operations that open, list or stat `ns` follow the link to the nsfs file
in the state directory, as they must; the kernel answers for that file.

Cases whose outcome differs from the table are xfail (strict) in XFAIL, with
README's promise and what utsfs does instead.
"""

import copy
import errno
import fnmatch
import json
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple, Optional

import pytest

import util
from conftest import Utsfs
from util import DELEGATE, NOBODY


def _skip_reason():
    if shutil.which("setpriv") is None:
        return "needs setpriv (package util-linux) to act as other users"
    return util.fuse_skip_reason()


pytestmark = [
    pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or ""),
    pytest.mark.uses_fuse,
]

# --- the tree each case starts from --------------------------------------------

# name -> (uid, gid, mode) of MOUNT/name; hostname NAME, domainname dom-NAME.
CANON = {
    "rootowned": (0, 0, 0o555),
    "delegated": (DELEGATE, DELEGATE, 0o555),
    "private": (DELEGATE, DELEGATE, 0o500),
}
FILE_MODES = {"hostname": 0o644, "domainname": 0o644, "id": 0o444, "pids": 0o444,
              "nsid": 0o444}
# nsid only where the kernel has NS_GET_ID (Linux 6.18).
FILES = util.ATTR_FILES
# MOUNT/.all, and the files of a namespace directory in it: those of a name,
# and names (ns only while the namespace has a name: VIEWED has none).
VIEW = util.ALLVIEW
VIEW_FILES = tuple(f for f in FILES if f != "ns") + ("names",)
# The namespace the matrix looks at in .all: a process of VIEW_USER's runs in
# it; its hostname and domainname.
VIEW_USER = NOBODY
VIEWED = ("viewed", "dom-viewed")
# README: "A valid value is 1-64 bytes of [A-Za-z0-9._-]"; one newline is stripped.
WRITTEN = "matrixw"


def canon_values(name):
    return name, f"dom-{name}"


# --- the table -----------------------------------------------------------------

# "EPERM*": fs.protected_hardlinks=1 (the default) makes the kernel refuse a
# hard link to a file the caller neither owns nor may read and write with
# EPERM, before the directory's modes are looked at; with 0 it is EACCES.
PROTECTED_HARDLINKS = util.read_text("/proc/sys/fs/protected_hardlinks").strip() == "1"

# Comments: "R:" README's words, "K:" the kernel's own rule (it answers
# before utsfs is asked), "silent:" README says nothing, so what a demanding
# user of Linux tools expects, "V:" what .all promises (the commit that made
# it, and tests/test_allview.py: README does not describe .all yet).
# "others" is the `other` column.
TABLE_TEXT = """
# kind   op         root       owner      other

# --- MOUNT: "dir 0755 root -- one entry per namespace; mkdir/rmdir/rename here"
mount    stat       ok         -          ok
mount    lstat      ok         -          ok
mount    listdir    ok         -          ok
mount    read       EISDIR     -          EISDIR     # K: read(2) of a directory
mount    write      EISDIR     -          EISDIR     # K: no directory opens for writing
mount    redirect   EISDIR     -          EISDIR
mount    append     EISDIR     -          EISDIR
mount    truncate   EISDIR     -          EISDIR
mount    chmod      EPERM      -          EPERM      # R: chmod/chown of /ns; K: others
mount    chmod_w    EPERM      -          EPERM      #   are not the owner
mount    chown      EPERM      -          EPERM
mount    chown_same EPERM      -          EPERM      # R: chown of /ns, even a no-op
mount    utime      EPERM      -          EACCES     # R: touch; K: others may not write
mount    mkdir      ok         -          EACCES     # R: only root creates names
mount    rmdir      EBUSY      -          EACCES     # K: a mount point; others may
mount    rename     EBUSY      -          EACCES     #   not write its parent (0755)
mount    unlink     EISDIR     -          EACCES     # K
mount    create     EPERM      -          EACCES     # R: no file, device node,
mount    mknod      EPERM      -          EACCES     #   symlink or hard link anywhere
mount    symlink    EPERM      -          EACCES     # R: "other symlinks" are EPERM
mount    attach     ok         -          EACCES     # R: ln -s /proc/PID/ns/uts /ns/N
mount    link       EPERM      -          EPERM*     # K: no hard links to directories
mount    readlink   EINVAL     -          EINVAL     # K: not a symlink
mount    setxattr   EOPNOTSUPP -          EACCES     # silent: no xattrs (*); K: others

# --- MOUNT/NAME, 0555 (root-owned or delegated). R: no write bits, so the
# --- kernel refuses the owner, as others, what needs write permission on
# --- it (creating in it, user.* xattrs) before utsfs is asked; root passes
# --- (CAP_DAC_OVERRIDE) and gets utsfs's answer.
dir      stat       ok         ok         ok         # st_ino: the namespace's inode
dir      lstat      ok         ok         ok
dir      listdir    ok         ok         ok
dir      read       EISDIR     EISDIR     EISDIR
dir      write      EISDIR     EISDIR     EISDIR
dir      redirect   EISDIR     EISDIR     EISDIR
dir      append     EISDIR     EISDIR     EISDIR
dir      truncate   EISDIR     EISDIR     EISDIR
dir      chmod      ok         ok         EPERM      # R: chmod "(root or the owner)"
dir      chmod_w    EPERM      EPERM      EPERM      # R: a write bit is refused to all
dir      chown      ok         EPERM      EPERM      # R: chown "(root only)"
dir      chown_same ok         ok         EPERM      # silent: a no-op chown works (**)
dir      utime      EPERM      EPERM      EACCES     # R: touch; K: others may not write
dir      mkdir      EPERM      EACCES     EACCES     # R: mkdir inside NAME; K: 0555
dir      rmdir      ok         EACCES     EACCES     # R: only root removes and
dir      rename     ok         EACCES     EACCES     #   renames names (/ns 0755 root)
dir      unlink     EISDIR     EACCES     EACCES     # K: MOUNT's modes first
dir      create     EPERM      EACCES     EACCES     # R: no file, device node,
dir      mknod      EPERM      EACCES     EACCES     #   symlink or hard link anywhere;
dir      symlink    EPERM      EACCES     EACCES     #   K: the owner may not write
dir      attach     EPERM      EACCES     EACCES     #   NAME (0555) either
dir      link       EPERM      EACCES     EPERM*     # K: no hard links to directories;
#                                                      the owner may not write MOUNT
dir      readlink   EINVAL     EINVAL     EINVAL
dir      setxattr   EOPNOTSUPP EACCES     EACCES     # silent: no xattrs (*); K: user.*
#                                                      needs write permission (0555)

# --- MOUNT/NAME chmodded 0500: R: "hides it from others", yet the name
# --- stays visible; only listing and opening for reading differ from 0555.
dir0500  stat       ok         ok         ok         # lookup in MOUNT: allowed
dir0500  lstat      ok         ok         ok
dir0500  listdir    ok         ok         EACCES     # K: from the modes
dir0500  read       EISDIR     EISDIR     EACCES     # K: open needs read permission
dir0500  write      EISDIR     EISDIR     EISDIR     # K: EISDIR before any mode check
dir0500  redirect   EISDIR     EISDIR     EISDIR
dir0500  append     EISDIR     EISDIR     EISDIR
dir0500  truncate   EISDIR     EISDIR     EISDIR
dir0500  chmod      ok         ok         EPERM
dir0500  chmod_w    EPERM      EPERM      EPERM      # chmod 0700, the old way to hide
dir0500  chown      ok         EPERM      EPERM
dir0500  chown_same ok         ok         EPERM
dir0500  utime      EPERM      EPERM      EACCES
dir0500  mkdir      EPERM      EACCES     EACCES
dir0500  rmdir      ok         EACCES     EACCES
dir0500  rename     ok         EACCES     EACCES
dir0500  unlink     EISDIR     EACCES     EACCES
dir0500  create     EPERM      EACCES     EACCES
dir0500  mknod      EPERM      EACCES     EACCES
dir0500  symlink    EPERM      EACCES     EACCES
dir0500  attach     EPERM      EACCES     EACCES
dir0500  link       EPERM      EACCES     EPERM*
dir0500  readlink   EINVAL     EINVAL     EINVAL
dir0500  setxattr   EOPNOTSUPP EACCES     EACCES

# --- MOUNT/NAME/hostname and domainname: file 0644, the name's owner's.
# --- Unlinking, renaming or linking in NAME needs write permission on NAME,
# --- which only root has (K).
value    stat       ok         ok         ok         # R: st_size = what a read gives
value    lstat      ok         ok         ok
value    listdir    ENOTDIR    ENOTDIR    ENOTDIR
value    read       ok         ok         ok
value    write      ok         ok         EACCES     # R: the owner "can write" them
value    redirect   ok         ok         EACCES     # echo NAME > hostname
value    append     EINVAL     EINVAL     EACCES     # R: O_APPEND writes are EINVAL
value    truncate   ok         ok         EACCES     # R: "Truncating changes nothing"
value    chmod      EPERM      EPERM      EPERM      # R: the attribute files "cannot
value    chmod_w    EPERM      EPERM      EPERM      #   be chmodded or chowned"
value    chown      EPERM      EPERM      EPERM
value    chown_same EPERM      EPERM      EPERM
value    utime      EPERM      EPERM      EACCES     # R: touch; K: others may not write
value    mkdir      ENOTDIR    ENOTDIR    ENOTDIR    # K: the path goes through a file
value    rmdir      ENOTDIR    EACCES     EACCES     # K: the directory's modes first
value    rename     EPERM      EACCES     EACCES     # R: no rename of the files in NAME
value    unlink     ok         EACCES     EACCES     # R: root's unlink succeeds, changes
#                                                      nothing (rm -r); K: others EACCES
value    create     ENOTDIR    ENOTDIR    ENOTDIR
value    mknod      ENOTDIR    ENOTDIR    ENOTDIR
value    symlink    ENOTDIR    ENOTDIR    ENOTDIR
value    attach     ENOTDIR    ENOTDIR    ENOTDIR
value    link       EPERM      EACCES     EPERM*     # R: no hard link anywhere; K: the
#                                                      owner may not write NAME
value    readlink   EINVAL     EINVAL     EINVAL
value    setxattr   EOPNOTSUPP EOPNOTSUPP EACCES     # silent: no xattrs (*)

# --- MOUNT/NAME/id: file 0444
id       stat       ok         ok         ok
id       lstat      ok         ok         ok
id       listdir    ENOTDIR    ENOTDIR    ENOTDIR
id       read       ok         ok         ok
id       write      EACCES     EACCES     EACCES     # R: open id for writing, or
id       redirect   EACCES     EACCES     EACCES     #   truncate it (also for root)
id       append     EACCES     EACCES     EACCES
id       truncate   EACCES     EACCES     EACCES
id       chmod      EPERM      EPERM      EPERM
id       chmod_w    EPERM      EPERM      EPERM
id       chown      EPERM      EPERM      EPERM
id       chown_same EPERM      EPERM      EPERM
id       utime      EPERM      EPERM      EACCES     # K lets the owner touch: R: EPERM
id       mkdir      ENOTDIR    ENOTDIR    ENOTDIR
id       rmdir      ENOTDIR    EACCES     EACCES
id       rename     EPERM      EACCES     EACCES
id       unlink     ok         EACCES     EACCES
id       create     ENOTDIR    ENOTDIR    ENOTDIR
id       mknod      ENOTDIR    ENOTDIR    ENOTDIR
id       symlink    ENOTDIR    ENOTDIR    ENOTDIR
id       attach     ENOTDIR    ENOTDIR    ENOTDIR
id       link       EPERM      EACCES     EPERM*
id       readlink   EINVAL     EINVAL     EINVAL
id       setxattr   EOPNOTSUPP EACCES     EACCES     # K: user.* needs write permission

# --- MOUNT/NAME/nsid: file 0444, read-only as id (R), where the kernel has
# --- NS_GET_ID (no nodes otherwise).
nsid     stat       ok         ok         ok
nsid     lstat      ok         ok         ok
nsid     listdir    ENOTDIR    ENOTDIR    ENOTDIR
nsid     read       ok         ok         ok
nsid     write      EACCES     EACCES     EACCES     # R: as id, also for root
nsid     redirect   EACCES     EACCES     EACCES
nsid     append     EACCES     EACCES     EACCES
nsid     truncate   EACCES     EACCES     EACCES
nsid     chmod      EPERM      EPERM      EPERM
nsid     chmod_w    EPERM      EPERM      EPERM
nsid     chown      EPERM      EPERM      EPERM
nsid     chown_same EPERM      EPERM      EPERM
nsid     utime      EPERM      EPERM      EACCES
nsid     mkdir      ENOTDIR    ENOTDIR    ENOTDIR
nsid     rmdir      ENOTDIR    EACCES     EACCES
nsid     rename     EPERM      EACCES     EACCES
nsid     unlink     ok         EACCES     EACCES
nsid     create     ENOTDIR    ENOTDIR    ENOTDIR
nsid     mknod      ENOTDIR    ENOTDIR    ENOTDIR
nsid     symlink    ENOTDIR    ENOTDIR    ENOTDIR
nsid     attach     ENOTDIR    ENOTDIR    ENOTDIR
nsid     link       EPERM      EACCES     EPERM*
nsid     readlink   EINVAL     EINVAL     EINVAL
nsid     setxattr   EOPNOTSUPP EACCES     EACCES

# --- MOUNT/NAME/pids: file 0444. README names EACCES for writing id only.
# --- silent: pids is as read-only ("read afresh", 0444), so the same as id,
# --- as /proc's read-only files: even root cannot open it for writing.
pids     stat       ok         ok         ok
pids     lstat      ok         ok         ok
pids     listdir    ENOTDIR    ENOTDIR    ENOTDIR
pids     read       ok         ok         ok
pids     write      EACCES     EACCES     EACCES     # silent: as for id
pids     redirect   EACCES     EACCES     EACCES
pids     append     EACCES     EACCES     EACCES
pids     truncate   EACCES     EACCES     EACCES     # silent: as for id
pids     chmod      EPERM      EPERM      EPERM
pids     chmod_w    EPERM      EPERM      EPERM
pids     chown      EPERM      EPERM      EPERM
pids     chown_same EPERM      EPERM      EPERM
pids     utime      EPERM      EPERM      EACCES
pids     mkdir      ENOTDIR    ENOTDIR    ENOTDIR
pids     rmdir      ENOTDIR    EACCES     EACCES
pids     rename     EPERM      EACCES     EACCES
pids     unlink     ok         EACCES     EACCES
pids     create     ENOTDIR    ENOTDIR    ENOTDIR
pids     mknod      ENOTDIR    ENOTDIR    ENOTDIR
pids     symlink    ENOTDIR    ENOTDIR    ENOTDIR
pids     attach     ENOTDIR    ENOTDIR    ENOTDIR
pids     link       EPERM      EACCES     EPERM*
pids     readlink   EINVAL     EINVAL     EINVAL
pids     setxattr   EOPNOTSUPP EACCES     EACCES

# --- MOUNT/NAME/ns: symlink -> STATE_DIR/NAME (an nsfs file). Opening,
# --- listing and stat follow the link: the kernel answers for nsfs.
ns       stat       ok         ok         ok         # the nsfs file: st_ino its inode
ns       lstat      ok         ok         ok         # silent: 0777, st_size (***)
ns       listdir    ENOTDIR    ENOTDIR    ENOTDIR    # K: nsfs is no directory
ns       read       EINVAL     EINVAL     EINVAL     # K: nsfs files cannot be read
ns       write      EPERM      EPERM      EPERM      # K: nsfs files are immutable
ns       redirect   EPERM      EPERM      EPERM      #   (EPERM before any mode check)
ns       append     EPERM      EPERM      EPERM
ns       truncate   EPERM      EPERM      EPERM
ns       chmod      EOPNOTSUPP EOPNOTSUPP EOPNOTSUPP # K: a symlink has no mode to set
ns       chmod_w    EOPNOTSUPP EOPNOTSUPP EOPNOTSUPP
ns       chown      EPERM      EPERM      EPERM      # R: chown of the files in NAME
ns       chown_same EPERM      EPERM      EPERM
ns       utime      EPERM      EPERM      EPERM      # R: touch; K lets all (0777) ask
ns       mkdir      ENOTDIR    ENOTDIR    ENOTDIR
ns       rmdir      ENOTDIR    EACCES     EACCES
ns       rename     EPERM      EACCES     EACCES     # R: no rename of the files in NAME
ns       unlink     ok         EACCES     EACCES     # R: as for the other files
ns       create     ENOTDIR    ENOTDIR    ENOTDIR
ns       mknod      ENOTDIR    ENOTDIR    ENOTDIR
ns       symlink    ENOTDIR    ENOTDIR    ENOTDIR
ns       attach     ENOTDIR    ENOTDIR    ENOTDIR
ns       link       EPERM      EACCES     EPERM*     # R: no hard link; K: the owner may
#                                                      not write NAME, others not link
#                                                      what is not a regular file (EPERM*)
ns       readlink   ok         ok         ok         # R: ns -> STATE_DIR/NAME
ns       setxattr   EPERM      EPERM      EPERM      # K: user.* only on files, dirs

# --- MOUNT/.all: dir 0555 root, in every listing of MOUNT ("ls -a"). V:
# --- nothing under .all can be removed, renamed or chmodded ("rm -rf
# --- MOUNT/.all removes nothing"); root's changes get utsfs's EPERM,
# --- others' the kernel's answer from the modes first.
view     stat       ok         -          ok
view     lstat      ok         -          ok
view     listdir    ok         -          ok         # V: root every namespace, others theirs
view     read       EISDIR     -          EISDIR
view     write      EISDIR     -          EISDIR
view     redirect   EISDIR     -          EISDIR
view     append     EISDIR     -          EISDIR
view     truncate   EISDIR     -          EISDIR
view     chmod      EPERM      -          EPERM      # V: no chmod; K: others are not
view     chmod_w    EPERM      -          EPERM      #   the owner
view     chown      EPERM      -          EPERM
view     chown_same EPERM      -          EPERM      # V: as for MOUNT, even a no-op
view     utime      EPERM      -          EACCES     # R: touch; K: others may not write
view     mkdir      EPERM      -          EACCES     # V: nothing is made in .all; K: 0555
view     rmdir      EPERM      -          EACCES     # V: no rmdir; K: others may not
view     rename     EPERM      -          EACCES     #   write MOUNT (0755)
view     unlink     EISDIR     -          EACCES     # K
view     create     EPERM      -          EACCES     # R: no file, device node, symlink
view     mknod      EPERM      -          EACCES     #   or hard link anywhere (adoption
view     symlink    EPERM      -          EACCES     #   only in MOUNT); K: 0555
view     attach     EPERM      -          EACCES
view     link       EPERM      -          EPERM*     # K: no hard links to directories
view     readlink   EINVAL     -          EINVAL
view     setxattr   EOPNOTSUPP -          EACCES     # silent: no xattrs (*); K: user.*

# --- MOUNT/.all/ID: dir 0555 root, st_ino the namespace's inode. `owner`:
# --- the actor whose process is in it; `other` does not see it (V: the
# --- pids rule), so every path through it is ENOENT, except an O_CREAT open
# --- of it: the kernel then asks to create a name in .all (0555): EACCES.
viewdir  stat       ok         ok         ENOENT
viewdir  lstat      ok         ok         ENOENT
viewdir  listdir    ok         ok         ENOENT
viewdir  read       EISDIR     EISDIR     ENOENT
viewdir  write      EISDIR     EISDIR     ENOENT
viewdir  redirect   EISDIR     EISDIR     EACCES     # K: O_CREAT in .all (0555)
viewdir  append     EISDIR     EISDIR     ENOENT
viewdir  truncate   EISDIR     EISDIR     ENOENT
viewdir  chmod      EPERM      EPERM      ENOENT     # V: no chmod; K: not the owner
viewdir  chmod_w    EPERM      EPERM      ENOENT
viewdir  chown      EPERM      EPERM      ENOENT     # V: the view's namespaces are root's:
viewdir  chown_same EPERM      EPERM      ENOENT     #   no delegation, not even a no-op
viewdir  utime      EPERM      EACCES     ENOENT     # R: touch; K: no write permission
viewdir  mkdir      EPERM      EACCES     ENOENT     # R: mkdir inside NAME; K: 0555
viewdir  rmdir      EPERM      EACCES     ENOENT     # V: no rmdir, rename; K: .all
viewdir  rename     EPERM      EACCES     ENOENT     #   is 0555
viewdir  unlink     EISDIR     EACCES     ENOENT     # K
viewdir  create     EPERM      EACCES     ENOENT
viewdir  mknod      EPERM      EACCES     ENOENT
viewdir  symlink    EPERM      EACCES     ENOENT
viewdir  attach     EPERM      EACCES     ENOENT
viewdir  link       EPERM      EPERM*     ENOENT     # K: no hard links to directories
viewdir  readlink   EINVAL     EINVAL     ENOENT
viewdir  setxattr   EOPNOTSUPP EACCES     ENOENT

# --- MOUNT/.all/ID/hostname and domainname: file 0644 root. V: values
# --- follow the named tree's rules; root alone writes them. Unlike in
# --- MOUNT/NAME, root's unlink is refused: nothing under .all is removed.
viewvalue stat       ok         ok         ENOENT
viewvalue lstat      ok         ok         ENOENT
viewvalue listdir    ENOTDIR    ENOTDIR    ENOENT
viewvalue read       ok         ok         ENOENT
viewvalue write      ok         EACCES     ENOENT     # V: root writes; K: 0644 root's
viewvalue redirect   ok         EACCES     ENOENT
viewvalue append     EINVAL     EACCES     ENOENT     # R: O_APPEND writes are EINVAL
viewvalue truncate   ok         EACCES     ENOENT     # R: truncating changes nothing
viewvalue chmod      EPERM      EPERM      ENOENT     # R: the files cannot be chmodded
viewvalue chmod_w    EPERM      EPERM      ENOENT     #   or chowned
viewvalue chown      EPERM      EPERM      ENOENT
viewvalue chown_same EPERM      EPERM      ENOENT
viewvalue utime      EPERM      EACCES     ENOENT     # R: touch; K: no write permission
viewvalue mkdir      ENOTDIR    ENOTDIR    ENOENT
viewvalue rmdir      ENOTDIR    EACCES     ENOENT     # K: the directory's modes first
viewvalue rename     EPERM      EACCES     ENOENT
viewvalue unlink     EPERM      EACCES     ENOENT     # V: root too (no rm -r to serve)
viewvalue create     ENOTDIR    ENOTDIR    ENOENT
viewvalue mknod      ENOTDIR    ENOTDIR    ENOENT
viewvalue symlink    ENOTDIR    ENOTDIR    ENOENT
viewvalue attach     ENOTDIR    ENOTDIR    ENOENT
viewvalue link       EPERM      EPERM*     ENOENT     # R: no hard link; K: protected
viewvalue readlink   EINVAL     EINVAL     ENOENT
viewvalue setxattr   EOPNOTSUPP EACCES     ENOENT

# --- MOUNT/.all/ID/id, nsid, pids and names: file 0444 root, read-only
# --- for root too, as id in MOUNT/NAME.
viewro   stat       ok         ok         ENOENT
viewro   lstat      ok         ok         ENOENT
viewro   listdir    ENOTDIR    ENOTDIR    ENOENT
viewro   read       ok         ok         ENOENT     # pids: V: the pids rule
viewro   write      EACCES     EACCES     ENOENT     # R: as id, also for root
viewro   redirect   EACCES     EACCES     ENOENT
viewro   append     EACCES     EACCES     ENOENT
viewro   truncate   EACCES     EACCES     ENOENT
viewro   chmod      EPERM      EPERM      ENOENT
viewro   chmod_w    EPERM      EPERM      ENOENT
viewro   chown      EPERM      EPERM      ENOENT
viewro   chown_same EPERM      EPERM      ENOENT
viewro   utime      EPERM      EACCES     ENOENT
viewro   mkdir      ENOTDIR    ENOTDIR    ENOENT
viewro   rmdir      ENOTDIR    EACCES     ENOENT
viewro   rename     EPERM      EACCES     ENOENT
viewro   unlink     EPERM      EACCES     ENOENT     # V: root too
viewro   create     ENOTDIR    ENOTDIR    ENOENT
viewro   mknod      ENOTDIR    ENOTDIR    ENOENT
viewro   symlink    ENOTDIR    ENOTDIR    ENOENT
viewro   attach     ENOTDIR    ENOTDIR    ENOENT
viewro   link       EPERM      EPERM*     ENOENT
viewro   readlink   EINVAL     EINVAL     ENOENT
viewro   setxattr   EOPNOTSUPP EACCES     ENOENT
"""

# (*) README is silent on extended attributes: a file system that keeps none
#     answers EOPNOTSUPP, as FUSE does for a daemon that does not implement them.
# (**) README says chown is "root only"; a chown to the owner and group a
#     directory already has changes nothing, and works for its owner on any
#     Linux file system (`chown -R alice: ~alice/x` run by alice).
# (***) README does not give the link's attributes: as every Linux symlink,
#     mode 0777 and st_size the length of the target (POSIX).

OPS = ("stat", "lstat", "listdir", "read", "write", "redirect", "append", "truncate",
       "chmod", "chmod_w", "chown", "chown_same", "utime",
       "mkdir", "rmdir", "rename", "unlink", "create", "mknod", "symlink", "attach",
       "link", "readlink", "setxattr")
ROLES = ("root", "owner", "other")


def parse_table(text):
    table = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].split()
        if not line:
            continue
        kind, op, *outcomes = line
        assert op in OPS and len(outcomes) == len(ROLES), line
        assert (kind, op) not in table, f"two rows for {kind} {op}"
        table[kind, op] = dict(zip(ROLES, outcomes))
    kinds = {kind for kind, _ in table}
    missing = {(k, op) for k in kinds for op in OPS} - set(table)
    assert not missing, f"no row for {sorted(missing)}"
    return table


TABLE = parse_table(TABLE_TEXT)


def outcome(token) -> Optional[int]:
    """None for success, else the errno."""
    if token == "ok":
        return None
    if token == "EPERM*":
        return errno.EPERM if PROTECTED_HARDLINKS else errno.EACCES
    return getattr(errno, token)


# --- the matrix --------------------------------------------------------------------

class Node(NamedTuple):
    id: str
    kind: str
    name: Optional[str] = None      # the namespace directory, None for MOUNT and the view
    file: Optional[str] = None      # the file in it, None for the directory
    view: bool = False              # MOUNT/.all, or below it (VIEWED's directory)


NODES = [Node("mount", "mount")]
for _name, (_uid, _gid, _mode) in CANON.items():
    NODES.append(Node(_name, "dir0500" if _mode == 0o500 else "dir", _name))
for _name in CANON:
    for _file in FILES:
        NODES.append(Node(f"{_name}.{_file}",
                          "value" if _file in ("hostname", "domainname") else _file,
                          _name, _file))
NODES.append(Node("all", "view", view=True))
NODES.append(Node("all.ID", "viewdir", view=True))
for _file in VIEW_FILES:
    NODES.append(Node(f"all.ID.{_file}",
                      "viewvalue" if _file in ("hostname", "domainname") else "viewro",
                      file=_file, view=True))

ACTORS = {"root": 0, "delegate": DELEGATE, "nobody": NOBODY}


class Case(NamedTuple):
    actor: str
    node: Node
    op: str
    expect: Optional[int]   # None: success

    @property
    def id(self):
        return f"{self.actor}-{self.node.id}-{self.op}"


def role(actor, node):
    if actor == "root":
        return "root"
    if node.view:
        # In .all: whether the actor's process is in VIEWED (see the docstring).
        seen = node.kind != "view" and ACTORS[actor] == VIEW_USER
        return "owner" if seen else "other"
    if node.name is not None and ACTORS[actor] == CANON[node.name][0]:
        return "owner"
    return "other"


def expectation(actor, node, op):
    r = role(actor, node)
    if node.name is not None and node.file is not None and r == "other" \
            and CANON[node.name][2] & 0o001 == 0:
        # The path walk needs search permission on MOUNT/NAME, which 0500 denies.
        return errno.EACCES
    token = TABLE[node.kind, op][r]
    assert token != "-", (actor, node, op)
    return outcome(token)


# Cases whose outcome differs from the table: id pattern (fnmatch) -> reason,
# "README says X, utsfs does Y". Each is xfail(strict): it fails the run once
# utsfs is fixed, so the entry goes. (None with 0555 directories and nsid: every case
# of the table holds.)
XFAIL = {}


def cases():
    params = []
    for actor in ACTORS:
        for node in NODES:
            for op in OPS:
                case = Case(actor, node, op, expectation(actor, node, op))
                reasons = [r for pattern, r in XFAIL.items()
                           if fnmatch.fnmatchcase(case.id, pattern)]
                marks = [pytest.mark.xfail(strict=True, reason=reasons[0])] if reasons else []
                params.append(pytest.param(case, id=case.id, marks=marks))
    return params


# --- acting as a user: one long-lived helper process per actor ------------------

_AGENT = r'''
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, AT_SYMLINK_NOFOLLOW, SYS_fchmodat2 = -100, 0x100, 452

def attrs(st):
    return [st.st_mode, st.st_uid, st.st_gid, st.st_ino, st.st_size]

def read(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 65536).decode()
    finally:
        os.close(fd)

def write(path, data):
    fd = os.open(path, os.O_WRONLY)
    try:
        return os.write(fd, data.encode())
    finally:
        os.close(fd)

def redirect(path, data):
    # sh: echo VALUE > path
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        return os.write(fd, data.encode())
    finally:
        os.close(fd)

def append(path, data):
    # sh: echo VALUE >> path
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        return os.write(fd, data.encode())
    finally:
        os.close(fd)

def truncate(path):
    os.close(os.open(path, os.O_WRONLY | os.O_TRUNC))

def chmod(path, mode, nofollow):
    if not nofollow:
        return os.chmod(path, mode)
    # fchmodat2 (Linux 6.6): the mode of the link itself, not its target's.
    if libc.syscall(SYS_fchmodat2, AT_FDCWD, os.fsencode(path), mode,
                    AT_SYMLINK_NOFOLLOW) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), path)

def create(path):
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))

OPS = {
    "stat": lambda p: attrs(os.stat(p)),
    "lstat": lambda p: attrs(os.lstat(p)),
    "listdir": lambda p: sorted(os.listdir(p)),
    "read": read, "write": write, "redirect": redirect, "append": append,
    "truncate": truncate, "chmod": chmod, "chmod_w": chmod,
    "chown": lambda p, u, g: os.chown(p, u, g, follow_symlinks=False),
    "chown_same": lambda p, u, g: os.chown(p, u, g, follow_symlinks=False),
    "utime": lambda p: os.utime(p, follow_symlinks=False),
    "mkdir": lambda p: os.mkdir(p, 0o755),
    "rmdir": os.rmdir, "rename": os.rename, "unlink": os.unlink,
    "create": create, "mknod": lambda p: os.mkfifo(p, 0o644),
    "symlink": os.symlink,
    "link": lambda a, b: os.link(a, b, follow_symlinks=False),
    "readlink": os.readlink,
    "setxattr": lambda p: os.setxattr(p, "user.x", b"1", follow_symlinks=False),
}
while True:
    line = sys.stdin.readline()
    if not line:
        break
    op, args = json.loads(line)
    try:
        out = {"ok": OPS[op](*args)}
    except OSError as e:
        out = {"errno": e.errno}
    except Exception as e:
        out = {"exception": repr(e)}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
'''


class Agent:
    """A python3 running as uid:uid (setpriv, no supplementary groups, cwd /)
    that does one file operation per request and answers with its result or errno."""

    def __init__(self, uid):
        argv = ["/usr/bin/python3", "-I", "-S", "-c", _AGENT]
        if uid != 0:
            argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] + argv
        self.uid = uid
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd="/")

    def do(self, op, *args):
        """("ok", result) or ("errno", n)."""
        args = [os.fspath(a) if isinstance(a, os.PathLike) else a for a in args]
        self.proc.stdin.write(json.dumps([op, args]) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"the uid {self.uid} helper exited ({self.proc.poll()})"
        out = json.loads(line)
        assert "exception" not in out, out["exception"]
        return ("ok", out["ok"]) if "ok" in out else ("errno", out["errno"])

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            util.kill_and_wait(self.proc)
        self.proc.stdout.close()


# --- the world: one daemon, its tree, and what it looks like -------------------

def _values():
    return (util.read_text("/proc/sys/kernel/hostname").rstrip("\n"),
            util.read_text("/proc/sys/kernel/domainname").rstrip("\n"))


def conf_entry(name_snap, uid, gid, mode):
    """The .utsfs.conf group of a name whose snapshot entry is name_snap."""
    ident = name_snap["nsid"] if util.HAS_NS_IDS else name_snap["id"]
    return {"id": str(ident), "boot": util.boot_id(), "uid": str(uid), "gid": str(gid),
            "mode": f"{mode:04o}"}


class World:
    def __init__(self, fs: Utsfs, helper, viewed):
        self.fs = fs
        self.helper = helper
        self.helper_ns = f"/proc/{helper.pid}/ns/uts"
        self.helper_id = os.stat(self.helper_ns).st_ino
        self.helper_nsid = util.ns_id(self.helper_ns) if util.HAS_NS_IDS else None
        self.helper_values = util.in_namespace(self.helper_ns, _values)
        # VIEWED: the namespace of VIEW_USER's process, and its directory in .all.
        self.viewed = viewed
        self.viewed_ns = f"/proc/{viewed.pid}/ns/uts"
        self.viewed_ino = os.stat(self.viewed_ns).st_ino
        self.viewed_dir = fs.path(VIEW, str(util.conf_id(self.viewed_ns)))
        self.agents = {actor: Agent(uid) for actor, uid in ACTORS.items()}
        # The snapshot the last case ended with, taken after its operation.
        self.last = None

    def close(self):
        for agent in self.agents.values():
            agent.close()

    def agent_pid(self, actor):
        """The PID of actor's helper process (setpriv execs it), in the host's namespace."""
        return self.agents[actor].proc.pid

    # --- looking, with root's eyes and from inside the namespaces ---

    def snapshot(self):
        fs = self.fs
        tree = sorted(os.listdir(fs.mnt))
        names = {}
        for name in tree:
            if name == VIEW:
                continue
            d = fs.path(name)
            st = os.lstat(d)
            files = {}
            for f in sorted(os.listdir(d)):
                fst = os.lstat(d / f)
                files[f] = (fst.st_uid, fst.st_gid, fst.st_mode)
            nsfile = fs.state / name
            host, dom = util.in_namespace(nsfile, _values)
            names[name] = {"id": util.nsfs_id(nsfile),
                           "nsid": util.ns_id(nsfile) if util.HAS_NS_IDS else None,
                           "dir": (st.st_uid, st.st_gid, st.st_mode, st.st_ino),
                           "files": files, "ns": os.readlink(d / "ns"),
                           "hostname": host, "domainname": dom}
        mst = os.lstat(fs.mnt)
        host, dom = util.in_namespace(self.viewed_ns, _values)
        return {"mount": (mst.st_uid, mst.st_gid, mst.st_mode), "tree": tree,
                "state": sorted(os.listdir(fs.state)), "mounts": fs.nsfs_mounts(),
                "names": names, "conf": util.conf_groups(fs.state),
                "viewed": {"hostname": host, "domainname": dom}}

    @staticmethod
    def canonical(snap) -> bool:
        if snap["tree"] != sorted(list(CANON) + [VIEW]) or \
                snap["mount"] != (0, 0, stat.S_IFDIR | 0o755):
            return False
        if (snap["viewed"]["hostname"], snap["viewed"]["domainname"]) != VIEWED:
            return False
        for name, (uid, gid, mode) in CANON.items():
            e = snap["names"][name]
            if (e["dir"][:3] != (uid, gid, stat.S_IFDIR | mode)
                    or (e["hostname"], e["domainname"]) != canon_values(name)
                    or any(f[:2] != (uid, gid) for f in e["files"].values())):
                return False
        return True

    # --- putting the tree back ---

    def reset(self):
        """The tree as CANON says; returns its snapshot."""
        # The previous case's last look, when it ended there: nothing else
        # touches the tree between cases.
        snap, self.last = self.last, None
        if snap is None:
            snap = self.snapshot()
        if self.canonical(snap):
            return snap
        fs = self.fs
        for extra in sorted(set(snap["tree"]) - set(CANON) - {VIEW}):
            base = extra[:-len("-moved")] if extra.endswith("-moved") else None
            if base in CANON and base not in snap["tree"]:
                os.rename(fs.path(extra), fs.path(base))
            else:
                os.rmdir(fs.path(extra))
        for name, (uid, gid, mode) in CANON.items():
            path = fs.path(name)
            if not path.exists():
                os.mkdir(path)
            st = os.lstat(path)
            if (st.st_uid, st.st_gid) != (uid, gid):
                os.chown(path, uid, gid)
            if stat.S_IMODE(st.st_mode) != mode:
                os.chmod(path, mode)
            host, dom = canon_values(name)
            if util.in_namespace(fs.state / name, _values) != (host, dom):
                fs.write(name, "hostname", f"{host}\n".encode())
                fs.write(name, "domainname", f"{dom}\n".encode())
        # VIEWED's values, set from inside (not through the view under test).
        if (snap["viewed"]["hostname"], snap["viewed"]["domainname"]) != VIEWED:
            util.set_inside_now(self.viewed_ns, VIEWED[0])
            util.set_inside_now(self.viewed_ns, VIEWED[1], field="domainname")
        snap = self.snapshot()
        assert self.canonical(snap), f"could not put the tree back: {snap}"
        return snap

    # --- a case's paths and arguments ---

    def path(self, node):
        if node.view:
            if node.kind == "view":
                return self.fs.path(VIEW)
            return self.viewed_dir if node.file is None else self.viewed_dir / node.file
        if node.name is None:
            return self.fs.mnt
        if node.file is None:
            return self.fs.path(node.name)
        return self.fs.path(node.name, node.file)

    def args(self, case):
        node, op, p = case.node, case.op, self.path(case.node)
        if op in ("write", "redirect", "append"):
            return p, f"{WRITTEN}\n"
        if op == "chmod":
            if node.file == "ns":
                return p, 0o500, True
            return p, {"mount": 0o555, "dir": 0o550, "dir0500": 0o550, "view": 0o555,
                       "viewdir": 0o550}.get(node.kind, 0o400), False
        if op == "chmod_w":
            if node.file == "ns":
                return p, 0o700, True
            return p, {"mount": 0o777, "dir": 0o755, "dir0500": 0o700, "view": 0o755,
                       "viewdir": 0o755}.get(node.kind, 0o666), False
        if op == "chown":
            to = DELEGATE if case.actor == "nobody" else NOBODY
            return p, to, to
        if op == "chown_same":
            uid, gid, _ = CANON[node.name] if node.name else (0, 0, 0)
            return p, uid, gid
        if op in ("mkdir", "create", "mknod"):
            return (p / "new",)
        if op == "symlink":
            return "/dev/null", p / "new"
        if op == "attach":
            return self.helper_ns, p / "new"
        if op == "rename":
            if node.view:
                # A new sibling: .all-moved in MOUNT, ID-moved in .all, moved in ID.
                return p, p.parent / (f"{p.name}-moved" if node.file is None else "moved")
            if node.name is None:
                return p, self.fs.root / "mnt-moved"
            if node.file is None:
                return p, self.fs.path(f"{node.name}-moved")
            return p, p.parent / "moved"
        if op == "link":
            return p, (self.fs.mnt if node.file is None else p.parent) / "linked"
        return (p,)

    # --- what a successful case returns and leaves ---

    def file_content(self, before, name, f):
        e = before["names"][name]
        if f in ("hostname", "domainname"):
            return f"{e[f]}\n"
        if f in ("id", "nsid"):
            return f"{e[f]}\n"
        assert f == "pids"
        return ""  # nothing runs in these namespaces

    def view_content(self, before, f):
        """What a read of VIEWED's file f in .all gives (root and VIEW_USER alike)."""
        if f in ("hostname", "domainname"):
            return f"{before['viewed'][f]}\n"
        return {"id": f"{self.viewed_ino}\n",
                "nsid": f"{util.ns_id(self.viewed_ns) if util.HAS_NS_IDS else 0}\n",
                # Its one process, which runs as VIEW_USER: both may know of it.
                "pids": f"{self.viewed.pid}\n",
                "names": ""}[f]

    def attrs(self, before, node, follow):
        """What stat (follow) or lstat returns: {field: value} to compare."""
        if node.kind == "view":
            return {"mode": stat.S_IFDIR | 0o555, "uid": 0, "gid": 0}
        if node.view and node.file is None:
            return {"mode": stat.S_IFDIR | 0o555, "uid": 0, "gid": 0, "ino": self.viewed_ino}
        if node.view:
            size = 4096 if node.file == "pids" else \
                len(self.view_content(before, node.file).encode())
            mode = 0o644 if node.kind == "viewvalue" else 0o444
            return {"mode": stat.S_IFREG | mode, "uid": 0, "gid": 0, "size": size}
        if node.name is None:
            return {"mode": stat.S_IFDIR | 0o755, "uid": 0, "gid": 0}
        uid, gid, mode = CANON[node.name]
        ident = before["names"][node.name]["id"]
        if node.file is None:
            return {"mode": stat.S_IFDIR | mode, "uid": uid, "gid": gid, "ino": ident}
        if node.file == "ns":
            nsfile = self.fs.state / node.name
            if follow:
                st = os.stat(nsfile)
                return {"mode": st.st_mode, "uid": st.st_uid, "gid": st.st_gid, "ino": ident}
            return {"mode": stat.S_IFLNK | 0o777, "uid": uid, "gid": gid,
                    "size": len(os.fsencode(nsfile))}
        # pids: a page, as sysfs shows, without a scan of /proc per stat.
        size = 4096 if node.file == "pids" else \
            len(self.file_content(before, node.name, node.file).encode())
        return {"mode": stat.S_IFREG | FILE_MODES[node.file], "uid": uid, "gid": gid,
                "size": size}

    def check_result(self, case, result, before):
        node, op = case.node, case.op
        if op in ("stat", "lstat"):
            got = dict(zip(("mode", "uid", "gid", "ino", "size"), result))
            want = self.attrs(before, node, follow=op == "stat")
            assert {k: got[k] for k in want} == want
        elif op == "listdir" and node.kind == "view":
            # Every namespace for root, VIEWED's among them; others those
            # holding a process of theirs: at least their own helper's
            # (the host's), and VIEWED for VIEW_USER only.
            listed = set(result)
            assert (self.viewed_dir.name in listed) == \
                (case.actor == "root" or ACTORS[case.actor] == VIEW_USER)
            assert str(util.conf_id(f"/proc/{self.agent_pid(case.actor)}/ns/uts")) in listed
            if case.actor == "root":
                assert {str(util.conf_id(self.fs.state / n)) for n in CANON} <= listed
        elif op == "listdir":
            assert result == (sorted(list(CANON) + [VIEW]) if node.kind == "mount"
                              else sorted(VIEW_FILES) if node.view else sorted(FILES))
        elif op == "read" and node.view:
            assert result == self.view_content(before, node.file)
        elif op == "read":
            assert result == self.file_content(before, node.name, node.file)
        elif op == "readlink":
            assert result == str(self.fs.state / node.name)
        elif op in ("write", "redirect"):
            assert result == len(WRITTEN) + 1

    def effect(self, case, before, after):
        """The snapshot a successful case must leave."""
        want = copy.deepcopy(before)
        node, op, fs = case.node, case.op, self.fs
        name = node.name
        group = util.group_name(name) if name else None

        def add_name(new, ident, nsid, values):
            template = before["names"]["rootowned"]
            want["tree"] = sorted(want["tree"] + [new])
            want["state"] = sorted(want["state"] + [new])
            want["mounts"] = sorted(want["mounts"] + [str(fs.state / new)])
            want["names"][new] = {
                "id": ident, "nsid": nsid, "dir": (0, 0, stat.S_IFDIR | util.NS_DIR_MODE, ident),
                "files": copy.deepcopy(template["files"]), "ns": str(fs.state / new),
                "hostname": values[0], "domainname": values[1]}

        if op in ("write", "redirect") and node.view:
            want["viewed"][node.file] = WRITTEN
        elif op in ("write", "redirect"):
            want["names"][name][node.file] = WRITTEN
        elif op in ("chmod", "chown"):
            e = want["names"][name]
            uid, gid, mode, ino = e["dir"]
            if op == "chmod":
                mode = stat.S_IFDIR | self.args(case)[1]
            else:
                uid = gid = self.args(case)[1]
                e["files"] = {f: (uid, gid, m) for f, (_, _, m) in e["files"].items()}
            e["dir"] = (uid, gid, mode, ino)
            want["conf"][group] = conf_entry(e, uid, gid, stat.S_IMODE(mode))
        elif op == "rmdir":
            for key in ("tree", "state"):
                want[key].remove(name)
            want["mounts"].remove(str(fs.state / name))
            del want["names"][name]
            want["conf"].pop(group, None)
        elif op == "rename":
            new = f"{name}-moved"
            for key in ("tree", "state"):
                want[key] = sorted([new if n == name else n for n in want[key]])
            want["mounts"] = sorted(str(fs.state / new) if m == str(fs.state / name) else m
                                    for m in want["mounts"])
            want["names"][new] = want["names"].pop(name)
            want["names"][new]["ns"] = str(fs.state / new)
            if group in want["conf"]:
                want["conf"][util.group_name(new)] = want["conf"].pop(group)
        elif op == "mkdir":
            new = after["names"].get("new", {})
            ident, nsid = new.get("id"), new.get("nsid")
            assert ident not in [e["id"] for e in before["names"].values()], \
                "mkdir reused a namespace"
            if util.HAS_NS_IDS:
                assert nsid not in [e["nsid"] for e in before["names"].values()], \
                    "mkdir reused a namespace id"
            add_name("new", ident, nsid, ("new", util.host_names()[1].rstrip("\n")))
        elif op == "attach":
            add_name("new", self.helper_id, self.helper_nsid, self.helper_values)
        return want


@pytest.fixture(scope="module")
def world():
    root = Path(tempfile.mkdtemp(prefix="utsfs-matrix-", dir="/tmp"))
    # Other users must be able to reach the mount.
    os.chmod(root, 0o755)
    fs = Utsfs(root)
    w = None
    try:
        fs.start()
        # Armed again around each case (below): the module outlives one watchdog period.
        fs._disarm_watchdog()
        # A process in a UTS namespace of its own, for the attach cases.
        helper = fs.spawn(["unshare", "--uts", "sleep", "infinity"])
        util.settled(lambda: os.readlink(f"/proc/{helper.pid}/ns/uts") != fs.host_uts
                     and os.readlink(f"/proc/{helper.pid}/exe").endswith("sleep"),
                     "the attach helper is in its own UTS namespace")
        # VIEWED: VIEW_USER's process in a namespace of its own, for .all.
        viewed = fs.spawn(["unshare", "--uts", "setpriv", f"--reuid={VIEW_USER}",
                           f"--regid={VIEW_USER}", "--clear-groups", "sleep", "infinity"])
        util.settled(lambda: os.readlink(f"/proc/{viewed.pid}/ns/uts") != fs.host_uts
                     and os.readlink(f"/proc/{viewed.pid}/exe").endswith("sleep")
                     and os.stat(f"/proc/{viewed.pid}").st_uid == VIEW_USER,
                     "the viewed helper runs as VIEW_USER in its own UTS namespace")
        w = World(fs, helper, viewed)
        w.reset()
        yield w
    finally:
        if w is not None:
            w.close()
        fs.teardown()


@pytest.fixture
def watched(world):
    """The daemon is killed when one case hangs on a FUSE request."""
    world.fs._arm_watchdog()
    try:
        yield world
    finally:
        world.fs._disarm_watchdog()


@pytest.mark.parametrize("case", cases())
def test_access(watched, case):
    """One (actor, node, operation): the table's outcome, and exactly its effect."""
    world = watched
    before = world.reset()
    got = world.agents[case.actor].do("symlink" if case.op == "attach" else case.op,
                                      *world.args(case))
    after = world.snapshot()
    world.last = copy.deepcopy(after)
    if case.expect is None:
        assert got[0] == "ok", (f"{case.id}: failed with "
                                f"{errno.errorcode.get(got[1], got[1])}, want success")
        world.check_result(case, got[1], before)
        assert after == world.effect(case, before, after)
    else:
        want = errno.errorcode[case.expect]
        assert got[0] == "errno", f"{case.id}: succeeded ({got[1]!r}), want {want}"
        assert errno.errorcode.get(got[1], got[1]) == want, \
            f"{case.id}: failed with {errno.errorcode.get(got[1], got[1])}, want {want}"
        assert after == before, f"{case.id}: refused, yet something changed"
