# SPDX-License-Identifier: GPL-2.0-or-later
"""The state directory is the source of truth: nsenter/unshare and utsfs see each other."""

import os
import subprocess

import pytest

import util
from util import q, run, sh


def test_namespace_made_with_unshare_appears_in_listing(utsfs):
    nsfile = utsfs.state / "x"
    sh(f"touch {q(nsfile)} && unshare --uts={q(nsfile)} hostname x")
    assert utsfs.names() == ["x"]
    assert utsfs.read("x", "hostname") == "x\n"
    assert utsfs.read("x", "id") == f"{util.nsfs_id(nsfile)}\n"


def test_namespace_made_with_unshare_found_by_lookup(utsfs):
    nsfile = utsfs.state / "x"
    sh(f"touch {q(nsfile)} && unshare --uts={q(nsfile)} hostname x")
    # Straight to the name, without listing the root first.
    assert os.stat(utsfs.path("x")).st_ino == util.nsfs_id(nsfile)
    assert sh(f"cat {q(utsfs.path('x', 'hostname'))}").stdout == "x\n"


def test_namespace_made_with_unshare_found_after_an_earlier_failed_lookup(utsfs):
    with pytest.raises(FileNotFoundError):
        os.stat(utsfs.path("late"))
    nsfile = utsfs.state / "late"
    sh(f"touch {q(nsfile)} && unshare --uts={q(nsfile)} hostname late")
    assert utsfs.read("late", "hostname") == "late\n"


def test_tree_write_seen_by_nsenter(utsfs):
    utsfs.mkdir("y")
    sh(f"echo val > {q(utsfs.path('y', 'hostname'))}")
    assert run(["nsenter", f"--uts={utsfs.state / 'y'}", "hostname"]).stdout == "val\n"
    sh(f"echo nis > {q(utsfs.path('y', 'domainname'))}")
    assert run(["nsenter", f"--uts={utsfs.state / 'y'}", "domainname"]).stdout == "nis\n"


def test_tree_write_to_unshare_made_namespace_seen_by_nsenter(utsfs):
    nsfile = utsfs.state / "ext"
    sh(f"touch {q(nsfile)} && unshare --uts={q(nsfile)} hostname ext")
    sh(f"echo changed > {q(utsfs.path('ext', 'hostname'))}")
    assert util.inside(nsfile) == "changed"


def test_nsenter_through_ns_symlink_enters_the_namespace(utsfs):
    utsfs.mkdir("x")
    assert os.readlink(utsfs.path("x", "ns")) == str(utsfs.state / "x")
    assert sh(f"nsenter --uts={q(utsfs.path('x', 'ns'))} hostname").stdout == "x\n"
    out = run(["nsenter", f"--uts={utsfs.path('x', 'ns')}",
               "readlink", "/proc/self/ns/uts"]).stdout
    assert out == f"uts:[{util.nsfs_id(utsfs.state / 'x')}]\n"


@pytest.mark.parametrize("field", ["hostname", "domainname"])
def test_change_inside_namespace_shows_on_next_read(utsfs, field):
    utsfs.mkdir("x")
    utsfs.read("x", field)
    util.set_inside(utsfs.state / "x", "other", field)
    assert sh(f"cat {q(utsfs.path('x', field))}").stdout == "other\n"
    assert os.stat(utsfs.path("x", field)).st_size == len("other\n")
    util.set_inside(utsfs.state / "x", "a-much-longer-value", field)
    assert utsfs.read("x", field) == "a-much-longer-value\n"
    assert os.stat(utsfs.path("x", field)).st_size == len("a-much-longer-value\n")


@pytest.mark.parametrize("field", ["hostname", "domainname"])
def test_change_inside_namespace_shows_on_reread_of_open_fd(utsfs, field):
    utsfs.mkdir("x")
    util.set_inside(utsfs.state / "x", "first", field)
    fd = os.open(utsfs.path("x", field), os.O_RDONLY)
    try:
        assert os.read(fd, 100) == b"first\n"
        util.set_inside(utsfs.state / "x", "second-value", field)
        assert os.pread(fd, 100, 0) == b"second-value\n"
    finally:
        os.close(fd)


def test_external_umount_and_rm_removes_name(utsfs):
    utsfs.mkdir("x")
    utsfs.mkdir("stay")
    os.stat(utsfs.path("x"))
    os.stat(utsfs.path("x", "hostname"))
    sh(f"umount {q(utsfs.state / 'x')} && rm {q(utsfs.state / 'x')}")
    assert utsfs.names() == ["stay"]
    # stat(2) of a name the kernel holds lags until the watcher's next check.
    util.settled(lambda: not os.path.lexists(utsfs.path("x")), "x gone from stat")
    with pytest.raises(FileNotFoundError):
        os.stat(utsfs.path("x"))
    with pytest.raises(FileNotFoundError):
        os.stat(utsfs.path("x", "hostname"))
    assert utsfs.read("stay", "hostname") == "stay\n"


def test_external_umount_and_rm_then_unshare_gives_name_the_new_namespace(utsfs):
    utsfs.mkdir("x")
    utsfs.read("x", "hostname")
    nsfile = utsfs.state / "x"
    sh(f"umount {q(nsfile)} && rm {q(nsfile)} && "
       f"touch {q(nsfile)} && unshare --uts={q(nsfile)} hostname reborn")
    # The kernel may still hold x as the old namespace's: the watcher's next
    # check has it looked up again (Linux 6.16+; older kernels: within 1 s).
    util.settled(lambda: utsfs.read("x", "hostname") == "reborn\n", "x re-bound")
    assert utsfs.read("x", "id") == f"{util.nsfs_id(nsfile)}\n"
    assert os.stat(utsfs.path("x")).st_ino == util.nsfs_id(nsfile)


def make_junk(state):
    (state / "a-dir").mkdir()
    (state / "notes").write_text("not a namespace\n")
    # A symlink to the host's own namespace: following it would let the
    # tree rename the host.
    os.symlink("/proc/1/ns/uts", state / "host-link")
    os.symlink("/etc/hostname", state / "file-link")
    return ["a-dir", "file-link", "host-link", "notes"]


def test_junk_in_state_dir_is_ignored(utsfs):
    utsfs.mkdir("real")
    junk = make_junk(utsfs.state)
    assert utsfs.names() == ["real"]
    for name in junk:
        with pytest.raises(FileNotFoundError):
            os.stat(utsfs.path(name))
        # The name is taken in the state dir: mkdir must not replace the junk.
        with pytest.raises(OSError):
            os.mkdir(utsfs.path(name))
    assert utsfs.state_names() == sorted(junk + ["real"])
    assert util.host_names() == utsfs.host_names


def test_empty_file_in_state_dir_is_not_listed_nor_removed_while_running(utsfs):
    nsfile = utsfs.state / "pending"
    nsfile.touch()
    assert utsfs.names() == []
    with pytest.raises(FileNotFoundError):
        os.stat(utsfs.path("pending"))
    assert nsfile.exists()
    run(["unshare", f"--uts={nsfile}", "hostname", "pending"])
    assert utsfs.names() == ["pending"]


def test_other_namespace_type_in_state_dir_is_ignored(utsfs):
    nsfile = utsfs.state / "netns"
    sh(f"touch {q(nsfile)} && unshare --net={q(nsfile)} true")
    assert any(m.fstype == "nsfs" for m in util.mounts_at(nsfile))
    assert utsfs.names() == []
    with pytest.raises(FileNotFoundError):
        os.stat(utsfs.path("netns"))


def test_restart_removes_only_its_own_leftovers_and_keeps_other_junk(utsfs):
    utsfs.mkdir("real")
    junk = make_junk(utsfs.state)
    utsfs.stop()
    # What a creator of ours killed between creating the file and binding
    # leaves: an empty file marked as utsfs's own.
    (utsfs.state / "crashed").touch()
    os.setxattr(utsfs.state / "crashed", "trusted.utsfs.placeholder", b"1")
    # Other tools' empty files: lock files, and a name another tool is making.
    others = [".keep", ".lock-othertool", "pending", ".utsfs.conf.bak", ".utsfs.conf.bak-admin"]
    for name in others:
        (utsfs.state / name).touch()
    # What a write of .utsfs.conf killed midway leaves: glib's name for it.
    (utsfs.state / ".utsfs.conf.Ab12Cd").write_text("[half\n")
    utsfs.start()
    assert not (utsfs.state / "crashed").exists()
    assert not (utsfs.state / ".utsfs.conf.Ab12Cd").exists()
    assert utsfs.names() == ["real"]
    assert utsfs.state_names() == sorted(junk + ["real"] + others)
    assert all((utsfs.state / name).exists() for name in others)
    assert (utsfs.state / "notes").read_text() == "not a namespace\n"


def test_a_start_never_races_another_tool_making_a_name(utsfs):
    """`touch X && unshare --uts=X` takes no lock: utsfs starting meanwhile
    must not remove X between the two, whatever the timing."""
    utsfs.stop()
    script = (f"for i in $(seq 200); do f={q(utsfs.state)}/race$i; "
              "touch $f && unshare --uts=$f true || echo \"lost $i\"; done")
    maker = utsfs.spawn(["sh", "-c", script], stdout=subprocess.PIPE, text=True)
    for _ in range(3):
        utsfs.start()
        utsfs.stop()
    out, _ = maker.communicate(timeout=60)
    assert maker.returncode == 0 and out == "", out
    utsfs.start()
    assert utsfs.names() == [f"race{i}" for i in sorted(range(1, 201), key=str)]


def test_state_dir_is_created_and_is_a_shared_mount(utsfs):
    st = os.stat(utsfs.state)
    assert oct(st.st_mode & 0o7777) == oct(0o755)
    mounts = util.mounts_at(utsfs.state)
    assert len(mounts) == 1, mounts
    assert any(tag.startswith("shared:") for tag in mounts[0].tags), mounts[0]


def test_new_name_propagates_into_mount_namespace_made_earlier(utsfs):
    # A process in its own mount namespace that keeps shared mounts shared.
    helper = utsfs.spawn(["unshare", "--mount", "--propagation", "unchanged",
                          "sh", "-c", "echo ready; exec sleep 60"],
                         stdout=subprocess.PIPE, text=True)
    assert helper.stdout.readline() == "ready\n"
    assert (os.readlink(f"/proc/{helper.pid}/ns/mnt")
            != os.readlink("/proc/self/ns/mnt"))
    utsfs.mkdir("late")
    out = run(["nsenter", "-t", str(helper.pid), "--mount",
               "sh", "-c", f"nsenter --uts={q(utsfs.state / 'late')} hostname"]).stdout
    assert out == "late\n"
