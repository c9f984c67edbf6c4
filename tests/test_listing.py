# SPDX-License-Identifier: GPL-2.0-or-later
"""What stat, readdir and everyday tools (ls, find, tree, stat, gio) see."""

import os
import re
import shutil
import stat

import pytest

import util
from util import run

# nsid only where the kernel has NS_GET_ID (Linux 6.18).
ATTRS = sorted(util.ATTR_FILES)
# A namespace directory in MOUNT/.all: the same files, and the names it has
# (ns only while it has one).
VIEW_ATTRS = sorted(util.ATTR_FILES + ("names",))
VIEW = util.ALLVIEW
C_LOCALE = dict(os.environ, LC_ALL="C")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def fs(utsfs):
    utsfs.mkdir("x")
    utsfs.write("x", "domainname", b"example.org\n")
    return utsfs


def test_root_is_a_0755_directory_of_root(utsfs):
    st = os.stat(utsfs.mnt)
    assert stat.S_ISDIR(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o755
    assert (st.st_uid, st.st_gid) == (0, 0)


def test_namespace_dir_is_0555_root_with_two_links(fs):
    """No write bits: nothing can be made in a namespace directory, and none
    may mount over it (fusermount3 asks for write access)."""
    st = os.stat(fs.path("x"))
    assert stat.S_ISDIR(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o555
    assert (st.st_uid, st.st_gid, st.st_nlink) == (0, 0, 2)


def test_namespace_dir_inode_is_the_namespace_id(fs):
    # What a process inside the namespace sees, asked from inside.
    link = run(["nsenter", f"--uts={fs.state / 'x'}", "readlink",
                "/proc/self/ns/uts"]).stdout
    ident = int(link.strip().removeprefix("uts:[").removesuffix("]"))
    assert os.stat(fs.path("x")).st_ino == ident
    assert util.nsfs_id(fs.state / "x") == ident
    assert fs.read("x", "id") == f"{ident}\n"


@pytest.mark.skipif(not util.HAS_NS_IDS, reason="no NS_GET_ID before Linux 6.18: no nsid")
def test_nsid_is_the_kernels_64_bit_id_and_id_the_inode_number(fs):
    """nsid is what ioctl(NS_GET_ID) tells of the name's nsfs file (and of a
    thread inside the namespace); id stays its inode number, as lsns and
    `stat -L` show it. Two namespaces never share an nsid."""
    fs.mkdir("y")
    seen = {}
    for name in ("x", "y"):
        nsfile = fs.state / name
        nsid = util.ns_id(nsfile)
        assert fs.read(name, "nsid") == f"{nsid}\n"
        assert util.in_namespace(nsfile, lambda: util.ns_id("/proc/thread-self/ns/uts")) == nsid
        stat_l = run(["stat", "-L", "-c", "%i", fs.path(name, "ns")]).stdout
        assert fs.read(name, "id") == stat_l == f"{util.nsfs_id(nsfile)}\n"
        seen[name] = nsid
    assert seen["x"] != seen["y"]


def test_attribute_files_have_their_modes_and_exact_sizes(fs):
    ident = util.nsfs_id(fs.state / "x")
    expected = {"hostname": (0o644, "x\n"), "domainname": (0o644, "example.org\n"),
                "id": (0o444, f"{ident}\n")}
    if util.HAS_NS_IDS:
        expected["nsid"] = (0o444, f"{util.ns_id(fs.state / 'x')}\n")
    for attr, (mode, content) in expected.items():
        st = os.stat(fs.path("x", attr))
        assert stat.S_ISREG(st.st_mode), attr
        assert stat.S_IMODE(st.st_mode) == mode, attr
        assert (st.st_uid, st.st_gid) == (0, 0), attr
        assert fs.read("x", attr) == content
        assert st.st_size == len(content), attr


def test_ns_is_a_symlink_to_the_state_file(fs):
    st = os.lstat(fs.path("x", "ns"))
    assert stat.S_ISLNK(st.st_mode)
    target = os.readlink(fs.path("x", "ns"))
    assert target == str(fs.state / "x")
    assert os.path.isabs(target)
    assert os.stat(fs.path("x", "ns")).st_ino == util.nsfs_id(fs.state / "x")


def test_reads_at_any_offset_see_the_content(fs):
    with open(fs.path("x", "domainname"), "rb") as f:
        fd = f.fileno()
        assert os.pread(fd, 3, 2) == b"amp"
        assert os.pread(fd, 100, 8) == b"org\n"
        assert os.pread(fd, 100, 12) == b""
        assert os.pread(fd, 100, 1000) == b""
        assert b"".join(iter(lambda: f.read(1), b"")) == b"example.org\n"


def test_empty_tree_lists_nothing(utsfs):
    """No name: `ls` shows nothing; readdir has only the dot entry .all, the
    view of every namespace on the host."""
    assert run(["ls", utsfs.mnt]).stdout == ""
    assert os.listdir(utsfs.mnt) == [VIEW]
    assert run(["ls", "-a", utsfs.mnt]).stdout.split() == [".", "..", VIEW]


def test_root_lists_exactly_the_names(fs):
    fs.mkdir("y")
    out = run(["ls", "-a", fs.mnt], env=C_LOCALE).stdout
    assert out.split("\n") == [".", "..", VIEW, "x", "y", ""]
    out = run(["ls", fs.mnt], env=C_LOCALE).stdout
    assert out.split("\n") == ["x", "y", ""]


def test_namespace_dir_lists_exactly_its_attributes(fs):
    out = run(["ls", "-a", fs.path("x")], env=C_LOCALE).stdout
    assert out.split("\n") == [".", ".."] + ATTRS + [""]


def test_long_listing_of_many_names_lists_them_all(utsfs):
    # Enough bytes of names to take several readdir replies.
    names = sorted(f"{i:03d}-" + "n" * 120 for i in range(60))
    for name in names:
        os.mkdir(utsfs.path(name))
    assert utsfs.names() == names
    assert sorted(e.name for e in os.scandir(utsfs.mnt)) == sorted(names + [VIEW])


def ls_l(path):
    res = run(["ls", "-l", path], env=C_LOCALE)
    assert res.stderr == ""
    lines = res.stdout.splitlines()
    assert lines[0].startswith("total ")
    rows = {}
    for line in lines[1:]:
        perms, _links, owner, group, size, _mon, _day, _time, name = line.split(maxsplit=8)
        rows[name] = (perms, owner, group, int(size))
    return rows


def test_ls_l_of_root_shows_namespaces(fs):
    fs.mkdir("y")
    rows = ls_l(fs.mnt)
    assert sorted(rows) == ["x", "y"]
    for perms, owner, group, _size in rows.values():
        assert (perms, owner, group) == ("dr-xr-xr-x", "root", "root")


def test_ls_l_of_namespace_shows_attributes(fs):
    ident = util.nsfs_id(fs.state / "x")
    rows = ls_l(fs.path("x"))
    assert rows == {
        "domainname": ("-rw-r--r--", "root", "root", len("example.org\n")),
        "hostname": ("-rw-r--r--", "root", "root", len("x\n")),
        "id": ("-r--r--r--", "root", "root", len(f"{ident}\n")),
        f"ns -> {fs.state / 'x'}": ("lrwxrwxrwx", "root", "root",
                                    len(str(fs.state / "x"))),
        # A page, as sysfs shows: no scan of /proc per stat.
        "pids": ("-r--r--r--", "root", "root", 4096),
    } | ({"nsid": ("-r--r--r--", "root", "root", len(f"{util.ns_id(fs.state / 'x')}\n"))}
         if util.HAS_NS_IDS else {})


def view_id(fs, name) -> str:
    """The directory of MOUNT/.all that is name's namespace: its 64-bit id."""
    return str(util.conf_id(fs.state / name))


def check_find_warnings(m, res):
    """find's complaints may only be about directories of MOUNT/.all whose
    namespace ended during the walk (another process on the host exited;
    ids are never reused, so such a one stays gone)."""
    for line in res.stderr.splitlines():
        hit = re.fullmatch(rf"find: '{re.escape(f'{m}/{VIEW}/')}(\d+)(/[a-z]+)?': "
                           r"No such file or directory", line)
        assert hit, f"find complained: {line!r}"
        assert not os.path.lexists(f"{m}/{VIEW}/{hit.group(1)}"), f"{line!r}: still there"
    assert res.returncode == (1 if res.stderr else 0)


def test_find_lists_every_path_without_warnings(fs):
    """find walks the names without a warning, and .all too: there only a
    namespace that ended during the walk may make it complain."""
    fs.mkdir("y")
    m = str(fs.mnt)
    names = {m} | {f"{m}/{n}" for n in ("x", "y")} | {
        f"{m}/{n}/{a}" for n in ("x", "y") for a in ATTRS}
    # The names exactly, and .all, left unwalked (what it holds is the host's).
    res = run(["find", m, "-path", f"{m}/{VIEW}", "-prune", "-print", "-o", "-print"],
              env=C_LOCALE)
    assert res.stderr == ""
    lines = res.stdout.splitlines()
    assert len(lines) == len(names) + 1
    assert set(lines) == names | {f"{m}/{VIEW}"}
    # A whole walk also lists .all: every namespace on the host, x's and y's
    # with their files (and ns, as they have names).
    res = run(["find", m], check=False, env=C_LOCALE)
    check_find_warnings(m, res)
    lines = res.stdout.splitlines()
    assert len(lines) == len(set(lines))
    assert {line for line in lines if not line.startswith(f"{m}/{VIEW}/")} == \
        names | {f"{m}/{VIEW}"}
    for ident in (view_id(fs, "x"), view_id(fs, "y")):
        assert {f"{m}/{VIEW}/{ident}"} | {f"{m}/{VIEW}/{ident}/{a}" for a in VIEW_ATTRS} \
            <= set(lines)


def test_find_by_type_tells_files_dirs_and_links_apart(fs):
    m = fs.mnt
    prune = ["-path", f"{m}/{VIEW}", "-prune", "-o"]
    assert run(["find", m, "-mindepth", "1"] + prune + ["-type", "d", "-print"]).stdout \
        == f"{m}/x\n"
    assert sorted(run(["find", m, "-mindepth", "1", "-maxdepth", "1", "-type", "d"])
                  .stdout.split()) == [f"{m}/{VIEW}", f"{m}/x"]
    assert sorted(run(["find", m] + prune + ["-type", "f", "-print"]).stdout.split()) == [
        f"{m}/x/{a}" for a in ATTRS if a != "ns"]
    assert run(["find", m] + prune + ["-type", "l", "-print"]).stdout == f"{m}/x/ns\n"
    # x in the view: the same kinds, and names.
    d = f"{m}/{VIEW}/{view_id(fs, 'x')}"
    assert run(["find", d, "-type", "d"]).stdout == f"{d}\n"
    assert sorted(run(["find", d, "-type", "f"]).stdout.split()) == [
        f"{d}/{a}" for a in VIEW_ATTRS if a != "ns"]
    assert run(["find", d, "-type", "l"]).stdout == f"{d}/ns\n"


@pytest.mark.skipif(shutil.which("tree") is None, reason="tree is not installed")
def test_tree_lists_every_path(fs):
    res = run(["tree", "-a", "--noreport", fs.mnt], env=C_LOCALE, check=False)
    assert res.stderr == ""
    # tree walks .all too: only a namespace that ended during the walk (of
    # another process on the host) may fail to open there (tree exits 2).
    failed = re.findall(r"-- (\S+)  \[error opening dir\]$", res.stdout, re.MULTILINE)
    for ident in failed:
        assert ident.isdigit() and not os.path.lexists(fs.path(VIEW, ident)), ident
    assert res.returncode == (2 if failed else 0)
    for name in ["x", VIEW] + ATTRS:
        assert f" {name}" in res.stdout
    assert f"ns -> {fs.state / 'x'}" in res.stdout


def test_stat_command_reports_the_contract(fs):
    ident = util.nsfs_id(fs.state / "x")
    fmt = "%F|%a|%U|%G|%h|%i|%s"
    out = run(["stat", "-c", fmt, fs.path("x"), fs.path("x", "hostname"),
               fs.path("x", "id")], env=C_LOCALE).stdout.splitlines()
    assert out[0] == f"directory|555|root|root|2|{ident}|" + out[0].rsplit("|", 1)[1]
    assert out[1].startswith("regular file|644|root|root|1|")
    assert out[1].endswith(f"|{len('x')+1}")
    assert out[2].startswith("regular file|444|root|root|1|")
    assert out[2].endswith(f"|{len(str(ident)) + 1}")
    out = run(["stat", "-c", "%F|%N", fs.path("x", "ns")], env=C_LOCALE).stdout
    assert out == f"symbolic link|'{fs.path('x', 'ns')}' -> '{fs.state / 'x'}'\n"


def test_gio_list_shows_names_and_attributes(fs):
    fs.mkdir("y")
    res = run(["gio", "list", fs.mnt])
    assert sorted(res.stdout.split()) == ["x", "y"]
    res = run(["gio", "list", "--hidden", fs.mnt])
    assert sorted(res.stdout.split()) == [VIEW, "x", "y"]
    res = run(["gio", "list", fs.path("x")])
    assert sorted(res.stdout.split()) == ATTRS


def test_gio_info_of_hostname(fs):
    res = run(["gio", "info", fs.path("x", "hostname")], env=C_LOCALE)
    info = {}
    for line in res.stdout.splitlines():
        key, _, value = line.strip().partition(": ")
        info.setdefault(key, value.strip())
    assert info["name"] == "hostname"
    assert info["type"] == "regular"
    assert info["standard::size"] == str(len("x\n"))
    assert info["unix::mode"] == str(stat.S_IFREG | 0o644)
    assert info["access::can-read"] == "TRUE"


def test_other_users_can_browse_and_read(fs):
    assert run(NOBODY + ["ls", fs.mnt]).stdout == "x\n"
    assert run(NOBODY + ["cat", fs.path("x", "hostname")]).stdout == "x\n"
    assert run(NOBODY + ["cat", fs.path("x", "id")]).stdout == fs.read("x", "id")


def test_other_users_cannot_write_or_create(fs):
    before = fs.snapshot()
    res = run(NOBODY + ["sh", "-c", f"echo evil > {util.q(fs.path('x', 'hostname'))}"],
              check=False)
    assert res.returncode != 0
    assert "Permission denied" in res.stderr
    res = run(NOBODY + ["mkdir", fs.path("evil")], check=False)
    assert res.returncode != 0
    assert "Permission denied" in res.stderr
    res = run(NOBODY + ["rmdir", fs.path("x")], check=False)
    assert res.returncode != 0
    assert fs.snapshot() == before
