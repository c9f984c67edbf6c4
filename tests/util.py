# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers for the utsfs integration tests: mount table, daemon start/stop, shell."""

import os
import shlex
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import List, NamedTuple, Optional

import pytest

REPO = Path(__file__).resolve().parent.parent
FSTYPE = "fuse.utsfs"
# Deadlines against hangs, never assertions about speed.
MOUNT_DEADLINE = 15
EXIT_DEADLINE = 15
COMMAND_DEADLINE = 30


def utsfs_bin() -> str:
    return os.environ.get("UTSFS_BIN") or str(REPO / "build" / "fs" / "utsfs")


def fuse_skip_reason() -> Optional[str]:
    """Why FUSE tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "utsfs tests need root (namespaces, bind mounts, allow_other)"
    if not os.path.exists("/dev/fuse"):
        return "utsfs tests need /dev/fuse"
    if shutil.which("fusermount3") is None:
        return "utsfs tests need fusermount3 (package fuse3)"
    for tool in ("nsenter", "unshare", "umount"):
        if shutil.which(tool) is None:
            return f"utsfs tests need {tool} (package util-linux)"
    return None


# --- the mount table ------------------------------------------------------


class Mount(NamedTuple):
    mount_id: int
    target: str
    fstype: str
    # Optional fields such as "shared:12" or "master:3".
    tags: tuple


def _unescape(field: bytes) -> str:
    # mountinfo writes space, tab, newline and backslash as \ooo.
    out = bytearray()
    i = 0
    while i < len(field):
        if field[i:i + 1] == b"\\" and field[i + 1:i + 4].isdigit():
            out.append(int(field[i + 1:i + 4], 8))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return os.fsdecode(bytes(out))


def mountinfo() -> List[Mount]:
    """The mounts of this process's mount namespace, in mount order."""
    mounts = []
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            fields = line.split()
            sep = fields.index(b"-")
            mounts.append(Mount(int(fields[0]), _unescape(fields[4]),
                                _unescape(fields[sep + 1]),
                                tuple(x.decode() for x in fields[6:sep])))
    return mounts


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


def _answers(mnt) -> bool:
    """Whether the file system on mnt answers: a dead FUSE mount gives ENOTCONN."""
    try:
        os.stat(mnt)
        return True
    except OSError:
        return False


def wait_for_mount(proc: subprocess.Popen, mnt):
    """Wait until a live utsfs mount sits on mnt; fail early if proc died.

    Mount ids and device numbers are reused, so a dead mount left by kill -9
    is told apart from the new one only by whether it answers.
    """
    deadline = time.monotonic() + MOUNT_DEADLINE
    while True:
        if any(m.fstype == FSTYPE for m in mounts_at(mnt)) and _answers(mnt):
            return
        if proc.poll() is not None:
            pytest.fail(f"utsfs exited with status {proc.returncode} "
                        f"before {mnt} was mounted")
        if time.monotonic() > deadline:
            pytest.fail(f"{mnt} was not mounted within {MOUNT_DEADLINE} s")
        time.sleep(0.02)


def stop_process(proc: subprocess.Popen):
    """terminate, then kill; waits for the exit either way."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


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
    out = run(["nsenter", f"--uts={os.fspath(nsfile)}",
               "cat", f"/proc/sys/kernel/{field}"]).stdout
    assert out.endswith("\n")
    return out[:-1]


def set_inside(nsfile, value, field="hostname"):
    tool = "hostname" if field == "hostname" else "domainname"
    run(["nsenter", f"--uts={os.fspath(nsfile)}", tool, value])


def nsfs_id(nsfile) -> int:
    """The namespace id of a bind-mounted nsfs file, straight from the kernel."""
    return os.stat(nsfile).st_ino


def kill_and_wait(proc: subprocess.Popen):
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
