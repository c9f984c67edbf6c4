# SPDX-License-Identifier: GPL-2.0-or-later
"""Removing a namespace with the tools people use: rm -r, rm -rf, find
-delete, shutil.rmtree, gio remove. They delete a directory's files before the
directory; for root that unlink succeeds and changes nothing, so they all end
as rmdir does. A lone `rm NAME/hostname` changes nothing either."""

import ctypes
import os
import shutil
import struct

import pytest

import util
from util import q, sh

# nsid only where the kernel has NS_GET_ID (Linux 6.18).
ATTRS = sorted(util.ATTR_FILES)
# gio on local files only, with no session bus or gvfs of the real user's.
LOCAL_GIO = {**{k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "DBUS_"))},
             "GIO_USE_VFS": "local", "LC_ALL": "C"}

TOOLS = {
    "rm -r": lambda p: sh(f"rm -r {q(p)}"),
    "rm -rf": lambda p: sh(f"rm -rf {q(p)}"),
    "find -delete": lambda p: sh(f"find {q(p)} -delete"),
    "shutil.rmtree": shutil.rmtree,
    "gio remove": lambda p: util.run(["gio", "remove", p], env=LOCAL_GIO),
}


@pytest.mark.parametrize("tool", TOOLS)
def test_a_tool_that_deletes_children_first_removes_the_name(utsfs, tool):
    if tool == "gio remove" and shutil.which("gio") is None:
        pytest.skip("needs gio (package libglib2.0-bin)")
    utsfs.mkdir("db")
    utsfs.mkdir("keep")
    os.listdir(utsfs.path("db"))  # the kernel has the files' entries
    TOOLS[tool](utsfs.path("db"))
    assert utsfs.names() == ["keep"]
    assert utsfs.state_names() == ["keep"]
    assert utsfs.nsfs_mounts() == [str(utsfs.state / "keep")]
    assert util.state_problems(utsfs.mnt, utsfs.state) == []


def test_a_lone_rm_of_a_file_changes_nothing(utsfs):
    utsfs.mkdir("db")
    utsfs.write("db", "hostname", b"db01\n")
    for attr in ATTRS:
        sh(f"rm -f {q(utsfs.path('db', attr))}")
        # The dentry went; the next lookup finds the file again.
        assert os.path.lexists(utsfs.path("db", attr)), attr
    assert sorted(os.listdir(utsfs.path("db"))) == ATTRS
    assert utsfs.read("db", "hostname") == "db01\n"
    assert util.inside(utsfs.state / "db") == "db01"
    assert utsfs.names() == ["db"]


def test_rm_r_by_anyone_but_root_removes_nothing(utsfs):
    utsfs.mkdir("mine")
    os.chown(utsfs.path("mine"), util.DELEGATE, util.DELEGATE)
    res = sh(f"setpriv --reuid={util.DELEGATE} --regid={util.DELEGATE} --clear-groups "
             f"rm -rf {q(utsfs.path('mine'))}", check=False)
    assert res.returncode != 0
    # The kernel refuses: neither MOUNT nor a namespace directory is
    # writable for anyone but root, the owner of the name included.
    assert "Permission denied" in res.stderr
    assert "Operation not permitted" not in res.stderr
    assert sorted(os.listdir(utsfs.path("mine"))) == ATTRS
    assert utsfs.names() == ["mine"]


# README lists them: after the unlink the file is back at once, so the create
# that follows is EEXIST; a temporary file to rename over it, or a backup
# beside it, is EPERM. perl -pi only warns and exits 0.
FAILING_TOOLS = {
    "cp --remove-destination": ("cp --remove-destination {src} {dst}", "File exists"),
    "install": ("install -m 0644 {src} {dst}", "File exists"),
    "mv onto the file": ("mv {src} {dst}", "File exists"),
    "ln -sf": ("ln -sf {src} {dst}", "Operation not permitted"),
    "sed -i": ("sed -i s/db/xx/ {dst}", "Operation not permitted"),
    "perl -pi": ("perl -pi -e s/db/xx/ {dst}", "Operation not permitted"),
    "gio save -b": ("printf other | gio save -b {dst}", "Backup file creation failed"),
    "gio copy -b": ("gio copy -b {src} {dst}", "Backup file creation failed"),
}


@pytest.mark.parametrize("tool", sorted(FAILING_TOOLS))
def test_tools_that_unlink_rename_or_back_up_fail_and_change_nothing(utsfs, tool):
    command, message = FAILING_TOOLS[tool]
    if "gio" in command and shutil.which("gio") is None:
        pytest.skip("needs gio (package libglib2.0-bin)")
    utsfs.mkdir("db")
    src = utsfs.root / "value"
    src.write_text("other\n")
    script = command.format(src=q(src), dst=q(utsfs.path("db", "hostname")))
    res = util.run(["/bin/sh", "-c", script], env=LOCAL_GIO, check=False)
    assert message in res.stderr, res.stderr
    assert res.returncode != 0 or tool == "perl -pi"
    assert utsfs.read("db", "hostname") == "db\n"
    assert sorted(os.listdir(utsfs.path("db"))) == ATTRS


def test_gio_copy_onto_hostname_by_an_owner_fails_and_changes_nothing(utsfs):
    """GIO unlinks the old file first: only root's unlink succeeds."""
    if shutil.which("gio") is None:
        pytest.skip("needs gio (package libglib2.0-bin)")
    utsfs.mkdir("db")
    os.chown(utsfs.path("db"), 65534, 65534)
    src = utsfs.root / "value"
    src.write_text("other\n")
    os.chmod(utsfs.root, 0o755)
    res = util.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    "gio", "copy", src, utsfs.path("db", "hostname")],
                   env={**LOCAL_GIO, "HOME": "/tmp"}, check=False)
    assert res.returncode != 0
    assert "Error removing old file: Permission denied" in res.stderr, res.stderr
    assert utsfs.read("db", "hostname") == "db\n"


def test_cp_p_sets_the_value_then_says_it_cannot_preserve_times(utsfs):
    utsfs.mkdir("db")
    src = utsfs.root / "value"
    src.write_text("copied\n")
    res = util.run(["cp", "-p", src, utsfs.path("db", "hostname")], env=LOCAL_GIO,
                   check=False)
    assert res.returncode == 1
    assert "preserving times" in res.stderr, res.stderr
    assert utsfs.read("db", "hostname") == "copied\n"


@pytest.mark.parametrize("tool", ["cp", "gio copy"])
def test_tools_that_copy_in_place_set_the_value(utsfs, tool):
    if tool.startswith("gio") and shutil.which("gio") is None:
        pytest.skip("needs gio (package libglib2.0-bin)")
    utsfs.mkdir("db")
    src = utsfs.root / "value"
    src.write_text("copied\n")
    util.run(tool.split() + [src, utsfs.path("db", "hostname")], env=LOCAL_GIO)
    assert utsfs.read("db", "hostname") == "copied\n"


IN_DELETE_SELF = 0x400
IN_IGNORED = 0x8000


def test_inotify_watchers_of_a_removed_file_get_delete_self(utsfs):
    """README: an unlink that succeeds ends inotify watches on the file."""
    libc = ctypes.CDLL(None, use_errno=True)
    utsfs.mkdir("db")
    ifd = libc.inotify_init1(os.O_NONBLOCK)
    assert ifd >= 0
    try:
        assert libc.inotify_add_watch(ifd, os.fsencode(utsfs.path("db", "hostname")),
                                      IN_DELETE_SELF) >= 0
        os.unlink(utsfs.path("db", "hostname"))
        data = os.read(ifd, 4096)
        masks = [struct.unpack_from("iIII", data, off)[1]
                 for off in range(0, len(data), 16)
                 if off + 16 <= len(data)]
        assert masks and masks[0] & IN_DELETE_SELF, masks
        assert any(m & IN_IGNORED for m in masks), f"the watch did not end: {masks}"
    finally:
        os.close(ifd)
    assert utsfs.read("db", "hostname") == "db\n"
