# SPDX-License-Identifier: GPL-2.0-or-later
"""utsfs's messages reach syslog (here: a socket the test binds at /dev/log) with the namespace name."""

import os
import socket
import time

import pytest

import util

DEV_LOG = "/dev/log"
JOURNAL = "/run/systemd/journal/socket"


class SyslogReceiver:
    """Stands in for the syslog daemon this machine does not run."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(DEV_LOG)
        self.sock.settimeout(0.1)
        self.seen = []

    def wait_for(self, text, deadline=10.0):
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            hits = [m for m in self.seen if text in m]
            if hits:
                return hits
            try:
                self.seen.append(self.sock.recv(4096).decode(errors="replace"))
            except socket.timeout:
                pass
        pytest.fail(f"no syslog message with {text!r}; got {self.seen}")

    def close(self):
        self.sock.close()
        os.unlink(DEV_LOG)


@pytest.fixture
def syslog(utsfs):
    if os.path.exists(DEV_LOG) or os.path.exists(JOURNAL):
        pytest.skip("a syslog daemon or the journal owns /dev/log here")
    receiver = SyslogReceiver()
    try:
        # The daemon connects to /dev/log at start: restart it with the socket there.
        utsfs.restart()
        yield receiver
    finally:
        receiver.close()


def test_events_go_to_syslog_with_the_namespace_name(utsfs, syslog):
    utsfs.mkdir("web")
    os.rename(utsfs.path("web"), utsfs.path("www"))
    os.chown(utsfs.path("www"), 1000, 1000)
    os.rmdir(utsfs.path("www"))
    created = syslog.wait_for("web: created")
    # <30> is LOG_DAEMON | LOG_INFO.
    assert created[0].startswith("<30>") and "utsfs[" in created[0]
    syslog.wait_for("web: renamed to www")
    syslog.wait_for("www: owner 1000:1000, mode 0555")
    syslog.wait_for("www: removed")


def test_failures_go_to_syslog_as_warnings(utsfs, syslog, mount_limit):
    utsfs.output.allow(r"^.*x: mkdir failed: No space left on device.*\n?")
    with mount_limit():
        with pytest.raises(OSError):
            os.mkdir(utsfs.path("x"))
    hit = syslog.wait_for("x: mkdir failed: No space left on device")
    # <28> is LOG_DAEMON | LOG_WARNING.
    assert hit[0].startswith("<28>")


def test_a_log_daemon_that_starts_later_gets_the_messages(utsfs):
    """With no log daemon at all, utsfs stops trying for a second after a
    message found none (each try costs four syscalls); then it tries again."""
    if os.path.exists(DEV_LOG) or os.path.exists(JOURNAL):
        pytest.skip("a syslog daemon or the journal owns /dev/log here")
    utsfs.mkdir("early")  # its message finds no daemon
    time.sleep(0.2)  # messages go out from a thread of their own
    receiver = SyslogReceiver()
    try:
        time.sleep(1.1)
        utsfs.mkdir("late")
        receiver.wait_for("late: created")
        assert not [m for m in receiver.seen if "early" in m]
    finally:
        receiver.close()


def test_a_log_daemon_that_stops_reading_never_holds_up_a_request(utsfs, syslog):
    """A full /dev/log queue blocks a send: requests must not wait for it."""
    import threading
    done = threading.Event()

    def churn():
        for i in range(100):
            os.mkdir(utsfs.path(f"n{i}"))
            os.rename(utsfs.path(f"n{i}"), utsfs.path(f"m{i}"))
            os.rmdir(utsfs.path(f"m{i}"))
        done.set()

    # The receiver reads nothing meanwhile: its queue (10 datagrams) fills at once.
    worker = threading.Thread(target=churn, daemon=True)
    worker.start()
    worker.join(timeout=util.COMMAND_DEADLINE)
    assert done.is_set(), "requests hung behind a log daemon that stopped reading"
    assert utsfs.names() == []
    # Once it reads again, messages flow (some of the flood was dropped).
    utsfs.mkdir("after")
    syslog.wait_for("after: created")
