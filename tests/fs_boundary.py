#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""fs/ makes no system call on namespaces, mounts, the state directory, its
files or /proc: those go through nsops/. This lists what each fs/ object
calls (nm -u on the daemon's static library) and fails on any libc or glib
file, mount or namespace call that is not allowed below, with the reason.

usage: fs_boundary.py NM LIBRARY.a
"""

import re
import subprocess
import sys

# libc calls that touch files, mounts or namespaces (and their 64-bit and
# fortified aliases, matched by the patterns below).
LIBC = """
open openat creat fopen freopen fdopen opendir fdopendir readdir closedir
scandir stat lstat fstat fstatat statx statfs fstatfs statvfs access
faccessat read pread readv write pwrite writev close unlink unlinkat rename
renameat renameat2 mkdir mkdirat rmdir link linkat symlink symlinkat
readlink readlinkat truncate ftruncate chmod fchmod fchmodat chown fchown
fchownat lchown utimensat futimens mount umount umount2 setns unshare clone
clone3 sethostname setdomainname uname ioctl flock fcntl dup dup2 dup3
mknod mknodat syscall realpath getcwd chdir fchdir chroot pivot_root
poll ppoll select pselect epoll_create epoll_create1 epoll_ctl epoll_wait
epoll_pwait inotify_init inotify_init1 inotify_add_watch
""".split()
LIBC_RE = re.compile(r"^(__)?(%s)(64)?(_chk|_2)?$" % "|".join(LIBC))
GLIB_RE = re.compile(
    r"^g_(file_\w+|dir_\w+|key_file_(load_from_file|save_to_file|load_from_dirs|"
    r"load_from_data_dirs)|open|creat|fopen|freopen|stat|lstat|unlink|remove|rename|"
    r"mkdir|rmdir|chmod|access|chdir|mkdir_with_parents|mkdtemp\w*|mkstemp\w*|"
    r"file_open_tmp|close)$")

# (object, symbol): why it may make that call.
ALLOWED = {
    ("kcache.c.o", "write"):
        "FUSE_NOTIFY_INC_EPOCH on the FUSE session's own fd, which libfuse 3.14 cannot send",
    ("device.c.o", "read"):
        "the FUSE session's own fd, so an unmount's ECONNABORTED ends the loop as ENODEV does",
    ("device.c.o", "writev"): "the FUSE session's own fd, as libfuse would write it",
    ("log.c.o", "access"): "whether /dev/log exists before a syslog(3) that would fail",
}


def undefined_by_object(nm, library):
    out = subprocess.run([nm, "-u", "--format=posix", library], check=True,
                         capture_output=True, text=True).stdout
    objects, current = {}, None
    for line in out.splitlines():
        header = re.match(r"^.*\[(.+)\]:$", line)
        if header:
            current = objects.setdefault(header.group(1), set())
        elif line.strip() and current is not None:
            current.add(line.split()[0].split("@")[0])
    return objects


def main():
    nm, library = sys.argv[1:3]
    objects = undefined_by_object(nm, library)
    if not objects:
        print(f"fs_boundary: no objects in {library}")
        return 1
    bad = []
    for obj, symbols in sorted(objects.items()):
        name = obj.rsplit("/", 1)[-1]
        for sym in sorted(symbols):
            if not (LIBC_RE.match(sym) or GLIB_RE.match(sym)) or (name, sym) in ALLOWED:
                continue
            bad.append(f"{obj}: calls {sym}: file, mount and namespace calls belong in nsops/")
    for line in bad:
        print(line)
    print(f"fs_boundary: {len(objects)} objects, {len(bad)} calls outside the boundary")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
