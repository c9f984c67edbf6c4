# SPDX-License-Identifier: GPL-2.0-or-later
"""Identity and trust: each attack of the identity-and-trust issue, shown to fail now.

Root without CAP_SYS_ADMIN, /proc paths resolved in the daemon's context,
pids past /proc's rules, state files others could write, and FUSE mounts a
delegated owner makes over the tree.
"""

import array
import errno
import os
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

import util
from conftest import Utsfs
from test_consistency import aio_read  # noqa: F401 - a fixture

OWNER = 65534
STRANGER = 1000


wait_until = util.wait_until


def without_sys_admin(*argv, check=False):
    """argv as uid 0 with every capability but CAP_SYS_ADMIN (a container's root)."""
    return util.run(["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin", "--",
                     *argv], check=check)


# --- root that is not root -----------------------------------------------------

CAPLESS_OPS = {
    "mkdir": lambda fs: ["mkdir", fs.path("new")],
    "rmdir": lambda fs: ["rmdir", fs.path("web")],
    "rm -r": lambda fs: ["rm", "-r", fs.path("web")],
    "rename": lambda fs: ["mv", "-T", fs.path("web"), fs.path("moved")],
    "adopt": lambda fs: ["ln", "-s", "/proc/1/ns/uts", fs.path("host")],
    "chown": lambda fs: ["chown", f"{OWNER}:{OWNER}", fs.path("web")],
    "chmod": lambda fs: ["chmod", "0500", fs.path("web")],
    "write": lambda fs: ["sh", "-c", f"echo changed > {util.q(fs.path('web', 'hostname'))}"],
    "write domainname": lambda fs: ["dd", "of=" + os.fspath(fs.path("web", "domainname")),
                                    "conv=notrunc", "status=none"],
}


@pytest.mark.parametrize("op", sorted(CAPLESS_OPS))
def test_uid_0_without_cap_sys_admin_changes_nothing(utsfs, op):
    utsfs.mkdir("web")
    before = utsfs.snapshot()
    meta = os.stat(utsfs.path("web"))
    res = without_sys_admin(*CAPLESS_OPS[op](utsfs))
    assert res.returncode != 0, f"{op} without CAP_SYS_ADMIN succeeded"
    assert "Operation not permitted" in res.stderr, res.stderr
    assert utsfs.snapshot() == before
    now = os.stat(utsfs.path("web"))
    assert (now.st_uid, now.st_gid, now.st_mode) == (meta.st_uid, meta.st_gid, meta.st_mode)
    assert utsfs.read("web", "hostname") == "web\n"


@pytest.mark.parametrize("op", sorted(CAPLESS_OPS))
@pytest.mark.parametrize("who", ["root", "root without CAP_SYS_ADMIN"])
def test_capabilities_in_a_user_namespace_of_ones_own_count_for_nothing(utsfs, who, op):
    """unshare -U --map-root-user needs no capability and keeps uid 0, with
    every capability over the new user namespace and none over ours."""
    utsfs.mkdir("web")
    before = utsfs.snapshot()
    argv = ["unshare", "-U", "--map-root-user", "--", *CAPLESS_OPS[op](utsfs)]
    res = without_sys_admin(*argv) if who != "root" else util.run(argv, check=False)
    assert res.returncode != 0, f"{op} from a user namespace of its own succeeded"
    assert "Operation not permitted" in res.stderr or "Invalid argument" in res.stderr, \
        res.stderr
    assert utsfs.snapshot() == before
    assert utsfs.read("web", "hostname") == "web\n"


# A container's root without CAP_SYS_ADMIN that switches to another uid and
# keeps the capabilities that get past file modes (ambient, as Docker's
# default set allows): the modes let it by, utsfs must not.
SETUID_KEEPING_CAPS = ["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin", "--",
                       "setpriv", f"--reuid={OWNER}", f"--regid={OWNER}", "--clear-groups",
                       "--inh-caps=+dac_override,+fowner,+chown",
                       "--ambient-caps=+dac_override,+fowner,+chown", "--"]


@pytest.mark.parametrize("op", sorted(CAPLESS_OPS))
def test_another_uid_with_capabilities_that_pass_the_modes_changes_nothing(utsfs, op):
    utsfs.mkdir("web")
    before = utsfs.snapshot()
    meta = os.stat(utsfs.path("web"))
    res = util.run(SETUID_KEEPING_CAPS + CAPLESS_OPS[op](utsfs), check=False)
    assert res.returncode != 0, f"{op} by uid {OWNER} with capabilities succeeded"
    assert "Permission denied" in res.stderr or "Operation not permitted" in res.stderr, \
        res.stderr
    assert utsfs.snapshot() == before
    now = os.stat(utsfs.path("web"))
    assert (now.st_uid, now.st_gid, now.st_mode) == (meta.st_uid, meta.st_gid, meta.st_mode)
    assert utsfs.read("web", "hostname") == "web\n"


def test_another_uid_with_capabilities_writes_no_namespace_of_the_view(utsfs):
    host = util.ns_id("/proc/self/ns/uts")
    hostname = util.q(utsfs.path(".all", str(host), "hostname"))
    res = util.run(SETUID_KEEPING_CAPS + ["sh", "-c", f"exec 3>>{hostname}"], check=False)
    assert res.returncode != 0 and "Permission denied" in res.stderr, res.stderr


def test_a_delegated_owner_with_the_same_capabilities_still_acts_as_owner(utsfs):
    utsfs.mkdir("web")
    os.chown(utsfs.path("web"), OWNER, OWNER)
    util.run(SETUID_KEEPING_CAPS + ["sh", "-c", "echo mine > " +
                                    util.q(utsfs.path("web", "hostname"))])
    assert utsfs.read("web", "hostname") == "mine\n"
    util.run(SETUID_KEEPING_CAPS + ["chmod", "0500", utsfs.path("web")])
    assert stat.S_IMODE(os.stat(utsfs.path("web")).st_mode) == 0o500


@pytest.mark.parametrize("change", ["chgrp to its own group", "chown to itself and a group"])
def test_a_delegated_owner_may_hide_its_name_but_not_give_it_away(utsfs, change):
    utsfs.mkdir("web")
    os.chown(utsfs.path("web"), OWNER, OWNER)
    before = os.stat(utsfs.path("web"))
    argv = {"chgrp to its own group": ["chgrp", "100", utsfs.path("web")],
            "chown to itself and a group": ["chown", f"{OWNER}:100", utsfs.path("web")],
            }[change]
    res = util.run(["setpriv", f"--reuid={OWNER}", f"--regid={OWNER}", f"--groups={OWNER},100",
                    *argv], check=False)
    assert res.returncode != 0, f"the owner's {change} succeeded"
    now = os.stat(utsfs.path("web"))
    assert (now.st_uid, now.st_gid, now.st_mode) == (before.st_uid, before.st_gid,
                                                     before.st_mode)
    # And with CAP_CHOWN kept, still not.
    res = util.run(SETUID_KEEPING_CAPS + ["chown", "1234:1234", utsfs.path("web")],
                   check=False)
    assert res.returncode != 0
    assert os.stat(utsfs.path("web")).st_uid == OWNER


def uring_mkdir_path() -> Path:
    """tests/uring_mkdir.c built, beside the utsfs under test (build/, build-asan/)."""
    beside = Path(util.utsfs_bin()).resolve().parent.parent / "tests" / "uring-mkdir"
    return beside if os.access(beside, os.X_OK) else util.REPO / "build" / "tests" / "uring-mkdir"


def test_an_io_uring_worker_made_before_cap_sys_admin_was_dropped_changes_nothing(utsfs):
    """The worker runs the mkdir with the process's credentials now, but
    capget reads the worker's own, from when it was made."""
    helper = uring_mkdir_path()
    if not os.access(helper, os.X_OK):
        pytest.skip(f"no uring-mkdir helper at {helper}: build tests/uring_mkdir.c")
    before = utsfs.snapshot()
    res = util.run([helper, utsfs.path("via-uring")], check=False)
    assert res.returncode == 1 and "Operation not permitted" in res.stderr, res.stderr
    assert utsfs.snapshot() == before


def test_capabilities_in_a_user_namespace_of_ones_own_reach_no_namespace_of_the_view(utsfs):
    host = util.ns_id("/proc/self/ns/uts")
    hostname = util.q(utsfs.path(".all", str(host), "hostname"))
    res = without_sys_admin("unshare", "-U", "--map-root-user", "--", "sh", "-c",
                            f"exec 3>>{hostname}")
    assert res.returncode != 0 and "Operation not permitted" in res.stderr, res.stderr
    res = without_sys_admin("unshare", "-U", "--map-root-user", "--", "ln", "-s",
                            "/proc/self/ns/uts", utsfs.path("hostns"))
    assert res.returncode != 0 and "Operation not permitted" in res.stderr, res.stderr
    assert utsfs.names() == []


def test_uid_0_without_cap_sys_admin_still_reads_and_lists(utsfs):
    utsfs.mkdir("web")
    res = without_sys_admin("sh", "-c", f"ls {util.q(utsfs.mnt)} && cat "
                            f"{util.q(utsfs.path('web', 'hostname'))}", check=True)
    assert res.stdout == "web\nweb\n"


def test_a_delegated_owner_needs_no_capability(utsfs):
    utsfs.mkdir("web")
    os.chown(utsfs.path("web"), OWNER, OWNER)
    util.as_user(OWNER, "write", utsfs.path("web", "hostname"), "mine\n")
    assert util.inside(utsfs.state / "web") == "mine"


class PidNamespacedUtsfs(Utsfs):
    """A daemon in a PID namespace of its own: callers on the host are invisible
    to it, and FUSE tells it thread id 0 for them."""

    def argv(self, mnt=None):
        return ["unshare", "--pid", "--fork", "--kill-child", *super().argv(mnt)]

    def check_threads_in_host_uts(self):
        pass


@pytest.fixture
def invisible_callers(tmp_path):
    root = tmp_path / "pidns"
    root.mkdir()
    fs = PidNamespacedUtsfs(root)
    try:
        fs.start()
        yield fs
    finally:
        fs.teardown()


def test_a_caller_the_daemon_cannot_see_gets_eperm_for_roots_operations(invisible_callers):
    fs = invisible_callers
    before = fs.snapshot()
    with pytest.raises(PermissionError):
        os.mkdir(fs.path("web"))
    with pytest.raises(PermissionError):
        os.symlink("/proc/self/ns/uts", fs.path("self"))
    assert fs.snapshot() == before
    # Reading needs nobody's power.
    assert fs.names() == []


# --- adoption resolves the target as the caller sees it ------------------------


def test_proc_self_is_the_callers_own_namespace_not_the_daemons(utsfs):
    util.sh(f"unshare --uts sh -c 'hostname inner && ln -s /proc/self/ns/uts "
            f"{util.q(utsfs.path('mine'))}'")
    util.sh(f"unshare --uts sh -c 'hostname inner2 && ln -s /proc/thread-self/ns/uts "
            f"{util.q(utsfs.path('thread'))}'")
    assert utsfs.read("mine", "hostname") == "inner\n"
    assert utsfs.read("thread", "hostname") == "inner2\n"
    host = util.host_names()
    utsfs.write("mine", "hostname", b"changed\n")
    assert util.inside(utsfs.state / "mine") == "changed"
    assert util.host_names() == host
    assert utsfs.read("mine", "id") != f"{util.nsfs_id('/proc/self/ns/uts')}\n"


def test_proc_pid_is_a_pid_of_the_callers_pid_namespace(utsfs):
    # In a PID namespace with its own /proc, the sleep is PID 2 there: on the
    # host PID 2 is kthreadd, in the host's UTS namespace.
    link = util.q(utsfs.path("box"))
    util.sh("unshare --pid --fork --mount-proc --uts sh -c "
            f"'hostname pidns; sleep 30 & pid=$!; ln -s /proc/$pid/ns/uts {link}; "
            "kill $pid'")
    assert utsfs.read("box", "hostname") == "pidns\n"


def test_proc_self_in_a_pid_namespace_that_kept_the_hosts_proc_is_still_the_caller(utsfs):
    # Without --mount-proc, /proc is the host's: there the caller is its host
    # PID, and its innermost PID (1, 2, ...) is some host process.
    link = util.q(utsfs.path("kept-proc"))
    util.sh("unshare --pid --fork --uts sh -c "
            f"'hostname keptproc && ln -s /proc/self/ns/uts {link}'")
    assert utsfs.read("kept-proc", "hostname") == "keptproc\n"
    link = util.q(utsfs.path("kept-proc-thread"))
    util.sh("unshare --pid --fork --uts sh -c "
            f"'hostname keptproc2 && ln -s /proc/thread-self/ns/uts {link}'")
    assert utsfs.read("kept-proc-thread", "hostname") == "keptproc2\n"
    # And with a /proc of its own, the inner PID.
    link = util.q(utsfs.path("own-proc"))
    util.sh("unshare --pid --fork --mount-proc --uts sh -c "
            f"'hostname ownproc && ln -s /proc/self/ns/uts {link}'")
    assert utsfs.read("own-proc", "hostname") == "ownproc\n"


def test_plain_proc_symlinks_are_walked_as_the_caller_not_as_the_daemon(utsfs):
    """/proc/net is a plain symlink to self/net: followed by the daemon,
    /proc/net/../ns/uts was the daemon's own, the host's."""
    link = util.q(utsfs.path("via-net"))
    util.sh(f"unshare --uts sh -c 'hostname vianet && ln -s /proc/net/../ns/uts {link}'")
    assert utsfs.read("via-net", "hostname") == "vianet\n"


def symlink_in_chroot(root, target, link) -> int:
    """symlink(2) from a child chrooted to root: 0, or the errno it failed with."""
    pid = os.fork()
    if pid == 0:
        try:
            os.chroot(root)
            os.symlink(target, link)
            os._exit(0)
        except OSError as e:
            os._exit(e.errno)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_chrooted_caller_names_what_its_own_root_holds(utsfs, tmp_path):
    proc = utsfs.spawn(["unshare", "--uts", "sh", "-c", "hostname jailed && exec sleep 60"])
    nsfile = f"/proc/{proc.pid}/ns/uts"
    wait_until(lambda: util.inside(nsfile) == "jailed", "the jailed namespace")
    jail = tmp_path / "jail"
    (jail / "m").mkdir(parents=True)
    (jail / "nsfile").touch()
    mounts = [jail / "nsfile", jail / "m"]
    util.run(["mount", "--bind", nsfile, jail / "nsfile"])
    try:
        util.run(["mount", "--bind", utsfs.mnt, jail / "m"])
        # /nsfile exists only inside the jail; outside it the path names nothing.
        assert symlink_in_chroot(jail, "/nsfile", "/m/jailed") == 0
        assert utsfs.read("jailed", "hostname") == "jailed\n"
        # '..' never climbs out of the caller's root.
        assert symlink_in_chroot(jail, "/../../../nsfile", "/m/up") == 0
        assert utsfs.read("up", "hostname") == "jailed\n"
    finally:
        for m in reversed(mounts):
            subprocess.run(["umount", "-l", m])


# --- pids ----------------------------------------------------------------------


def test_pids_shows_others_only_their_own_processes(utsfs):
    utsfs.mkdir("box")
    os.chown(utsfs.path("box"), OWNER, OWNER)
    rootp = utsfs.spawn(["nsenter", f"--uts={utsfs.state / 'box'}", "sleep", "60"])
    mine = utsfs.spawn(["nsenter", f"--uts={utsfs.state / 'box'}", "setpriv",
                        f"--reuid={OWNER}", f"--regid={OWNER}", "--clear-groups", "sleep", "60"])
    wait_until(lambda: utsfs.read("box", "pids") == f"{min(rootp.pid, mine.pid)}\n"
               f"{max(rootp.pid, mine.pid)}\n", "both processes listed for root")
    # /proc agrees: the stranger cannot readlink root's ns/uts.
    with pytest.raises(PermissionError):
        util.as_user(STRANGER, "readlink", f"/proc/{rootp.pid}/ns/uts")
    assert util.as_user(OWNER, "read", utsfs.path("box", "pids")) == f"{mine.pid}\n"
    assert util.as_user(STRANGER, "read", utsfs.path("box", "pids")) == ""


def test_pids_is_one_snapshot_per_open_and_seek_end_finds_its_end(utsfs):
    utsfs.mkdir("box")
    first = utsfs.spawn(["nsenter", f"--uts={utsfs.state / 'box'}", "sleep", "60"])
    wait_until(lambda: utsfs.read("box", "pids") == f"{first.pid}\n", "the first process")
    with open(utsfs.path("box", "pids"), "rb", buffering=0) as f:
        assert os.lseek(f.fileno(), 0, os.SEEK_END) == len(f"{first.pid}\n")
        second = utsfs.spawn(["nsenter", f"--uts={utsfs.state / 'box'}", "sleep", "60"])
        wait_until(lambda: str(second.pid) in utsfs.read("box", "pids"), "the second process")
        # The open file keeps what it saw at open.
        assert os.pread(f.fileno(), 4096, 0) == f"{first.pid}\n".encode()
    # stat by path tells a page, as sysfs does, whatever the list.
    assert os.stat(utsfs.path("box", "pids")).st_size == 4096


@pytest.mark.parametrize("inside", [0, 1, 1400], ids=["empty", "one", "longer than a page"])
def test_cp_and_tools_that_look_for_holes_copy_pids_exactly(utsfs, tmp_path, inside):
    """st_size says 4096 (as sysfs); SEEK_DATA/SEEK_HOLE must agree, or cp
    pads the copy with NULs up to it."""
    utsfs.mkdir("box")
    many = None
    if inside:
        many = utsfs.spawn(["nsenter", f"--uts={utsfs.state / 'box'}", "sh", "-c",
                            f"for i in $(seq {inside}); do sleep 60 & done; wait"])
        wait_until(lambda: len(utsfs.read("box", "pids").split()) == inside + 1,
                   "the processes inside")
    try:
        for how in (["cp"], ["cp", "--sparse=always"], ["cp", "--sparse=never"]):
            copy = tmp_path / f"pids-{'-'.join(how)}"
            util.run(how + [utsfs.path("box", "pids"), copy])
            text = copy.read_bytes()
            assert b"\0" not in text, how
            assert text.decode().split() == utsfs.read("box", "pids").split(), how
    finally:
        if many is not None:
            util.run(["pkill", "-P", str(many.pid)], check=False)
    util.run(["cp", utsfs.path("box", "hostname"), tmp_path / "hostname"])
    assert (tmp_path / "hostname").read_text() == "box\n"


def test_stat_of_pids_never_scans_proc(utsfs):
    utsfs.mkdir("box")
    if not shutil.which("strace"):
        pytest.skip("needs strace (tests/install-test-deps.sh installs it)")
    trace = utsfs.root / "trace"
    tracer = utsfs.spawn(["strace", "-f", "-qq", "-e", "trace=getdents64", "-o", trace,
                          "-p", str(utsfs.pid)], stderr=subprocess.DEVNULL)
    wait_until(lambda: trace.exists() or tracer.poll() is not None, "strace to attach")
    time.sleep(0.3)
    for _ in range(50):
        os.stat(utsfs.path("box", "pids"))
    util.kill_and_wait(tracer)
    assert "getdents64" not in trace.read_text(), "a stat of pids listed a directory"
    tracer = utsfs.spawn(["strace", "-f", "-qq", "-e", "trace=getdents64", "-o", trace,
                          "-p", str(utsfs.pid)], stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    utsfs.read("box", "pids")
    util.kill_and_wait(tracer)
    assert "getdents64" in trace.read_text(), "opening pids did not scan /proc"


def test_a_long_pids_list_reads_whole_with_tail_and_asynchronous_direct_io(utsfs, aio_read):
    utsfs.mkdir("box")
    many = utsfs.spawn(["nsenter", f"--uts={utsfs.state / 'box'}", "sh", "-c",
                        "for i in $(seq 1400); do sleep 60 & done; wait"])
    # Over a page even where PIDs are still short (a fresh boot: 3 or 4 digits).
    wait_until(lambda: utsfs.read("box", "pids").count("\n") >= 1401, "1,400 processes")
    text = utsfs.read("box", "pids")
    assert len(text) > 4096
    assert util.run(["tail", "-n", "1", utsfs.path("box", "pids")]).stdout == \
        text.splitlines(keepends=True)[-1]
    aio = util.run([aio_read, utsfs.path("box", "pids"), "65536"]).stdout
    assert aio == text
    util.run(["pkill", "-P", str(many.pid)], check=False)


# --- state files others could write ---------------------------------------------


def untrusted_copies(directory: Path, base: str):
    return sorted(p.name for p in directory.iterdir()
                  if p.name.startswith(f".untrusted-{base}-"))


@pytest.mark.parametrize("how", ["mode 0666", "owned by another user", "group-writable dir"])
def test_a_conf_others_could_write_is_set_aside_not_trusted(utsfs, how):
    utsfs.mkdir("web")
    utsfs.stop()
    conf = utsfs.state / util.CONF
    text = (f"[web]\nid={util.ns_id(utsfs.state / 'web')}\nboot={util.boot_id()}\n"
            f"uid={STRANGER}\ngid={STRANGER}\nmode=0555\n")
    conf.write_text(text)
    conf.chmod(0o600)
    if how == "mode 0666":
        conf.chmod(0o666)
    elif how == "owned by another user":
        os.chown(conf, STRANGER, STRANGER)
    else:
        utsfs.state.chmod(0o775)
    utsfs.output.allow(r"^.*not trusting .*\n")
    try:
        utsfs.start()
    finally:
        utsfs.state.chmod(0o755)
    st = os.stat(utsfs.path("web"))
    assert (st.st_uid, st.st_gid) == (0, 0), "an untrusted file made someone an owner"
    aside = untrusted_copies(utsfs.state, util.CONF)
    assert len(aside) == 1
    assert (utsfs.state / aside[0]).read_text() == text, "the file set aside was changed"
    assert "not trusting" in utsfs.log.read_text()
    # Set aside, never overwritten: a second start keeps both.
    utsfs.stop()
    conf.write_text(text)
    conf.chmod(0o666)
    utsfs.start()
    assert len(untrusted_copies(utsfs.state, util.CONF)) == 2


def test_a_trusted_conf_is_still_used(utsfs):
    utsfs.mkdir("web")
    os.chown(utsfs.path("web"), OWNER, OWNER)
    utsfs.restart()
    assert os.stat(utsfs.path("web")).st_uid == OWNER
    assert untrusted_copies(utsfs.state, util.CONF) == []


def test_a_record_in_a_directory_others_can_write_is_set_aside(utsfs, tmp_path):
    records = tmp_path / "records"
    records.mkdir()
    record = records / "record"
    record.write_text("[ghost]\nhostname=ghost\n")
    record.chmod(0o600)
    records.chmod(0o777)
    utsfs.stop()
    utsfs.options.append(f"restore={record}")
    utsfs.output.allow(r"^.*not trusting .*\n")
    utsfs.start()
    assert utsfs.names() == [], "a name came back from an untrusted record"
    assert len(untrusted_copies(records, "record")) == 1
    # Nor is a record written there: whoever may write the directory could
    # swap what root writes into for a symlink elsewhere.
    utsfs.mkdir("web")
    utsfs.stop()
    assert not record.exists()


def test_a_record_under_a_directory_a_user_made_first_is_never_written(utsfs, tmp_path):
    public = tmp_path / "public"
    public.mkdir()
    public.chmod(0o1777)
    theirs = public / "a"
    theirs.mkdir()
    os.chown(theirs, STRANGER, STRANGER)
    record = theirs / "b" / "record.conf"
    utsfs.stop()
    utsfs.options.append(f"restore={record}")
    utsfs.output.allow(r"^.*not trusting .*\n")
    utsfs.start()
    utsfs.mkdir("web")
    utsfs.stop()
    assert not record.exists()
    assert "not trusting" in utsfs.log.read_text()


def test_names_taken_ahead_for_setting_aside_do_not_stop_a_start(utsfs, tmp_path):
    public = tmp_path / "public"
    public.mkdir()
    public.chmod(0o1777)
    record = public / "rec.conf"
    record.write_text("[ghost]\nhostname=ghost\n")
    os.chown(record, STRANGER, STRANGER)
    now = int(time.time())
    for t in range(now - 2, now + 30):
        for n in range(100):
            (public / f".untrusted-rec.conf-{t}-{n}").touch()
    utsfs.stop()
    utsfs.options.append(f"restore={record}")
    utsfs.output.allow(r"^.*not trusting .*\n")
    utsfs.start()
    assert utsfs.names() == []
    aside = [p for p in public.iterdir() if p.name.startswith(".untrusted-rec.conf-")
             and p.stat().st_size > 0]
    assert len(aside) == 1 and aside[0].read_text() == "[ghost]\nhostname=ghost\n"


# --- FUSE mounts over the tree by a delegated owner -------------------------------


def fusermount_as(uid, target):
    """fusermount3 as uid, as a FUSE file system run by that user would call it:
    the /dev/fuse fd it sends back is closed at once (a dead mount).
    Returns (exit status, stderr)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours, theirs:
        res = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                              "fusermount3", "-o", "rw,nosuid,nodev", "--", target],
                             env={"_FUSE_COMMFD": str(theirs.fileno()), "PATH": os.defpath},
                             pass_fds=[theirs.fileno()], capture_output=True, text=True,
                             timeout=util.COMMAND_DEADLINE)
        if res.returncode == 0:
            _, ancillary, _, _ = ours.recvmsg(1, socket.CMSG_LEN(4))
            for _, _, data in ancillary:
                fds = array.array("i")
                fds.frombytes(data[:4])
                os.close(fds[0])
    return res.returncode, res.stderr


def test_an_owner_cannot_mount_over_its_namespace_directory(utsfs):
    utsfs.mkdir("web")
    os.chown(utsfs.path("web"), OWNER, OWNER)
    assert stat.S_IMODE(os.stat(utsfs.path("web")).st_mode) & 0o222 == 0
    status, err = fusermount_as(OWNER, utsfs.path("web"))
    assert status != 0 and "no write access" in err
    assert [m.fstype for m in util.mounts_under(utsfs.mnt)] == [util.FSTYPE]


def test_a_mount_over_hostname_neither_keeps_the_name_nor_hides_the_namespace(utsfs):
    """What such a mount can do (README): hide the file in that mount
    namespace and make rm -r fail; rmdir still removes the name."""
    utsfs.mkdir("web")
    os.chown(utsfs.path("web"), OWNER, OWNER)
    status, err = fusermount_as(OWNER, utsfs.path("web", "hostname"))
    assert status == 0, err
    with pytest.raises(OSError) as info:
        utsfs.read("web", "hostname")
    assert info.value.errno in (errno.EACCES, errno.ENOTCONN)
    # The namespace itself is untouched, and reachable without the tree.
    assert util.inside(utsfs.state / "web") == "web"
    assert util.run(["rm", "-r", utsfs.path("web")], check=False).returncode != 0
    assert utsfs.names() == ["web"]
    os.rmdir(utsfs.path("web"))
    assert utsfs.names() == [] and utsfs.state_names() == []
    # The dead mount is left on the removed directory, which keeps a plain
    # umount of MOUNT busy; utsfs itself, stopped, detaches its mount lazily.
    assert util.run(["umount", utsfs.mnt], check=False).returncode != 0
    utsfs.stop(signal.SIGTERM)
