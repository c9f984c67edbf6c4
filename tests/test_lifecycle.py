# SPDX-License-Identifier: GPL-2.0-or-later
"""Namespaces over time: create, rename, remove, and surviving daemon restarts."""

import errno
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import util
from util import q, run, sh


def test_mkdir_persists_namespace_as_nsfs_bind_mount(utsfs):
    ident = utsfs.mkdir("x")
    assert utsfs.state_names() == ["x"]
    assert [m.fstype for m in util.mounts_at(utsfs.state / "x")] == ["nsfs"]
    findmnt = run(["findmnt", "-n", "-o", "FSTYPE", utsfs.state / "x"]).stdout
    assert findmnt == "nsfs\n"
    out = run(["nsenter", f"--uts={utsfs.state / 'x'}", "readlink",
               "/proc/self/ns/uts"]).stdout
    assert out == f"uts:[{ident}]\n"
    assert out != util.host_uts() + "\n"


@pytest.mark.parametrize("name", ["a", "my box", "-dash", "ünïcödé", "x" * 255,
                                  "with:colon", "semi;colon", "a.b"], ids=repr)
def test_mkdir_accepts_every_valid_name(utsfs, name):
    ident = utsfs.mkdir(name)
    assert utsfs.names() == [name]
    assert utsfs.read(name, "id") == f"{ident}\n"


def test_mkdir_gives_each_name_its_own_namespace(utsfs):
    ids = {name: utsfs.mkdir(name) for name in ("a", "b", "c")}
    assert len(set(ids.values())) == 3
    utsfs.write("a", "hostname", b"only-a\n")
    assert [util.inside(utsfs.state / n) for n in "abc"] == ["only-a", "b", "c"]


def test_rename_keeps_namespace(utsfs):
    ident = utsfs.mkdir("a")
    utsfs.write("a", "hostname", b"kept\n")
    os.rename(utsfs.path("a"), utsfs.path("b"))
    assert utsfs.names() == ["b"]
    assert utsfs.state_names() == ["b"]
    assert utsfs.read("b", "id") == f"{ident}\n"
    assert util.nsfs_id(utsfs.state / "b") == ident
    assert os.stat(utsfs.path("b")).st_ino == ident
    assert utsfs.nsfs_mounts() == [str(utsfs.state / "b")]
    assert util.inside(utsfs.state / "b") == "kept"
    assert os.readlink(utsfs.path("b", "ns")) == str(utsfs.state / "b")
    with pytest.raises(FileNotFoundError):
        os.stat(utsfs.path("a"))


def test_open_file_follows_its_directory_across_rename(utsfs):
    utsfs.mkdir("a")
    fd = os.open(utsfs.path("a", "hostname"), os.O_RDWR | os.O_TRUNC)
    try:
        os.rename(utsfs.path("a"), utsfs.path("b"))
        assert os.pwrite(fd, b"moved\n", 0) == 6
        assert os.pread(fd, 100, 0) == b"moved\n"
    finally:
        os.close(fd)
    assert util.inside(utsfs.state / "b") == "moved"


def test_open_file_fails_cleanly_after_rmdir(utsfs):
    utsfs.mkdir("a")
    fd = os.open(utsfs.path("a", "hostname"), os.O_RDWR | os.O_TRUNC)
    try:
        os.rmdir(utsfs.path("a"))
        with pytest.raises(FileNotFoundError):
            os.pread(fd, 100, 0)
        with pytest.raises(FileNotFoundError):
            os.pwrite(fd, b"late\n", 0)
    finally:
        os.close(fd)
    assert utsfs.names() == []


def test_mv_command_renames_namespace(utsfs):
    ident = utsfs.mkdir("old")
    sh(f"mv {q(utsfs.path('old'))} {q(utsfs.path('new'))}")
    assert utsfs.names() == ["new"]
    assert util.nsfs_id(utsfs.state / "new") == ident
    assert not (utsfs.state / "old").exists()


def test_rename_to_same_name_changes_nothing(utsfs):
    ident = utsfs.mkdir("same")
    os.rename(utsfs.path("same"), utsfs.path("same"))
    assert utsfs.names() == ["same"]
    assert util.nsfs_id(utsfs.state / "same") == ident


def test_rename_frees_old_name_for_a_new_namespace(utsfs):
    first = utsfs.mkdir("a")
    os.rename(utsfs.path("a"), utsfs.path("b"))
    second = utsfs.mkdir("a")
    assert first != second
    assert utsfs.read("a", "hostname") == "a\n"
    assert util.inside(utsfs.state / "b") == "a"
    assert utsfs.read("b", "id") == f"{first}\n"


def test_rmdir_removes_name_state_file_and_mount(utsfs):
    utsfs.mkdir("x")
    utsfs.mkdir("stay")
    os.rmdir(utsfs.path("x"))
    assert utsfs.names() == ["stay"]
    assert utsfs.state_names() == ["stay"]
    assert utsfs.nsfs_mounts() == [str(utsfs.state / "stay")]
    with pytest.raises(FileNotFoundError):
        os.stat(utsfs.path("x"))


def test_mkdir_answers_with_the_namespace_as_it_stays(utsfs):
    """mkdir's reply is what the kernel caches: it must show the inode the
    name keeps, as a stat of the state file does."""
    for i in range(20):
        os.mkdir(utsfs.path(f"n{i}"))
        st = os.stat(utsfs.path(f"n{i}"))
        ns = os.stat(utsfs.state / f"n{i}")
        assert (st.st_ino, st.st_mtime_ns, st.st_ctime_ns) == \
            (ns.st_ino, ns.st_mtime_ns, ns.st_ctime_ns)


def bind_onto_itself(path, times):
    """Stack times more bind mounts of path's namespace file on path, as
    `unshare --uts=FILE` run again on the same file would. Private first:
    binding a shared mount onto itself doubles it through propagation."""
    run(["mount", "--make-private", path])
    for _ in range(times):
        run(["mount", "--bind", path, path])


def test_rmdir_removes_a_name_bound_twice(utsfs):
    utsfs.mkdir("x")
    bind_onto_itself(utsfs.state / "x", 1)
    os.rmdir(utsfs.path("x"))
    assert utsfs.names() == []
    assert utsfs.state_names() == []
    assert utsfs.nsfs_mounts() == []


def test_a_failed_rmdir_leaves_the_name_working(utsfs):
    """More stacked mounts than rmdir takes off (64) fail it with EBUSY; the
    name must still answer at once, through what the kernel already holds."""
    utsfs.mkdir("x")
    utsfs.write("x", "hostname", b"kept\n")
    bind_onto_itself(utsfs.state / "x", 64)
    utsfs.output.allow(r"^.*x: rmdir failed: Device or resource busy.*\n?")
    with pytest.raises(OSError) as e:
        os.rmdir(utsfs.path("x"))
    assert e.value.errno == errno.EBUSY
    assert utsfs.read("x", "hostname") == "kept\n"
    assert utsfs.names() == ["x"]
    os.rmdir(utsfs.path("x"))
    assert utsfs.names() == []
    assert utsfs.nsfs_mounts() == []


def test_rmdir_keeps_processes_running(utsfs):
    ident = utsfs.mkdir("x")
    inner = utsfs.spawn(["nsenter", f"--uts={utsfs.state / 'x'}",
                         "sh", "-c", "hostname; exec sleep 60"],
                        stdout=subprocess.PIPE, text=True)
    assert inner.stdout.readline() == "x\n"  # it is inside now
    os.rmdir(utsfs.path("x"))
    assert utsfs.names() == []
    assert inner.poll() is None
    assert os.readlink(f"/proc/{inner.pid}/ns/uts") == f"uts:[{ident}]"
    out = run(["nsenter", "-t", str(inner.pid), "--uts", "hostname"]).stdout
    assert out == "x\n"


def test_rmdir_then_mkdir_same_name_gives_fresh_namespace(utsfs):
    utsfs.mkdir("x")
    utsfs.write("x", "hostname", b"changed\n")
    os.rmdir(utsfs.path("x"))
    # The kernel may reuse the old inode number: compare values, not ids.
    ident = utsfs.mkdir("x")
    assert utsfs.read("x", "hostname") == "x\n"
    assert utsfs.read("x", "id") == f"{ident}\n"
    assert util.inside(utsfs.state / "x") == "x"


def test_concurrent_mkdir_of_one_name_has_one_winner(utsfs):
    results = []

    def attempt():
        try:
            os.mkdir(utsfs.path("race"))
            results.append(0)
        except OSError as e:
            results.append(e.errno)

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0] + [errno.EEXIST] * 15
    assert utsfs.nsfs_mounts() == [str(utsfs.state / "race")]
    assert len(util.mounts_at(utsfs.state / "race")) == 1


def test_concurrent_mkdir_of_many_names_all_succeed(utsfs):
    names = [f"n{i}" for i in range(24)]
    errors = []

    def make(name):
        try:
            os.mkdir(utsfs.path(name))
        except OSError as e:
            errors.append((name, e))

    threads = [threading.Thread(target=make, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert utsfs.names() == sorted(names)
    for name in names:
        assert utsfs.read(name, "hostname") == f"{name}\n"
    assert len({util.nsfs_id(utsfs.state / n) for n in names}) == len(names)


def record(utsfs):
    """What a restart must bring back, seen from inside each namespace."""
    return {name: (util.nsfs_id(utsfs.state / name), util.inside(utsfs.state / name),
                   util.inside(utsfs.state / name, "domainname"))
            for name in utsfs.state_names()}


def populate(utsfs):
    utsfs.mkdir("plain")
    utsfs.mkdir("set")
    utsfs.write("set", "hostname", b"custom-host\n")
    utsfs.write("set", "domainname", b"custom.dom\n")
    utsfs.mkdir("to-rename")
    os.rename(utsfs.path("to-rename"), utsfs.path("renamed"))


def assert_tree_matches(utsfs, before):
    assert utsfs.names() == sorted(before)
    for name, (ident, hostname, domainname) in before.items():
        assert utsfs.read(name, "id") == f"{ident}\n"
        assert os.stat(utsfs.path(name)).st_ino == ident
        assert utsfs.read(name, "hostname") == hostname + "\n"
        assert utsfs.read(name, "domainname") == domainname + "\n"
    assert record(utsfs) == before


@pytest.mark.setdomainname
def test_restart_restores_every_namespace(utsfs):
    populate(utsfs)
    before = record(utsfs)
    assert sorted(before) == ["plain", "renamed", "set"]
    utsfs.restart()
    assert_tree_matches(utsfs, before)


def test_restart_does_not_stack_state_dir_mounts(utsfs):
    utsfs.mkdir("x")
    utsfs.restart()
    utsfs.restart()
    assert len(util.mounts_at(utsfs.state)) == 1
    assert len(util.mounts_at(utsfs.state / "x")) == 1


@pytest.mark.setdomainname
def test_kill9_then_restart_restores_namespaces(utsfs):
    populate(utsfs)
    before = record(utsfs)
    utsfs.kill9()
    with pytest.raises(OSError) as info:
        os.listdir(utsfs.mnt)
    assert info.value.errno == errno.ENOTCONN
    utsfs.start()
    assert_tree_matches(utsfs, before)
    # The dead mount was cleared, not buried under the new one.
    assert [m.fstype for m in util.mounts_at(utsfs.mnt)] == [util.FSTYPE]
    utsfs.mkdir("after")
    assert utsfs.read("after", "hostname") == "after\n"


OWNER = (util.DELEGATE, 1001, 0o550)


def crash_mid_rename(utsfs, bound_new_name, legacy):
    """Leave the state a daemon killed inside rename(a -> b) leaves: the
    journal, a's owner group copied to b, and b's placeholder file (bound to
    a's namespace when the kill came after the bind). legacy: the journal
    and groups as utsfs wrote them before 64-bit ids (id the inode number,
    no boot=)."""
    ident = utsfs.mkdir("a")
    nsfile = utsfs.state / "a"
    key = ({"id": str(util.nsfs_id(nsfile))} if legacy else
           {"id": str(util.conf_id(nsfile)), "boot": util.boot_id()})
    uid, gid, mode = OWNER
    owner = {**key, "uid": str(uid), "gid": str(gid), "mode": f"{mode:04o}"}
    utsfs.stop()
    (utsfs.state / util.CONF).write_text(util.keyfile_text(
        {".rename": {"from": "a", "to": "b", **key}, "a": owner, "b": owner}))
    # The empty file utsfs made for the new name, marked as its own.
    (utsfs.state / "b").touch()
    os.setxattr(utsfs.state / "b", "trusted.utsfs.placeholder", b"1")
    if bound_new_name:
        run(["mount", "--bind", utsfs.state / "a", utsfs.state / "b"])
    utsfs.start()
    return ident


def owned_by(utsfs, name):
    st = os.stat(utsfs.path(name))
    return st.st_uid, st.st_gid, st.st_mode & 0o7777


@pytest.mark.parametrize("legacy", [False, True], ids=["nsid", "legacy"])
def test_restart_finishes_rename_interrupted_after_binding_new_name(utsfs, legacy):
    ident = crash_mid_rename(utsfs, bound_new_name=True, legacy=legacy)
    assert util.conf_groups(utsfs.state) == {"b": util.conf_entry(utsfs.state / "b", *OWNER)}
    assert utsfs.names() == ["b"]
    assert utsfs.state_names() == [util.CONF, "b"]
    assert utsfs.nsfs_mounts() == [str(utsfs.state / "b")]
    assert util.nsfs_id(utsfs.state / "b") == ident
    assert owned_by(utsfs, "b") == OWNER


@pytest.mark.parametrize("legacy", [False, True], ids=["nsid", "legacy"])
def test_restart_undoes_rename_interrupted_before_binding_new_name(utsfs, legacy):
    ident = crash_mid_rename(utsfs, bound_new_name=False, legacy=legacy)
    assert util.conf_groups(utsfs.state) == {"a": util.conf_entry(utsfs.state / "a", *OWNER)}
    assert utsfs.names() == ["a"]
    assert utsfs.state_names() == [util.CONF, "a"]
    assert util.nsfs_id(utsfs.state / "a") == ident
    assert owned_by(utsfs, "a") == OWNER


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_unmounts_and_exits_zero(utsfs, sig):
    utsfs.mkdir("x")
    utsfs.stop(sig)
    assert not util.mounts_at(utsfs.mnt)
    # The namespace outlives the daemon.
    assert util.inside(utsfs.state / "x") == "x"


def test_fusermount_unmount_exits_zero_and_keeps_namespaces(utsfs):
    ident = utsfs.mkdir("x")
    utsfs.stop()
    assert not util.mounts_at(utsfs.mnt)
    assert util.nsfs_id(utsfs.state / "x") == ident


# Each close queues a RELEASE; an unmount that meets one being read makes the
# kernel answer that read ECONNABORTED, not ENODEV. Half the rounds hit it.
HOLDER = """
import os, resource, signal, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
fds = [os.open(sys.argv[1], os.O_RDONLY) for _ in range(3000)]
print("open", flush=True)
signal.pause()
"""


def test_fusermount_right_after_thousands_of_closes_exits_zero_quietly(utsfs):
    utsfs.mkdir("x")
    for _ in range(8):
        holder = utsfs.spawn([sys.executable, "-c", HOLDER, utsfs.mnt / "x" / "hostname"],
                             stdout=subprocess.PIPE)
        assert holder.stdout.readline() == b"open\n"
        util.kill_and_wait(holder)
        utsfs.stop()
        assert utsfs.output.problems() is None
        utsfs.start()
    assert utsfs.read("x", "hostname") == "x\n"


def test_start_without_cap_sys_admin_over_its_uts_namespace_is_refused(tmp_path):
    # unshare -r: CAP_SYS_ADMIN in a user namespace of its own, which does
    # not own the host's UTS namespace; the first visit to a namespace could
    # not return, so utsfs says so at start instead of dying at the first mkdir.
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    res = subprocess.run(["unshare", "-Urm", "--propagation", "private", util.utsfs_bin(),
                          "-f", "-o", f"state_dir={tmp_path / 'state'}", mnt],
                         capture_output=True, text=True, stdin=subprocess.DEVNULL,
                         timeout=util.EXIT_DEADLINE)
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert res.stderr == ("utsfs: cannot enter its own UTS namespace: Operation not "
                          "permitted (it needs CAP_SYS_ADMIN in the user namespace "
                          "that owns it)\n")
    assert not util.mounts_at(mnt)


def test_second_daemon_on_same_state_dir_is_refused(utsfs):
    utsfs.mkdir("x")
    before = utsfs.snapshot()
    other_mnt = utsfs.root / "mnt2"
    other_mnt.mkdir()
    second = subprocess.Popen(utsfs.argv(other_mnt), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = second.communicate(timeout=util.EXIT_DEADLINE)
        status = second.returncode
    except subprocess.TimeoutExpired:
        out, status = "", None
    finally:
        util.cleanup(second, other_mnt)
    assert status is not None, "second daemon kept running"
    assert status != 0, f"second daemon exited 0; it printed {out!r}"
    assert out.strip(), "second daemon gave no error message"
    assert not util.mounts_at(other_mnt)
    assert utsfs.snapshot() == before
    assert len(util.mounts_at(utsfs.state)) == 1
    utsfs.mkdir("y")
    assert utsfs.names() == ["x", "y"]


def test_auto_unmount_option_clears_the_mount_when_the_daemon_dies(utsfs):
    """Offered, not the default: libfuse's helper unmounts after a crash."""
    utsfs.options.append("auto_unmount")
    utsfs.restart()
    ident = utsfs.mkdir("x")
    utsfs.kill9()
    deadline = time.monotonic() + 10
    while util.mounts_at(utsfs.mnt) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert util.mounts_at(utsfs.mnt) == []
    # The namespace outlives the daemon and its mount.
    assert util.nsfs_id(utsfs.state / "x") == ident
    utsfs.start()
    assert utsfs.read("x", "id") == f"{ident}\n"


def test_without_auto_unmount_a_killed_daemon_leaves_a_dead_mount(utsfs):
    utsfs.kill9()
    with pytest.raises(OSError) as info:
        os.statvfs(utsfs.mnt)
    assert info.value.errno == errno.ENOTCONN
