# SPDX-License-Identifier: GPL-2.0-or-later
"""Thunar on a utsfs mount, driven from the keyboard as a person would.

An X server (Xvfb), a session bus with gvfs (as on any Xfce desktop), openbox
and Thunar run with a private HOME; xdotool types. After every step the test
checks the tree and the state directory, requires the windows on screen to be
exactly those the step leaves (no error dialog, no question left open), and
saves a screenshot in the test's temporary directory (NN-step.png)."""

import glob
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

import util
from test_filemanagers import trash_dirs

# Deadlines against hangs, never assertions about speed: a loaded CI machine
# may take seconds to start a program or to draw a dialog.
START_DEADLINE = 60
STEP_DEADLINE = 30
# The windows on screen must stay as a step left them this long: a dialog
# that comes a moment after the file system changed is caught.
STABLE_SECONDS = 1.0
POLL = 0.1

TOOLS = [("Xvfb", "xvfb"), ("dbus-daemon", "dbus-daemon"), ("openbox", "openbox"),
         ("thunar", "thunar"), ("mousepad", "mousepad"), ("xdotool", "xdotool"),
         ("xprop", "x11-utils"), ("import", "imagemagick"), ("setpriv", "util-linux")]

# pid 1 of the desktop's PID namespace: reaps the orphans (daemons that
# forked away, services the bus started) until the test kills it, and with
# it every process of the namespace.
REAPER = """
import os, time
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.2)
"""


def skip_reason():
    """Why the desktop cannot run here (what to install), or None."""
    missing = [f"{tool} (package {package})" for tool, package in TOOLS
               if shutil.which(tool) is None]
    # Without gvfs Thunar has no trash at all and Delete asks at once to
    # delete permanently: the trash is never tried.
    if not glob.glob("/usr/lib/*/gio/modules/libgvfsdbus.so"):
        missing.append("the gvfs GIO module (package gvfs)")
    if missing:
        return f"needs {', '.join(missing)}; tests/install-test-deps.sh installs them"
    return None


class Desktop:
    """Xvfb, then in a PID namespace of their own a session bus, openbox and
    Thunar (and what they start), with HOME and XDG directories under root.

    Xvfb stays outside the namespace: -displayfd tells a free display from
    one in use by the lock file's PID, which must be a PID it can see.
    """

    def __init__(self, root: Path):
        self.root = root
        self.shots = root
        self.home = root / "home"
        self.runtime = root / "run"
        self.logs = root / "logs"
        self.step = 0
        self.display = None
        self.xvfb = None
        self.session = None
        self.pidns = None
        self.bus = None
        self.procs = []

    # --- starting and stopping ---

    def env(self) -> dict:
        """A session of its own: no XDG_, DBUS_ or locale variables of the real one."""
        keep = ("PATH", "TERM")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update({
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local/share"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_STATE_HOME": str(self.home / ".local/state"),
            "XDG_RUNTIME_DIR": str(self.runtime),
            "LC_ALL": "C.UTF-8",
            # No accessibility bus, no gvfs FUSE mount under XDG_RUNTIME_DIR.
            "NO_AT_BRIDGE": "1",
            "GVFS_DISABLE_FUSE": "1",
        })
        if self.display is not None:
            env["DISPLAY"] = self.display
        if self.bus is not None:
            env["DBUS_SESSION_BUS_ADDRESS"] = self.bus
        return env

    def start(self):
        for d in (self.home, self.logs, self.home / ".config"):
            d.mkdir(parents=True, exist_ok=True)
        self.runtime.mkdir(mode=0o700)
        # Enter on a text file opens Mousepad, whatever else is installed.
        (self.home / ".config" / "mimeapps.list").write_text(
            "[Default Applications]\ntext/plain=org.xfce.mousepad.desktop\n")
        self._start_xvfb()
        self._start_session()
        self.bus = self._start_bus()
        self.spawn(["openbox"], "openbox")
        self.wait_until(lambda: "window id" in self.x(
            ["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"], check=False).stdout,
            "openbox managing the screen", START_DEADLINE)

    def _log(self, name):
        return open(self.logs / f"{name}.log", "ab")

    def _start_xvfb(self):
        r, w = os.pipe()
        try:
            with self._log("Xvfb") as log:
                # Killed with the test's process even if it dies without a teardown.
                self.xvfb = subprocess.Popen(
                    ["setpriv", "--pdeathsig", "KILL", "Xvfb", "-displayfd", str(w),
                     "-screen", "0", "1280x1024x24", "-nolisten", "tcp", "-noreset"],
                    pass_fds=[w], stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, env=self.env(), cwd=self.root)
        finally:
            os.close(w)
        try:
            number = self._read_line(r, "Xvfb's display number", self.xvfb)
        finally:
            os.close(r)
        self.display = f":{int(number)}"

    def _read_line(self, fd, what, proc) -> str:
        """One line from fd, written once the program is ready for clients."""
        data = b""
        end = time.monotonic() + START_DEADLINE
        while not data.endswith(b"\n"):
            left = end - time.monotonic()
            if left <= 0:
                pytest.fail(f"no {what} within {START_DEADLINE} s")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 256)
                if not chunk:
                    pytest.fail(f"no {what}: exited {proc.wait()}; see {self.logs}")
                data += chunk
        return data.decode().strip()

    def _start_session(self):
        self.session = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--kill-child", sys.executable, "-c", REAPER],
            stdin=subprocess.DEVNULL, cwd=self.root)
        mine = os.readlink("/proc/self/ns/pid")
        children = f"/proc/{self.session.pid}/task/{self.session.pid}/children"

        def init_running():
            if self.session.poll() is not None:
                pytest.fail(f"unshare --pid exited {self.session.returncode}")
            ns = os.readlink(f"/proc/{self.session.pid}/ns/pid_for_children")
            if ns == mine:
                return False
            # The namespace's pid 1 exists: whatever enters now is not pid 1.
            for pid in util.read_text(children).split():
                if os.readlink(f"/proc/{pid}/ns/pid") == ns:
                    self.pidns = ns
                    return True
            return False
        self.wait_until(init_running, "the desktop's PID namespace", START_DEADLINE)

    def spawn(self, argv, name, **kwargs) -> subprocess.Popen:
        """argv in the desktop's PID namespace, output to logs/NAME.log."""
        with self._log(name) as log:
            kwargs.setdefault("stdout", log)
            proc = subprocess.Popen(
                ["nsenter", f"--pid=/proc/{self.session.pid}/ns/pid_for_children", "--",
                 *map(os.fspath, argv)],
                stdin=subprocess.DEVNULL, stderr=log, env=self.env(), cwd=self.root,
                **kwargs)
        self.procs.append(proc)
        return proc

    def _start_bus(self) -> str:
        # dbus-daemon itself, not dbus-launch: that one's daemon logs to
        # syslog and blocks when /dev/log is a socket nobody reads.
        bus = self.spawn(["dbus-daemon", "--session", "--nofork", "--nosyslog",
                          f"--address=unix:dir={self.runtime}", "--print-address=1"],
                         "dbus-daemon", stdout=subprocess.PIPE)
        try:
            return self._read_line(bus.stdout.fileno(), "session bus address", bus)
        finally:
            bus.stdout.close()

    def members(self) -> List[int]:
        """The processes still in the desktop's PID namespace."""
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.readlink(f"/proc/{entry}/ns/pid") == self.pidns:
                        pids.append(int(entry))
                except OSError:
                    pass  # gone, or a zombie that has left its namespaces
        return pids

    def close(self):
        """Kill everything the desktop started; fail if anything of it stays."""
        problems = []
        if self.display is not None and self.xvfb.poll() is None:
            self.screenshot("at-teardown", check=False)
        if self.session is not None:
            # unshare --kill-child: its death kills the namespace's pid 1, and
            # the kernel then kills every other process in the namespace.
            util.kill_and_wait(self.session)
            end = time.monotonic() + util.EXIT_DEADLINE
            while self.pidns is not None and self.members():
                if time.monotonic() > end:
                    left = self.members()
                    problems.append(f"desktop processes left after the teardown: {left}")
                    for pid in left:
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                    break
                time.sleep(0.05)
        for proc in self.procs:
            try:
                proc.wait(timeout=util.EXIT_DEADLINE)
            except subprocess.TimeoutExpired:
                problems.append(f"{proc.args} did not end with its namespace")
                util.kill_and_wait(proc)
        if self.xvfb is not None:
            util.stop_process(self.xvfb)
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)

    # --- looking at the screen ---

    def x(self, argv, check=True) -> subprocess.CompletedProcess:
        """An X client (xdotool, xprop, import) on the desktop's display."""
        return util.run(argv, check=check, env=self.env(), cwd=self.root)

    def wait_until(self, predicate, what, deadline=STEP_DEADLINE):
        end = time.monotonic() + deadline
        while not predicate():
            if time.monotonic() > end:
                shot = self.screenshot("timed-out", check=False)
                pytest.fail(f"not within {deadline} s: {what}; windows: {self.windows()}; "
                            f"screen: {shot}; logs: {self.logs}")
            time.sleep(POLL)

    def windows(self) -> List[Tuple[int, str]]:
        """The windows the window manager manages (what a person sees), as (id, title)."""
        if self.display is None:
            return []
        out = self.x(["xprop", "-root", "_NET_CLIENT_LIST"], check=False).stdout
        found = []
        for wid in re.findall(r"0x[0-9a-fA-F]+", out):
            res = self.x(["xdotool", "getwindowname", str(int(wid, 16))], check=False)
            if res.returncode == 0:  # else closed meanwhile
                found.append((int(wid, 16), res.stdout.rstrip("\n")))
        return found

    def titles(self) -> List[str]:
        return sorted(title for _, title in self.windows())

    def window(self, title, deadline=STEP_DEADLINE) -> int:
        """The id of the window with exactly this title, once there is one."""
        found = []

        def shown():
            found[:] = [wid for wid, t in self.windows() if t == title]
            return bool(found)
        self.wait_until(shown, f"a window titled {title!r}", deadline)
        return found[0]

    def settle(self, *titles):
        """Wait until exactly these windows are on screen, and stay so: any
        other window (an error, a question, a progress dialog) fails the test."""
        want = sorted(titles)
        since = [None]

        def settled():
            if self.titles() != want:
                since[0] = None
                return False
            if since[0] is None:
                since[0] = time.monotonic()
            return time.monotonic() - since[0] >= STABLE_SECONDS
        self.wait_until(settled, f"exactly the windows {want} on screen")

    def screenshot(self, label, check=True) -> Optional[Path]:
        if self.display is None and not check:
            return None
        self.step += 1
        path = self.shots / f"{self.step:02d}-{label}.png"
        self.x(["import", "-window", "root", path], check=check)
        return path

    # --- typing ---

    def focus(self, wid):
        """Give wid the keyboard, as a click on it would; keys go where the focus is."""
        def focused():
            res = self.x(["xdotool", "getwindowfocus"], check=False)
            if res.returncode == 0 and res.stdout.strip() == str(wid):
                return True
            self.x(["xdotool", "windowactivate", str(wid)], check=False)
            return False
        self.wait_until(focused, f"the keyboard focus on window {wid}")

    def key(self, wid, *keys):
        self.focus(wid)
        self.x(["xdotool", "key", "--delay", "50", *keys])

    def type(self, wid, text):
        self.focus(wid)
        self.x(["xdotool", "type", "--delay", "50", text])

    def answer(self, title, *keys, text=None, shot=None):
        """In the dialog titled title: select all, type text if any, then press
        keys; shot names a screenshot of the dialog as it came."""
        dialog = self.window(title)
        if shot is not None:
            self.screenshot(shot)
        if text is not None:
            self.key(dialog, "ctrl+a")
            self.type(dialog, text)
        self.key(dialog, *keys)
        self.wait_until(lambda: title not in self.titles(), f"{title!r} closed")


@pytest.fixture
def desktop(utsfs, tmp_path):
    """Depends on utsfs, so it closes first: no process of it may still use the mount."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    d = Desktop(tmp_path)
    try:
        d.start()
        yield d
    finally:
        d.close()


def tree_is(utsfs, names, what):
    """The tree and the state directory hold exactly names, and agree."""
    end = time.monotonic() + STEP_DEADLINE
    while utsfs.names() != sorted(names):
        if time.monotonic() > end:
            pytest.fail(f"{what}: the tree holds {utsfs.names()}, not {sorted(names)}")
        time.sleep(POLL)
    assert utsfs.state_names() == sorted(names), what
    assert util.state_problems(utsfs.mnt, utsfs.state) == [], what


def step_done(utsfs, desktop, label):
    """A screenshot of the step that went well; the watchdog then times the
    next step, not the whole tour (as test_access_matrix.py does per case)."""
    desktop.screenshot(label)
    utsfs._disarm_watchdog()
    utsfs._arm_watchdog()


def test_thunar_creates_opens_edits_renames_and_deletes_namespaces(utsfs, desktop):
    """New Folder, open, edit hostname in Mousepad, F2, Delete (the trash
    fails, delete permanently) and Shift+Delete, each with what it changed."""
    utsfs.mkdir("keep")
    keep_id = util.nsfs_id(utsfs.state / "keep")
    top = f"{utsfs.mnt.name} - Thunar"

    desktop.spawn(["thunar", utsfs.mnt], "thunar")
    main = desktop.window(top, START_DEADLINE)
    desktop.settle(top)
    step_done(utsfs, desktop, "thunar-on-the-mount")

    # File > Create Folder... (Shift+Ctrl+N) asks for the name.
    desktop.key(main, "ctrl+shift+n")
    desktop.answer("Create New Folder", "Return", text="web", shot="new-folder-asks")
    tree_is(utsfs, ["keep", "web"], "New Folder")
    assert util.inside(utsfs.state / "web") == "web"
    desktop.settle(top)
    step_done(utsfs, desktop, "new-folder-web")

    def select(pattern):
        """Edit > Select by Pattern... (Ctrl+S): the one name matching pattern."""
        desktop.key(main, "ctrl+s")
        desktop.answer("Select by Pattern", "Return", text=pattern)

    # Open the namespace: select it, Enter.
    select("web")
    desktop.key(main, "Return")
    desktop.window("web - Thunar")
    desktop.settle("web - Thunar")
    tree_is(utsfs, ["keep", "web"], "opening web")
    files = sorted(os.listdir(utsfs.path("web")))
    assert "hostname" in files
    step_done(utsfs, desktop, "in-web")

    # Enter on hostname opens it in Mousepad, which saves with
    # g_file_replace_contents: GIO's replace, written in place here.
    select("hostname")
    desktop.key(main, "Return")
    editor_title = f"{utsfs.path('web', 'hostname')} - Mousepad"
    editor = desktop.window(editor_title, START_DEADLINE)
    desktop.key(editor, "ctrl+a")
    desktop.type(editor, "web01")
    desktop.window("*" + editor_title)
    desktop.key(editor, "ctrl+s")
    desktop.window(editor_title)  # no longer marked as modified: saved
    desktop.wait_until(lambda: utsfs.read("web", "hostname") == "web01\n",
                       "Mousepad's save in web/hostname")
    assert util.inside(utsfs.state / "web") == "web01"
    assert sorted(os.listdir(utsfs.path("web"))) == files
    tree_is(utsfs, ["keep", "web"], "Mousepad's save")
    desktop.settle("web - Thunar", editor_title)
    step_done(utsfs, desktop, "mousepad-saved-web01")
    desktop.key(editor, "ctrl+q")
    desktop.settle("web - Thunar")
    assert utsfs.read("web", "hostname") == "web01\n"

    # Back up (Alt+Up), then F2 renames the selection in a dialog.
    desktop.key(main, "alt+Up")
    desktop.window(top)
    web_id = util.nsfs_id(utsfs.state / "web")
    select("web")
    desktop.key(main, "F2")
    desktop.answer('Rename "web"', "Return", text="www", shot="f2-asks")
    tree_is(utsfs, ["keep", "www"], "F2")
    assert util.nsfs_id(utsfs.state / "www") == web_id
    assert utsfs.read("www", "id") == f"{web_id}\n"
    assert util.inside(utsfs.state / "www") == "web01"
    desktop.settle(top)
    step_done(utsfs, desktop, "renamed-www")

    # Delete moves to the trash; there is none on the mount (.Trash-0 cannot
    # be made), so Thunar asks "Do you want to permanently delete it?": Yes
    # (Alt+Y: the permanent-delete question below has no Yes).
    select("www")
    desktop.key(main, "Delete")
    desktop.answer("Attention", "alt+y", shot="delete-asks")
    tree_is(utsfs, ["keep"], "Delete, then Yes")
    assert trash_dirs(utsfs.mnt, utsfs.state) == []
    assert not list(desktop.home.rglob("www*")), "www went to the home's trash"
    assert util.nsfs_id(utsfs.state / "keep") == keep_id
    desktop.settle(top)
    step_done(utsfs, desktop, "deleted-www")

    # Shift+Delete asks "Are you sure that you want to permanently delete":
    # Delete (Alt+D).
    select("keep")
    desktop.key(main, "shift+Delete")
    desktop.answer("Attention", "alt+d", shot="shift-delete-asks")
    tree_is(utsfs, [], "Shift+Delete, then Delete")
    assert utsfs.nsfs_mounts() == []
    assert trash_dirs(utsfs.mnt, utsfs.state) == []
    desktop.settle(top)
    step_done(utsfs, desktop, "deleted-keep")
