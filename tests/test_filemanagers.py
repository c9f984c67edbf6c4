# SPDX-License-Identifier: GPL-2.0-or-later
"""File managers on the tree: GIO (under GNOME and others) and Midnight Commander."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import util

# nsid only where the kernel has NS_GET_ID (Linux 6.18).
ATTRS = sorted(util.ATTR_FILES)
SCREEN_DEADLINE = 10


def clean_env(home: Path, **extra) -> dict:
    """A user's session reduced to a private HOME: nothing of the real one is touched."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "DBUS_"))}
    env.update({"HOME": str(home), "LC_ALL": "C", **extra})
    return env


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def gio(home):
    if shutil.which("gio") is None:
        pytest.skip("needs gio (package libglib2.0-bin)")

    def run_gio(*args, check=True):
        return util.run(["gio", *args], check=check, env=clean_env(home))
    return run_gio


def refused(utsfs, gio, *args):
    """gio fails and nothing changes; returns what it said."""
    before = utsfs.snapshot()
    res = gio(*args, check=False)
    assert res.returncode != 0, f"gio {' '.join(map(str, args))} succeeded: {res.stdout}"
    assert utsfs.snapshot() == before
    return res.stderr


def trash_dirs(*roots):
    """Every .Trash, .Trash-UID or Trash directory below roots (not following symlinks)."""
    found = []
    for root in roots:
        for top, dirs, files in os.walk(root):
            found += [os.path.join(top, n) for n in dirs + files
                      if n.startswith(".Trash") or n == "Trash"]
    return found


# --- GIO ------------------------------------------------------------------------


def test_gio_list_shows_every_namespace_and_its_files(utsfs, gio):
    utsfs.mkdir("web")
    utsfs.mkdir("db")
    assert sorted(gio("list", utsfs.mnt).stdout.split()) == ["db", "web"]
    # Hidden files shown: the view of every namespace on the host too.
    assert sorted(gio("list", "-h", utsfs.mnt).stdout.split()) == [util.ALLVIEW, "db", "web"]
    assert sorted(gio("list", utsfs.path("web")).stdout.split()) == ATTRS


def test_gio_info_shows_a_directory_and_the_hostname_size(utsfs, gio):
    utsfs.mkdir("web")
    utsfs.write("web", "hostname", b"web01\n")
    out = gio("info", "-a", "standard::type,standard::size", utsfs.path("web")).stdout
    assert "type: directory" in out.splitlines()
    out = gio("info", "-a", "standard::type,standard::size",
              utsfs.path("web", "hostname")).stdout
    assert "type: regular" in out.splitlines()
    assert "  standard::size: 6" in out.splitlines()


def test_gio_mkdir_creates_a_namespace(utsfs, gio):
    gio("mkdir", utsfs.path("web"))
    assert utsfs.names() == ["web"]
    assert utsfs.nsfs_mounts() == [str(utsfs.state / "web")]
    assert utsfs.read("web", "hostname") == "web\n"
    assert util.inside(utsfs.state / "web") == "web"
    assert utsfs.read("web", "id") == f"{util.nsfs_id(utsfs.state / 'web')}\n"


def test_gio_mkdir_of_a_hidden_name_fails_cleanly(utsfs, gio):
    refused(utsfs, gio, "mkdir", utsfs.path(".hidden"))


def test_gio_mkdir_inside_a_namespace_fails_cleanly(utsfs, gio):
    utsfs.mkdir("web")
    refused(utsfs, gio, "mkdir", utsfs.path("web", "sub"))


def test_gio_remove_forgets_a_namespace(utsfs, gio):
    utsfs.mkdir("web")
    utsfs.mkdir("db")
    gio("remove", utsfs.path("web"))
    assert utsfs.names() == ["db"]
    assert utsfs.state_names() == ["db"]
    assert utsfs.nsfs_mounts() == [str(utsfs.state / "db")]


def test_gio_remove_of_an_attribute_file_changes_nothing(utsfs, gio):
    """For root a file of a namespace directory can be "removed" (so file
    managers can delete the directory child first): nothing changes."""
    utsfs.mkdir("web")
    utsfs.write("web", "hostname", b"web01\n")
    gio("remove", utsfs.path("web", "hostname"))
    assert sorted(os.listdir(utsfs.path("web"))) == ATTRS
    assert utsfs.read("web", "hostname") == "web01\n"


def test_gio_rename_keeps_the_namespace_under_its_new_name(utsfs, gio):
    ident = utsfs.mkdir("web")
    utsfs.write("web", "hostname", b"web01\n")
    gio("rename", utsfs.path("web"), "www")
    assert utsfs.names() == ["www"]
    assert utsfs.state_names() == ["www"]
    assert utsfs.read("www", "id") == f"{ident}\n"
    assert utsfs.read("www", "hostname") == "web01\n"


def test_gio_rename_to_a_hidden_name_fails_cleanly(utsfs, gio):
    utsfs.mkdir("web")
    refused(utsfs, gio, "rename", utsfs.path("web"), ".web")


def test_gio_trash_fails_cleanly_and_creates_nothing(utsfs, gio, home):
    ident = utsfs.mkdir("web")
    said = refused(utsfs, gio, "trash", utsfs.path("web"))
    assert "trash" in said.lower(), said
    assert utsfs.names() == ["web"]
    assert utsfs.read("web", "id") == f"{ident}\n"
    assert trash_dirs(utsfs.mnt, utsfs.state, home) == []


def test_gio_trash_of_an_attribute_file_fails_cleanly(utsfs, gio, home):
    utsfs.mkdir("web")
    refused(utsfs, gio, "trash", utsfs.path("web", "hostname"))
    assert sorted(os.listdir(utsfs.path("web"))) == ATTRS
    assert trash_dirs(utsfs.mnt, utsfs.state, home) == []


def test_gio_copy_out_of_the_tree_reads_the_hostname(utsfs, gio, tmp_path):
    ident = utsfs.mkdir("web")
    utsfs.write("web", "hostname", b"web01\n")
    gio("copy", utsfs.path("web", "hostname"), tmp_path / "hostname")
    gio("copy", utsfs.path("web", "id"), tmp_path / "id")
    assert (tmp_path / "hostname").read_text() == "web01\n"
    assert (tmp_path / "id").read_text() == f"{ident}\n"


def test_gio_copy_into_the_tree_fails_cleanly(utsfs, gio, tmp_path):
    utsfs.mkdir("web")
    src = tmp_path / "notes"
    src.write_text("x\n")
    refused(utsfs, gio, "copy", src, utsfs.path("web") / "")
    refused(utsfs, gio, "copy", src, utsfs.mnt / "")
    assert sorted(os.listdir(utsfs.path("web"))) == ATTRS
    assert utsfs.names() == ["web"]


def test_gio_save_sets_the_hostname(utsfs, gio, home):
    # What an editor's "save" does through GIO: replace the file's content
    # (no temporary file can be made beside it, so GIO writes in place).
    utsfs.mkdir("web")
    res = subprocess.run(["gio", "save", utsfs.path("web", "hostname")], input="saved\n",
                         capture_output=True, text=True, env=clean_env(home),
                         timeout=util.COMMAND_DEADLINE)
    assert res.returncode == 0, res.stderr
    assert utsfs.read("web", "hostname") == "saved\n"
    assert util.inside(utsfs.state / "web") == "saved"
    assert sorted(os.listdir(utsfs.path("web"))) == ATTRS


# --- Midnight Commander under tmux --------------------------------------------


class Screen:
    """mc in a detached tmux session on a server of its own, read with capture-pane."""

    def __init__(self, root: Path, home: Path):
        self.socket = root / "tmux.sock"
        self.env = clean_env(home, TERM="xterm", TMPDIR=str(root), LC_ALL="C.UTF-8")
        self.pane_pid = None

    def tmux(self, *args, check=True):
        return util.run(["tmux", "-S", self.socket, *args], check=check, env=self.env)

    def start(self, cwd, argv):
        cmd = " ".join(["exec", *map(util.q, argv)])
        self.tmux("new-session", "-d", "-s", "mc", "-x", "200", "-y", "50", "-c", cwd,
                  "-e", "TERM=xterm", cmd)
        self.pane_pid = int(self.tmux("display-message", "-p", "-t", "mc",
                                      "#{pane_pid}").stdout)

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "mc", *keys)

    def text(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "mc").stdout

    def wait_for(self, predicate, what) -> str:
        end = time.monotonic() + SCREEN_DEADLINE
        while True:
            screen = self.text()
            if predicate(screen):
                return screen
            if time.monotonic() > end:
                pytest.fail(f"mc never showed {what}; the screen:\n{screen}")
            time.sleep(0.1)

    def close(self):
        """Kill the session and wait for mc to go: its working directory keeps the mount busy."""
        self.tmux("kill-server", check=False)
        if self.pane_pid is None:
            return
        end = time.monotonic() + SCREEN_DEADLINE
        while os.path.exists(f"/proc/{self.pane_pid}") and time.monotonic() < end:
            time.sleep(0.05)
        if os.path.exists(f"/proc/{self.pane_pid}"):
            try:
                os.kill(self.pane_pid, 9)
            except ProcessLookupError:
                pass


@pytest.fixture
def screen(utsfs, home, tmp_path):
    """Depends on utsfs, so it closes first: mc must be gone before the unmount."""
    for tool, package in (("tmux", "tmux"), ("mc", "mc")):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool} (package {package})")
    s = Screen(tmp_path, home)
    try:
        yield s
    finally:
        s.close()


def entries(screen_text):
    """The names in mc's panels: each row's first column, without mc's type mark."""
    names = set()
    for line in screen_text.splitlines():
        for cell in line.replace("|", "│").split("│"):
            cell = cell.strip()
            if cell and cell[0] in "/@*~!" and len(cell) > 1:
                names.add(cell[1:])
            elif cell:
                names.add(cell)
    return names


def test_mc_lists_namespaces_and_their_files_and_views_a_hostname(utsfs, screen):
    utsfs.mkdir("web")
    utsfs.mkdir("db")
    utsfs.write("web", "hostname", b"web01.example\n")
    screen.start(utsfs.root, ["mc", "-u", utsfs.mnt])
    # mc shows hidden files: .all (every namespace on the host) is listed too.
    screen.wait_for(lambda s: {"web", "db", util.ALLVIEW} <= entries(s)
                    and str(utsfs.mnt) in s,
                    f"the namespaces web and db, and .all, in {utsfs.mnt}")
    # Quick search (C-s) puts the cursor on a name; Enter opens the directory.
    screen.keys("C-s", "web")
    screen.keys("Enter")
    here = f"{utsfs.mnt}/web"
    screen.wait_for(lambda s: here in s and set(ATTRS) <= entries(s),
                    f"the files of {here}")
    screen.keys("C-s", "hostname")
    screen.keys("F3")
    viewed = screen.wait_for(lambda s: "web01.example" in s,
                             "the hostname in its viewer")
    lines = viewed.splitlines()
    assert lines[0].strip().startswith(f"{here}/hostname"), lines[0]
    assert lines[1].strip() == "web01.example"


def test_mc_browses_the_view_to_a_namespaces_names(utsfs, screen):
    """Into .all, then a namespace's directory there (by its 64-bit id):
    its files, and F3 shows the names it has in the tree."""
    utsfs.mkdir("web")
    ident = str(util.conf_id(utsfs.state / "web"))
    screen.start(utsfs.root, ["mc", "-u", utsfs.mnt])
    screen.wait_for(lambda s: {"web", util.ALLVIEW} <= entries(s), "web and .all")
    screen.keys("C-s", util.ALLVIEW)
    screen.keys("Enter")
    here = f"{utsfs.mnt}/{util.ALLVIEW}"
    screen.wait_for(lambda s: here in s and ident in entries(s), f"web's id {ident} in {here}")
    screen.keys("C-s", ident)
    screen.keys("Enter")
    here = f"{here}/{ident}"
    screen.wait_for(lambda s: here in s and set(ATTRS) | {"names"} <= entries(s),
                    f"the files of {here}")
    screen.keys("C-s", "names")
    screen.keys("F3")
    viewed = screen.wait_for(lambda s: f"{here}/names" in s, "names in its viewer")
    lines = viewed.splitlines()
    assert lines[0].strip().startswith(f"{here}/names"), lines[0]
    assert lines[1].strip() == "web"


def test_mc_f8_deletes_a_namespace_with_its_files(utsfs, screen):
    """F8 on a namespace directory: mc asks, deletes the files, then the
    directory; the name is gone, with no error dialog left open."""
    utsfs.mkdir("db")
    utsfs.mkdir("keep")
    screen.start(utsfs.root, ["mc", "-u", utsfs.mnt])
    screen.wait_for(lambda s: {"db", "keep"} <= entries(s), "the namespaces db and keep")
    screen.keys("C-s", "db")
    screen.keys("F8")
    screen.wait_for(lambda s: "Delete directory" in s, "the delete question")
    screen.keys("Enter")
    # A directory that is not empty: mc asks again before deleting recursively.
    asked = screen.wait_for(lambda s: "recursively" in s or "db" not in entries(s),
                            "the recursive question, or db gone")
    if "recursively" in asked:
        screen.keys("Enter")
    shown = screen.wait_for(lambda s: "db" not in entries(s), "db gone from the panel")
    assert "rror" not in shown and "cannot" not in shown.lower(), shown
    assert utsfs.names() == ["keep"]
    assert utsfs.state_names() == ["keep"]
