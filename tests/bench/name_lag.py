#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""How long a name that another tool removes or re-binds in the state
directory lags in the tree, with many names the kernel holds: the one
staleness utsfs allows (a file inside a namespace directory never lags).
Prints a Markdown table for tests/bench/RESULTS.md.

usage: name_lag.py MOUNT STATE_DIR NAMES   (as root, in a private mount namespace)
"""

import ctypes
import os
import sys
import threading
import time

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUTS = 0x04000000
MNT_DETACH = 2
MS_BIND = 4096
DEADLINE = 10.0


def check(ret, what):
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def unmount(path):
    check(libc.umount2(str(path).encode(), MNT_DETACH), f"umount {path}")


def bind_new_namespace(path):
    """What `unshare --uts=FILE true` does, in a thread of its own."""
    def main():
        check(libc.unshare(CLONE_NEWUTS), "unshare")
        check(libc.mount(b"/proc/thread-self/ns/uts", str(path).encode(), None, MS_BIND,
                         None), "mount --bind")
    t = threading.Thread(target=main)
    t.start()
    t.join()


def until(cond):
    """Seconds until cond() holds, looking as fast as we can."""
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start > DEADLINE:
            raise SystemExit(f"name_lag.py: not seen within {DEADLINE} s")
    return time.monotonic() - start


def removed(mnt, state, name):
    os.stat(os.path.join(mnt, name))  # the kernel's entry is fresh: it would keep it 1 s
    unmount(os.path.join(state, name))
    os.unlink(os.path.join(state, name))
    return until(lambda: not os.path.exists(os.path.join(mnt, name)))


def rebound(mnt, state, name):
    path = os.path.join(state, name)
    held = os.open(path, os.O_RDONLY)  # so the new namespace gets a number of its own
    os.stat(os.path.join(mnt, name))
    try:
        unmount(path)
        bind_new_namespace(path)
        new = os.stat(path).st_ino
        return until(lambda: os.stat(os.path.join(mnt, name)).st_ino == new)
    finally:
        os.close(held)


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def main():
    mnt, state, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    names = [f"lag{i}" for i in range(count)]
    start = time.monotonic()
    for name in names:
        os.mkdir(os.path.join(mnt, name))
    made = time.monotonic() - start
    for name in names:
        os.stat(os.path.join(mnt, name))  # the kernel holds a node for every name now
    rows = []
    for what, change in (("removed", removed), ("re-bound", rebound)):
        quiet, burst = [], []
        for _ in range(3):
            time.sleep(1.5)  # past the watcher's pause after its last pass
            quiet.append(change(mnt, state, names.pop()))
        time.sleep(1.5)
        for _ in range(3):
            burst.append(change(mnt, state, names.pop()))
            time.sleep(0.02)
        rows.append((f"a name {what} by another tool, until stat shows it: after a quiet spell "
                     f"(max of 3)", ms(max(quiet))))
        rows.append((f"a name {what} by another tool, until stat shows it: in a burst 20 ms "
                     f"apart (max of 3)", ms(max(burst))))
    print(f"Names other tools change in the state directory, with {count:,} names the "
          f"kernel holds ({count:,} mkdirs took {made:.1f} s):")
    print()
    print("| measurement | value |")
    print("|---|---|")
    for what, value in rows:
        print(f"| {what} | {value} |")


if __name__ == "__main__":
    main()
