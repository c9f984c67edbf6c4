# SPDX-License-Identifier: GPL-2.0-or-later
"""Fixtures for the utsfs integration tests: one daemon per test, checked on the way out."""

import contextlib
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import reliability
import util
import pytest_utsfs  # python/, on sys.path through util

# A test body that takes longer than this is hung on a FUSE request: the
# daemon is killed so the request fails (ECONNABORTED) and the test ends.
WATCHDOG_SECONDS = int(os.environ.get("UTSFS_TEST_WATCHDOG", "60"))


def pytest_configure(config):
    config.addinivalue_line("markers", "uses_fuse: mounts a utsfs file system")
    config.addinivalue_line(
        "markers", "setdomainname: the daemon calls setdomainname(2), which valgrind 3.19 "
        "does not implement; the valgrind run deselects these with -m 'not setdomainname'")


def pytest_collection_modifyitems(config, items):
    reason = util.fuse_skip_reason()
    for item in items:
        if "utsfs" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.skip(reason=reason) if reason
                            else pytest.mark.uses_fuse)


@pytest.fixture(scope="session", autouse=True)
def host_left_untouched():
    """After the whole session: same host hostname, domainname and mount table."""
    names = util.host_names()
    mounts = util.mount_census()
    yield
    assert util.host_names() == names, "the suite changed the host's hostname/domainname"
    now = util.mount_census()
    assert now == mounts, (f"mounts left behind: {sorted((now - mounts).elements())}; "
                           f"mounts gone: {sorted((mounts - now).elements())}")


class OutputChecker:
    """Fails a test whose daemon printed an error or warning that nobody expected."""

    ALLOWED = [
        # valgrind (tests/valgrind-utsfs.sh) does not know the NS_GET_NSTYPE ioctl.
        r"^==\d+== Warning: noted but unhandled ioctl 0xb703 .*\n"
        r"==\d+== +This could cause spurious value errors to appear\.\n"
        r"==\d+== +See README_MISSING_SYSCALL_OR_IOCTL .*\n?",
        # Nor pidfd_open (434) and pidfd_send_signal (424): utsfs then looks
        # at callers unpinned, as on kernels before 5.3.
        r"^--\d+-- WARNING: unhandled amd64-linux syscall: 4(34|24)\n"
        r"(--\d+-- .*\n?){4}",
    ]
    SUSPICIOUS = [r"\b%s\b" % w for w in (
        "error", "warning", "warn", "fatal", "critical", "fail(ed|ure)?",
        "abort(ed)?", "crash(ed)?", "assert(ion)?", "segfault", "traceback",
        "exception", "uninitiali[sz]ed", "leak(ed)?")] + [
        r"^==\d+==", r"AddressSanitizer", r"runtime error:"]

    def __init__(self, path: Path):
        self.path = path
        self.allowed = list(self.ALLOWED)

    def allow(self, pattern: str):
        self.allowed.append(pattern)

    def problems(self):
        try:
            text = self.path.read_text(errors="replace")
        except FileNotFoundError:
            return None
        for pattern in self.allowed:
            text = re.sub(pattern, "", text, flags=re.MULTILINE | re.IGNORECASE)
        for pattern in self.SUSPICIOUS:
            hit = re.search(pattern, text, re.MULTILINE | re.IGNORECASE)
            if hit:
                line_start = text.rfind("\n", 0, hit.start()) + 1
                line_end = text.find("\n", hit.end())
                line = text[line_start:None if line_end < 0 else line_end]
                return f"utsfs printed suspicious output: {line!r}\nfull output:\n{text}"
        return None


class Utsfs:
    """One utsfs daemon on its own temporary mount point and state directory."""

    def __init__(self, root: Path):
        self.root = root
        self.mnt = root / "mnt"
        # Left for the daemon to create: every test proves it does.
        self.state = root / "state"
        self.log = root / "utsfs.log"
        self.output = OutputChecker(self.log)
        self.proc = None
        # More -o options for the next start(), e.g. "restore=PATH".
        self.options = []
        self.host_uts = util.host_uts()
        self.host_names = util.host_names()
        self._helpers = []
        self._watchdog = None
        self.watchdog_fired = False
        # Set when the test stopped or killed the daemon on purpose.
        self.stopped = False
        self.mnt.mkdir(mode=0o755)

    # --- life cycle ---

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def argv(self, mnt=None):
        opts = ",".join([f"state_dir={self.state}"] + self.options)
        return [util.utsfs_bin(), "-f", "-o", opts, os.fspath(mnt or self.mnt)]

    def start(self):
        assert not self.running(), "start() while the daemon runs"
        if not os.access(util.utsfs_bin(), os.X_OK):
            pytest.fail(f"no utsfs binary at {util.utsfs_bin()}: build it "
                        "(meson setup build && ninja -C build) or set UTSFS_BIN")
        self.stopped = False
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT)
        util.wait_for_mount(self.proc, self.mnt)
        self._arm_watchdog()

    def check_threads_in_host_uts(self):
        bad = util.daemon_threads_outside(self.pid, self.host_uts)
        assert not bad, (f"utsfs threads outside the host UTS namespace "
                         f"{self.host_uts}: {bad}")

    def stop(self, sig=None):
        """Unmount with fusermount3 -u (or send sig); the daemon must exit 0."""
        assert self.running(), f"utsfs is not running (status {self.proc.returncode})"
        self.check_threads_in_host_uts()
        self._disarm_watchdog()
        self.stopped = True
        if sig is None:
            util.run(["fusermount3", "-u", self.mnt])
        else:
            os.kill(self.pid, sig)
        try:
            status = self.proc.wait(timeout=util.EXIT_DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail(f"utsfs did not exit within {util.EXIT_DEADLINE} s "
                        f"after {'unmount' if sig is None else signal.Signals(sig).name}")
        assert status == 0, f"utsfs exited {status} after a clean stop"
        left = [m for m in util.mounts_at(self.mnt) if m.fstype == util.FSTYPE]
        assert not left, f"{self.mnt} still mounted after utsfs exited: {left}"

    def kill9(self):
        """SIGKILL the daemon, leaving its FUSE mount dead."""
        assert self.running()
        self.check_threads_in_host_uts()
        self._disarm_watchdog()
        self.stopped = True
        util.kill_and_wait(self.proc)

    def restart(self):
        self.stop()
        self.start()

    def crash(self, running=True):
        """SIGKILL the daemon at any moment, as a crash would.

        Unlike kill9() this skips the check that every daemon thread is in
        the host's UTS namespace: killed mid-request, a thread may be inside
        a namespace, which is exactly the moment a crash test wants.
        running=False: the test sent the SIGKILL itself; only wait for it.
        """
        assert self.running() or not running
        self._disarm_watchdog()
        self.stopped = True
        util.kill_and_wait(self.proc)

    def spawn(self, argv, **kwargs) -> subprocess.Popen:
        """A helper process that teardown kills."""
        proc = subprocess.Popen([os.fspath(a) for a in argv], stdin=subprocess.DEVNULL,
                                **kwargs)
        self._helpers.append(proc)
        return proc

    def _arm_watchdog(self):
        self._watchdog = threading.Timer(WATCHDOG_SECONDS, self._watchdog_fire)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _disarm_watchdog(self):
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _watchdog_fire(self):
        self.watchdog_fired = True
        if self.running():
            self.proc.send_signal(signal.SIGKILL)

    def teardown(self):
        """Stop and clean up everything, whatever state the test left; report problems."""
        problems = []
        self._disarm_watchdog()
        for proc in self._helpers:
            util.kill_and_wait(proc)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        if self.watchdog_fired:
            problems.append(f"test hung for {WATCHDOG_SECONDS} s: utsfs was killed")
        elif self.proc is not None and not self.running() and not self.stopped:
            problems.append(f"utsfs died during the test (status {self.proc.returncode})")
        try:
            if self.running():
                self.stop()
        except (Exception, pytest.fail.Exception) as e:
            problems.append(f"clean stop failed: {e}")
        finally:
            util.cleanup(self.proc, self.mnt)
            # The daemon is gone: all it printed is in the log now.
            output = self.output.problems()
            if output:
                problems.append(output)
            left = util.umount_everything_under(self.state)
            left += util.umount_everything_under(self.mnt)
            left += util.umount_everything_under(self.root)
            if left:
                problems.append(f"could not unmount {left}; {self.root} kept")
            else:
                subprocess.run(["rm", "-rf", "--one-file-system", self.root])
        if util.host_names() != self.host_names:
            problems.append(f"host hostname/domainname changed: {self.host_names} -> "
                            f"{util.host_names()}")
        if os.readlink("/proc/thread-self/ns/uts") != self.host_uts:
            problems.append("the test left its thread in another UTS namespace")
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)

    # --- looking at the tree ---

    def path(self, *parts) -> Path:
        return self.mnt.joinpath(*parts)

    def names(self):
        """The names, as `ls` shows them: without the dot entry .all (the host-wide view)."""
        return sorted(n for n in os.listdir(self.mnt) if n != ".all")

    def state_names(self):
        return sorted(os.listdir(self.state))

    def mkdir(self, name) -> int:
        """Create a namespace through the tree; returns its id from the kernel."""
        os.mkdir(self.path(name))
        return util.nsfs_id(self.state / name)

    def inside(self, name):
        """A context manager: this thread runs in NAME's namespace (the plugin's inside())."""
        return pytest_utsfs.inside(self.state / name)

    def read(self, name, attr) -> str:
        with open(self.path(name, attr)) as f:
            return f.read()

    def write(self, name, attr, data: bytes):
        fd = os.open(self.path(name, attr), os.O_WRONLY | os.O_TRUNC)
        try:
            assert os.write(fd, data) == len(data)
        finally:
            os.close(fd)

    def nsfs_mounts(self):
        return sorted(m.target for m in util.mounts_under(self.state)
                      if m.fstype == "nsfs")

    def snapshot(self):
        """Everything a failed operation must leave as it was, seen without utsfs
        where possible: names in the tree and in the state dir, the nsfs mounts,
        and each namespace's id, hostname and domainname."""
        spaces = {}
        for name in self.state_names():
            nsfile = self.state / name
            if any(m.fstype == "nsfs" for m in util.mounts_at(nsfile)):
                spaces[name] = (util.nsfs_id(nsfile), util.inside(nsfile, "hostname"),
                                util.inside(nsfile, "domainname"))
        return {"tree": self.names(), "state": self.state_names(),
                "mounts": self.nsfs_mounts(), "namespaces": spaces}


@pytest.fixture
def utsfs():
    root = Path(tempfile.mkdtemp(prefix="utsfs-test-", dir="/tmp"))
    # Other users must be able to reach the mount (allow_other tests).
    os.chmod(root, 0o755)
    fs = Utsfs(root)
    try:
        fs.start()
        yield fs
    finally:
        fs.teardown()


MOUNT_MAX = "/proc/sys/fs/mount-max"


@pytest.fixture
def mount_limit():
    """A context manager under which the next mount(2) here fails with ENOSPC.

    fs.mount-max caps the mounts of a mount namespace; set to the number in use,
    the bind mount that persists a new namespace is refused, as on a full host.
    (user.max_uts_namespaces would be the direct knob, but sandboxes often make
    it read-only even for root.) The old value is restored however the test ends.
    """
    saved = util.read_text(MOUNT_MAX)

    @contextlib.contextmanager
    def limited():
        with open(MOUNT_MAX, "w") as f:
            f.write(str(len(util.mountinfo())))
        try:
            yield
        finally:
            with open(MOUNT_MAX, "w") as f:
                f.write(saved)
    try:
        yield limited
    finally:
        with open(MOUNT_MAX, "w") as f:
            f.write(saved)


# --- reliability figures (tests/reliability.py, tests/RELIABILITY.md) --------


def pytest_sessionstart(session):
    reliability.begin_session()


def pytest_runtest_logreport(report):
    reliability.note_outcome(report.nodeid, report.when, report.outcome)


def pytest_sessionfinish(session, exitstatus):
    reliability.end_session()


@pytest.fixture
def figures(request):
    """A reliability.Figures for this test, saved when it ends, passed or failed."""
    doc = (request.function.__doc__ or "").strip().split("\n\n")[0]
    fig = reliability.Figures(request.node.nodeid, " ".join(doc.split()),
                              path=request.node.path, name=request.node.name)
    start = time.monotonic()
    try:
        yield fig
    finally:
        fig.set("seconds", round(time.monotonic() - start, 1))
        fig.save()
