# SPDX-License-Identifier: GPL-2.0-or-later
"""pytest fixtures to test hostname-dependent code in UTS namespaces made by utsfs.

Enable the plugin with ``pytest -p pytest_utsfs``, or with
``pytest_plugins = ["pytest_utsfs"]`` in the top-level conftest.py, then::

    import socket

    def test_web_sees_its_own_hostname(utsfs):
        utsfs.mkdir("web", hostname="web01")
        with utsfs.inside("web"):
            assert socket.gethostname() == "web01"
        assert socket.gethostname() != "web01"

The ``utsfs`` fixture mounts a utsfs of its own on a temporary directory, with
a temporary state directory, and takes it all down after the test: every name
removed (no namespace outlives the test), the mount gone, the daemon exited.
Mounting utsfs and entering a namespace both need CAP_SYS_ADMIN: without it
(or without /dev/fuse, fusermount3 or a utsfs program) the fixture skips the
test and says why. The program is ``$UTSFS_BIN``, else ``utsfs`` on PATH;
override the ``utsfs_binary`` fixture to choose another.

``inside(nsfile)`` works without the fixture too, on any UTS namespace file
(``/ns/web/ns``, ``/run/utsfs/web``, ``/proc/PID/ns/uts``).
"""

import contextlib
import ctypes
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator, List, NamedTuple, Optional, Sequence

import pytest

__all__ = ["Utsfs", "UtsfsError", "inside", "skip_reason", "find_binary",
           "wait_for_mount"]

CLONE_NEWUTS = 0x04000000
CAP_SYS_ADMIN = 21
MNT_DETACH = 2
FSTYPE = "fuse.utsfs"
# Deadlines against hangs, never assertions about speed.
MOUNT_DEADLINE = 15
EXIT_DEADLINE = 15


class UtsfsError(RuntimeError):
    """utsfs did not start, or did not stop cleanly."""


# --- entering a namespace ---------------------------------------------------


def _libc_call(name):
    fn = getattr(ctypes.CDLL(None, use_errno=True), name)

    def call(*args):
        if fn(*args) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{name}: {os.strerror(err)}")
    return call


# os.setns arrived in Python 3.12; both act on the calling thread only.
_setns = getattr(os, "setns", None) or _libc_call("setns")
_umount2 = _libc_call("umount2")
# How deep the current thread is in inside() blocks.
_depth = threading.local()


def _same_file(fd: int, path: str) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _stderr_before_capture() -> Optional[int]:
    # Plugins are imported before pytest captures fd 2; a test's capture dies
    # with the process, so the reason for an abort must go around it.
    try:
        return os.dup(2)
    except OSError:
        return None


_STDERR = _stderr_before_capture()


def _abort(why: str):
    message = (f"pytest_utsfs: {why}; aborting rather than run on in the "
               "wrong UTS namespace\n").encode(errors="replace")
    try:
        for fd in {2, _STDERR} - {None}:
            try:
                os.write(fd, message)
            except OSError:
                pass
    finally:
        os.abort()


def _return_or_abort(home: int, thread: int):
    """Put the calling thread back into the namespace home refers to."""
    try:
        if threading.get_native_id() != thread:
            _abort(f"an inside() block entered on thread {thread} ended on thread "
                   f"{threading.get_native_id()}, so thread {thread} cannot return")
        try:
            _setns(home, CLONE_NEWUTS)
        except OSError as e:
            # Entering may have failed, leaving the thread where it was.
            if not _same_file(home, "/proc/thread-self/ns/uts"):
                _abort(f"cannot return to the UTS namespace the thread came from: {e}")
    finally:
        os.close(home)


@contextlib.contextmanager
def inside(nsfile) -> Iterator[None]:
    """Run the calling thread in the UTS namespace of nsfile for the with block.

    nsfile is any UTS namespace file. Only the calling thread moves (setns(2)
    of a UTS namespace is per thread): other threads keep theirs, while the
    threads and processes it starts in the block begin in the namespace. However
    the block ends, even by an exception, the thread returns to the namespace
    it came from (blocks nest); when it cannot, the process aborts rather than
    run on in the wrong namespace. Raises OSError, with the thread left where
    it was, when nsfile cannot be entered (EINVAL: not a UTS namespace; EPERM:
    no CAP_SYS_ADMIN over it).
    """
    home = os.open("/proc/thread-self/ns/uts", os.O_RDONLY | os.O_CLOEXEC)
    thread = threading.get_native_id()
    _depth.value = getattr(_depth, "value", 0) + 1
    try:
        target = os.open(nsfile, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target, CLONE_NEWUTS)
        finally:
            os.close(target)
        yield
    finally:
        # Also when opening or entering failed: a signal may have come
        # between setns and the yield.
        try:
            _return_or_abort(home, thread)
        finally:
            _depth.value -= 1


# --- what the fixtures need -------------------------------------------------


def _has_cap_sys_admin() -> bool:
    # Capabilities are per thread.
    with open("/proc/thread-self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> CAP_SYS_ADMIN & 1)
    return False


def _can_reenter() -> bool:
    # What utsfs and inside() do after every visit: setns back into the
    # namespace the thread is in. Under `unshare -r` CAP_SYS_ADMIN is only
    # the new user namespace's, which does not own this UTS namespace.
    fd = os.open("/proc/thread-self/ns/uts", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(fd, CLONE_NEWUTS)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def skip_reason() -> Optional[str]:
    """Why utsfs cannot be mounted and entered here, or None when it can."""
    if not _has_cap_sys_admin():
        return ("utsfs needs CAP_SYS_ADMIN to mount its file system and to enter "
                "its namespaces (run the tests as root)")
    if not _can_reenter():
        return ("utsfs needs CAP_SYS_ADMIN in the user namespace that owns this "
                "UTS namespace (here it is held only in a user namespace of its "
                "own, as under unshare -r)")
    if not os.path.exists("/dev/fuse"):
        return "utsfs needs /dev/fuse"
    if shutil.which("fusermount3") is None:
        return "utsfs needs fusermount3 (package fuse3)"
    return None


def find_binary() -> Optional[str]:
    """$UTSFS_BIN, else utsfs on PATH; None when neither."""
    return os.environ.get("UTSFS_BIN") or shutil.which("utsfs")


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


class Mount(NamedTuple):
    """One line of /proc/self/mountinfo, the fields utsfs and its tests use."""
    mount_id: int
    target: str
    fstype: str
    # Optional fields such as "shared:12" or "master:3".
    tags: tuple


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


def _mounts_under(path) -> List[str]:
    path = os.fspath(path).rstrip("/")
    return [m.target for m in mountinfo()
            if m.target == path or m.target.startswith(path + "/")]


def _answers(mnt) -> bool:
    # statvfs, not stat: the kernel may answer stat of a dead FUSE mount's
    # root from its cache.
    try:
        os.statvfs(mnt)
        return True
    except OSError:
        return False


def wait_for_mount(proc: subprocess.Popen, mnt, deadline: float = MOUNT_DEADLINE):
    """Wait until a live utsfs mount sits on mnt; raise UtsfsError when proc
    exits first or deadline seconds pass.

    Mount ids and device numbers are reused, so the dead mount of a killed
    daemon is told apart from a new one only by whether it answers.
    """
    mnt = os.fspath(mnt)
    end = time.monotonic() + deadline
    while True:
        if (any(m.target == mnt and m.fstype == FSTYPE for m in mountinfo())
                and _answers(mnt)):
            return
        if proc.poll() is not None:
            raise UtsfsError(f"utsfs exited with status {proc.returncode} "
                             f"before {mnt} was mounted")
        if time.monotonic() > end:
            raise UtsfsError(f"{mnt} was not mounted within {deadline} s")
        time.sleep(0.02)


def stop_process(proc: subprocess.Popen):
    """terminate, then kill; waits for the exit either way."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _detach_everything_under(path) -> List[str]:
    """Lazily unmount path and all below it; returns what is still mounted."""
    for _ in range(5):
        left = _mounts_under(path)
        if not left:
            break
        for target in reversed(left):
            try:
                _umount2(os.fsencode(target), MNT_DETACH)
            except OSError:
                pass  # unmounted with its parent meanwhile
    return _mounts_under(path)


# --- a utsfs of a test's own ------------------------------------------------


class Utsfs:
    """A utsfs daemon on a temporary mount point and state directory of its own.

    The ``utsfs`` fixture makes one per test. For a wider scope use the class
    as a context manager: ``with Utsfs() as fs:`` starts the daemon and waits
    for the mount; the end of the block removes every name, unmounts, waits for
    the daemon's exit and removes the directories, and raises UtsfsError if
    any of that went wrong (the daemon's output included).
    """

    def __init__(self, binary=None, options: Sequence[str] = (), tmpdir=None):
        binary = binary or find_binary()
        if not binary:
            raise UtsfsError("no utsfs program: none on PATH, and UTSFS_BIN is not set")
        self.binary = os.fspath(binary)
        # More -o options for the daemon, e.g. "restore=PATH".
        self.options = list(options)
        # Resolved: mountinfo shows real paths. 0755: others may need to
        # reach the mount (utsfs mounts it with allow_other).
        self.root = Path(os.path.realpath(tempfile.mkdtemp(prefix="utsfs-", dir=tmpdir)))
        os.chmod(self.root, 0o755)
        self.mount = self.root / "mnt"
        self.mount.mkdir()
        # The daemon creates it.
        self.state = self.root / "state"
        self.log = self.root / "utsfs.log"
        self.proc: Optional[subprocess.Popen] = None
        self._closed = False

    def __repr__(self):
        return f"<Utsfs {self.mount} pid={self.pid}>"

    @property
    def pid(self) -> Optional[int]:
        return None if self.proc is None else self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        """Start the daemon in the foreground and wait until it serves the mount."""
        if getattr(_depth, "value", 0):
            raise UtsfsError("start utsfs outside inside(): the daemon would run "
                             "in the namespace this thread is in")
        if not os.access(self.binary, os.X_OK):
            raise UtsfsError(f"{self.binary} is not an executable file")
        argv = [self.binary, "-f", "-o",
                ",".join([f"state_dir={self.state}"] + self.options), os.fspath(self.mount)]
        # A session of its own: a Ctrl-C at the terminal interrupts the
        # tests, whose teardown then removes the names through the mount.
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for_mount(self.proc, self.mount)
        except UtsfsError as e:
            raise UtsfsError(f"{e}{self._output()}") from None

    def close(self):
        """Remove every name, unmount, stop the daemon and remove the directories,
        whatever state they are in; raise UtsfsError listing what went wrong."""
        if self._closed:
            return
        self._closed = True
        problems = []
        if self.running():
            try:
                # Names only: .all (the host's every namespace) is no name, and
                # cannot be removed.
                names = self.names()
            except OSError as e:
                problems.append(f"listing {self.mount}: {e}")
                names = []
            for name in names:
                try:
                    os.rmdir(self.mount / name)
                except OSError as e:
                    problems.append(f"rmdir {name}: {e}")
            res = subprocess.run(["fusermount3", "-u", os.fspath(self.mount)],
                                 capture_output=True, text=True)
            if res.returncode != 0:
                problems.append(f"fusermount3 -u {self.mount}: {res.stderr.strip()}")
            else:
                try:
                    status = self.proc.wait(timeout=EXIT_DEADLINE)
                    if status != 0:
                        problems.append(f"utsfs exited with status {status} when unmounted")
                except subprocess.TimeoutExpired:
                    problems.append(f"utsfs did not exit within {EXIT_DEADLINE} s "
                                    "after the unmount")
        elif self.proc is not None:
            problems.append(f"utsfs died during the test (status {self.proc.returncode})")
        if self.proc is not None:
            subprocess.run(["fusermount3", "-u", "-z", os.fspath(self.mount)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stop_process(self.proc)
        # Names the daemon could not remove: detached, their namespaces end
        # with the last process in them.
        left = _detach_everything_under(self.root)
        if left:
            problems.append(f"could not unmount {left}; {self.root} kept")
        output = self._output() if problems else ""
        if not left:
            shutil.rmtree(self.root, ignore_errors=True)
        if problems:
            raise UtsfsError("\n".join(problems) + output)

    def _output(self) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return f"\nutsfs output:\n{text}" if text else ""

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            with contextlib.suppress(UtsfsError):
                self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    # --- names ---

    def path(self, name, *parts) -> Path:
        """MOUNT/NAME[/PART...]"""
        return self.mount.joinpath(name, *parts)

    def nsfile(self, name) -> Path:
        """The name's namespace file in the state directory (for nsenter --uts=)."""
        return self.state / name

    def names(self) -> List[str]:
        """The names in the mount, without .all (the view of every namespace on the host)."""
        return sorted(n for n in os.listdir(self.mount) if n != ".all")

    def mkdir(self, name, hostname: Optional[str] = None,
              domainname: Optional[str] = None) -> Path:
        """Create the namespace NAME (hostname NAME when that is a valid hostname,
        else the host's), set what is given, and return its directory."""
        directory = self.path(name)
        os.mkdir(directory)
        for attr, value in (("hostname", hostname), ("domainname", domainname)):
            if value is not None:
                self.write(name, attr, value)
        return directory

    def rmdir(self, name):
        os.rmdir(self.path(name))

    def read(self, name, attr="hostname") -> str:
        """hostname or domainname of NAME, without the newline."""
        return self.path(name, attr).read_text().rstrip("\n")

    def write(self, name, attr, value: str):
        fd = os.open(self.path(name, attr), os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)

    def inside(self, name):
        """A context manager: the calling thread runs in NAME's namespace
        (see the module-level inside())."""
        return inside(self.nsfile(name))


# --- fixtures -----------------------------------------------------------------


@pytest.fixture(scope="session")
def utsfs_binary() -> str:
    """The utsfs program the utsfs fixture starts: $UTSFS_BIN, else utsfs on PATH.

    Override this fixture to test another build."""
    binary = find_binary()
    if binary is None:
        pytest.skip("utsfs is not installed: no utsfs on PATH (set UTSFS_BIN)")
    return binary


@pytest.fixture
def utsfs(request) -> Iterator[Utsfs]:
    """A utsfs mounted on a temporary directory for this test, taken down after it."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    binary = request.getfixturevalue("utsfs_binary")
    home = os.open("/proc/thread-self/ns/uts", os.O_RDONLY | os.O_CLOEXEC)
    strayed = False
    try:
        with Utsfs(binary) as fs:
            yield fs
            # Back first: the next tests must not run there.
            strayed = not _same_file(home, "/proc/thread-self/ns/uts")
            if strayed:
                _return_or_abort(os.dup(home), threading.get_native_id())
    finally:
        os.close(home)
    if strayed:
        raise UtsfsError("the test left its thread in another UTS namespace "
                         "(the fixture put it back)")
