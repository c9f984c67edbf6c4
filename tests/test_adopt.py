# SPDX-License-Identifier: GPL-2.0-or-later
"""Naming the UTS namespace of a running process, and listing the processes of a namespace."""

import errno
import os
import time

import pytest

import util
from util import run



wait_until = util.wait_until


def contained_process(utsfs, hostname="contained"):
    """A process in a UTS namespace of its own that no file names (a 'container')."""
    proc = utsfs.spawn(["unshare", "--uts", "sh", "-c",
                        f"hostname {hostname} && exec sleep 60"])
    nsfile = f"/proc/{proc.pid}/ns/uts"
    # unshare execs sh, which execs sleep: same PID, new namespace once set up.
    wait_until(lambda: os.stat(nsfile).st_ino != util.nsfs_id("/proc/self/ns/uts")
               and util.inside(nsfile) == hostname, "the contained process")
    return proc, os.stat(nsfile).st_ino


def refused(utsfs, err, target, name="box"):
    before = (utsfs.names(), utsfs.state_names(), utsfs.nsfs_mounts())
    with pytest.raises(OSError) as info:
        os.symlink(target, utsfs.path(name))
    assert info.value.errno == err
    assert (utsfs.names(), utsfs.state_names(), utsfs.nsfs_mounts()) == before


def test_symlink_to_proc_pid_ns_uts_names_the_process_namespace(utsfs):
    proc, ident = contained_process(utsfs)
    os.symlink(f"/proc/{proc.pid}/ns/uts", utsfs.path("box"))
    assert utsfs.names() == ["box"]
    assert os.path.isdir(utsfs.path("box")) and not os.path.islink(utsfs.path("box"))
    assert os.stat(utsfs.path("box")).st_ino == ident
    assert utsfs.read("box", "id") == f"{ident}\n"
    assert utsfs.read("box", "hostname") == "contained\n"
    assert [m.fstype for m in util.mounts_at(utsfs.state / "box")] == ["nsfs"]
    assert util.nsfs_id(utsfs.state / "box") == ident


def test_adopted_namespace_outlives_its_process_and_the_daemon(utsfs):
    proc, ident = contained_process(utsfs)
    os.symlink(f"/proc/{proc.pid}/ns/uts", utsfs.path("box"))
    util.kill_and_wait(proc)
    utsfs.restart()
    assert utsfs.names() == ["box"]
    assert utsfs.read("box", "id") == f"{ident}\n"
    assert utsfs.read("box", "hostname") == "contained\n"


def test_writes_reach_the_adopted_process(utsfs):
    proc, _ = contained_process(utsfs)
    os.symlink(f"/proc/{proc.pid}/ns/uts", utsfs.path("box"))
    utsfs.write("box", "hostname", b"renamed\n")
    assert util.inside(f"/proc/{proc.pid}/ns/uts") == "renamed"


def test_adopting_another_kind_of_namespace_fails_einval(utsfs):
    refused(utsfs, errno.EINVAL, "/proc/self/ns/net")


def test_adopting_a_missing_process_fails_enoent(utsfs):
    refused(utsfs, errno.ENOENT, "/proc/999999999/ns/uts")


@pytest.mark.parametrize("target", ["/etc/hostname", "relative/path", "/"])
def test_symlink_to_anything_but_a_namespace_fails_eperm(utsfs, target):
    refused(utsfs, errno.EPERM, target)


def test_adopting_onto_an_existing_name_fails_eexist(utsfs):
    ident = utsfs.mkdir("box")
    refused(utsfs, errno.EEXIST, "/proc/self/ns/uts")
    assert utsfs.read("box", "id") == f"{ident}\n"


def test_adopting_with_an_invalid_name_fails_einval(utsfs):
    refused(utsfs, errno.EINVAL, "/proc/self/ns/uts", name=".hidden")


def test_adopting_inside_a_namespace_directory_fails_eperm(utsfs):
    utsfs.mkdir("x")
    refused(utsfs, errno.EPERM, "/proc/self/ns/uts", name="x/inner")


def test_standard_tools_adopt_through_the_state_dir(utsfs):
    proc, ident = contained_process(utsfs)
    (utsfs.state / "box").touch()
    run(["mount", "--bind", f"/proc/{proc.pid}/ns/uts", utsfs.state / "box"])
    assert utsfs.names() == ["box"]
    assert utsfs.read("box", "id") == f"{ident}\n"


def test_pids_lists_exactly_the_processes_inside(utsfs):
    utsfs.mkdir("x")
    assert utsfs.read("x", "pids") == ""
    procs = [utsfs.spawn(["nsenter", f"--uts={utsfs.state / 'x'}", "sleep", "60"])
             for _ in range(2)]
    # nsenter execs sleep: the PID is the one inside, once it has entered.
    wait_until(lambda: all(os.stat(f"/proc/{p.pid}/ns/uts").st_ino ==
                           util.nsfs_id(utsfs.state / "x") for p in procs),
               "nsenter to enter")
    expected = "".join(f"{pid}\n" for pid in sorted(p.pid for p in procs))
    assert utsfs.read("x", "pids") == expected
    # stat by path shows a page (no scan per stat); the open file's end is exact.
    assert os.stat(utsfs.path("x", "pids")).st_size == 4096
    with open(utsfs.path("x", "pids"), "rb") as f:
        assert f.seek(0, os.SEEK_END) == len(expected)
    util.kill_and_wait(procs[0])
    assert utsfs.read("x", "pids") == f"{procs[1].pid}\n"


def test_pids_of_adopted_namespace_names_its_process(utsfs):
    proc, _ = contained_process(utsfs)
    os.symlink(f"/proc/{proc.pid}/ns/uts", utsfs.path("box"))
    assert utsfs.read("box", "pids") == f"{proc.pid}\n"


def test_pids_is_read_only(utsfs):
    utsfs.mkdir("x")
    with pytest.raises(PermissionError):
        os.open(utsfs.path("x", "pids"), os.O_WRONLY)


@pytest.mark.parametrize("via", ["direct", "outside-symlink"])
def test_adopting_a_path_inside_the_mount_is_refused_at_once(utsfs, via):
    """Reaching it would look up names in the directory the kernel holds locked
    for this very symlink(2): refused with EPERM instead of hanging."""
    utsfs.mkdir("web")
    target = utsfs.path("web", "ns")
    if via == "outside-symlink":
        link = utsfs.root / "to-web"
        os.symlink(utsfs.path("web"), link)
        target = link / "ns"
    # The tests' watchdog turns a hang into a failure.
    refused(utsfs, errno.EPERM, str(target), name="alias")


def test_adopting_through_an_overlay_of_the_mount_gives_up_instead_of_hanging(utsfs):
    """An overlay with the mount as a layer looks names up in our root, which
    the kernel holds locked for this symlink(2): no walk can tell, so it is
    given up after two seconds with EDEADLK, and the mount keeps working."""
    utsfs.mkdir("web")
    empty = utsfs.root / "empty"
    over = utsfs.root / "over"
    empty.mkdir()
    over.mkdir()
    util.run(["mount", "-t", "overlay", "overlay", "-o",
              f"lowerdir={utsfs.mnt}:{empty}", over])
    # Worth a line in the log: a lookup thread waited on the mount meanwhile.
    utsfs.output.allow(r"^.*late: adopt failed: Resource deadlock avoided\n")
    try:
        start = time.monotonic()
        refused(utsfs, errno.EDEADLK, str(over / "zzz"), name="late")
        assert time.monotonic() - start < 10
    finally:
        util.run(["umount", over])
    assert utsfs.names() == ["web"]
    assert utsfs.read("web", "hostname") == "web\n"
    utsfs.mkdir("after")
    assert utsfs.names() == ["after", "web"]


def test_adopting_through_symlinks_outside_the_mount_works(utsfs):
    proc, ident = contained_process(utsfs)
    link = utsfs.root / "container-ns"
    os.symlink(f"/proc/{proc.pid}/ns/uts", link)
    os.symlink(str(link), utsfs.path("box"))
    assert utsfs.read("box", "id") == f"{ident}\n"


def test_adopting_a_device_does_not_open_it(utsfs):
    # A FIFO would block an open for reading; a device open can have effects.
    fifo = utsfs.root / "fifo"
    os.mkfifo(fifo)
    refused(utsfs, errno.EPERM, str(fifo))
