# SPDX-License-Identifier: GPL-2.0-or-later
"""Every refused operation fails with its errno and changes nothing."""

import errno
import os
import stat

import pytest

import util
from util import q, sh

ATTRS = ("hostname", "domainname", "id", "ns") + (("nsid",) if util.HAS_NS_IDS else ())


@pytest.fixture
def fs(utsfs):
    """Two namespaces, one with values unlike its defaults."""
    utsfs.mkdir("x")
    utsfs.write("x", "hostname", b"before\n")
    utsfs.write("x", "domainname", b"dom\n")
    utsfs.mkdir("y")
    return utsfs


def refused(fs, errnos, fn, *args):
    """fn(*args) must fail with one of errnos and leave everything as it was."""
    if isinstance(errnos, int):
        errnos = (errnos,)
    before = fs.snapshot()
    with pytest.raises(OSError) as info:
        fn(*args)
    assert info.value.errno in errnos, (
        f"expected {[errno.errorcode[e] for e in errnos]}, "
        f"got {errno.errorcode.get(info.value.errno)}: {info.value}")
    assert fs.snapshot() == before


# --- names of namespaces ---


def test_mkdir_existing_name_fails_eexist(fs):
    refused(fs, errno.EEXIST, os.mkdir, fs.path("x"))
    assert fs.read("x", "hostname") == "before\n"


def test_rmdir_absent_name_fails_enoent(fs):
    refused(fs, errno.ENOENT, os.rmdir, fs.path("absent"))


@pytest.mark.parametrize("name", [
    ".hidden", ".Trash-0", "..dots", "tab\there", "new\nline", "\x01", "end\x1f",
    "del\x7f"], ids=repr)
def test_mkdir_invalid_name_fails_einval(fs, name):
    refused(fs, errno.EINVAL, os.mkdir, fs.path(name))


def test_mkdir_name_over_255_bytes_fails(fs):
    refused(fs, (errno.EINVAL, errno.ENAMETOOLONG), os.mkdir, fs.path("n" * 256))


def test_mkdir_name_of_255_multibyte_bytes_over_limit_fails(fs):
    # 128 two-byte characters: 128 characters but 256 bytes.
    refused(fs, (errno.EINVAL, errno.ENAMETOOLONG), os.mkdir, fs.path("é" * 128))


def test_mkdir_name_of_exactly_255_bytes_works(fs):
    name = "n" * 255
    ident = fs.mkdir(name)
    assert name in fs.names()
    assert fs.read(name, "id") == f"{ident}\n"


@pytest.mark.parametrize("name", [".Trash-0", ".Trash", ".hidden", ".xdg-volume-info",
                                  ".directory", ".git"])
def test_lookup_of_invalid_name_fails_enoent(fs, name):
    refused(fs, errno.ENOENT, os.stat, fs.path(name))


def test_lookup_of_absent_name_fails_enoent(fs):
    refused(fs, errno.ENOENT, os.stat, fs.path("absent"))
    refused(fs, errno.ENOENT, os.stat, fs.path("x", "absent"))


# --- hostname and domainname values ---


def write_once(path, data, offset=None, flags=os.O_WRONLY):
    fd = os.open(path, flags)
    try:
        if offset is None:
            os.write(fd, data)
        else:
            os.pwrite(fd, data, offset)
    finally:
        os.close(fd)


BAD_VALUES = [b"bad name", b"\n", b"\n\n", b"two\n\n", b"new\nline", b"-lead",
              b".lead", b"h" * 65, b"h" * 64 + b"\n\n", b"under/slash", b"tab\t",
              b"nul\0", b"\xc3\xa9t\xc3\xa9", b"colon:", b"star*"]


@pytest.mark.parametrize("value", BAD_VALUES, ids=repr)
def test_invalid_hostname_write_fails_einval(fs, value):
    refused(fs, errno.EINVAL, write_once, fs.path("x", "hostname"), value)
    assert fs.read("x", "hostname") == "before\n"


@pytest.mark.parametrize("value", [b"bad name", b"-lead", b"h" * 65], ids=repr)
def test_invalid_domainname_write_fails_einval(fs, value):
    refused(fs, errno.EINVAL, write_once, fs.path("x", "domainname"), value)
    assert fs.read("x", "domainname") == "dom\n"


def test_write_at_offset_beyond_the_value_fails_einval(fs):
    # "before\n" is 7 bytes: a first write continues the value, O_TRUNC or not.
    for flags in (os.O_WRONLY, os.O_WRONLY | os.O_TRUNC):
        refused(fs, errno.EINVAL, write_once, fs.path("x", "hostname"), b"gap", 8, flags)


def test_write_leaving_a_gap_after_earlier_write_fails_einval(fs):
    fd = os.open(fs.path("y", "hostname"), os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, b"ab")
        assert util.inside(fs.state / "y") == "ab"
        refused(fs, errno.EINVAL, os.pwrite, fd, b"cd", 5)
    finally:
        os.close(fd)
    assert util.inside(fs.state / "y") == "ab"


def test_invalid_continuation_keeps_value_written_before(fs):
    fd = os.open(fs.path("y", "hostname"), os.O_WRONLY)
    try:
        os.write(fd, b"ab")
        refused(fs, errno.EINVAL, os.write, fd, b" cd")
    finally:
        os.close(fd)
    assert util.inside(fs.state / "y") == "ab"


def test_shell_echo_of_invalid_hostname_fails_and_says_invalid_argument(fs):
    target = q(fs.path("x", "hostname"))
    # dash's own echo reports every write error as "I/O error", so ask
    # bash's builtin echo and coreutils' echo for the errno text.
    for script, shell in ((f'echo "bad name" > {target}', "/bin/bash"),
                          (f'/bin/echo "bad name" > {target}', "/bin/sh")):
        before = fs.snapshot()
        res = sh(script, check=False, shell=shell)
        assert res.returncode != 0
        assert "Invalid argument" in res.stderr
        assert fs.snapshot() == before
    res = sh(f'echo "bad name" > {target}', check=False)
    assert res.returncode != 0
    assert util.inside(fs.state / "x") == "before"


# --- the read-only id and nsid, and what cannot be created ---

# nsid only where the kernel has NS_GET_ID (Linux 6.18).
READ_ONLY = ("id",) + (("nsid",) if util.HAS_NS_IDS else ())


@pytest.mark.parametrize("attr", READ_ONLY)
@pytest.mark.parametrize("flags", [os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_TRUNC,
                                   os.O_WRONLY | os.O_APPEND],
                         ids=["O_WRONLY", "O_RDWR", "O_TRUNC", "O_APPEND"])
def test_opening_a_read_only_file_for_writing_fails_eacces(fs, flags, attr):
    """Also for root, whom the kernel lets write any 0444 file."""
    content = fs.read("x", attr)
    refused(fs, errno.EACCES, os.open, fs.path("x", attr), flags)
    assert fs.read("x", attr) == content


@pytest.mark.parametrize("attr", READ_ONLY)
def test_truncating_a_read_only_file_fails_eacces(fs, attr):
    content = fs.read("x", attr)
    refused(fs, errno.EACCES, os.truncate, fs.path("x", attr), 0)
    assert fs.read("x", attr) == content


@pytest.mark.parametrize("where", ["", "x"], ids=["in-root", "in-namespace"])
def test_creating_a_regular_file_fails_eperm(fs, where):
    refused(fs, errno.EPERM, os.open, fs.path(where, "new"),
            os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)


@pytest.mark.parametrize("where", ["", "x"], ids=["in-root", "in-namespace"])
@pytest.mark.parametrize("kind", [stat.S_IFIFO, stat.S_IFREG, stat.S_IFSOCK],
                         ids=["fifo", "regular", "socket"])
def test_mknod_fails_eperm(fs, where, kind):
    refused(fs, errno.EPERM, os.mknod, fs.path(where, "node"), kind | 0o644)


def test_mknod_device_fails_eperm(fs):
    refused(fs, errno.EPERM, os.mknod, fs.path("x", "null"),
            stat.S_IFCHR | 0o666, os.makedev(1, 3))


@pytest.mark.parametrize("where", ["", "x"], ids=["in-root", "in-namespace"])
def test_creating_a_symlink_fails_eperm(fs, where):
    refused(fs, errno.EPERM, os.symlink, "/etc/hostname", fs.path(where, "link"))


@pytest.mark.parametrize("target", [("x", "hard"), ("hard",), ("y", "hostname2")],
                         ids=["same-dir", "into-root", "other-namespace"])
def test_hard_link_fails_eperm(fs, target):
    refused(fs, errno.EPERM, os.link, fs.path("x", "hostname"), fs.path(*target))


def test_mkdir_inside_a_namespace_fails_eperm(fs):
    refused(fs, errno.EPERM, os.mkdir, fs.path("x", "sub"))


@pytest.mark.parametrize("attr", ATTRS)
def test_unlinking_an_attribute_as_its_owner_fails_eacces(fs, attr):
    """Only root removes names, so only root's unlink of their files succeeds
    (and changes nothing, see test_remove.py). The kernel refuses the owner
    too: a namespace directory shows no write bits, whoever owns it."""
    os.chown(fs.path("x"), util.DELEGATE, util.DELEGATE)
    refused(fs, errno.EACCES, util.as_user, util.DELEGATE, "unlink", fs.path("x", attr))


# --- attributes of existing nodes ---

NODES = [(), ("x",), ("x", "hostname"), ("x", "domainname"), ("x", "id")]
NODE_IDS = ["root", "namespace", "hostname", "domainname", "id"]


# chown/chmod of a namespace directory is delegation: see test_delegation.py.
NOT_DELEGABLE = [(n, i) for n, i in zip(NODES, NODE_IDS) if i != "namespace"]


@pytest.mark.parametrize("node", [n for n, _ in NOT_DELEGABLE],
                         ids=[i for _, i in NOT_DELEGABLE])
def test_chmod_fails_eperm(fs, node):
    mode = stat.S_IMODE(os.stat(fs.path(*node)).st_mode)
    refused(fs, errno.EPERM, os.chmod, fs.path(*node), 0o700)
    assert stat.S_IMODE(os.stat(fs.path(*node)).st_mode) == mode


@pytest.mark.parametrize("node", [n for n, _ in NOT_DELEGABLE] + [("x", "ns")],
                         ids=[i for _, i in NOT_DELEGABLE] + ["ns"])
def test_chown_fails_eperm(fs, node):
    refused(fs, errno.EPERM, os.lchown, fs.path(*node), 1, 1)
    st = os.lstat(fs.path(*node))
    assert (st.st_uid, st.st_gid) == (0, 0)


@pytest.mark.parametrize("node", NODES, ids=NODE_IDS)
def test_utime_fails_eperm(fs, node):
    refused(fs, errno.EPERM, os.utime, fs.path(*node), (1, 1))
    refused(fs, errno.EPERM, os.utime, fs.path(*node))


# --- rename ---


def test_rename_onto_existing_namespace_fails(fs):
    x, y = util.nsfs_id(fs.state / "x"), util.nsfs_id(fs.state / "y")
    refused(fs, (errno.ENOTEMPTY, errno.EEXIST), os.rename, fs.path("x"), fs.path("y"))
    assert fs.read("x", "id") == f"{x}\n"
    assert fs.read("y", "id") == f"{y}\n"


@pytest.mark.parametrize("name", [".hidden", "tab\there", "del\x7f", "n" * 256],
                         ids=repr)
def test_rename_to_invalid_name_fails_einval(fs, name):
    errnos = (errno.EINVAL, errno.ENAMETOOLONG) if len(name) > 255 else errno.EINVAL
    refused(fs, errnos, os.rename, fs.path("x"), fs.path(name))


def test_rename_of_attribute_inside_namespace_fails_eperm(fs):
    refused(fs, errno.EPERM, os.rename, fs.path("x", "hostname"), fs.path("x", "name"))
    refused(fs, errno.EPERM, os.rename, fs.path("x", "hostname"), fs.path("x", "domainname"))


@pytest.mark.parametrize("target", [("moved",), ("y", "hostname"), ("y", "other")],
                         ids=["into-root", "over-other-attribute", "into-other-namespace"])
def test_rename_of_attribute_out_of_namespace_fails(fs, target):
    refused(fs, (errno.EPERM, errno.EXDEV), os.rename, fs.path("x", "hostname"),
            fs.path(*target))


def test_rename_of_namespace_into_namespace_fails(fs):
    # Like mkdir inside a namespace (EPERM); EXDEV/EINVAL are as fair an answer.
    refused(fs, (errno.EPERM, errno.EXDEV, errno.EINVAL), os.rename, fs.path("x"),
            fs.path("y", "x"))


# --- the kernel's limits ---


def test_mkdir_when_the_kernel_refuses_the_mount_fails_enospc_and_leaves_no_trace(fs, mount_limit):
    fs.output.allow(r"^.*new: mkdir failed: No space left on device.*\n?")
    with mount_limit():
        refused(fs, errno.ENOSPC, os.mkdir, fs.path("new"))
        assert not (fs.state / "new").exists()
    fs.mkdir("new")
    assert fs.read("new", "hostname") == "new\n"


def test_rename_when_the_kernel_refuses_the_mount_fails_enospc_and_keeps_the_name(fs, mount_limit):
    fs.output.allow(r"^.*x: rename failed: No space left on device.*\n?")
    with mount_limit():
        refused(fs, errno.ENOSPC, os.rename, fs.path("x"), fs.path("z"))
    assert fs.read("x", "hostname") == "before\n"
    assert not (fs.state / ".utsfs.conf").exists()
