# SPDX-License-Identifier: GPL-2.0-or-later
"""utsfs under faults: kill -9 at random moments, dead mounts, kernel limits, and
names removed behind its back. Nothing acknowledged is lost, nothing half-made shows."""

import dataclasses
import errno
import json
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Dict, Optional

import pytest

import util
from util import run

pytestmark = pytest.mark.usefixtures("figures")

# A request cut off by the daemon's death (ECONNABORTED), or sent after it (ENOTCONN).
INTERRUPTED = {errno.ENOTCONN, errno.ECONNABORTED}


def seed_from_env() -> int:
    return int(os.environ.get("UTSFS_FUZZ_SEED") or time.time_ns() % 2**32)


def errname(e: OSError) -> str:
    return errno.errorcode.get(e.errno, str(e.errno))


# --- kill -9 during a storm ----------------------------------------------------

ROUNDS = int(os.environ.get("UTSFS_KILL_ROUNDS", "30"))
CLIENTS = 6
NAMES_PER_CLIENT = 5
UIDS = [0, util.DELEGATE, 1001, util.NOBODY]
# No write bits: a chmod that asks for one is refused (test_delegation.py).
MODES = [0o555, 0o550, 0o500, 0o511, 0o1555, 0o2550]


@dataclasses.dataclass(frozen=True)
class Ns:
    """What one name holds, as far as a client knows. id None: any new namespace."""
    id: Optional[int]
    hostname: str
    domainname: str
    uid: int = 0
    gid: int = 0
    mode: int = util.NS_DIR_MODE
    # Whether .utsfs.conf has a group for it (set by chown/chmod, never by mkdir).
    delegated: bool = False

    def matches(self, other: "Ns") -> bool:
        return (self.id is None or self.id == other.id) and \
            dataclasses.replace(self, id=other.id) == other


class StormClient:
    """One client thread with a pool of names of its own.

    Names are not shared between clients, so each client's acknowledged
    operations have one order and one expected outcome. The first operation
    that fails because the daemon died is 'pending': it may or may not have
    happened, and nothing after it was tried.
    """

    def __init__(self, k: int, fs, rng: random.Random, domain: str):
        self.fs = fs
        self.rng = rng
        self.domain = domain
        self.names = [f"c{k}-{i}" for i in range(NAMES_PER_CLIENT)]
        # name -> Ns: the state every acknowledged operation left.
        self.model: Dict[str, Ns] = {}
        # (description, {name: Ns or None}) of the operation cut off by the kill.
        self.pending = None
        self.unexpected = []
        self.counts = Counter()

    # Each op returns (description, the names' states after it, a function doing it).
    def plan(self):
        rng, model = self.rng, self.model
        present = [n for n in self.names if n in model]
        absent = [n for n in self.names if n not in model]
        kinds = []
        if absent:
            kinds += ["mkdir"] * 3
        if present:
            kinds += ["rmdir"] * 2 + ["hostname"] * 3 + ["domainname"] * 2 + \
                ["chown"] * 2 + ["chmod"] * 2
        if present and absent:
            kinds += ["rename"] * 3
        kind = rng.choice(kinds)
        path = self.fs.path
        if kind == "mkdir":
            n = rng.choice(absent)
            return (kind, n), {n: Ns(None, n, self.domain)}, lambda: os.mkdir(path(n))
        n = rng.choice(present)
        ns = model[n]
        if kind == "rmdir":
            return (kind, n), {n: None}, lambda: os.rmdir(path(n))
        if kind == "rename":
            to = rng.choice(absent)
            return (kind, n, to), {n: None, to: ns}, lambda: os.rename(path(n), path(to))
        if kind in ("hostname", "domainname"):
            value = f"{kind[0]}{rng.randrange(10**6)}"
            after = dataclasses.replace(ns, **{kind: value})
            return (kind, n, value), {n: after}, \
                lambda: self.write(path(n, kind), value.encode() + b"\n")
        if kind == "chown":
            uid, gid = rng.choice(UIDS), rng.choice(UIDS)
            after = dataclasses.replace(ns, uid=uid, gid=gid, delegated=True)
            return (kind, n, uid, gid), {n: after}, lambda: os.chown(path(n), uid, gid)
        mode = rng.choice(MODES)
        after = dataclasses.replace(ns, mode=mode, delegated=True)
        return (kind, n, oct(mode)), {n: after}, lambda: os.chmod(path(n), mode)

    def write(self, path, data):
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        try:
            assert os.write(fd, data) == len(data)
        finally:
            try:
                os.close(fd)
            except OSError as e:
                # The write was acknowledged; a dead daemon cannot answer the flush.
                if e.errno not in INTERRUPTED:
                    raise

    def run(self, stop: threading.Event):
        try:
            while not stop.is_set():
                what, after, do = self.plan()
                self.counts["tried"] += 1
                self.counts[what[0]] += 1
                try:
                    do()
                except OSError as e:
                    if e.errno in INTERRUPTED:
                        self.counts["interrupted"] += 1
                        # ECONNABORTED: the daemon had the request when it died.
                        self.counts[errname(e)] += 1
                        self.pending = (what, after)
                    else:
                        self.unexpected.append(f"{what}: {errname(e)} {e}")
                    return
                self.counts["acknowledged"] += 1
                for name, ns in after.items():
                    if ns is None:
                        self.model.pop(name)
                    elif ns.id is None:
                        # Straight from the state dir: no request to a daemon that may be gone.
                        self.model[name] = dataclasses.replace(
                            ns, id=util.nsfs_id(self.fs.state / name))
                    else:
                        self.model[name] = ns
        except Exception as e:  # an assertion or a bug here must fail the test, not vanish
            self.unexpected.append(f"client crashed: {e!r}")

    def expected(self):
        """The states the pool may be in: as acknowledged, or with the pending op done."""
        options = [dict(self.model)]
        if self.pending:
            done = dict(self.model)
            for name, ns in self.pending[1].items():
                if ns is None:
                    done.pop(name, None)
                else:
                    done[name] = ns
            options.append(done)
        return options


def observe(fs, names) -> Dict[str, Ns]:
    """What the names hold now, read from the state dir, the kernel and .utsfs.conf;
    the tree must show the same."""
    groups = util.conf_groups(fs.state)
    seen = {}
    for name in names:
        if not (fs.state / name).exists():
            continue
        ident = util.nsfs_id(fs.state / name)
        hostname, domainname = util.inside_both(fs.state / name)
        st = os.stat(fs.path(name))
        group = groups.get(util.group_name(name))
        ns = Ns(ident, hostname, domainname, st.st_uid, st.st_gid, st.st_mode & 0o7777,
                group is not None)
        assert st.st_ino == ident, f"{name}: st_ino {st.st_ino}, namespace {ident}"
        assert fs.read(name, "hostname") == hostname + "\n", name
        assert fs.read(name, "domainname") == domainname + "\n", name
        if group is not None:
            assert group == util.conf_entry(fs.state / name, ns.uid, ns.gid, ns.mode), \
                f"{name}: conf group {group}"
        seen[name] = ns
    return seen


def check_after_restart(fs, clients):
    problems = util.state_problems(fs.mnt, fs.state)
    assert problems == [], "\n".join(problems)
    assert [m.fstype for m in util.mounts_at(fs.mnt)] == [util.FSTYPE], \
        f"mounts at {fs.mnt}: {util.mounts_at(fs.mnt)}"
    pools = {n for c in clients for n in c.names}
    assert set(fs.names()) <= pools, f"names nobody made: {set(fs.names()) - pools}"
    groups = {g for g in util.conf_groups(fs.state)}
    assert groups <= {util.group_name(n) for n in fs.names()}, \
        f".utsfs.conf groups for names that are not there: {groups}"
    for c in clients:
        seen = observe(fs, c.names)
        options = c.expected()
        matched = [i for i, opt in enumerate(options)
                   if seen.keys() == opt.keys() and all(opt[n].matches(seen[n]) for n in opt)]
        assert matched, (f"client {c.names[0][:2]} after the kill:\n  seen     {seen}\n"
                         + "".join(f"  expected {opt}\n" for opt in options)
                         + f"  pending  {c.pending}")
        if c.pending:
            # Both match when the cut-off operation would change nothing.
            c.counts["cut-off found " + {(0,): "not done", (1,): "done"}.get(
                tuple(matched), "either way")] += 1
        c.model, c.pending = seen, None


def test_kill9_storm_keeps_every_acknowledged_operation_and_leaks_nothing(utsfs, figures):
    """Clients mkdir, rmdir, rename, write and chown/chmod while the daemon is killed
    with SIGKILL at a random moment, round after round; after each restart every
    acknowledged operation is there, the one cut off is all or nothing, and the
    state dir holds exactly the names, once each."""
    seed = seed_from_env()
    # The kill times vary anyway; the seed replays the clients' choices.
    print(f"kill storm seed {seed} (UTSFS_FUZZ_SEED={seed} replays the clients' choices)")
    figures.set("seed", seed)
    figures.set("clients", CLIENTS)
    rng = random.Random(seed)
    domain = util.host_names()[1].rstrip("\n")
    clients = [StormClient(k, utsfs, random.Random(rng.random()), domain)
               for k in range(CLIENTS)]
    totals = Counter()
    try:
        for _ in range(ROUNDS):
            stop = threading.Event()
            threads = [threading.Thread(target=c.run, args=(stop,)) for c in clients]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0, 0.3))
            assert utsfs.running(), "utsfs died on its own during the storm"
            utsfs.crash()
            totals["kills"] += 1
            stop.set()
            for t in threads:
                t.join(timeout=30)
                assert not t.is_alive(), "a client is stuck on the dead mount"
            for c in clients:
                assert c.unexpected == [], f"unexpected errors: {c.unexpected}"
            with pytest.raises(OSError) as e:
                os.listdir(utsfs.mnt)
            assert e.value.errno == errno.ENOTCONN
            util.start_after_crash(utsfs)
            check_after_restart(utsfs, clients)
            totals["restarts"] += 1
    finally:
        for c in clients:
            totals.update(c.counts)
            for u in c.unexpected:
                figures.error(u.split(":")[0], expected=False)
        for key in ("tried", "acknowledged", "interrupted", "kills", "restarts"):
            figures.add(key, totals[key])
        figures.add("unexpected_errors", 0)
        figures.set("operations by kind", {k: totals[k] for k in
                                           ("mkdir", "rmdir", "rename", "hostname",
                                            "domainname", "chown", "chmod")})
        for key, label in (("ECONNABORTED", "interrupted in flight (ECONNABORTED)"),
                           ("ENOTCONN", "refused by the dead mount (ENOTCONN)"),
                           ("cut-off found done", "cut-off operations found done"),
                           ("cut-off found not done", "cut-off operations found not done"),
                           ("cut-off found either way",
                            "cut-off operations that change nothing")):
            figures.set(label, totals[key])
    assert totals["kills"] == ROUNDS >= 20
    assert totals["acknowledged"] > ROUNDS, "the storm hardly ran: nothing was tested"
    utsfs.check_threads_in_host_uts()


# --- the dead mount ------------------------------------------------------------


def test_dead_mount_gives_enotconn_and_a_restart_on_it_just_works(utsfs, figures):
    """After kill -9 the mount answers ENOTCONN ('Transport endpoint is not
    connected'); starting utsfs on the same mount point clears it, never stacks,
    whether anything touched the dead mount before the restart or not."""
    ident = utsfs.mkdir("a")
    for touch_first in (False, True, False, True):
        assert os.stat(utsfs.mnt).st_ino == 1
        utsfs.kill9()
        figures.add("kills")
        assert [m.fstype for m in util.mounts_at(utsfs.mnt)] == [util.FSTYPE]
        if touch_first:
            # (stat(2) of the mount point, and of a name looked up in the
            # last second, may be answered from the kernel's cache: reads
            # and listings never are.)
            for fn in (os.listdir, os.statvfs, lambda m: (m / "a" / "hostname").read_text()):
                with pytest.raises(OSError) as e:
                    fn(utsfs.mnt)
                assert e.value.errno == errno.ENOTCONN
            ls = run(["ls", utsfs.mnt], check=False)
            assert ls.returncode != 0 and "Transport endpoint is not connected" in ls.stderr
        util.start_after_crash(utsfs)
        figures.add("restarts")
        assert [m.fstype for m in util.mounts_at(utsfs.mnt)] == [util.FSTYPE]
        assert utsfs.names() == ["a"]
        assert os.stat(utsfs.path("a")).st_ino == ident
        assert util.state_problems(utsfs.mnt, utsfs.state) == []


# --- kernel limits: user.max_uts_namespaces -------------------------------------

LIMIT = "/proc/sys/user/max_uts_namespaces"
USERNS = ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private",
          "--uts"]


def die_with_parent():
    """In a child: get SIGKILL when the harness ends, however it ends (PR_SET_PDEATHSIG)."""
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def limit_harness(root: str):
    """Runs inside USERNS (a fresh user namespace whose only UTS namespace is this
    process's own): utsfs on ROOT/mnt, mkdir against max_uts_namespaces. Prints JSON."""
    root = Path(root)
    mnt, state = root / "mnt", root / "state"
    out = {}

    def limit(n):
        Path(LIMIT).write_text(f"{n}\n")

    def attempt(key, fn, *args):
        try:
            fn(*args)
            out[key] = "ok"
        except OSError as e:
            out[key] = errname(e)

    def write(path, data):
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def look():
        # "tree" is the root's whole listing: the view .all and the names.
        return {"tree": sorted(os.listdir(mnt)), "state": sorted(os.listdir(state)),
                "mounts": sorted(m.target for m in util.mounts_under(state)
                                 if m.fstype == "nsfs")}

    # In use: this process's UTS namespace. One more for "keep", then the limit.
    limit(2)
    with open(root / "utsfs.log", "ab") as log:
        proc = subprocess.Popen([util.utsfs_bin(), "-f", "-o", f"state_dir={state}",
                                 str(mnt)], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    try:
        util.wait_for_mount(proc, mnt)
        attempt("mkdir keep (limit 2)", os.mkdir, mnt / "keep")
        out["before"] = look()
        attempt("mkdir a (limit 2)", os.mkdir, mnt / "a")
        out["after"] = look()
        # What exists keeps working: using a namespace needs no new one.
        attempt("write keep/hostname", write, mnt / "keep" / "hostname", b"still\n")
        attempt("rename keep kept", os.rename, mnt / "keep", mnt / "kept")
        out["kept/hostname"] = (mnt / "kept" / "hostname").read_text()
        limit(3)
        attempt("mkdir a (limit 3)", os.mkdir, mnt / "a")
        out["a/hostname"] = (mnt / "a" / "hostname").read_text()
        attempt("mkdir b (limit 3)", os.mkdir, mnt / "b")
        out["after b"] = look()
        # rmdir hands the namespace back: utsfs keeps no reference to it. The
        # kernel frees a lazily unmounted namespace shortly after, not at once.
        attempt("rmdir a", os.rmdir, mnt / "a")
        deadline = time.monotonic() + 5
        tries = 0
        while True:
            tries += 1
            attempt("mkdir b after rmdir a", os.mkdir, mnt / "b")
            if out["mkdir b after rmdir a"] != "ENOSPC" or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        out["tries until freed"] = tries
        out["final"] = look()
        out["problems"] = util.state_problems(mnt, state)
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        try:
            out["exit"] = proc.wait(timeout=util.EXIT_DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            out["exit"] = "hung"
        print(json.dumps(out))


def test_mkdir_beyond_max_uts_namespaces_fails_enospc_and_leaves_no_trace(figures):
    """With user.max_uts_namespaces set to the number in use, mkdir gives ENOSPC
    and leaves no file, name or mount; raising the limit makes mkdir work again.

    The limit is lowered in a user namespace of the test's own (utsfs runs in
    it), where the count in use is known exactly and nothing else on the host is
    starved: the host's own sysctl is system-wide, and read-only without
    CAP_SYS_RESOURCE. The user namespace takes the limit with it when it ends.
    """
    from conftest import OutputChecker
    probe = subprocess.run(USERNS + ["true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a user namespace here: {probe.stderr.strip()}")
    root = Path(tempfile.mkdtemp(prefix="utsfs-test-", dir="/tmp"))
    try:
        (root / "mnt").mkdir()
        res = run(USERNS + ["/usr/bin/python3", "-c",
                            "import sys; sys.path.insert(0, sys.argv[1]); "
                            "import test_faults; test_faults.limit_harness(sys.argv[2])",
                            Path(__file__).parent, root], check=False)
        assert res.returncode == 0, f"harness failed:\n{res.stdout}\n{res.stderr}"
        out = json.loads(res.stdout.splitlines()[-1])
        checker = OutputChecker(root / "utsfs.log")
        checker.allow(r"^.*mkdir.*No space left on device.*\n?")
        output = checker.problems()
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", root])
    figures.add("tried", 8 + out.get("tries until freed", 0))
    figures.add("acknowledged", sum(1 for v in out.values() if v == "ok"))
    figures.error("ENOSPC", expected=True,
                  n=sum(1 for v in out.values() if v == "ENOSPC"))
    keep_mount = str(root / "state" / "keep")
    assert out["exit"] == 0
    assert out["mkdir keep (limit 2)"] == "ok"
    assert out["mkdir a (limit 2)"] == "ENOSPC"
    assert out["before"] == {"tree": [".all", "keep"], "state": ["keep"], "mounts": [keep_mount]}
    assert out["after"] == out["before"]
    assert out["write keep/hostname"] == "ok"
    assert out["rename keep kept"] == "ok"
    assert out["kept/hostname"] == "still\n"
    assert out["mkdir a (limit 3)"] == "ok"
    assert out["a/hostname"] == "a\n"
    assert out["mkdir b (limit 3)"] == "ENOSPC"
    assert out["after b"]["tree"] == [".all", "a", "kept"]
    assert out["after b"]["state"] == ["a", "kept"]
    assert len(out["after b"]["mounts"]) == 2
    assert out["rmdir a"] == "ok"
    assert out["mkdir b after rmdir a"] == "ok", \
        f"the namespace of a was never freed ({out['tries until freed']} tries)"
    assert out["final"]["tree"] == [".all", "b", "kept"]
    assert out["problems"] == []
    assert output is None, output


# --- names removed behind the daemon's back --------------------------------------


@pytest.mark.parametrize("rm", [True, False], ids=["umount-and-rm", "umount-only"])
def test_external_removal_of_a_name_is_reflected_and_harmless(utsfs, figures, rm):
    """`umount STATE/x` (and `rm STATE/x`) by another tool: x leaves the tree,
    open files of x answer ENOENT, the daemon keeps serving, x can be made again."""
    utsfs.mkdir("x")
    utsfs.mkdir("keep")
    rfd = os.open(utsfs.path("x", "hostname"), os.O_RDONLY)
    wfd = os.open(utsfs.path("x", "domainname"), os.O_WRONLY | os.O_TRUNC)
    try:
        run(["umount", utsfs.state / "x"])
        if rm:
            run(["rm", utsfs.state / "x"])
        # A listing asks the state directory itself: at once.
        assert utsfs.names() == ["keep"]
        util.settled(lambda: not os.path.exists(utsfs.path("x")), "x gone from the tree")
        gone = [lambda: os.fstat(rfd), lambda: os.pread(rfd, 100, 0),
                lambda: os.pwrite(wfd, b"late\n", 0), lambda: os.stat(utsfs.path("x")),
                lambda: open(utsfs.path("x", "hostname")).close(),
                lambda: os.rmdir(utsfs.path("x")),
                lambda: os.rename(utsfs.path("x"), utsfs.path("y"))]
        for fn in gone:
            figures.add("tried")
            with pytest.raises(OSError) as e:
                fn()
            assert e.value.errno == errno.ENOENT
            figures.error("ENOENT", expected=True)
    finally:
        os.close(rfd)
        os.close(wfd)
    assert utsfs.running()
    assert utsfs.read("keep", "hostname") == "keep\n"
    assert utsfs.nsfs_mounts() == [str(utsfs.state / "keep")]
    if not rm:
        # An empty file may be another creator's, mid-way (touch, then bind):
        # like `ip netns add`, mkdir leaves it alone; the next start removes it.
        assert utsfs.state_names() == ["keep", "x"]
        assert (utsfs.state / "x").stat().st_size == 0
        with pytest.raises(FileExistsError):
            os.mkdir(utsfs.path("x"))
        utsfs.restart()
        assert utsfs.state_names() == ["keep"]
    new = utsfs.mkdir("x")
    assert utsfs.read("x", "hostname") == "x\n"
    assert utsfs.read("x", "id") == f"{new}\n"
    assert util.state_problems(utsfs.mnt, utsfs.state) == []
    figures.add("acknowledged")


# --- a kill between the steps of one operation ------------------------------------

# System call numbers, for spotting the daemon thread held at one.
SYSCALLS = {
    "x86_64": {"mount": [165], "umount2": [166], "unlink": [87, 263],
               "rename": [82, 264, 316]},
    "aarch64": {"mount": [40], "umount2": [39], "unlink": [35], "rename": [38, 276]},
}
# strace names for the same calls.
STRACE_NAMES = {"mount": "mount", "umount2": "umount2", "unlink": "unlink,unlinkat",
                "rename": "rename,renameat,renameat2"}


def threads_in_syscall(pid: int, numbers):
    hits = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                first = f.read().split()[0]
        except (FileNotFoundError, IndexError, ProcessLookupError):
            continue
        if first.isdigit() and int(first) in numbers:
            hits.append(tid)
    return hits


def traced(pid: int) -> bool:
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            if "TracerPid:\t0\n" in util.read_text(f"/proc/{pid}/task/{tid}/status"):
                return False
        except FileNotFoundError:
            continue
    return True


# (operation, the call it is held at, the names after the restart). "old" is
# delegated (1000:1001 0550, hostname "moving") before the operation starts.
MIDWAY = [
    # mkdir binds last: held there, it has a file and a namespace, no name.
    ("mkdir new", "mount", ["old"]),
    # rmdir detaches, then unlinks: before the detach nothing happened ...
    ("rmdir old", "umount2", ["old"]),
    # ... after it, the name is gone and its empty file is removed at start.
    ("rmdir old", "unlink", []),
    # rename binds the new name, then detaches the old one (README).
    ("rename old new", "mount", ["old"]),
    ("rename old new", "umount2", ["new"]),
    # .utsfs.conf is a temporary file renamed over the old one.
    ("chown old", "rename", ["old"]),
]


@pytest.mark.parametrize("op, held, after", MIDWAY,
                         ids=[f"{op.split()[0]}-held-at-{held}" for op, held, _ in MIDWAY])
def test_operation_killed_midway_is_all_or_nothing_after_restart(
        utsfs, figures, op, held, after):
    """The daemon is killed while one operation is held (by strace) at the entry of
    one of its system calls; after the restart the operation is fully done or not
    at all: exactly the expected names, each with its namespace, hostname, owner
    and mode, and nothing half-made in the state dir (no empty file, no temporary
    file, no stale .utsfs.conf group)."""
    import platform
    numbers = SYSCALLS.get(platform.machine(), {}).get(held)
    if numbers is None:
        pytest.skip(f"no system call numbers for {platform.machine()}")
    if not util.shutil.which("strace"):
        pytest.skip("needs strace (package strace) to hold the daemon mid-operation")
    ident = utsfs.mkdir("old")
    os.chown(utsfs.path("old"), util.DELEGATE, 1001)
    os.chmod(utsfs.path("old"), 0o550)
    utsfs.write("old", "hostname", b"moving\n")
    tracer = utsfs.spawn(["strace", "-f", "-qq", "-o", "/dev/null", "-p", str(utsfs.pid),
                          "-e", f"trace={STRACE_NAMES[held]}",
                          "-e", f"inject={STRACE_NAMES[held]}:delay_enter=30s"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not traced(utsfs.pid):
        assert tracer.poll() is None, f"strace failed: {tracer.stderr.read()}"
        assert time.monotonic() < deadline, "strace did not attach"
        time.sleep(0.02)
    kind, *names = op.split()
    do = {"mkdir": lambda: os.mkdir(utsfs.path(*names)),
          "rmdir": lambda: os.rmdir(utsfs.path(*names)),
          "rename": lambda: os.rename(utsfs.path(names[0]), utsfs.path(names[1])),
          "chown": lambda: os.chown(utsfs.path(*names), util.NOBODY, util.NOBODY)}[kind]
    result = {}

    def run_op():
        try:
            do()
            result[op] = "ok"
        except OSError as e:
            result[op] = errname(e)

    thread = threading.Thread(target=run_op)
    thread.start()
    deadline = time.monotonic() + 10
    while not threads_in_syscall(utsfs.pid, numbers):
        assert time.monotonic() < deadline, f"{op} never reached {held}(2)"
        assert thread.is_alive(), f"{op} ended before {held}(2): {result}"
        time.sleep(0.01)
    # SIGKILL first, so the held call never runs; then the tracer, which would
    # otherwise keep the dead daemon from its parent until the delay is over.
    assert utsfs.running()
    os.kill(utsfs.pid, signal.SIGKILL)
    tracer.kill()
    tracer.wait(timeout=10)
    utsfs.crash(running=False)
    thread.join(timeout=10)
    figures.add("kills")
    figures.add("tried")
    figures.add("interrupted")
    assert result == {op: "ECONNABORTED"}
    util.start_after_crash(utsfs)
    figures.add("restarts")
    assert utsfs.names() == after
    assert util.state_problems(utsfs.mnt, utsfs.state) == []
    groups = {}
    for name in after:
        assert util.nsfs_id(utsfs.state / name) == ident
        assert util.inside(utsfs.state / name) == "moving"
        st = os.stat(utsfs.path(name))
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (util.DELEGATE, 1001, 0o550)
        groups[name] = util.conf_entry(utsfs.state / name, util.DELEGATE, 1001, 0o550)
    assert util.conf_groups(utsfs.state) == groups
    assert sorted(os.listdir(utsfs.state)) == sorted(after + ([util.CONF] if after else []))
