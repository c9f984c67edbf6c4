# SPDX-License-Identifier: GPL-2.0-or-later
"""Bad input: thousands of random names and hostname/domainname writes, each answered
exactly as the rules (README) and the kernel say, the daemon alive throughout.

Every call's outcome is predicted by a small model of the rules before it is made;
any difference (another errno, a success that should fail, a value read back that
is not what the model says) is a failure. The seed is printed: set
UTSFS_FUZZ_SEED to replay a run.
"""

import errno
import os
import random
import re
import time
from collections import Counter

import pytest

import util

pytestmark = pytest.mark.usefixtures("figures")

NAMES = int(os.environ.get("UTSFS_FUZZ_NAMES", "4000"))
WRITE_SESSIONS = int(os.environ.get("UTSFS_FUZZ_WRITES", "2500"))
# The kernel refuses a path of PATH_MAX bytes or more (with its NUL) before any
# file system sees it; FUSE itself refused names over 1024 bytes before Linux 6.16.
PATH_MAX = 4096
FUSE_NAME_MAX_OLD = 1024
# loff_t: an offset plus a count at or beyond this is EINVAL from the kernel.
LOFF_MAX = 2**63 - 1
VALUE_CHARS = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
VALUE_RE = re.compile(rb"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")
HUGE_OFFSETS = [2**31, 2**32 + 7, 2**40, 2**62, 2**63 - 2, LOFF_MAX]
# The root's view of every namespace on the host: always there, never a name.
VIEW = os.fsencode(util.ALLVIEW)


def seed_from_env() -> int:
    return int(os.environ.get("UTSFS_FUZZ_SEED") or time.time_ns() % 2**32)


def errname(err) -> str:
    return "ok" if err is None else errno.errorcode.get(err, str(err))


def outcome(fn, *args):
    """(None, result) or (errno, None)."""
    try:
        return None, fn(*args)
    except OSError as e:
        return e.errno, None


def value_is_valid(value: bytes) -> bool:
    """The README's rule: 1-64 bytes of [A-Za-z0-9._-], not starting with '.' or '-'."""
    return VALUE_RE.fullmatch(value) is not None


# --- names -----------------------------------------------------------------------


def random_name(rng: random.Random, longest: int) -> bytes:
    """Random bytes without '/' and NUL (which cannot be in a path component);
    longest is the longest name the kernel passes on."""
    r = rng.random()
    if r < 0.03:
        return rng.choice([b"", b".", b"..", b"...", b".a", b"-", b" ", b"\x7f", VIEW])
    length = rng.choice([rng.randint(1, 3), rng.randint(4, 40), rng.randint(4, 40),
                         rng.randint(0, 300), rng.randint(0, 300), rng.randint(250, 260),
                         rng.randint(longest - 2, longest + 2)])
    alphabet = rng.choice([VALUE_CHARS, bytes(range(0x20, 0x7f)),
                           bytes(range(1, 256)), b"ab\x01\x1f\x7f\n\t ."])
    alphabet = alphabet.replace(b"/", b"")
    name = bytes(rng.choice(alphabet) for _ in range(length))
    if rng.random() < 0.05:
        name = b"." + name[1:]
    return name


def longest_name(mnt: bytes) -> int:
    """The longest name the kernel passes on to utsfs for a path in mnt."""
    by_path = PATH_MAX - 1 - len(mnt + b"/")
    try:
        os.lstat(mnt + b"/" + b"n" * (FUSE_NAME_MAX_OLD + 1))
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:
            return FUSE_NAME_MAX_OLD
    return by_path


def name_error(name: bytes, longest: int):
    """The errno mkdir(MOUNT/name) must fail with when name does not exist, or None."""
    if name in (b"", b".", b".."):
        return errno.EEXIST  # MOUNT itself, or its parent
    if len(name) > longest:
        return errno.ENAMETOOLONG  # the kernel, before utsfs sees it
    if len(name) > 255 or name.startswith(b".") or any(c < 0x20 or c == 0x7f for c in name):
        return errno.EINVAL
    return None


def test_random_names_get_exact_answers_and_leave_tree_and_state_agreeing(utsfs, figures):
    """Random names at mkdir, lookup, rename and rmdir: each succeeds or fails with the
    errno the rules give; a made name has its nsfs file and the right hostname."""
    seed = seed_from_env()
    print(f"name fuzz seed {seed} (UTSFS_FUZZ_SEED={seed} replays it)")
    figures.set("seed", seed)
    rng = random.Random(seed)
    mnt = os.fsencode(utsfs.mnt)
    state = os.fsencode(utsfs.state)
    host = util.host_names()[0].rstrip("\n").encode()
    longest = longest_name(mnt)
    figures.set("longest name the kernel passes on", longest)
    live = set()
    mismatches = []
    counts, errs = Counter(), Counter()

    def path(name):
        return mnt + b"/" + name

    def check(what, name, got, want):
        counts["tried"] += 1
        if got == want:
            if want is None:
                counts["acknowledged"] += 1
            else:
                errs[f"{errname(want)} ({what})"] += 1
        else:
            mismatches.append(f"{what} {name[:80]!r} (len {len(name)}): got "
                              f"{errname(got)}, want {errname(want)}")

    for _ in range(NAMES):
        name = random_name(rng, longest)
        action = rng.choices(["mkdir", "lookup", "rmdir", "rename"], [6, 2, 1, 2])[0]
        if action == "mkdir":
            want = errno.EEXIST if name == VIEW else \
                name_error(name, longest) or (errno.EEXIST if name in live else None)
            got, _ = outcome(os.mkdir, path(name))
            check("mkdir", name, got, want)
            if got is None:
                live.add(name)
                if want is None:
                    expect = name if value_is_valid(name) else host
                    with open(path(name) + b"/hostname", "rb") as f:
                        shown = f.read()
                    if shown != expect + b"\n":
                        mismatches.append(f"mkdir {name[:80]!r}: hostname {shown!r}")
                    if [m.fstype for m in util.mounts_at(os.fsdecode(state + b"/" + name))] \
                            != ["nsfs"]:
                        mismatches.append(f"mkdir {name[:80]!r}: no nsfs mount in STATE")
        elif action == "lookup":
            if name in (b"", b".", b"..", VIEW):
                want = None
            elif len(name) > longest:
                want = errno.ENAMETOOLONG
            else:
                want = None if name in live else errno.ENOENT
            got, _ = outcome(os.lstat, path(name))
            check("lookup", name, got, want)
        elif action == "rmdir":
            want = {b"": errno.EBUSY, b".": errno.EINVAL, b"..": errno.ENOTEMPTY,
                    VIEW: errno.EPERM}.get(name)
            if want is None and name not in (b"", b".", b"..", VIEW):
                want = errno.ENAMETOOLONG if len(name) > longest else \
                    None if name in live else errno.ENOENT
            got, _ = outcome(os.rmdir, path(name))
            check("rmdir", name, got, want)
            if got is None:
                live.discard(name)
        elif live:
            old = rng.choice(sorted(live))
            if name == b"":
                want = errno.EXDEV  # MOUNT/ names MOUNT itself, on another mount
            elif name in (b".", b".."):
                want = errno.EBUSY
            elif len(name) > longest:
                want = errno.ENAMETOOLONG
            elif name == old:
                want = None
            elif name == VIEW:
                want = errno.EINVAL  # no valid name: the view stays, and old too
            elif name in live:
                want = errno.ENOTEMPTY
            else:
                want = name_error(name, longest)
            got, _ = outcome(os.rename, path(old), path(name))
            check("rename", name, got, want)
            if got is None:
                live.discard(old)
                live.add(name)
        # Keep the number of live namespaces (and mounts) small.
        while len(live) > 25:
            victim = rng.choice(sorted(live))
            got, _ = outcome(os.rmdir, path(victim))
            check("rmdir", victim, got, None)
            live.discard(victim)
        if len(mismatches) >= 20:
            break
        assert utsfs.running(), "utsfs died"

    figures.add("fuzzed", NAMES)
    figures.add("tried", counts["tried"])
    figures.add("acknowledged", counts["acknowledged"])
    for key, n in errs.items():
        figures.error(key, expected=True, n=n)
    figures.add("unexpected_errors", 0)
    for m in mismatches:
        figures.error(m.split(" ")[0] + " answered against the rules", expected=False)
    assert mismatches == [], f"seed {seed}:\n" + "\n".join(mismatches)
    assert sorted(os.listdir(mnt)) == sorted(live | {VIEW})
    problems = util.state_problems(utsfs.mnt, utsfs.state)
    assert problems == [], "\n".join(problems)


# --- values -----------------------------------------------------------------------


def random_value(rng: random.Random) -> bytes:
    r = rng.random()
    if r < 0.45:
        value = bytes(rng.choice(VALUE_CHARS) for _ in range(rng.randint(1, 70)))
        return value + (b"\n" if rng.random() < 0.6 else b"")
    if r < 0.6:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 5)))
    if r < 0.8:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 100)))
    if r < 0.9:
        value = bytes(rng.choice(VALUE_CHARS) for _ in range(rng.randint(1, 30)))
        cut = rng.randint(0, len(value))
        return value[:cut] + rng.choice([b"\n", b"\n\n", b"\r\n", b"\0", b" "]) + value[cut:]
    length = rng.choice([65, 66, 100, 1000, 4096, 65536, 70000, rng.randint(0, 70000)])
    return bytes(rng.choice(VALUE_CHARS) for _ in range(length))


class Written:
    """The model of one open file: what it holds for a write at offset k to continue."""

    def __init__(self, content: bytes):
        self.content = content

    def attempt(self, off: int, data: bytes):
        """(errno, new content, new value) the daemon must answer a write at off with."""
        if off > len(self.content) or len(data) > 65 - off:
            return errno.EINVAL, None, None
        content = self.content[:off] + data
        value = content[:-1] if content.endswith(b"\n") else content
        if not value_is_valid(value):
            return errno.EINVAL, None, None
        return None, content, value


def kernel_error(off: int, n: int):
    """What the kernel answers before utsfs sees a read or write, or None when it
    passes it on (rw_verify_area: a negative offset, or one that overflows)."""
    if off < 0 or off + n > LOFF_MAX:
        return errno.EINVAL
    return None


def choose_offset(rng: random.Random, written: Written, pos: int) -> int:
    return rng.choices(
        [0, pos, len(written.content), rng.randint(0, 80), rng.choice(HUGE_OFFSETS), -1],
        [3, 2, 2, 2, 1, 0.2])[0]


def test_random_hostname_and_domainname_writes_answer_by_the_rules(utsfs, figures):
    """Random bytes (0-70000 long) written at random offsets (up to 2**63-1), in
    several writes on one open file, with and without O_TRUNC and O_APPEND: each
    write's result is the rules' and the kernel's; after every write the value read
    back is the expected one, and valid whenever a write succeeded."""
    seed = seed_from_env()
    print(f"value fuzz seed {seed} (UTSFS_FUZZ_SEED={seed} replays it)")
    figures.set("seed", seed)
    rng = random.Random(seed)
    spaces = ["fz0", "fz1", "fz2"]
    for n in spaces:
        utsfs.mkdir(n)
    domain = util.host_names()[1].rstrip("\n").encode()
    current = {(n, a): (n.encode() if a == "hostname" else domain)
               for n in spaces for a in ("hostname", "domainname")}
    mismatches = []
    counts, errs = Counter(), Counter()

    def mismatch(text):
        mismatches.append(f"{text} [seed {seed}]")

    for session in range(WRITE_SESSIONS):
        key = (rng.choice(spaces), rng.choice(["hostname", "domainname"]))
        path = utsfs.path(*key)
        trunc, append = rng.random() < 0.5, rng.random() < 0.15
        access = rng.choice([os.O_WRONLY, os.O_RDWR])
        fd = os.open(path, access | (os.O_TRUNC if trunc else 0) |
                     (os.O_APPEND if append else 0))
        # Truncating changes nothing: a first write continues the value.
        written = Written(current[key] + b"\n")
        pos = 0
        try:
            for _ in range(rng.randint(1, 4)):
                data = random_value(rng)
                explicit = rng.random() < 0.6
                off = choose_offset(rng, written, pos) if explicit else pos
                counts["writes"] += 1
                counts["O_APPEND writes"] += append
                counts["writes longer than 65 bytes"] += len(data) > 65
                counts["writes at offsets of 2**31 or more"] += explicit and off >= 2**31
                if explicit:
                    got, n = outcome(os.pwrite, fd, data, off)
                else:
                    got, n = outcome(os.write, fd, data)
                what = (f"session {session} {key[0]}/{key[1]} trunc={trunc} "
                        f"append={append} off={off} data={data[:40]!r} (len {len(data)})")
                value = current[key]
                if append:
                    # O_APPEND asks for the end of a value that may have changed
                    # since the kernel learnt its size: refused, whatever the offset.
                    want = kernel_error(off, len(data)) if explicit else None
                    if want is None and data:
                        want = errno.EINVAL
                    if got != want or (got is None and n != 0):
                        mismatch(f"{what}: got {errname(got)} {n}, want {errname(want)}")
                        current[key] = util.inside(utsfs.state / key[0], key[1]).encode()
                        break
                else:
                    # The kernel checks the offset first; an empty write goes no further.
                    want = kernel_error(off, len(data))
                    content = new = None
                    if want is None and data:
                        want, content, new = written.attempt(off, data)
                    if got != want or (got is None and n != len(data)):
                        mismatch(f"{what}: got {errname(got)} {n}, want {errname(want)}")
                        # Follow what happened, to go on checking in a new session.
                        current[key] = util.inside(utsfs.state / key[0], key[1]).encode()
                        break
                    if got is None and data:
                        written.content, value = content, new
                        if not explicit:
                            pos += len(data)  # pwrite leaves the file position alone
                if got is None:
                    counts["acknowledged"] += 1
                    if data and not value_is_valid(value):
                        mismatch(f"{what}: a successful write left {value!r}")
                else:
                    errs[errname(got)] += 1
                current[key] = value
                # Read back through the tree and from inside the namespace (sometimes).
                with open(path, "rb") as f:
                    back = f.read(200)
                if back != value + b"\n":
                    mismatch(f"{what}: reads back {back!r}, want {value!r} and a newline")
                if rng.random() < 0.05:
                    inside = util.inside(utsfs.state / key[0], key[1]).encode()
                    if inside != value:
                        mismatch(f"{what}: namespace holds {inside!r}, want {value!r}")
                if access == os.O_RDWR and rng.random() < 0.3:
                    # A read at any offset shows the current value from there.
                    roff = rng.choice([0, 0, rng.randint(0, 70), rng.choice(HUGE_OFFSETS[:-1])])
                    size = rng.choice([1, 5, 65, 4096])
                    shown = value + b"\n"
                    counts["reads"] += 1
                    got_r, chunk = outcome(os.pread, fd, size, roff)
                    want_r = kernel_error(roff, size)
                    want_chunk = None if want_r else shown[roff:roff + size]
                    counts["acknowledged"] += got_r is None
                    if got_r is not None:
                        errs[errname(got_r)] += 1
                    if (got_r, chunk) != (want_r, want_chunk):
                        mismatch(f"{what}: pread({size}, {roff}) gave {errname(got_r)} "
                                 f"{chunk!r}, want {errname(want_r)} {want_chunk!r}")
                if len(mismatches) >= 20:
                    break
        finally:
            os.close(fd)
        assert utsfs.running(), "utsfs died"
        if len(mismatches) >= 20:
            break

    figures.add("fuzzed", counts["writes"] + counts["reads"])
    figures.add("tried", counts["writes"] + counts["reads"])
    figures.add("acknowledged", counts["acknowledged"])
    figures.set("open files (write sessions)", WRITE_SESSIONS)
    for key in ("writes", "reads", "O_APPEND writes",
                "writes longer than 65 bytes", "writes at offsets of 2**31 or more"):
        figures.set(key, counts[key])
    for name, n in errs.items():
        figures.error(name, expected=True, n=n)
    figures.add("unexpected_errors", 0)
    for m in mismatches:
        figures.error("answered against the rules", expected=False)
    assert mismatches == [], "\n".join(mismatches)
    for (n, attr), value in current.items():
        assert util.inside(utsfs.state / n, attr).encode() == value
