# SPDX-License-Identifier: GPL-2.0-or-later
"""Every request on a name's files answers for the namespace the name holds now.

A read, write or stat of MOUNT/NAME/hostname or domainname (and id) reflects
the namespace and value at the time of the request, however the value or the
binding changed behind the daemon's back: the kernel keeps no attributes of
these files (attr timeout 0), so nothing here waits for a watcher. Each change
is made from this very process (a thread that enters the namespace with
setns, or a standard tool on the state directory) and the check follows at
once, with no wait and no retry.
"""

import errno
import fcntl
import os
from pathlib import Path

import pytest

import util
from util import q

# The errors a request on a name bound to another namespace since may give.
GONE = (errno.ENOENT, errno.ESTALE)


def change_inside(nsfile, field, value):
    """sethostname or setdomainname inside nsfile's namespace, from a thread
    that enters it and ends: this thread (and the host) keep their names."""
    util.set_inside_now(nsfile, value, field)


def outcome(fn):
    """fn()'s result, or the OSError it raised."""
    try:
        return fn()
    except OSError as e:
        return e


def read_path(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


# --- stat right after a change inside -----------------------------------------


def values(tries):
    """Valid values whose lengths differ from one try to the next."""
    for i in range(tries):
        yield i, chr(ord("a") + i % 26) * (1 + (i * 7) % 40)


@pytest.mark.parametrize("field, tries", [("hostname", 1000), ("domainname", 500)])
def test_stat_right_after_a_change_inside_gives_the_new_size(utsfs, field, tries):
    """The kernel keeps no size for these files: a stat straight after a
    sethostname (setdomainname) inside asks the daemon, which looks now."""
    utsfs.mkdir("web")
    nsfile = utsfs.state / "web"
    path = utsfs.path("web", field)
    os.stat(path)
    utsfs.read("web", field)
    stale = []
    for i, value in values(tries):
        change_inside(nsfile, field, value)
        size = os.stat(path).st_size
        if size != len(value) + 1:
            stale.append(f"try {i}: {field} became {value!r} inside, st_size {size} "
                         f"(want {len(value) + 1})")
    assert not stale, (f"{len(stale)} of {tries} stats right after a change inside "
                       f"gave a stale st_size; first: {stale[:3]}")


# --- an asynchronous direct read after a truncation -----------------------------


def aio_read_path() -> Path:
    """tests/aio_read.c built: UTSFS_AIO_READ, else next to the fs/ directory of
    the utsfs under test (build/, build-asan/), else in build/."""
    if os.environ.get("UTSFS_AIO_READ"):
        return Path(os.environ["UTSFS_AIO_READ"])
    beside = Path(util.utsfs_bin()).resolve().parent.parent / "tests" / "aio-read"
    if os.access(beside, os.X_OK):
        return beside
    return util.REPO / "build" / "tests" / "aio-read"


@pytest.fixture
def aio_read():
    path = aio_read_path()
    if not os.access(path, os.X_OK):
        pytest.skip(f"no aio-read helper at {path}: build tests/aio_read.c "
                    "(ninja -C build) or set UTSFS_AIO_READ")
    return path


def truncate_with_o_trunc(path):
    """`: > path`: open O_WRONLY|O_TRUNC and close, writing nothing."""
    os.close(os.open(path, os.O_WRONLY | os.O_TRUNC))


def truncate_with_ftruncate(path):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)


@pytest.mark.parametrize("truncate", [truncate_with_o_trunc, truncate_with_ftruncate],
                         ids=["O_TRUNC", "ftruncate"])
def test_an_async_direct_read_after_a_truncation_gives_the_whole_value(
        aio_read, utsfs, truncate):
    """Truncating alone changes nothing: an asynchronous O_DIRECT read, the one
    FUSE cuts short at the size the kernel holds, still gets the value."""
    utsfs.mkdir("web")
    utsfs.write("web", "hostname", b"web01\n")
    path = utsfs.path("web", "hostname")
    for i in range(20):
        truncate(path)
        res = util.run([aio_read, path], check=False)
        assert res.returncode == 0, f"round {i}: aio-read failed: {res.stderr.strip()}"
        assert res.stdout == "web01\n", (
            f"round {i}: an asynchronous O_DIRECT read after truncating (which changes "
            f"nothing) gave {res.stdout!r}, not 'web01\\n': the kernel kept the "
            "truncated size")
    assert util.inside(utsfs.state / "web") == "web01"


# --- O_APPEND after a change inside ---------------------------------------------


def set_append(fd):
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)


APPEND_ROUNDS = 50


@pytest.mark.parametrize("how", ["open", "fcntl"])
def test_an_append_after_a_change_inside_is_refused(utsfs, how):
    """A write past the value's end is EINVAL: so is an O_APPEND one (set at
    open or with F_SETFL) after the value became shorter inside, whatever
    size the kernel last knew, and the value stays as it was set inside."""
    utsfs.mkdir("web")
    nsfile = utsfs.state / "web"
    path = utsfs.path("web", "hostname")
    for i in range(APPEND_ROUNDS):
        utsfs.write("web", "hostname", b"web01\n")
        fd = os.open(path, os.O_WRONLY | (os.O_APPEND if how == "open" else 0))
        try:
            if how == "fcntl":
                set_append(fd)
            change_inside(nsfile, "hostname", "ab")
            os.stat(path)
            try:
                n = os.write(fd, b"x")
            except OSError as e:
                assert e.errno == errno.EINVAL, (
                    f"round {i}: O_APPEND write failed with {e}, not EINVAL")
            else:
                pytest.fail(f"round {i}: an O_APPEND write of 'x' after the hostname "
                            f"became 'ab' inside was accepted ({n} byte); the hostname "
                            f"is now {util.inside(nsfile)!r}")
        finally:
            os.close(fd)
        assert util.inside(nsfile) == "ab", f"round {i}: the refused append changed it"
        assert utsfs.read("web", "hostname") == "ab\n", f"round {i}"


def test_a_shell_append_after_a_change_inside_is_refused(utsfs):
    """`echo x >> hostname` fails with EINVAL and changes nothing."""
    utsfs.mkdir("web")
    nsfile = utsfs.state / "web"
    utsfs.write("web", "hostname", b"web01\n")
    path = utsfs.path("web", "hostname")
    os.stat(path)
    change_inside(nsfile, "hostname", "ab")
    # bash, not dash: dash reports every failed write as "I/O error".
    res = util.sh(f"echo x >> {q(path)}", check=False, shell="/bin/bash")
    assert res.returncode != 0, (f"`echo x >> hostname` succeeded; the hostname is now "
                                 f"{util.inside(nsfile)!r}")
    assert "Invalid argument" in res.stderr, f"unexpected error: {res.stderr!r}"
    assert util.inside(nsfile) == "ab", "the refused append changed the hostname"
    assert utsfs.read("web", "hostname") == "ab\n"


# --- pread at an offset after a change inside -----------------------------------


def test_a_read_at_an_offset_gives_the_current_value_from_there(utsfs):
    """As /proc/sys/kernel/hostname: pread at offset k of an open file gives the
    value as it is now from byte k, not the rest of what the file read before."""
    utsfs.mkdir("web")
    utsfs.write("web", "hostname", b"abcdef\n")
    fd = os.open(utsfs.path("web", "hostname"), os.O_RDONLY)
    try:
        assert os.pread(fd, 100, 0) == b"abcdef\n"
        change_inside(utsfs.state / "web", "hostname", "uvwxyz12")
        got = os.pread(fd, 100, 1)
        assert got == b"vwxyz12\n", (
            f"pread(fd, 100, 1) after the hostname became 'uvwxyz12' inside gave "
            f"{got!r}, not b'vwxyz12\\n'")
    finally:
        os.close(fd)


# --- a name re-bound by other tools, its inode number reused --------------------

REBIND_ROUNDS = 200
NEW = b"newv\n"  # what `unshare --uts=FILE hostname newv` leaves


def unexpected(what, got, want):
    """What is wrong with got (a result or an OSError), or None: right after a
    re-bind a request may answer for the new namespace, or fail as gone."""
    if isinstance(got, OSError):
        return None if got.errno in GONE else f"{what} failed with {got}"
    return None if got == want else f"{what} gave {got!r}, not {want!r}"


# Other names whose files the kernel holds: the old kept-size protocol was
# slowest to follow a change with just under 64 of them, and the watcher's
# name checks take longer with more.
@pytest.mark.parametrize("others", [0, 60, 300])
def test_a_name_rebound_under_a_reused_inode_number_never_answers_the_old_value(
        utsfs, record_property, others):
    """umount+rm+touch+unshare in the state directory, at once: the new
    namespace often gets the old one's inode number (the lowest free), so
    only the binding tells them apart. Straight after, stat, a read of the
    file opened before, a new open and id answer for the new namespace, or
    fail with ENOENT/ESTALE; never with the old namespace's value."""
    for k in range(others):
        utsfs.mkdir(f"other{k}")
        os.stat(utsfs.path(f"other{k}", "hostname"))
    wrong = []
    reused = 0
    for i in range(REBIND_ROUNDS):
        # A name of its own per round: right after a re-bind the name may
        # answer ENOENT for a while, and the next round must not wait.
        name = f"web{i}"
        nsfile = utsfs.state / name
        path = utsfs.path(name, "hostname")
        old_id = utsfs.mkdir(name)
        # Through the mount, so the kernel and the daemon hold the old value.
        utsfs.write(name, "hostname", b"oldval\n")
        fd = os.open(path, os.O_RDONLY)
        try:
            assert os.read(fd, 100) == b"oldval\n", f"round {i}: set-up"
            os.stat(path)
            # umount -l, as rmdir and `ip netns del` do: a plain umount
            # fails with EBUSY while the daemon happens to have the file open.
            util.sh(f"umount -l {q(nsfile)} && rm {q(nsfile)} && touch {q(nsfile)} && "
                    f"unshare --uts={q(nsfile)} hostname newv")
            size = outcome(lambda: os.stat(path).st_size)
            kept = outcome(lambda: os.pread(fd, 100, 0))
            fresh = outcome(lambda: read_path(path))
            ident = outcome(lambda: read_path(utsfs.path(name, "id")))
        finally:
            os.close(fd)
        new_id = util.nsfs_id(nsfile)
        reused += new_id == old_id
        what = f"round {i} (inode {'reused' if new_id == old_id else 'new'}): "
        wrong += filter(None, [
            unexpected(what + "stat of hostname: st_size", size, len(NEW)),
            unexpected(what + "read of the hostname fd opened before", kept, NEW),
            unexpected(what + "a new open and read of hostname", fresh, NEW),
            unexpected(what + "read of id", ident, f"{new_id}\n".encode()),
        ])
    record_property("inode_reused", reused)
    print(f"inode number reused in {reused} of {REBIND_ROUNDS} re-binds")
    assert not wrong, (f"{len(wrong)} wrong answers in {REBIND_ROUNDS} re-binds "
                       f"({reused} reused the inode number):\n" + "\n".join(wrong[:10]))
