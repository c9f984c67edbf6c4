# SPDX-License-Identifier: GPL-2.0-or-later
"""utsfs as a system tool: meson install, the systemd unit, the man page, mount(8) and fstab."""

import ctypes
import ctypes.util
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import util
from util import run

PREFIX = "/usr"
MAN_PAGE = util.REPO / "contrib" / "utsfs.8"
# What a daemon may print before it goes to the background: no trouble.
TROUBLE = re.compile(r"\b(warning|critical|error|fail\w*)\b", re.IGNORECASE)
# mount(8) runs mount.fuse3 without PATH, and its /bin/sh then looks for the
# program named by the type (fuse.utsfs -> utsfs) in dash's default path.
HELPER_PATH_DIR = Path("/usr/local/sbin")
WRAPPER_MARK = "# utsfs test wrapper (tests/test_system.py): safe to delete"
PR_SET_CHILD_SUBREAPER = 36
WAKE_TIMEOUT_MS = 10_000

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def needs(*tools):
    missing = [t for t in tools if shutil.which(t) is None]
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)} "
                              "(contrib/install-deps.sh installs it)")


def run_long(argv):
    """run() for a build step: no deadline shorter than the build's own."""
    argv = [os.fspath(a) for a in argv]
    res = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if res.returncode != 0:
        pytest.fail(f"{shlex.join(argv)} exited {res.returncode}\n"
                    f"stdout: {res.stdout}\nstderr: {res.stderr}")
    return res


# --- meson install into a staging directory ----------------------------------


class Installed:
    """A fresh build of the source tree with --prefix=/usr, installed under destdir."""

    def __init__(self, root: Path):
        self.root = root
        self.build = root / "build"
        self.destdir = root / "dest"
        # The same rule as contrib/meson.build: systemd's own answer, if it has one.
        res = subprocess.run(["pkg-config", "--variable=systemdsystemunitdir", "systemd"],
                             capture_output=True, text=True)
        self.unit_dir = res.stdout.strip() or f"{PREFIX}/lib/systemd/system"

    def staged(self, path) -> Path:
        """Where an absolute installed path lands under destdir."""
        return self.destdir / os.fspath(path).lstrip("/")

    @property
    def binary(self) -> Path:
        return self.staged(f"{PREFIX}/bin/utsfs")

    @property
    def unit(self) -> Path:
        return self.staged(f"{self.unit_dir}/utsfs.service")

    @property
    def man_page(self) -> Path:
        return self.staged(f"{PREFIX}/share/man/man8/utsfs.8")

    @property
    def readme(self) -> Path:
        return self.staged(f"{PREFIX}/share/doc/utsfs/README.md")


@pytest.fixture(scope="module")
def installed():
    """`meson setup --prefix=/usr`, build and `meson install --destdir`, once per module.

    A build directory of its own, so that the test neither depends on how
    build/ was configured nor races a developer's ninja in it.
    """
    for tool in ("meson", "ninja", "pkg-config"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool} (contrib/install-deps.sh installs it)")
    root = Path(tempfile.mkdtemp(prefix="utsfs-install-"))
    try:
        inst = Installed(root)
        run_long(["meson", "setup", f"--prefix={PREFIX}", inst.build, util.REPO])
        run_long(["ninja", "-C", inst.build])
        run_long(["meson", "install", "-C", inst.build, "--no-rebuild",
                  "--destdir", inst.destdir])
        yield inst
    finally:
        shutil.rmtree(root, ignore_errors=True)


def unit_settings(path):
    """The unit file as {"Section.Key": [values...]}."""
    settings = {}
    section = None
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return settings


def test_meson_install_puts_binary_unit_man_page_and_readme_in_place(installed):
    assert os.access(installed.binary, os.X_OK), installed.binary
    version = run([installed.binary, "--version"]).stdout
    assert "utsfs version " in version, version
    assert installed.unit.is_file(), f"no unit in {installed.unit.parent}"
    assert installed.man_page.read_text() == MAN_PAGE.read_text()
    assert installed.readme.read_text() == (util.REPO / "README.md").read_text()


def test_installed_unit_runs_the_installed_binary(installed):
    execs = unit_settings(installed.unit)["Service.ExecStart"]
    assert len(execs) == 1
    argv = shlex.split(execs[0])
    assert argv[0] == f"{PREFIX}/bin/utsfs"
    assert os.access(installed.staged(argv[0]), os.X_OK)
    assert argv[-1] == "/ns"
    assert "@" not in installed.unit.read_text(), "unsubstituted @variable@ left"


def test_unit_mounts_ns_at_boot_and_restarts_on_failure(installed):
    unit = unit_settings(installed.unit)
    assert "local-fs.target" in " ".join(unit.get("Unit.After", [])).split()
    assert unit.get("Install.WantedBy") == ["multi-user.target"]
    assert unit.get("Service.Restart") == ["on-failure"]
    assert unit.get("Service.ExecStartPre") == ["/bin/mkdir -p /ns"]
    # systemd would delete the state directory, and every name in it, on stop.
    assert "Service.RuntimeDirectory" not in unit
    # A mount namespace of its own would hide /ns and the names from the host.
    sandboxing = {"PrivateTmp", "PrivateDevices", "PrivateMounts", "ProtectSystem",
                  "ProtectHome", "ReadOnlyPaths", "ReadWritePaths", "InaccessiblePaths",
                  "TemporaryFileSystem", "BindPaths", "MountFlags", "RootDirectory"}
    assert not {k.split(".", 1)[1] for k in unit} & sandboxing


@needs("systemd-analyze", "man")
def test_installed_unit_passes_systemd_analyze_verify(installed, tmp_path):
    # verify checks that ExecStart's program exists and that man:utsfs(8)
    # resolves. The host has neither installed: point the one at the staged
    # binary and MANPATH at the staged man pages; everything else is verified
    # exactly as installed.
    text = installed.unit.read_text()
    staged = text.replace(f"ExecStart={PREFIX}/bin/utsfs",
                          f"ExecStart={installed.binary}")
    assert staged != text
    unit = tmp_path / "utsfs.service"
    unit.write_text(staged)
    env = dict(os.environ, MANPATH=str(installed.staged(f"{PREFIX}/share/man")),
               SYSTEMD_LOG_COLOR="0")
    res = run(["systemd-analyze", "verify", unit], check=False, env=env)
    about_unit = [line for line in (res.stdout + res.stderr).splitlines()
                  if "utsfs" in line]
    assert res.returncode == 0 and not about_unit, (
        f"systemd-analyze verify exited {res.returncode}:\n{res.stdout}{res.stderr}")


# --- the man page -------------------------------------------------------------


def test_man_page_has_no_lint_warnings():
    checked = []
    if shutil.which("mandoc"):
        res = run(["mandoc", "-T", "lint", MAN_PAGE], check=False)
        assert (res.returncode, res.stdout + res.stderr) == (0, ""), res.stdout + res.stderr
        checked.append("mandoc")
    if shutil.which("man"):
        res = run(["man", "--warnings", "-E", "UTF-8", "-l", MAN_PAGE], check=False,
                  env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0"))
        assert res.returncode == 0 and res.stderr == "", res.stderr
        assert "utsfs" in res.stdout
        checked.append("man")
    if not checked:
        pytest.skip("needs mandoc or man (packages mandoc, man-db)")


def rendered_man_page() -> str:
    if shutil.which("mandoc"):
        out = run(["mandoc", "-T", "utf8", MAN_PAGE]).stdout
    elif shutil.which("man"):
        out = run(["man", "-l", MAN_PAGE], env=dict(os.environ, MANWIDTH="200")).stdout
    else:
        pytest.skip("needs mandoc or man (packages mandoc, man-db)")
    # Drop overstrike bold/underline; join words split by hyphenation.
    out = re.sub(r".\x08", "", out)
    return re.sub(r"\s+", " ", out.replace("\u2010\n", "").replace("\u2010", "-"))


@pytest.mark.parametrize("phrase", [
    "utsfs [options] [SOURCE] MOUNTPOINT",
    "-o state_dir=PATH", "-o restore=PATH", "-o auto_unmount", "-f", "-d", "-s",
    "MOUNT/NAME/hostname", "MOUNT/NAME/domainname", "MOUNT/NAME/id", "MOUNT/NAME/ns",
    "MOUNT/NAME/pids", "one per line", "MOUNT/NAME/nsid", "NS_GET_ID",
    "chmod 0500 /ns/web", "never show write bits", "boot=",
    "chown alice /ns/web", "STATE_DIR/.utsfs.conf",
    "ln -s /proc/PID/ns/uts /ns/box",
    "touch /run/utsfs/box && mount --bind /proc/PID/ns/uts /run/utsfs/box",
    "POLLPRI", "IN_MODIFY",
    "utsfs /ns fuse.utsfs defaults 0 0", "state_dir=",
    "mount -t fuse.utsfs utsfs /ns",
    "/run/utsfs", "EXIT STATUS", "EXAMPLES", "SEE ALSO",
])
def test_man_page_documents(phrase):
    assert re.sub(r"\s+", " ", phrase) in rendered_man_page()


def test_man_page_documents_every_option_of_help():
    # Options utsfs itself adds (-o NAME=) must not go undocumented.
    help_text = run([util.utsfs_bin(), "--help"]).stdout
    page = rendered_man_page()
    own = re.findall(r"-o (\w+)=", help_text)
    assert own, help_text
    missing = [o for o in own if f"-o {o}=" not in page]
    assert not missing, f"utsfs --help lists options the man page lacks: {missing}"


# --- daemons started outside pytest (mount(8), the unit's command) ----------


def cmdline(pid) -> list:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [os.fsdecode(a) for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def daemons_of(state) -> list:
    """PIDs of the live processes given -o ...state_dir=STATE... (zombies have no cmdline)."""
    wanted = f"state_dir={state}"
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            args = cmdline(entry)
            if any(wanted in a.split(",") for a in args):
                found.append(int(entry))
    return found


class Detached:
    """A utsfs that forks to the background, started by a command that returns.

    The test process becomes a child subreaper, so the daemon, orphaned by
    its parent, is our child: its exit status can be checked and it is
    reaped. Teardown removes everything whatever the test left.
    """

    def __init__(self, root: Path):
        self.root = root
        self.mnt = root / "mnt"
        self.state = root / "state"
        self.pid = None
        self.exited = False
        self.host_uts = util.host_uts()
        self.host_names = util.host_names()
        self.mnt.mkdir()

    def found(self) -> int:
        """After the starting command returned: the one daemon, mounted and answering."""
        pids = daemons_of(self.state)
        assert len(pids) == 1, f"expected one utsfs daemon for {self.state}, found {pids}"
        self.pid = pids[0]
        assert [m.fstype for m in util.mounts_at(self.mnt)] == [util.FSTYPE]
        assert os.path.isdir(self.mnt / ".")  # answers
        bad = util.daemon_threads_outside(self.pid, self.host_uts)
        assert not bad, f"utsfs threads outside the host UTS namespace: {bad}"
        return self.pid

    def wait_exit(self, deadline=util.EXIT_DEADLINE) -> int:
        """The daemon's exit status (as waitpid gives it)."""
        end = time.monotonic() + deadline
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.exited = True
                return status
            if time.monotonic() > end:
                pytest.fail(f"utsfs {self.pid} did not exit within {deadline} s")
            time.sleep(0.02)

    def stopped_cleanly(self, status):
        if os.WIFSIGNALED(status):
            pytest.fail(f"utsfs was killed by {signal.Signals(os.WTERMSIG(status)).name} "
                        "instead of exiting 0")
        assert os.WEXITSTATUS(status) == 0, f"utsfs exited {os.WEXITSTATUS(status)}, not 0"
        assert util.mounts_at(self.mnt) == [], "the mount outlived the daemon"

    def teardown(self):
        problems = []
        subprocess.run(["fusermount3", "-u", "-z", self.mnt],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pids = set(daemons_of(self.state))
        if self.pid is not None and not self.exited:
            pids.add(self.pid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(250):
                if not cmdline(pid):
                    break
                time.sleep(0.02)
            else:
                problems.append(f"utsfs {pid} ignored SIGTERM: killed")
                os.kill(pid, signal.SIGKILL)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        left = util.umount_everything_under(self.state)
        left += util.umount_everything_under(self.root)
        if left:
            problems.append(f"could not unmount {left}; {self.root} kept")
        else:
            subprocess.run(["rm", "-rf", "--one-file-system", self.root])
        if util.host_names() != self.host_names:
            problems.append("host hostname/domainname changed")
        return problems


@pytest.fixture
def detached():
    if util.fuse_skip_reason():
        pytest.skip(util.fuse_skip_reason())
    root = Path(tempfile.mkdtemp(prefix="utsfs-test-", dir="/tmp"))
    os.chmod(root, 0o755)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        pytest.fail(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")
    d = Detached(root)
    try:
        yield d
    finally:
        try:
            problems = d.teardown()
        finally:
            libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def utsfs_on_helper_path():
    """`utsfs` where mount.fuse3's shell finds it: a wrapper running the build under test.

    mount(8) drops PATH before it runs mount.fuse3, so an fstab line finds
    only an installed utsfs. The wrapper lives only for the test.
    """
    wrapper = HELPER_PATH_DIR / "utsfs"
    if wrapper.exists() and WRAPPER_MARK not in wrapper.read_text(errors="replace"):
        pytest.skip(f"{wrapper} is installed; the test would shadow it")
    HELPER_PATH_DIR.mkdir(parents=True, exist_ok=True)
    tmp = wrapper.with_name(f".utsfs.{os.getpid()}")
    tmp.write_text(f"#!/bin/sh\n{WRAPPER_MARK}\n"
                   f"exec {shlex.quote(util.utsfs_bin())} \"$@\"\n")
    tmp.chmod(0o755)
    tmp.rename(wrapper)
    try:
        yield wrapper
    finally:
        if wrapper.exists() and WRAPPER_MARK in wrapper.read_text(errors="replace"):
            wrapper.unlink()


def use_and_umount(d: Detached):
    """Use the tree as anyone would, then `umount` it: the daemon exits 0."""
    d.found()
    # No name yet: only the view of every namespace on the host.
    assert os.listdir(d.mnt) == [".all"]
    os.mkdir(d.mnt / "web")
    util.run(["sh", "-c", f"echo web01 > {util.q(d.mnt / 'web' / 'hostname')}"])
    assert util.read_text(d.mnt / "web" / "hostname") == "web01\n"
    assert util.inside(d.state / "web") == "web01"
    run(["umount", d.mnt])
    d.stopped_cleanly(d.wait_exit())
    # The names stay in the state directory, as after any stop.
    assert [m.fstype for m in util.mounts_at(d.state / "web")] == ["nsfs"]


@needs("mount", "umount", "mount.fuse3")
def test_daemon_in_the_background_wakes_pollers(detached, utsfs_on_helper_path):
    # Threads do not survive the fork into the background: the watcher must
    # run in the daemon, not in the process that mounted.
    run(["mount", "-t", "fuse.utsfs", "utsfs", detached.mnt,
         "-o", f"state_dir={detached.state}"])
    detached.found()
    os.mkdir(detached.mnt / "web")
    fd = os.open(detached.mnt / "web" / "hostname", os.O_RDONLY)
    try:
        assert os.pread(fd, 100, 0) == b"web\n"
        poller = select.poll()
        poller.register(fd, select.POLLPRI)
        assert poller.poll(0) == []
        # Changed while poll waits, by a process started before: only a
        # notification wakes poll early. (A fork or exec by the poller itself
        # while it waits makes the kernel poll the file again, and poll ends
        # at its timeout with a last look at the file: neither proves a wake.)
        change = subprocess.Popen(["sh", "-c", "sleep 0.3 && exec nsenter --uts=\"$0\" "
                                   "hostname changed", detached.state / "web"])
        try:
            start = time.monotonic()
            events = poller.poll(WAKE_TIMEOUT_MS)
            waited = time.monotonic() - start
        finally:
            assert change.wait(timeout=util.COMMAND_DEADLINE) == 0
        assert waited < WAKE_TIMEOUT_MS / 1000 - 1, "poll was not woken: it timed out"
        assert events and events[0][1] & select.POLLPRI, "poll did not wake"
        assert os.pread(fd, 100, 0) == b"changed\n"
    finally:
        os.close(fd)
    run(["umount", detached.mnt])
    detached.stopped_cleanly(detached.wait_exit())


@needs("mount", "umount", "mount.fuse3")
def test_mount_t_fuse_utsfs_runs_the_daemon_in_the_background(detached,
                                                               utsfs_on_helper_path):
    res = run(["mount", "-t", "fuse.utsfs", "utsfs", detached.mnt,
               "-o", f"state_dir={detached.state}"])
    assert not TROUBLE.search(res.stdout + res.stderr), res.stdout + res.stderr
    use_and_umount(detached)


@needs("mount", "umount", "mount.fuse3")
@pytest.mark.parametrize("options", ["state_dir={state}", "defaults,state_dir={state}"])
def test_fstab_line_mounts_through_mount_fuse3(detached, utsfs_on_helper_path, options):
    fstab = detached.root / "fstab"
    opts = options.format(state=detached.state)
    fstab.write_text(f"utsfs  {detached.mnt}  fuse.utsfs  {opts}  0  0\n")
    res = run(["mount", "--fstab", fstab, detached.mnt])
    assert not TROUBLE.search(res.stdout + res.stderr), res.stdout + res.stderr
    use_and_umount(detached)


def start_as_systemd(unit, d: Detached) -> int:
    """The unit's ExecStartPre and ExecStart, run as systemd runs a Type=forking
    service, on the test's paths: /ns is the test mount point, /var/lib/utsfs
    (the StateDirectory=) a test directory, the binary the build under test,
    and a test state directory instead of /run/utsfs. Returns the daemon's PID."""
    lib = d.root / "lib"

    def here(arg):
        return os.fspath(d.mnt) if arg == "/ns" else arg.replace("/var/lib/utsfs", str(lib))
    lib.mkdir(exist_ok=True)
    (pre,) = unit["Service.ExecStartPre"]
    (start,) = unit["Service.ExecStart"]
    run([here(a) for a in shlex.split(pre)])
    assert d.mnt.is_dir()
    argv = [here(a) for a in shlex.split(start)]
    argv[0:1] = [util.utsfs_bin(), "-o", f"state_dir={d.state}"]
    res = run(argv)
    assert not TROUBLE.search(res.stdout + res.stderr), res.stdout + res.stderr
    d.exited = False
    return d.found()


def test_unit_command_returns_once_mounted_and_sigterm_unmounts(installed, detached):
    unit = unit_settings(installed.unit)
    assert unit["Service.Type"] == ["forking"]
    detached.mnt.rmdir()  # ExecStartPre makes it
    pid = start_as_systemd(unit, detached)
    # Forking means ready: the tree answers as soon as the command returns.
    os.mkdir(detached.mnt / "web")
    assert util.read_text(detached.mnt / "web" / "hostname") == "web\n"
    os.kill(pid, signal.SIGTERM)  # systemctl stop
    detached.stopped_cleanly(detached.wait_exit())
    assert [m.fstype for m in util.mounts_at(detached.state / "web")] == ["nsfs"]


def test_unit_brings_names_back_after_a_reboot(installed, detached):
    unit = unit_settings(installed.unit)
    # The record lives in the StateDirectory=, which systemd keeps across stops.
    (state_directory,) = unit["Service.StateDirectory"]
    assert f"restore=/var/lib/{state_directory}/" in unit["Service.ExecStart"][0]
    pid = start_as_systemd(unit, detached)
    os.mkdir(detached.mnt / "web")
    Path(detached.mnt / "web" / "hostname").write_text("web01\n")
    os.kill(pid, signal.SIGTERM)
    detached.stopped_cleanly(detached.wait_exit())
    # A reboot: /run is empty again, the namespaces are gone.
    assert util.umount_everything_under(detached.state) == []
    shutil.rmtree(detached.state)
    pid = start_as_systemd(unit, detached)
    assert sorted(os.listdir(detached.mnt)) == [".all", "web"]
    assert util.read_text(detached.mnt / "web" / "hostname") == "web01\n"
    assert util.inside(detached.state / "web") == "web01"
    os.kill(pid, signal.SIGTERM)
    detached.stopped_cleanly(detached.wait_exit())
