# SPDX-License-Identifier: GPL-2.0-or-later
"""What the kernel and the daemon keep never shows stale.

The kernel caches names for a second and no attributes of the files in a
namespace directory; the daemon keeps the last value it read. Both must
follow changes made behind the daemon's back. These tests make those changes
from this very process (no subprocess to lose time in) and look at once,
many times over: a read or stat of a file must be current on the very next
call; only a name another tool removed or re-bound may lag, by the watcher's
wake-up (util.settled).
"""

import errno
import os
import re
import time

import pytest

import util

CLONE_NEWUTS = 0x04000000
MNT_DETACH = 2
MS_BIND = 4096
ROUNDS = 200

libc = util.LIBC
check = util.libc_check
in_thread = util.in_thread
inside = util.in_namespace
SETTERS = {"hostname": libc.sethostname, "domainname": libc.setdomainname}


def sethostname_inside(nsfile, value):
    util.set_inside_now(nsfile, value)


@pytest.mark.parametrize("field", ["hostname", "domainname"])
def test_a_change_inside_shows_on_the_very_next_read(utsfs, field):
    utsfs.mkdir("x")
    path = utsfs.path("x", field)
    assert utsfs.read("x", field)  # the daemon now keeps a value

    def rounds():
        for i in range(ROUNDS):
            value = f"v{i}-{'x' * (i % 30)}".encode()
            check(SETTERS[field](value, len(value)), field)
            with open(path, "rb") as f:
                got = f.read()
            assert got == value + b"\n", f"round {i}: read {got!r} after setting {value!r}"
        return True

    assert inside(utsfs.state / "x", rounds)


def test_a_change_inside_shows_on_a_reread_of_an_open_file(utsfs):
    utsfs.mkdir("x")
    fd = os.open(utsfs.path("x", "hostname"), os.O_RDONLY)
    try:
        def rounds():
            for i in range(ROUNDS):
                value = f"r{i}".encode()
                check(libc.sethostname(value, len(value)), "sethostname")
                assert os.pread(fd, 100, 0) == value + b"\n", f"round {i}"
            return True

        assert inside(utsfs.state / "x", rounds)
    finally:
        os.close(fd)


def test_a_change_in_another_namespace_leaves_the_value_right(utsfs):
    """Every sethostname on the host moves the event counter: the daemon
    reads again, and must still answer each namespace's own value."""
    utsfs.mkdir("x")
    utsfs.mkdir("y")

    def rounds():
        for i in range(ROUNDS // 4):
            value = f"y{i}".encode()
            check(libc.sethostname(value, len(value)), "sethostname")
            assert utsfs.read("x", "hostname") == "x\n"
            assert utsfs.read("y", "hostname") == value.decode() + "\n"
        return True

    assert inside(utsfs.state / "y", rounds)


def test_writes_through_the_mount_show_in_stat_at_once(utsfs):
    utsfs.mkdir("x")
    path = utsfs.path("x", "hostname")
    for i in range(ROUNDS // 2):
        value = "w" * (1 + i % 40)
        with open(path, "w") as f:
            f.write(value + "\n")
        assert os.stat(path).st_size == len(value) + 1, f"round {i}"
        assert utsfs.read("x", "hostname") == value + "\n"


def test_a_change_inside_reaches_stat_at_once(utsfs):
    utsfs.mkdir("x")
    path = utsfs.path("x", "hostname")
    assert os.stat(path).st_size == len("x\n")
    for value in ("much-longer-than-before", "s", "medium-name") * 20:
        sethostname_inside(utsfs.state / "x", value)
        assert os.stat(path).st_size == len(value) + 1, value
        with open(path) as f:
            assert len(f.read()) == os.fstat(f.fileno()).st_size


# Many names the kernel holds besides the test's own: the watcher checks
# each after a mount event, and spaces its checks by what they cost
# (fs/watch.c). Changes behind the back must show the same either way.
MANY_HELD = 300


@pytest.fixture(params=["few", "many"])
def held(request, utsfs):
    """Names the kernel holds besides the test's own."""
    if request.param == "many":
        for i in range(MANY_HELD):
            utsfs.mkdir(f"held{i}")
    return [n for n in utsfs.names() if n.startswith("held")]


def test_a_name_unmounted_behind_the_back_fails_open_and_read_at_once(utsfs, held):
    names = [f"n{i}" for i in range(20)]
    for name in names:
        utsfs.mkdir(name)
        assert utsfs.read(name, "hostname") == f"{name}\n"  # cached by the kernel now
    fds = {name: os.open(utsfs.path(name, "hostname"), os.O_RDONLY) for name in names}
    try:
        for name in names:
            check(libc.umount2(str(utsfs.state / name).encode(), MNT_DETACH), "umount2")
            # No wait: open(2) and read(2) come to the daemon, which looks again.
            with pytest.raises(OSError) as e:
                os.pread(fds[name], 100, 0)
            assert e.value.errno == errno.ENOENT, name
            with pytest.raises(OSError) as e:
                open(utsfs.path(name, "hostname")).close()
            assert e.value.errno == errno.ENOENT, name
            os.unlink(utsfs.state / name)
        util.settled(lambda: not any(os.path.exists(utsfs.path(n)) for n in names),
                     "the removed names gone from stat")
    finally:
        for fd in fds.values():
            os.close(fd)
    assert utsfs.names() == held
    assert util.state_problems(utsfs.mnt, utsfs.state) == []


def bind_new_namespace(nsfile, hostname=None):
    """What `unshare --uts=FILE [hostname X]` does, from a thread of ours."""
    def main():
        check(libc.unshare(CLONE_NEWUTS), "unshare")
        if hostname is not None:
            check(libc.sethostname(hostname.encode(), len(hostname)), "sethostname")
        check(libc.mount(b"/proc/thread-self/ns/uts", str(nsfile).encode(),
                         None, MS_BIND, None), "mount --bind")

    in_thread(main)


def test_a_name_rebound_behind_the_back_shows_its_new_namespace(utsfs, held):
    utsfs.mkdir("x")
    nsfile = utsfs.state / "x"
    held = []
    try:
        for i in range(5):
            # Held open, so the new namespace cannot get the old one's inode number.
            held.append(os.open(nsfile, os.O_RDONLY | os.O_CLOEXEC))
            old = util.nsfs_id(nsfile)
            assert utsfs.read("x", "id") == f"{old}\n"
            check(libc.umount2(str(nsfile).encode(), MNT_DETACH), "umount2")
            bind_new_namespace(nsfile, f"re{i}")
            new = util.nsfs_id(nsfile)
            assert new != old
            util.settled(lambda: os.stat(utsfs.path("x")).st_ino == new,
                         "the re-bound name's new namespace")
            assert utsfs.read("x", "hostname") == f"re{i}\n"
            assert utsfs.read("x", "id") == f"{new}\n"
    finally:
        for fd in held:
            os.close(fd)


def test_chown_shows_on_the_files_at_once(utsfs):
    utsfs.mkdir("x")
    before = {a: os.stat(utsfs.path("x", a)) for a in ("hostname", "domainname", "id")}
    assert all(st.st_uid == 0 for st in before.values())
    for uid in (util.DELEGATE, 0, util.DELEGATE):
        os.chown(utsfs.path("x"), uid, uid)
        for attr in before:
            st = os.stat(utsfs.path("x", attr))
            assert (st.st_uid, st.st_gid) == (uid, uid), attr


def test_a_name_rebound_without_any_sethostname_shows_the_new_value(utsfs, held):
    """nsfs numbers are reused once a namespace is gone: a new namespace bound
    where the old one was may have the same id, and no sethostname moved the
    values epoch. The kept value must not survive the mount change."""
    utsfs.mkdir("x")
    nsfile = utsfs.state / "x"
    host = os.uname().nodename
    for _ in range(5):
        assert utsfs.read("x", "hostname") == "x\n"
        check(libc.umount2(str(nsfile).encode(), MNT_DETACH), "umount2")
        # A copy of the host's hostname, never set: no hostname event at all.
        bind_new_namespace(nsfile)
        # At once: the new namespace's value, or ENOENT while the kernel
        # still holds the old node for the name; never the old value.
        try:
            assert utsfs.read("x", "hostname") == f"{host}\n"
        except FileNotFoundError:
            pass
        util.settled(lambda: utsfs.read("x", "hostname") == f"{host}\n",
                     "the name's lookup of its new namespace")
        utsfs.write("x", "hostname", b"x\n")


# --- What a listing hands the kernel (READDIRPLUS) ---

# Long names: a few hundred of them take several replies.
LISTED = [f"{i:03d}-" + "l" * 100 for i in range(150)]


def requests(log, start):
    """The FUSE requests the daemon logged (-o debug) since offset start."""
    with open(log, errors="replace") as f:
        f.seek(start)
        return re.findall(r"opcode: ([A-Z_]+) \(\d+\), nodeid: (\d+)", f.read())


@pytest.fixture
def debug_log(utsfs):
    """The daemon restarted with -o debug; its log's size before the test acts."""
    utsfs.options.append("debug")
    # libfuse's trace of every reply, ENOSYS and ENOENT ones included.
    utsfs.output.allow(r"^ +unique: \d+, error: -\d+ \([^)\n]*\), outsize: \d+\n")
    utsfs.restart()
    return utsfs.log


def test_ls_l_takes_every_names_attributes_from_the_listing(utsfs, debug_log):
    """`ls -l` gets the names' attributes with the listing, not one LOOKUP per
    name: names other tools made, some chowned through the mount (whose
    entries the kernel let expire)."""
    for i, name in enumerate(LISTED):
        (utsfs.state / name).touch()
        bind_new_namespace(utsfs.state / name)
        if i % 3 == 0:
            os.chown(utsfs.path(name), util.DELEGATE, util.DELEGATE)
    # The watcher's check of the names (spaced up to a second after the
    # mounts above) would make entries handed out meanwhile uncached; and
    # the chown replies' entries expire.
    time.sleep(1.2)
    start = os.path.getsize(debug_log)
    res = util.run(["ls", "-ln", utsfs.mnt], env=dict(os.environ, LC_ALL="C"))
    reqs = requests(debug_log, start)
    rows = [line.split(maxsplit=8) for line in res.stdout.splitlines()[1:]]
    assert [r[8] for r in rows] == LISTED
    for i, r in enumerate(rows):
        owner = str(util.DELEGATE) if i % 3 == 0 else "0"
        assert (r[0], r[2], r[3]) == ("dr-xr-xr-x", owner, owner), r[8]
    assert sum(op == "READDIRPLUS" for op, _ in reqs) > 1, "one reply held them all"
    # None, unless a mount elsewhere on the host started a check of the
    # names during the listing: a reply's worth of entries then goes uncached.
    lookups = sum(op == "LOOKUP" for op, _ in reqs)
    assert lookups < len(LISTED) // 3, f"{lookups} LOOKUPs after the listing"
    # What the listing handed out is what a lookup tells.
    for name in LISTED:
        assert os.stat(utsfs.path(name)).st_ino == util.nsfs_id(utsfs.state / name)
        assert utsfs.read(name, "hostname") == f"{os.uname().nodename}\n"


@pytest.mark.parametrize("how", ["rmdir", "behind the back", "rebound"])
def test_a_name_gone_since_opendir_is_not_handed_out(utsfs, how):
    """A listing is taken at opendir and served as it was: a name removed
    (or bound to another namespace) before the first getdents is still
    listed, but must not reach the kernel as an entry that stat(2) would
    then find."""
    for name in ("a", "b", "c"):
        utsfs.mkdir(name)
    # Long enough for the entries mkdir's replies gave the kernel to expire.
    time.sleep(1.2)
    fd = os.open(utsfs.mnt, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if how == "rmdir":
            os.rmdir(utsfs.path("b"))
        else:
            check(libc.umount2(str(utsfs.state / "b").encode(), MNT_DETACH), "umount2")
            if how == "rebound":
                bind_new_namespace(utsfs.state / "b")
            else:
                os.unlink(utsfs.state / "b")
        # The root's listing: .all (the view of every namespace) and the names.
        assert sorted(os.listdir(fd)) == [".all", "a", "b", "c"]
    finally:
        os.close(fd)
    if how == "rebound":
        assert os.stat(utsfs.path("b")).st_ino == util.nsfs_id(utsfs.state / "b")
    else:
        assert not os.path.exists(utsfs.path("b"))
        assert utsfs.names() == ["a", "c"]
    assert os.stat(utsfs.path("a")).st_ino == util.nsfs_id(utsfs.state / "a")


def test_names_listed_then_forgotten_by_the_kernel_still_work(utsfs):
    """Every entry of a listing counts a lookup, which the kernel gives back
    (FORGET) when it drops the name: names listed, dropped, listed again and
    used keep working to their rmdir. (That the counts balance is not
    visible from outside: this runs the paths, under ASan in CI.)"""
    names = [f"f{i}" for i in range(40)]
    for name in names:
        utsfs.mkdir(name)
    for _ in range(3):
        util.run(["ls", "-l", utsfs.mnt])
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2\n")
        for name in names[::7]:
            assert utsfs.read(name, "hostname") == f"{name}\n"
    for name in names:
        utsfs.write(name, "hostname", f"{name}-b\n".encode())
        assert utsfs.read(name, "hostname") == f"{name}-b\n"
        os.rmdir(utsfs.path(name))
    assert utsfs.names() == []


def test_a_namespace_directory_is_listed_by_the_daemon_once(utsfs, debug_log):
    """A namespace directory always holds the same files: the kernel keeps
    its listing (FOPEN_CACHE_DIR), so `find` and file managers walking the
    tree ask each directory once, across renames too."""
    attrs = sorted(util.ATTR_FILES)
    names = [f"d{i}" for i in range(20)]
    for name in names:
        utsfs.mkdir(name)
        assert sorted(os.listdir(utsfs.path(name))) == attrs
    start = os.path.getsize(debug_log)
    for name in names:
        assert sorted(os.listdir(utsfs.path(name))) == attrs
    os.rename(utsfs.path("d0"), utsfs.path("e0"))
    assert sorted(os.listdir(utsfs.path("e0"))) == attrs
    reqs = requests(debug_log, start)
    assert sum(op == "OPENDIR" for op, _ in reqs) == len(names) + 1
    assert [r for r in reqs if r[0] in ("READDIR", "READDIRPLUS")] == []
    assert utsfs.read("e0", "hostname") == "d0\n"
    # A new namespace under an old name is a new directory, listed afresh:
    # its files' inode numbers are the new namespace's.
    old = {e.name: e.inode() for e in os.scandir(utsfs.path("d1"))}
    # Held open, so the new namespace cannot get the old one's inode number.
    held = os.open(utsfs.state / "d1", os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.rmdir(utsfs.path("d1"))
        utsfs.mkdir("d1")
        listed = {e.name: e.inode() for e in os.scandir(utsfs.path("d1"))}
    finally:
        os.close(held)
    assert listed == {a: os.lstat(utsfs.path("d1", a)).st_ino for a in attrs}
    assert set(listed.values()).isdisjoint(old.values())
    assert utsfs.read("d1", "id") == f"{util.nsfs_id(utsfs.state / 'd1')}\n"


def test_every_stat_of_a_file_in_a_namespace_reaches_the_daemon(utsfs, debug_log):
    """The kernel caches no attributes of the files in a namespace directory
    (attribute timeout 0): each stat is a GETATTR, answered with the value
    the namespace holds at that moment."""
    utsfs.mkdir("s")
    files = [a for a in util.ATTR_FILES if a != "ns"]
    for attr in files:
        os.stat(utsfs.path("s", attr))
    start = os.path.getsize(debug_log)
    rounds = 10
    for _ in range(rounds):
        for attr in files:
            os.stat(utsfs.path("s", attr))
    getattrs = [r for r in requests(debug_log, start) if r[0] == "GETATTR"]
    assert len(getattrs) == rounds * len(files)
