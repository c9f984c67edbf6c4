# SPDX-License-Identifier: GPL-2.0-or-later
"""Watching hostname and domainname: poll(2) wakes on every change, inotify sees writes."""

import ctypes
import ctypes.util
import os
import select
import struct
import subprocess
import time

import pytest

import util

# Long enough for a loaded machine; a missed wake-up costs this much once.
WAKE_DEADLINE_MS = 10_000
# How long a poll with nothing changed is given to (wrongly) wake.
QUIET_MS = 300
PRI = select.POLLPRI | select.POLLERR

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
IN_MODIFY = 0x2
IN_NONBLOCK = os.O_NONBLOCK


def later(argv, delay=0.3):
    """Start now a process that runs argv after a delay, so the change lands while poll waits.

    Started before polling on purpose: a fork while poll waits would make the
    kernel poll the file again, and the test would pass without the watcher.
    """
    return subprocess.Popen(["sh", "-c", f'sleep {delay} && exec "$@"', "later"] + argv)


class Watched:
    """An open attribute file that has been read, polled for POLLPRI."""

    def __init__(self, utsfs, name, attr):
        self.fd = os.open(utsfs.path(name, attr), os.O_RDONLY)
        self.value = os.pread(self.fd, 100, 0)
        self.poller = select.poll()
        self.poller.register(self.fd, PRI)

    def wait(self, ms):
        return [ev for _, ev in self.poller.poll(ms)]

    def close(self):
        os.close(self.fd)


@pytest.fixture
def watched(utsfs):
    opened = []

    def open_watched(name, attr="hostname"):
        w = Watched(utsfs, name, attr)
        opened.append(w)
        return w
    yield open_watched
    for w in opened:
        w.close()


def assert_change_wakes(w, argv, expected):
    """Run argv while w polls: the poll must wake with POLLPRI and a read show expected."""
    changer = later(argv)
    start = time.monotonic()
    events = w.wait(WAKE_DEADLINE_MS)
    waited = time.monotonic() - start
    assert changer.wait() == 0
    assert events and events[0] & select.POLLPRI
    # poll looks at the file once more when it times out: a wake-up must come first.
    assert waited < WAKE_DEADLINE_MS / 2000
    assert os.pread(w.fd, 100, 0) == expected


def test_poll_wakes_when_hostname_changes_inside_the_namespace(utsfs, watched):
    utsfs.mkdir("x")
    assert_change_wakes(watched("x"), ["nsenter", f"--uts={utsfs.state / 'x'}",
                                       "hostname", "changed"], b"changed\n")


def test_poll_wakes_when_hostname_is_written_through_the_mount(utsfs, watched):
    utsfs.mkdir("x")
    assert_change_wakes(watched("x"), ["sh", "-c", "echo via-mount > "
                                       + util.q(utsfs.path("x", "hostname"))],
                        b"via-mount\n")


@pytest.mark.setdomainname
def test_poll_wakes_when_domainname_changes(utsfs, watched):
    utsfs.mkdir("x")
    assert_change_wakes(watched("x", "domainname"), ["nsenter", f"--uts={utsfs.state / 'x'}",
                                                     "domainname", "new.dom"], b"new.dom\n")


def test_poll_before_any_read_wakes_on_a_change_since_open(utsfs):
    """As /proc/sys/kernel/hostname: the file's state at open is what a poll
    before the first read compares with."""
    utsfs.mkdir("x")
    fd = os.open(utsfs.path("x", "hostname"), os.O_RDONLY)
    try:
        poller = select.poll()
        poller.register(fd, PRI)
        assert poller.poll(0) == []
        util.run(["nsenter", f"--uts={utsfs.state / 'x'}", "hostname", "neverread"])
        events = [ev for _, ev in poller.poll(WAKE_DEADLINE_MS)]
        assert events and events[0] & select.POLLPRI
        assert os.pread(fd, 100, 0) == b"neverread\n"
    finally:
        os.close(fd)


def test_poll_stays_quiet_while_nothing_changes(utsfs, watched):
    utsfs.mkdir("x")
    assert watched("x").wait(QUIET_MS) == []


def test_poll_ignores_changes_in_other_namespaces(utsfs, watched):
    utsfs.mkdir("x")
    utsfs.mkdir("y")
    w = watched("x")
    util.set_inside(utsfs.state / "y", "other")
    assert w.wait(QUIET_MS) == []


def test_poll_after_reading_the_new_value_is_quiet_again(utsfs, watched):
    utsfs.mkdir("x")
    w = watched("x")
    util.set_inside(utsfs.state / "x", "seen")
    assert w.wait(WAKE_DEADLINE_MS)
    assert os.pread(w.fd, 100, 0) == b"seen\n"
    assert w.wait(QUIET_MS) == []


def test_many_pollers_all_wake(utsfs, watched):
    utsfs.mkdir("x")
    ws = [watched("x") for _ in range(8)]
    util.set_inside(utsfs.state / "x", "all")
    assert all(w.wait(WAKE_DEADLINE_MS) for w in ws)


def test_closing_a_polled_file_releases_its_poll(utsfs, watched):
    utsfs.mkdir("x")
    for _ in range(50):
        w = Watched(utsfs, "x", "hostname")
        w.wait(0)
        w.close()
    # The daemon must not notify freed handles: it stays up and answers.
    util.set_inside(utsfs.state / "x", "after")
    assert utsfs.read("x", "hostname") == "after\n"


def inotify_modify_events(fd):
    events = []
    try:
        data = os.read(fd, 4096)
    except BlockingIOError:
        return events
    while data:
        wd, mask, _cookie, length = struct.unpack_from("iIII", data)
        events.append(mask)
        data = data[16 + length:]
    return [m for m in events if m & IN_MODIFY]


def test_inotify_sees_in_modify_for_writes_through_the_mount(utsfs):
    utsfs.mkdir("x")
    fd = libc.inotify_init1(IN_NONBLOCK)
    assert fd >= 0, os.strerror(ctypes.get_errno())
    try:
        wd = libc.inotify_add_watch(fd, os.fsencode(utsfs.path("x", "hostname")), IN_MODIFY)
        assert wd >= 0, os.strerror(ctypes.get_errno())
        assert inotify_modify_events(fd) == []
        utsfs.write("x", "hostname", b"watched\n")
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        assert poller.poll(WAKE_DEADLINE_MS)
        assert inotify_modify_events(fd)
    finally:
        os.close(fd)
