# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers for the utsfs integration tests: mount table, daemon start/stop, shell."""

import ctypes
import errno
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import List, Optional

import pytest

REPO = Path(__file__).resolve().parent.parent
# The pytest plugin utsfs ships (python/pytest_utsfs.py), from this tree: the
# tests enter namespaces with its inside(), so every run tests it.
sys.path.insert(0, str(REPO / "python"))
import pytest_utsfs  # noqa: E402
FSTYPE = "fuse.utsfs"
# Deadlines against hangs, never assertions about speed.
MOUNT_DEADLINE = 15
EXIT_DEADLINE = 15
COMMAND_DEADLINE = 30
LIBC = ctypes.CDLL(None, use_errno=True)


def utsfs_bin() -> str:
    return os.environ.get("UTSFS_BIN") or str(REPO / "build" / "fs" / "utsfs")


def fuse_skip_reason() -> Optional[str]:
    """Why FUSE tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "utsfs tests need root (namespaces, bind mounts, allow_other)"
    reason = pytest_utsfs.skip_reason()
    if reason:
        return reason
    for tool in ("nsenter", "unshare", "umount"):
        if shutil.which(tool) is None:
            return f"utsfs tests need {tool} (package util-linux)"
    return None


# --- the mount table ------------------------------------------------------


# The plugin's reader: one parser of mountinfo for the plugin and the tests.
Mount = pytest_utsfs.Mount
mountinfo = pytest_utsfs.mountinfo


def mounts_at(path) -> List[Mount]:
    path = os.fspath(path)
    return [m for m in mountinfo() if m.target == path]


def mounts_under(path) -> List[Mount]:
    """Mounts at path or below it."""
    path = os.fspath(path).rstrip("/")
    return [m for m in mountinfo()
            if m.target == path or m.target.startswith(path + "/")]


def mount_census() -> Counter:
    """Every (mount point, fstype) with how often it is mounted."""
    return Counter((m.target, m.fstype) for m in mountinfo())


# --- starting and stopping the daemon ---------------------------------------


def wait_for_mount(proc: subprocess.Popen, mnt):
    """Wait until a live utsfs mount sits on mnt (the plugin's wait); fail
    early if proc died."""
    try:
        pytest_utsfs.wait_for_mount(proc, mnt, MOUNT_DEADLINE)
    except pytest_utsfs.UtsfsError as e:
        pytest.fail(str(e))


# The plugin's: terminate, then kill; waits for the exit either way.
stop_process = pytest_utsfs.stop_process


def cleanup(proc: Optional[subprocess.Popen], mnt):
    """Get rid of a daemon however it is doing: lazy unmount, terminate, kill."""
    subprocess.run(["fusermount3", "-u", "-z", os.fspath(mnt)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if proc is not None:
        stop_process(proc)


def umount_everything_under(path) -> List[Mount]:
    """Lazily unmount path and all below it; returns what could not be unmounted."""
    # "not mounted" is expected when the daemon never bound the state dir.
    subprocess.run(["umount", "-R", "-l", os.fspath(path)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(5):
        left = mounts_under(path)
        if not left:
            return []
        for m in reversed(left):
            subprocess.run(["umount", "-l", m.target],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return mounts_under(path)


def daemon_threads_outside(pid: int, uts: str) -> List[str]:
    """Threads of pid whose UTS namespace is not uts, as 'TID: uts:[N]'."""
    bad = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return bad
    for tid in tids:
        try:
            link = os.readlink(f"/proc/{pid}/task/{tid}/ns/uts")
        except FileNotFoundError:
            continue  # the thread ended meanwhile
        if link != uts:
            bad.append(f"{tid}: {link}")
    return bad


# --- running commands -------------------------------------------------------


def run(argv, check=True, **kwargs) -> subprocess.CompletedProcess:
    """Run argv with text output captured; fail the test on a non-zero exit if check."""
    argv = [os.fspath(a) for a in argv]
    res = subprocess.run(argv, capture_output=True, text=True,
                         timeout=COMMAND_DEADLINE, stdin=subprocess.DEVNULL,
                         **kwargs)
    if check and res.returncode != 0:
        pytest.fail(f"{shlex.join(argv)} exited {res.returncode}\n"
                    f"stdout: {res.stdout!r}\nstderr: {res.stderr!r}")
    return res


def sh(script: str, check=True, shell="/bin/sh") -> subprocess.CompletedProcess:
    """Run a shell script the way a user types it."""
    return run([shell, "-c", script], check=check)


def q(path) -> str:
    return shlex.quote(os.fspath(path))


# --- looking at namespaces without utsfs ------------------------------------


def host_uts() -> str:
    return os.readlink("/proc/self/ns/uts")


def host_names():
    return (read_text("/proc/sys/kernel/hostname"),
            read_text("/proc/sys/kernel/domainname"))


def read_text(path) -> str:
    with open(path) as f:
        return f.read()


def inside(nsfile, field="hostname") -> str:
    """hostname or domainname of the UTS namespace at nsfile, asked from inside it."""
    out = in_namespace(nsfile, lambda: read_text(f"/proc/sys/kernel/{field}"))
    assert out.endswith("\n")
    return out[:-1]


def set_inside(nsfile, value, field="hostname"):
    tool = "hostname" if field == "hostname" else "domainname"
    run(["nsenter", f"--uts={os.fspath(nsfile)}", tool, value])


def in_thread(fn):
    """Run fn() in a thread of its own and return what it returns (or raise
    what it raised): namespace calls there leave the calling thread alone."""
    out = {}

    def main():
        try:
            out["result"] = fn()
        except BaseException as e:  # noqa: B902 - handed to the caller
            out["error"] = e

    t = threading.Thread(target=main)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["result"]


def libc_check(ret, what):
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def in_namespace(nsfile, fn):
    """Run fn() in a thread that entered the UTS namespace of nsfile (the
    plugin's inside()), at once and in this process: only that thread leaves
    the host's, and it comes back before it ends."""
    def enter_and_run():
        with pytest_utsfs.inside(nsfile):
            return fn()

    return in_thread(enter_and_run)


def set_inside_now(nsfile, value, field="hostname"):
    """sethostname (setdomainname) inside nsfile's namespace from a thread of
    this process: done when this returns, with no process to wait for."""
    setter = LIBC.sethostname if field == "hostname" else LIBC.setdomainname
    in_namespace(nsfile, lambda: libc_check(setter(value.encode(), len(value)), field))


def nsfs_id(nsfile) -> int:
    """The nsfs inode number of a (bind-mounted) nsfs file, straight from the
    kernel: what `id`, lsns and `stat -L` show. The kernel gives a new
    namespace the number of a dead one; ns_id() is never reused."""
    return os.stat(nsfile).st_ino


# NS_GET_ID (Linux 6.18) = _IOR(NSIO 0xb7, 13, __u64): a namespace's 64-bit id,
# never reused while the system runs.
NS_GET_ID = (2 << 30) | (8 << 16) | (0xB7 << 8) | 13


def ns_id(nsfile) -> int:
    """The 64-bit id NS_GET_ID gives for an nsfs file: what `nsid` shows."""
    import fcntl
    import struct
    fd = os.open(nsfile, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return struct.unpack("=Q", fcntl.ioctl(fd, NS_GET_ID, bytes(8)))[0]
    finally:
        os.close(fd)


def _kernel_has_ns_ids() -> bool:
    try:
        ns_id("/proc/self/ns/uts")
    except OSError as e:
        if e.errno in (errno.ENOTTY, errno.EINVAL):
            return False
        raise
    return True


# Whether this kernel has NS_GET_ID: utsfs shows `nsid` and keys .utsfs.conf
# by it only then (by the inode number otherwise).
HAS_NS_IDS = _kernel_has_ns_ids()


def kill_and_wait(proc: subprocess.Popen):
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()


# --- acting as another user ---------------------------------------------------

# A delegate (chown target) and a stranger; neither needs a passwd entry.
DELEGATE = 1000
NOBODY = 65534

# Runs one file operation and prints its result or its errno, as JSON.
_AS_USER = r'''
import json, os, sys

def write(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        return os.write(fd, data.encode())
    finally:
        os.close(fd)

def read(path):
    with open(path) as f:
        return f.read()

def lstat(path):
    st = os.lstat(path)
    return [st.st_mode, st.st_uid, st.st_gid, st.st_ino]

OPS = {"listdir": lambda p: sorted(os.listdir(p)), "read": read, "write": write,
       "lstat": lstat, "readlink": os.readlink, "mkdir": os.mkdir, "rmdir": os.rmdir,
       "rename": os.rename, "chmod": os.chmod, "chown": os.chown, "unlink": os.unlink}
op, args = sys.argv[1], json.loads(sys.argv[2])
try:
    result = OPS[op](*args)
except OSError as e:
    print(json.dumps({"errno": e.errno}))
else:
    print(json.dumps({"ok": result}))
'''


def as_user(uid: int, op: str, *args, gid: Optional[int] = None):
    """Do one file operation as uid:gid (setpriv, no supplementary groups).

    op is listdir, read, write (path, text; O_TRUNC), lstat ([mode, uid, gid,
    ino]), readlink, mkdir, rmdir, rename, chmod, chown or unlink. Returns what it
    returned, or raises the OSError it failed with (errno preserved).
    """
    import json
    gid = uid if gid is None else gid
    args = [os.fspath(a) if isinstance(a, os.PathLike) else a for a in args]
    res = run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
               "/usr/bin/python3", "-c", _AS_USER, op, json.dumps(args)], cwd="/")
    out = json.loads(res.stdout)
    if "errno" in out:
        raise OSError(out["errno"], f"{os.strerror(out['errno'])} ({op} as uid {uid})",
                      args[0] if args else None)
    return out["ok"]


# --- the state directory as other tools see it --------------------------------

CONF = ".utsfs.conf"
# The root's dot entry that shows every UTS namespace on the host (named or
# not); it is no name: listed by readdir, hidden from plain `ls`.
ALLVIEW = ".all"
NS_GET_NSTYPE = 0xB703
CLONE_NEWUTS = 0x04000000


def nsfs_type(nsfile) -> int:
    """The CLONE_NEW* type of the namespace an nsfs file refers to."""
    import fcntl
    fd = os.open(nsfile, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return fcntl.ioctl(fd, NS_GET_NSTYPE)
    finally:
        os.close(fd)


# The files of a namespace directory, in utsfs's table order; `nsid` only
# where the kernel tells 64-bit namespace ids.
ATTR_FILES = ("hostname", "domainname", "id", "ns", "pids") + (("nsid",) if HAS_NS_IDS else ())
# Namespace directories never show write bits: root:root 0555 unless chmodded.
NS_DIR_MODE = 0o555


def conf_id(nsfile) -> int:
    """The id .utsfs.conf keys a namespace by: ns_id(), or before Linux 6.18
    the inode number."""
    return ns_id(nsfile) if HAS_NS_IDS else nsfs_id(nsfile)


def boot_id() -> str:
    """The kernel's boot id, as .utsfs.conf's boot= keys hold it."""
    return read_text("/proc/sys/kernel/random/boot_id").strip()


def conf_entry(nsfile, uid, gid, mode) -> dict:
    """The .utsfs.conf group utsfs writes for the namespace at nsfile."""
    return {"id": str(conf_id(nsfile)), "boot": boot_id(), "uid": str(uid),
            "gid": str(gid), "mode": f"{mode:04o}"}


def keyfile_text(groups: dict, comment: str = "") -> str:
    """{group: {key: value}} as a GKeyFile's text, in the order given (to
    write .utsfs.conf by hand, as an older utsfs or another boot left it)."""
    text = f"# {comment}\n" if comment else ""
    return text + "\n".join(f"[{g}]\n" + "".join(f"{k}={v}\n" for k, v in keys.items())
                             for g, keys in groups.items())


def read_keyfile(path) -> dict:
    """A GKeyFile (such as STATE/.utsfs.conf) as {group: {key: value}}.

    Group names are returned as written (URI-escaped for utsfs); a line that
    is neither a comment, a group header nor key=value is an error.
    """
    groups = {}
    current = None
    for line in Path(path).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = groups.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"{path}: not a key file line: {line!r}"
        current[key.strip()] = value.strip()
    return groups


def conf_groups(state) -> dict:
    """STATE/.utsfs.conf's groups; {} when the file does not exist."""
    try:
        return read_keyfile(Path(state) / CONF)
    except FileNotFoundError:
        return {}


def group_name(name) -> str:
    """The group utsfs keeps a name's owner and mode in: the name URI-escaped."""
    from urllib.parse import quote
    return quote(name, safe="")


def unquote(group: str) -> str:
    """The name a .utsfs.conf group is for."""
    from urllib.parse import unquote as _unquote
    return _unquote(group, errors="surrogateescape")


def state_problems(mnt, state) -> List[str]:
    """Everything by which MOUNT and STATE disagree or STATE holds what it must not.

    Every file in STATE is .utsfs.conf or a single nsfs bind mount of a UTS
    namespace; every nsfs mount under STATE is one of those names; STATE
    itself is mounted once; the tree lists exactly the names in STATE and
    the view .all (a directory), each directory's st_ino is its namespace's
    id, and no two names share one.
    """
    mnt, state = Path(mnt), Path(state)
    problems = []
    entries = sorted(os.listdir(state))
    listed = sorted(os.listdir(mnt))
    under = mounts_under(state)
    at_state = [m for m in under if m.target == str(state)]
    if len(at_state) != 1:
        problems.append(f"{state} is mounted {len(at_state)} times: {at_state}")
    targets = Counter(m.target for m in under if m.target != str(state))
    for m in under:
        if m.target != str(state) and m.fstype != "nsfs":
            problems.append(f"not an nsfs mount under the state dir: {m}")
        if m.target != str(state) and os.path.dirname(m.target) != str(state):
            problems.append(f"mount below a name: {m}")
    ids = {}
    for e in entries:
        path = state / e
        if e == CONF:
            if not path.is_file() or path.is_symlink():
                problems.append(f"{path} is not a regular file")
            continue
        if targets[str(path)] != 1:
            problems.append(f"{path} has {targets[str(path)]} mounts (want exactly 1 nsfs)")
            continue
        try:
            kind = nsfs_type(path)
        except OSError as e:
            problems.append(f"{path}: NS_GET_NSTYPE: {e}")
            continue
        if kind != CLONE_NEWUTS:
            problems.append(f"{path} is a namespace of type {kind:#x}, not UTS")
        ids[e] = nsfs_id(path)
    for target in targets:
        if os.path.basename(target) not in entries:
            problems.append(f"nsfs mount with no file: {target}")
    names = [e for e in entries if e != CONF]
    if listed != sorted(names + [ALLVIEW]):
        problems.append(f"tree lists {listed}, state dir holds {names} (and the tree "
                        f"must list {ALLVIEW} beside them)")
    elif not stat.S_ISDIR(os.lstat(mnt / ALLVIEW).st_mode):
        problems.append(f"{mnt / ALLVIEW} is not a directory")
    if len(set(ids.values())) != len(ids):
        problems.append(f"names share a namespace: {ids}")
    for name, ident in ids.items():
        try:
            st_ino = os.stat(mnt / name).st_ino
        except OSError as e:
            problems.append(f"stat {mnt / name}: {e}")
            continue
        if st_ino != ident:
            problems.append(f"{mnt / name} has st_ino {st_ino}, its namespace is {ident}")
    return problems


def inside_both(nsfile):
    """(hostname, domainname) of the namespace at nsfile, from inside it (one setns)."""
    out = in_namespace(nsfile, lambda: read_text("/proc/sys/kernel/hostname")
                       + read_text("/proc/sys/kernel/domainname"))
    lines = out.split("\n")
    assert len(lines) == 3 and lines[2] == "", f"unexpected output {out!r}"
    return lines[0], lines[1]


# How long a change made behind the daemon's back (in the state directory, or
# inside a namespace) may take to reach what the kernel caches. The daemon's
# watcher wakes on the kernel's own event (mountinfo or hostname POLLPRI)
# within microseconds, and checks names at most every 10 ms or so; this
# allows for a loaded machine. Reads never wait: content always comes afresh.
SETTLE_DEADLINE = 2.0


def settled(check, what: str):
    """Wait until check() is true: a change made behind the daemon's back has
    reached the kernel's cache of names and sizes. An OSError from check()
    counts as not yet (a name may be looked up afresh meanwhile). Fails after
    SETTLE_DEADLINE, with the last error if there was one."""
    deadline = time.monotonic() + SETTLE_DEADLINE
    while True:
        try:
            if check():
                return
            last = None
        except OSError as e:
            last = e
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not so {SETTLE_DEADLINE} s after the change"
                        + (f" (last: {last})" if last else ""))
        time.sleep(0.001)


def wait_until(predicate, what, deadline=10.0):
    """Poll predicate until it holds; fail the test after deadline seconds."""
    end = time.monotonic() + deadline
    while not predicate():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def wait_until_served(proc: subprocess.Popen, mnt):
    """Wait until a live utsfs answers requests on mnt.

    stat(2) of the mount point may be answered from the kernel's attribute
    cache even on a dead mount, so wait_for_mount can return while the dead
    mount of a killed daemon still sits on mnt. Call this after starting over
    a dead mount.
    """
    deadline = time.monotonic() + MOUNT_DEADLINE
    while True:
        # One fd, so both questions go to the same mount: opendir and statfs
        # reach the daemon, and a FUSE root is inode 1 (the bare directory
        # between clearing the dead mount and mounting the new one is not).
        try:
            fd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fstatvfs(fd)
                if os.fstat(fd).st_ino == 1:
                    return
            finally:
                os.close(fd)
        except OSError as e:
            if e.errno not in (errno.ENOTCONN, errno.ECONNABORTED):
                raise
        if proc.poll() is not None:
            pytest.fail(f"utsfs exited with status {proc.returncode} while {mnt} "
                        "was still a dead mount")
        if time.monotonic() > deadline:
            pytest.fail(f"{mnt} still a dead mount {MOUNT_DEADLINE} s after utsfs started")
        time.sleep(0.02)


def start_after_crash(fs):
    """Start fs (the conftest Utsfs) again after kill -9 and check the daemon
    replaced the dead FUSE mount instead of stacking a new one on it."""
    fs.start()
    wait_until_served(fs.proc, fs.mnt)
    stacked = [m for m in mounts_at(fs.mnt) if m.fstype == FSTYPE]
    assert len(stacked) == 1, (
        f"{len(stacked)} {FSTYPE} mounts stacked on {fs.mnt} after a restart over the "
        f"dead mount of a killed daemon (the dead one was not cleared): {stacked}")
