#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The host-wide view MOUNT/.all with many namespaces: `ls -l MOUNT/.all` and
`grep . MOUNT/.all/*/hostname`, against what an admin does without utsfs
(nsenter once per namespace). Prints a Markdown table for tests/bench/RESULTS.md.

usage: allview.py MOUNT NAMESPACES PROCS_PER_NAMESPACE   (as root, utsfs mounted on MOUNT)
"""

import os
import statistics
import subprocess
import sys
import time

ROUNDS = 7
DEADLINE = 60.0


def timed(argv):
    """Seconds argv took; exit status 1 (a namespace that ended between the
    listing and its stat, as others come and go on the host) is fine, not 2."""
    start = time.monotonic()
    status = subprocess.run(argv, stdout=subprocess.DEVNULL).returncode
    if status > 1:
        raise SystemExit(f"allview.py: {argv} exited {status}")
    return time.monotonic() - start


def median_ms(argv, rounds=ROUNDS):
    timed(argv)
    return statistics.median(timed(argv) for _ in range(rounds)) * 1000


def spawn(namespaces, per):
    """namespaces shells, each in a UTS namespace of its own with per - 1 sleeps beside it."""
    sleeps = " ".join(["sleep 600 &"] * (per - 1))
    return [subprocess.Popen(["unshare", "--uts", "sh", "-c",
                              f"hostname bench-{i} && {sleeps} wait"],
                             stdin=subprocess.DEVNULL)
            for i in range(namespaces)]


def wait_for(mnt, count):
    end = time.monotonic() + DEADLINE
    while True:
        out = subprocess.run(["sh", "-c", f"grep -l '^bench-' {mnt}/.all/*/hostname | wc -l"],
                             capture_output=True, text=True).stdout
        if int(out or 0) >= count:
            return
        if time.monotonic() > end:
            raise SystemExit(f"allview.py: {count} namespaces not in the view within {DEADLINE} s")
        time.sleep(0.2)


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    mnt, namespaces, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    shells = spawn(namespaces, per)
    try:
        wait_for(mnt, namespaces)
        procs = len([p for p in os.listdir("/proc") if p.isdigit()])
        listed = len(os.listdir(f"{mnt}/.all"))
        ls = median_ms(["ls", "-l", f"{mnt}/.all"])
        grep = median_ms(["sh", "-c", f"grep . {mnt}/.all/*/hostname"])
        pids = [s.pid for s in shells]
        nsenter = median_ms(["sh", "-c", " ; ".join(f"nsenter -t {p} -u hostname" for p in pids)],
                            rounds=3)
    finally:
        for s in shells:
            subprocess.run(["pkill", "-P", str(s.pid)], check=False)
            s.kill()
        for s in shells:
            s.wait()
    print(f"| # | the view, {namespaces} namespaces of {per} processes "
          f"({procs} processes, {listed} namespaces listed) | value | target | result |")
    print("|---|---|---|---|---|")
    print(f"| 8 | ls -l MOUNT/.all (process) | {ls:.1f} ms | < 100 ms | "
          f"{'PASS' if ls < 100 else 'MISS'} |")
    print(f"| 8 | grep . MOUNT/.all/*/hostname (process) | {grep:.1f} ms | < 300 ms | "
          f"{'PASS' if grep < 300 else 'MISS'} |")
    print(f"| 8 | without utsfs: nsenter -t PID -u hostname per namespace | {nsenter:.1f} ms | | |")
    print(f"| 8 | speed-up: grep over the view vs nsenter per namespace | {nsenter / grep:.1f}× | | |")


if __name__ == "__main__":
    main()
