# SPDX-License-Identifier: GPL-2.0-or-later
"""utsfs under load: many concurrent clients, tens of thousands of operations, no
error nobody expected, no value nobody wrote, and the tree agrees with the state dir."""

import errno
import multiprocessing
import os
import random
import time
from collections import Counter

import pytest

import util

pytestmark = pytest.mark.usefixtures("figures")

CLIENTS = 8  # the docstring says eight
OPS_PER_CLIENT = int(os.environ.get("UTSFS_STRESS_OPS", "4000"))
# Names every client works on, and the values any client may write to them.
SHARED = [f"s{i}" for i in range(6)]
VOCABULARY = [f"v{i}.example" for i in range(40)]
PRIVATE_PER_CLIENT = 4
# What racing clients may rightly get on a shared name.
RACES = {
    "mkdir": {errno.EEXIST},
    "rmdir": {errno.ENOENT},
    "rename": {errno.ENOENT, errno.ENOTEMPTY},
    # ESTALE: the name was removed and made again (another namespace) by
    # another client between this client's open and its read or write.
    "read": {errno.ENOENT, errno.ESTALE},
    "write": {errno.ENOENT, errno.ESTALE},
}


def private_names(k):
    return [f"p{k}-{i}" for i in range(PRIVATE_PER_CLIENT)]


def read_value(path) -> str:
    # One read(2) at offset 0 gives a whole value. A buffered f.read(4096)
    # would read again at the end of it, and (as on /proc/sys/kernel/hostname)
    # get the tail of whatever value a concurrent write set meanwhile.
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096).decode()
    finally:
        os.close(fd)


def write_value(path, value: str):
    data = value.encode() + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        assert os.write(fd, data) == len(data)
    finally:
        os.close(fd)


def stress_client(k: int, seed: int, mnt: str, state: str, ops: int, domain: str) -> dict:
    """One client process: `ops` random operations, half on shared names and half
    on its own names, whose exact state it knows and checks on every read."""
    rng = random.Random(seed)
    mine = private_names(k)
    # name -> [id, hostname, domainname, uid, gid, mode, delegated] for this
    # client's names that exist.
    model = {}
    counts = Counter()
    expected, unexpected, bad_reads = Counter(), [], []
    shared_hostnames = set(VOCABULARY) | set(SHARED)
    shared_domains = set(VOCABULARY) | {domain}

    def path(*parts):
        return os.path.join(mnt, *parts)

    def shared_op(kind):
        a, b = rng.sample(SHARED, 2)
        attr = rng.choice(["hostname", "hostname", "domainname"])
        if kind == "mkdir":
            os.mkdir(path(a))
        elif kind == "rmdir":
            os.rmdir(path(a))
        elif kind == "rename":
            os.rename(path(a), path(b))
        elif kind == "read":
            value = read_value(path(a, attr))
            allowed = shared_hostnames if attr == "hostname" else shared_domains
            if not value.endswith("\n") or value[:-1] not in allowed:
                bad_reads.append(f"{a}/{attr}: {value!r}")
        else:
            write_value(path(a, attr), rng.choice(VOCABULARY))

    def private_kind():
        present = [n for n in mine if n in model]
        absent = [n for n in mine if n not in model]
        return rng.choice((["mkdir"] * 3 if absent else []) +
                          (["rmdir", "read", "read", "read", "write", "write", "list"]
                           if present else []) +
                          (["rename"] * 2 if present and absent else [])), present, absent

    def private_op(kind, present, absent):
        if kind == "mkdir":
            n = rng.choice(absent)
            os.mkdir(path(n))
            model[n] = [util.nsfs_id(os.path.join(state, n)), n, domain, 0, 0, 0o555,
                        False]
        elif kind == "rmdir":
            n = rng.choice(present)
            os.rmdir(path(n))
            del model[n]
        elif kind == "rename":
            n, to = rng.choice(present), rng.choice(absent)
            os.rename(path(n), path(to))
            model[to] = model.pop(n)
        elif kind == "list":
            # What a listing hands the kernel (READDIRPLUS) is what stat then
            # says: the names this client made, their ids, owners and modes.
            listed = {}
            with os.scandir(mnt) as entries:
                for e in entries:
                    if e.name in mine:
                        st = e.stat(follow_symlinks=False)
                        listed[e.name] = [st.st_ino, st.st_uid, st.st_gid,
                                          st.st_mode & 0o7777]
            made = {n: [m[0], *m[3:6]] for n, m in model.items()}
            if listed != made:
                bad_reads.append(f"listing {listed}, made {made}")
        elif kind == "read":
            n = rng.choice(present)
            for field, attr in ((1, "hostname"), (2, "domainname")):
                value = read_value(path(n, attr))
                if value != model[n][field] + "\n":
                    bad_reads.append(f"{n}/{attr}: {value!r}, last written "
                                     f"{model[n][field]!r}")
            st = os.stat(path(n))
            if [st.st_uid, st.st_gid, st.st_mode & 0o7777] != model[n][3:6]:
                bad_reads.append(f"{n}: owner and mode {st.st_uid}:{st.st_gid} "
                                 f"{st.st_mode & 0o7777:o}, set {model[n][3:6]}")
        else:
            n = rng.choice(present)
            field, attr = rng.choice([(1, "hostname"), (2, "domainname")])
            value = rng.choice(VOCABULARY)
            write_value(path(n, attr), value)
            model[n][field] = value

    shared_kinds = ["mkdir"] * 2 + ["rmdir"] + ["rename"] * 2 + ["read"] * 4 + ["write"] * 3
    for _ in range(ops):
        shared = rng.random() < 0.5
        counts["tried"] += 1
        try:
            if shared:
                kind = rng.choice(shared_kinds)
                counts[kind] += 1
                shared_op(kind)
            else:
                kind, present, absent = private_kind()
                counts[kind] += 1
                private_op(kind, present, absent)
        except OSError as e:
            name = errno.errorcode.get(e.errno, str(e.errno))
            if shared and e.errno in RACES[kind]:
                expected[f"{name} ({kind})"] += 1
            else:
                unexpected.append(f"{'shared' if shared else 'private'} {kind}: {name} {e}")
            continue
        counts["acknowledged"] += 1
    return {"counts": counts, "expected": expected, "unexpected": unexpected[:20],
            "unexpected_total": len(unexpected), "bad_reads": bad_reads[:20],
            "bad_reads_total": len(bad_reads), "model": model}


def test_concurrent_clients_get_no_unexpected_error_and_leave_tree_and_state_agreeing(
        utsfs, figures):
    """Eight client processes race mkdir/rmdir/rename/read/write on shared names and work on
    names of their own: only race errnos on shared names, every read is a value some
    write set (exactly the last one on private names), the daemon stays up, and the
    tree, the state dir and the namespaces agree afterwards."""
    seed = int(os.environ.get("UTSFS_FUZZ_SEED") or time.time_ns() % 2**32)
    print(f"stress seed {seed}")
    figures.set("seed", seed)
    figures.set("clients", CLIENTS)
    domain = util.host_names()[1].rstrip("\n")
    rng = random.Random(seed)
    args = [(k, rng.randrange(2**32), str(utsfs.mnt), str(utsfs.state), OPS_PER_CLIENT,
             domain) for k in range(CLIENTS)]
    start = time.monotonic()
    with multiprocessing.get_context("fork").Pool(CLIENTS) as pool:
        results = pool.starmap(stress_client, args)
    elapsed = time.monotonic() - start
    totals, expected = Counter(), Counter()
    unexpected, bad_reads = [], []
    for r in results:
        totals.update(r["counts"])
        expected.update(r["expected"])
        unexpected += r["unexpected"]
        bad_reads += r["bad_reads"]
        totals["unexpected"] += r["unexpected_total"]
        totals["bad reads"] += r["bad_reads_total"]
    figures.add("tried", totals["tried"])
    figures.add("acknowledged", totals["acknowledged"])
    for name, n in expected.items():
        figures.error(name, expected=True, n=n)
    figures.add("unexpected_errors", 0)
    for u in unexpected:
        figures.error(u.split(":")[0], expected=False)
    figures.set("reads of a value nobody wrote", totals["bad reads"])
    figures.set("operations per second", round(totals["tried"] / elapsed))
    figures.set("operations by kind", {k: totals[k] for k in
                                       ("mkdir", "rmdir", "rename", "read", "write",
                                        "list")})

    assert totals["tried"] == CLIENTS * OPS_PER_CLIENT
    assert unexpected == [], f"{totals['unexpected']} unexpected errors, e.g. {unexpected}"
    assert bad_reads == [], f"{totals['bad reads']} bad reads, e.g. {bad_reads}"
    assert utsfs.running(), "utsfs died under load"
    utsfs.check_threads_in_host_uts()
    problems = util.state_problems(utsfs.mnt, utsfs.state)
    assert problems == [], "\n".join(problems)
    for name in utsfs.names():
        inside = util.inside_both(utsfs.state / name)
        through = (utsfs.read(name, "hostname"), utsfs.read(name, "domainname"))
        assert through == (inside[0] + "\n", inside[1] + "\n"), name
        if name in SHARED:
            assert inside[0] in set(VOCABULARY) | set(SHARED), (name, inside)
    assert set(utsfs.names()) <= set(SHARED) | {
        n for k in range(CLIENTS) for n in private_names(k)}
    check_private_names(utsfs, results)
    # Everything acknowledged under load is in the state dir: a restart keeps it.
    utsfs.restart()
    assert util.state_problems(utsfs.mnt, utsfs.state) == []
    check_private_names(utsfs, results)


def check_private_names(fs, results):
    """Each client's own names are exactly as its acknowledged operations left them,
    in the state dir, inside the namespaces, in the tree and in .utsfs.conf."""
    groups = util.conf_groups(fs.state)
    for name, group in groups.items():
        st = os.stat(fs.path(util.unquote(name)))
        assert st.st_ino == util.nsfs_id(fs.state / util.unquote(name)), name
        assert group == util.conf_entry(fs.state / util.unquote(name), st.st_uid, st.st_gid,
                                        st.st_mode & 0o7777), name
    for k, r in enumerate(results):
        mine = {}
        for n in private_names(k):
            if not (fs.state / n).exists():
                continue
            st = os.stat(fs.path(n))
            mine[n] = [util.nsfs_id(fs.state / n), *util.inside_both(fs.state / n),
                       st.st_uid, st.st_gid, st.st_mode & 0o7777, n in groups]
        assert mine == r["model"], f"client {k}'s names"


# --- owners and modes changed concurrently ------------------------------------------

META_CLIENTS = 8
META_OPS = 60
OWNERS = [0, util.DELEGATE, 1001, util.NOBODY]
# No write bits: a chmod that asks for one is refused (test_delegation.py).
MODES = [0o555, 0o550, 0o500, 0o511, 0o1555, 0o2550]


def meta_client(names, seed: int, mnt: str, ops: int) -> dict:
    """One process: ops random chowns and chmods of its own names, each checked
    right away; returns what it set (and errors)."""
    rng = random.Random(seed)
    want = {n: [0, 0, util.NS_DIR_MODE] for n in names}
    changed, errors = set(), []
    for _ in range(ops):
        n = rng.choice(names)
        path = os.path.join(mnt, n)
        try:
            if rng.random() < 0.5:
                uid, gid = rng.choice(OWNERS), rng.choice(OWNERS)
                os.chown(path, uid, gid)
                want[n][:2] = [uid, gid]
            else:
                mode = rng.choice(MODES)
                os.chmod(path, mode)
                want[n][2] = mode
            changed.add(n)
            st = os.stat(path)
        except OSError as e:
            errors.append(f"{n}: {e}")
            continue
        if [st.st_uid, st.st_gid, st.st_mode & 0o7777] != want[n]:
            errors.append(f"{n}: {st.st_uid}:{st.st_gid} {st.st_mode & 0o7777:o} "
                          f"right after setting {want[n]}")
    return {"want": want, "changed": changed, "errors": errors}


def test_concurrent_chowns_and_chmods_lose_no_update(utsfs, figures):
    """Client processes chown and chmod names of their own at once: every change is
    kept (in the tree, in .utsfs.conf and after a restart), none overwrites another's.

    Each change rewrites the one .utsfs.conf, so this runs far fewer operations
    than the stress test above.
    """
    seed = int(os.environ.get("UTSFS_FUZZ_SEED") or time.time_ns() % 2**32)
    print(f"chown/chmod seed {seed}")
    figures.set("seed", seed)
    figures.set("clients", META_CLIENTS)
    names = [[f"m{t}-{i}" for i in range(3)] for t in range(META_CLIENTS)]
    for n in sum(names, []):
        utsfs.mkdir(n)
    rng = random.Random(seed)
    with multiprocessing.get_context("fork").Pool(META_CLIENTS) as pool:
        results = pool.starmap(meta_client, [(names[t], rng.randrange(2**32), str(utsfs.mnt),
                                              META_OPS) for t in range(META_CLIENTS)])
    errors = sum((r["errors"] for r in results), [])
    want = {n: v for r in results for n, v in r["want"].items()}
    changed = set().union(*(r["changed"] for r in results))
    figures.add("tried", META_CLIENTS * META_OPS)
    figures.add("acknowledged", META_CLIENTS * META_OPS - len(errors))
    figures.add("unexpected_errors", len(errors))
    assert errors == []
    assert utsfs.running()

    def check():
        groups = util.conf_groups(utsfs.state)
        for n, (uid, gid, mode) in want.items():
            st = os.stat(utsfs.path(n))
            assert [st.st_uid, st.st_gid, st.st_mode & 0o7777] == [uid, gid, mode], n
            assert groups.get(n) == (util.conf_entry(utsfs.state / n, uid, gid, mode)
                                     if n in changed else None), n
    check()
    utsfs.restart()
    check()
    assert util.state_problems(utsfs.mnt, utsfs.state) == []
