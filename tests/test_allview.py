# SPDX-License-Identifier: GPL-2.0-or-later
"""MOUNT/.all: every UTS namespace on the host, named or not, live and browsable."""

import errno
import os
import re
import subprocess
import time

import pytest

import util

STRANGER = 65534


wait_until = util.wait_until


def contained(utsfs, hostname, user=None):
    """A process in a UTS namespace of its own (as `unshare -u` makes one); its 64-bit id."""
    argv = ["unshare", "--uts", "sh", "-c", f"hostname {hostname} && exec sleep 60"]
    if user is not None:
        argv = ["unshare", "--uts", "sh", "-c",
                f"hostname {hostname} && exec setpriv --reuid={user} --regid={user} "
                "--clear-groups sleep 60"]
    proc = utsfs.spawn(argv)
    nsfile = f"/proc/{proc.pid}/ns/uts"
    wait_until(lambda: os.stat(nsfile).st_ino != util.nsfs_id("/proc/self/ns/uts")
               and util.inside(nsfile) == hostname
               and (user is None or os.stat(f"/proc/{proc.pid}").st_uid == user),
               f"the process of {hostname}")
    return proc, util.ns_id(nsfile)


def view(utsfs, *parts):
    return utsfs.path(".all", *map(str, parts))


def read(path):
    with open(path) as f:
        return f.read()


def ended(utsfs, ident) -> bool:
    """Whether namespace ident has left the view: on a busy host, other
    processes' namespaces end while a test looks (ids are never reused)."""
    return not os.path.lexists(view(utsfs, ident))


def test_the_view_is_a_hidden_entry_ls_does_not_show(utsfs):
    utsfs.mkdir("web")
    assert util.run(["ls", utsfs.mnt]).stdout == "web\n"
    assert ".all" in util.run(["ls", "-a", utsfs.mnt]).stdout.split()
    st = os.stat(view(utsfs))
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o555)


def test_unshared_processes_appear_with_their_hostname_pids_and_id(utsfs):
    a, ida = contained(utsfs, "box-a")
    b, idb = contained(utsfs, "box-b")
    listed = os.listdir(view(utsfs))
    assert str(ida) in listed and str(idb) in listed
    for proc, ident, host in ((a, ida, "box-a"), (b, idb, "box-b")):
        assert read(view(utsfs, ident, "hostname")) == f"{host}\n"
        assert read(view(utsfs, ident, "pids")) == f"{proc.pid}\n"
        assert read(view(utsfs, ident, "nsid")) == f"{ident}\n"
        ino = os.stat(f"/proc/{proc.pid}/ns/uts").st_ino
        assert read(view(utsfs, ident, "id")) == f"{ino}\n"
        assert os.stat(view(utsfs, ident)).st_ino == ino
        assert read(view(utsfs, ident, "names")) == ""
        assert not os.path.lexists(view(utsfs, ident, "ns"))
    # The host's own namespace is there too.
    host = util.ns_id("/proc/self/ns/uts")
    assert read(view(utsfs, host, "hostname")) == util.host_names()[0]
    assert str(os.getpid()) in read(view(utsfs, host, "pids")).split()


def test_grep_over_the_view_answers_for_the_whole_host(utsfs):
    _, ida = contained(utsfs, "grep-a")
    _, idb = contained(utsfs, "grep-b")
    res = util.sh(f"cd {util.q(view(utsfs))} && grep . */hostname", check=False)
    hostnames = {line.split(":", 1)[1] for line in res.stdout.splitlines()}
    assert {"grep-a", "grep-b", util.host_names()[0].strip()} <= hostnames
    # grep complains only of namespaces (of other processes on the host)
    # that ended between the shell's listing and grep's open.
    for line in res.stderr.splitlines():
        gone = re.fullmatch(r"grep: (\d+)/hostname: No such file or directory", line)
        assert gone and int(gone.group(1)) not in (ida, idb) and ended(utsfs, gone.group(1)), \
            line
    assert res.returncode == (2 if res.stderr else 0)


def test_a_namespace_held_only_by_a_bind_mount_appears(utsfs, tmp_path):
    proc, ident = contained(utsfs, "bound")
    holder = tmp_path / "holder"
    holder.touch()
    util.run(["mount", "--bind", f"/proc/{proc.pid}/ns/uts", holder])
    try:
        util.kill_and_wait(proc)
        assert str(ident) in os.listdir(view(utsfs))
        assert read(view(utsfs, ident, "hostname")) == "bound\n"
        assert read(view(utsfs, ident, "pids")) == ""
    finally:
        util.run(["umount", holder])
    assert str(ident) not in os.listdir(view(utsfs))


def test_every_namespace_lsns_lists_is_in_the_view(utsfs):
    proc, _ = contained(utsfs, "lsns-a")
    res = util.run(["lsns", "-t", "uts", "-n", "-o", "NS,PID"])
    # Each namespace's inode number, and the lowest PID in it.
    expected = {int(ns): int(pid) for ns, pid in (line.split() for line in res.stdout.splitlines())}
    got = set()
    for n in os.listdir(view(utsfs)):
        try:
            got.add(os.stat(view(utsfs, n)).st_ino)
        except FileNotFoundError:
            assert ended(utsfs, n)  # another process's namespace, ended since the listing
    assert os.stat(f"/proc/{proc.pid}/ns/uts").st_ino in got
    # What lsns saw and the view lacks must have ended meanwhile (other
    # processes on the host): the process lsns found it by has left it.
    # (Inode numbers are reused at once: a second lsns could see another.)
    for ns in expected.keys() - got:
        try:
            still = os.stat(f"/proc/{expected[ns]}/ns/uts").st_ino == ns
        except FileNotFoundError:
            still = False
        assert not still, f"missing from .all: {ns}, the namespace of {expected[ns]}"


def test_a_namespace_whose_last_process_exits_is_gone_at_once(utsfs):
    proc, ident = contained(utsfs, "short")
    entry = view(utsfs, ident)
    fd = os.open(view(utsfs, ident, "hostname"), os.O_RDONLY)
    try:
        assert os.pread(fd, 100, 0) == b"short\n"
        util.kill_and_wait(proc)
        with pytest.raises(FileNotFoundError):
            os.stat(entry)
        with pytest.raises(OSError) as info:
            os.pread(fd, 100, 0)
        assert info.value.errno == errno.ENOENT
    finally:
        os.close(fd)
    assert str(ident) not in os.listdir(view(utsfs))


def test_values_are_current_and_root_writes_them(utsfs):
    proc, ident = contained(utsfs, "before")
    nsfile = f"/proc/{proc.pid}/ns/uts"
    util.set_inside(nsfile, "inside")
    assert read(view(utsfs, ident, "hostname")) == "inside\n"
    with open(view(utsfs, ident, "hostname"), "w") as f:
        f.write("written\n")
    assert util.inside(nsfile) == "written"
    with pytest.raises(OSError) as info:
        with open(view(utsfs, ident, "hostname"), "w") as f:
            f.write("-bad\n")
    assert info.value.errno == errno.EINVAL
    assert util.inside(nsfile) == "written"


def test_a_named_namespace_shows_its_names_and_ns(utsfs):
    utsfs.mkdir("web")
    ident = util.ns_id(utsfs.state / "web")
    os.rename(utsfs.path("web"), utsfs.path("site"))
    assert read(view(utsfs, ident, "names")) == "site\n"
    assert os.readlink(view(utsfs, ident, "ns")) == str(utsfs.state / "site")
    # The view's directories are never the names' own nodes.
    assert os.stat(view(utsfs, ident)).st_ino == os.stat(utsfs.path("site")).st_ino
    assert read(view(utsfs, ident, "hostname")) == read(utsfs.path("site", "hostname"))


@pytest.mark.parametrize("form", ["relative", "absolute"])
def test_ln_s_from_the_view_names_it_and_keeps_it_alive(utsfs, form):
    proc, ident = contained(utsfs, "adopted")
    target = f".all/{ident}" if form == "relative" else str(view(utsfs, ident))
    os.symlink(target, utsfs.path("kept"))
    assert utsfs.names() == ["kept"]
    util.kill_and_wait(proc)
    assert read(utsfs.path("kept", "hostname")) == "adopted\n"
    assert read(view(utsfs, ident, "names")) == "kept\n"
    utsfs.restart()
    assert read(utsfs.path("kept", "hostname")) == "adopted\n"
    assert util.ns_id(utsfs.state / "kept") == ident


def test_ln_s_from_the_view_of_a_dead_or_unknown_id_is_enoent(utsfs):
    proc, ident = contained(utsfs, "dying")
    util.kill_and_wait(proc)
    before = utsfs.snapshot()
    for target in (f".all/{ident}", ".all/999999999999"):
        with pytest.raises(FileNotFoundError):
            os.symlink(target, utsfs.path("late"))
    # Other relative targets are still no namespace.
    with pytest.raises(PermissionError):
        os.symlink("all/1", utsfs.path("late"))
    assert utsfs.snapshot() == before


def test_others_see_exactly_the_namespaces_of_their_processes_and_write_nothing(utsfs):
    _, theirs = contained(utsfs, "theirs", user=STRANGER)
    _, roots = contained(utsfs, "roots")
    seen = set(util.as_user(STRANGER, "listdir", view(utsfs)))
    assert str(theirs) in seen and str(roots) not in seen
    # The host's is seen through the listing process itself, gone by now.
    # Others' may end meanwhile (STRANGER's processes of other tests on the
    # host): a namespace that left the view, a process that exited, is skipped.
    for ident in seen - {str(util.ns_id("/proc/self/ns/uts"))}:
        try:
            pids = read(view(utsfs, ident, "pids")).split()
        except FileNotFoundError:
            assert ident != str(theirs) and ended(utsfs, ident)
            continue
        runs_as_stranger = []
        for p in pids:
            try:
                runs_as_stranger.append(
                    os.stat(f"/proc/{p}").st_uid == STRANGER or
                    util.read_text(f"/proc/{p}/status").count(f"\t{STRANGER}\t") > 0)
            except (FileNotFoundError, ProcessLookupError):
                pass
        assert any(runs_as_stranger) or (ident != str(theirs) and ended(utsfs, ident)), ident
    with pytest.raises(FileNotFoundError):
        util.as_user(STRANGER, "read", view(utsfs, roots, "hostname"))
    assert util.as_user(STRANGER, "read", view(utsfs, theirs, "hostname")) == "theirs\n"
    with pytest.raises(PermissionError):
        util.as_user(STRANGER, "write", view(utsfs, theirs, "hostname"), "mine\n")


def test_rm_rf_of_the_view_removes_nothing(utsfs):
    utsfs.mkdir("web")
    contained(utsfs, "survivor")
    before = utsfs.snapshot()
    res = util.run(["rm", "-rf", view(utsfs)], check=False)
    assert res.returncode != 0 and "Operation not permitted" in res.stderr
    res = util.run(["find", view(utsfs), "-delete"], check=False)
    assert res.returncode != 0
    assert utsfs.snapshot() == before
    for op in (lambda: os.rmdir(view(utsfs)),
               lambda: os.rename(view(utsfs), utsfs.path("moved")),
               lambda: os.chmod(view(utsfs), 0o755),
               lambda: os.mkdir(view(utsfs, "new"))):
        with pytest.raises(PermissionError):
            op()
    assert utsfs.snapshot() == before


def test_root_without_cap_sys_admin_cannot_write_through_the_view(utsfs):
    proc, ident = contained(utsfs, "guarded")
    res = util.run(["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin", "--",
                    "sh", "-c", f"echo x > {util.q(view(utsfs, ident, 'hostname'))}"],
                   check=False)
    assert res.returncode != 0
    assert util.inside(f"/proc/{proc.pid}/ns/uts") == "guarded"


def test_the_view_is_not_cached_by_the_kernel(utsfs):
    """No event tells of a namespace's end: a listing right after one is gone lacks it."""
    proc, ident = contained(utsfs, "cached")
    assert str(ident) in os.listdir(view(utsfs))
    os.stat(view(utsfs, ident, "hostname"))
    util.kill_and_wait(proc)
    assert str(ident) not in os.listdir(view(utsfs))
    assert not os.path.exists(view(utsfs, ident, "hostname"))


def test_the_host_hostname_is_untouched(utsfs):
    host = util.host_names()
    contained(utsfs, "elsewhere")
    util.sh(f"grep -r . {util.q(view(utsfs))} > /dev/null || true")
    assert util.host_names() == host


def test_a_name_hidden_with_chmod_hides_its_namespace_in_the_view_too(utsfs):
    """A process of theirs in it is not enough: the view must not show a
    hostname that chmod 0500 hid from them."""
    _, ident = contained(utsfs, "hidden1", user=STRANGER)
    os.symlink(f".all/{ident}", utsfs.path("secret"))
    os.chmod(utsfs.path("secret"), 0o500)
    with pytest.raises(PermissionError):
        util.as_user(STRANGER, "read", utsfs.path("secret", "hostname"))
    with pytest.raises(FileNotFoundError):
        util.as_user(STRANGER, "read", view(utsfs, ident, "hostname"))
    assert str(ident) not in util.as_user(STRANGER, "listdir", view(utsfs))
    # Their group may search it: then it is not hidden from them.
    os.chown(utsfs.path("secret"), 0, STRANGER)
    os.chmod(utsfs.path("secret"), 0o550)
    assert util.as_user(STRANGER, "read", view(utsfs, ident, "hostname")) == "hidden1\n"
    os.chmod(utsfs.path("secret"), 0o500)
    # A second name that anyone may search shows what it shows anyway.
    os.symlink(f".all/{ident}", utsfs.path("public"))
    assert util.as_user(STRANGER, "read", view(utsfs, ident, "hostname")) == "hidden1\n"
    assert str(ident) in util.as_user(STRANGER, "listdir", view(utsfs))


def test_a_user_sees_the_namespace_of_the_command_that_asks_without_a_listing(utsfs):
    """The asking process is one of theirs, though no scan has seen it."""
    host = util.ns_id("/proc/self/ns/uts")
    os.listdir(view(utsfs))
    for _ in range(3):
        assert util.as_user(STRANGER, "read", view(utsfs, host, "hostname")) == \
            util.host_names()[0]


def test_a_namespace_whose_scanned_processes_left_is_found_by_the_ones_that_entered_since(utsfs):
    first, ident = contained(utsfs, "moved-on")
    assert str(ident) in os.listdir(view(utsfs))
    later = utsfs.spawn(["nsenter", f"--uts=/proc/{first.pid}/ns/uts", "sleep", "60"])
    wait_until(lambda: util.nsfs_id(f"/proc/{later.pid}/ns/uts") ==
               util.nsfs_id(f"/proc/{first.pid}/ns/uts"), "the second process")
    util.kill_and_wait(first)
    # No listing in between: the lookup itself looks again.
    assert read(view(utsfs, ident, "hostname")) == "moved-on\n"
    assert read(view(utsfs, ident, "pids")) == f"{later.pid}\n"
    os.symlink(f".all/{ident}", utsfs.path("kept"))
    assert util.ns_id(utsfs.state / "kept") == ident


def test_an_id_has_one_spelling(utsfs):
    _, ident = contained(utsfs, "spelled")
    before = utsfs.snapshot()
    for alias in (f"0{ident}", f"00{ident}", f"+{ident}", f" {ident}", f"{ident} ", "0"):
        assert not os.path.lexists(view(utsfs, alias)), alias
        with pytest.raises(PermissionError):
            os.symlink(f".all/{alias}", utsfs.path("alias"))
    assert utsfs.snapshot() == before


def test_an_absolute_target_means_what_it_means_to_the_caller(utsfs, tmp_path):
    """The mount as the caller reaches it: at another mount point, through a
    symlink, or its .all alone; nothing where the path is not this mount."""
    _, ident = contained(utsfs, "seen")
    other = tmp_path / "other"
    other.mkdir()
    util.run(["mount", "--bind", utsfs.mnt, other])
    try:
        os.symlink(f"{other}/.all/{ident}", utsfs.path("via-bind"))
    finally:
        util.run(["umount", other])
    util.run(["mount", "--bind", view(utsfs), other])
    try:
        os.symlink(f"{other}/{ident}/", utsfs.path("via-view-bind"))
    finally:
        util.run(["umount", other])
    link = tmp_path / "link"
    os.symlink(utsfs.mnt, link)
    os.symlink(f"{link}/.all/{ident}", utsfs.path("via-symlink"))
    # Any spelling the kernel reads the same: ".", doubled slashes.
    os.symlink(f"{utsfs.mnt}/./.all//./{ident}/", utsfs.path("via-dots"))
    os.symlink(f"./.all//{ident}", utsfs.path("via-relative-dots"))
    assert utsfs.names() == ["via-bind", "via-dots", "via-relative-dots", "via-symlink",
                             "via-view-bind"]
    for name in utsfs.names():
        assert util.ns_id(utsfs.state / name) == ident
    # Where the daemon's mount point is an empty directory to the caller,
    # the same text names nothing.
    mnt = util.q(utsfs.mnt)
    script = (f"mount --bind {mnt} {util.q(other)} && umount {mnt} && "
              f"ln -s {mnt}/.all/{ident} {util.q(other)}/elsewhere")
    res = util.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                   check=False)
    assert res.returncode != 0 and "No such file or directory" in res.stderr, res.stderr
    assert len(utsfs.names()) == 5


def test_a_directory_kept_in_the_view_is_refused_once_a_name_hides_it(utsfs):
    """As in the named tree: a working directory kept inside no longer
    lets its owner read what a name now hides."""
    _, ident = contained(utsfs, "kept", user=STRANGER)
    os.symlink(f".all/{ident}", utsfs.path("na"))
    # Reads for a second, while root looks at the same directory: what root
    # may see must never leak to the user through the inode they share.
    reader = """
import os, sys, time
os.chdir(sys.argv[1])
print("in", flush=True)
sys.stdin.readline()
seen, end = set(), time.time() + 1
while time.time() < end:
    for what in ("hostname", "."):
        try:
            seen.add(open(what).read() if what != "." else str(sorted(os.listdir(what))))
        except OSError as e:
            seen.add(e.strerror)
print(sorted(seen), flush=True)
"""
    user = subprocess.Popen(["setpriv", f"--reuid={STRANGER}", f"--regid={STRANGER}",
                             "--clear-groups", "/usr/bin/python3", "-c", reader,
                             view(utsfs, ident)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert user.stdout.readline() == "in\n"
        os.chmod(utsfs.path("na"), 0o500)
        user.stdin.write("go\n")
        user.stdin.flush()
        end = time.monotonic() + 1.2
        while time.monotonic() < end:
            os.stat(view(utsfs, ident))
            read(view(utsfs, ident, "hostname"))
        out, err = user.communicate(timeout=util.COMMAND_DEADLINE)
    finally:
        util.kill_and_wait(user)
    assert out.strip() == "['Permission denied']", (out, err)


@pytest.mark.parametrize("mode, shown", [(0o505, False), (0o550, True)],
                         ids=["group denied", "group allowed"])
def test_a_name_hides_by_every_supplementary_group_however_many(utsfs, mode, shown):
    _, ident = contained(utsfs, "grouped", user=STRANGER)
    os.symlink(f".all/{ident}", utsfs.path("na"))
    os.chown(utsfs.path("na"), 0, 1234)
    os.chmod(utsfs.path("na"), mode)
    groups = ",".join([str(g) for g in range(2000, 2070)] + ["1234"])
    res = util.run(["setpriv", f"--reuid={STRANGER}", f"--regid={STRANGER}",
                    f"--groups={groups}", "cat", view(utsfs, ident, "hostname")], check=False)
    assert (res.stdout == "grouped\n") == shown, (res.stdout, res.stderr)


def test_stacked_bind_mounts_show_each_reachable_namespace_once_with_its_own_id(utsfs, tmp_path):
    """`unshare --uts=FILE` twice stacks two mounts; only the top one is
    reachable, and it shows its own inode number."""
    held = tmp_path / "held"
    held.touch()
    util.run(["unshare", f"--uts={held}", "hostname", "low"])
    util.run(["unshare", f"--uts={held}", "hostname", "up"])
    try:
        top = util.ns_id(held)
        ino = os.stat(held).st_ino
        for _ in range(6):
            assert str(top) in os.listdir(view(utsfs))
            assert read(view(utsfs, top, "id")) == f"{ino}\n"
            assert os.stat(view(utsfs, top)).st_ino == ino
            assert read(view(utsfs, top, "hostname")) == "up\n"
    finally:
        util.run(["umount", held])
        util.run(["umount", held])
