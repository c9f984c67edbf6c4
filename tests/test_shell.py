# SPDX-License-Identifier: GPL-2.0-or-later
"""The mission, as a user types it: mkdir, echo, cat from a shell."""

import os

import pytest

import util
from util import q, sh


def test_shell_mkdir_echo_cat_manages_a_namespace(utsfs):
    m = utsfs.mnt
    out = sh(f"mkdir {q(m / 'web')} && cat {q(m / 'web/hostname')} && "
             f"echo box1 > {q(m / 'web/hostname')} && cat {q(m / 'web/hostname')} && "
             f"nsenter --uts={q(m / 'web/ns')} hostname").stdout
    assert out == "web\nbox1\nbox1\n"
    nsfile = utsfs.state / "web"
    assert util.inside(nsfile, "hostname") == "box1"
    assert sh(f"cat {q(m / 'web/id')}").stdout == f"{util.nsfs_id(nsfile)}\n"
    assert util.host_names() == utsfs.host_names


# Kept apart from the hostname mission: valgrind 3.19 lacks setdomainname(2),
# and the valgrind run (README) deselects tests that need it.
@pytest.mark.setdomainname
def test_shell_echo_cat_manages_a_domainname(utsfs):
    m = utsfs.mnt
    out = sh(f"mkdir {q(m / 'web')} && "
             f"echo nisdom > {q(m / 'web/domainname')} && cat {q(m / 'web/domainname')} && "
             f"nsenter --uts={q(m / 'web/ns')} domainname").stdout
    assert out == "nisdom\nnisdom\n"
    assert util.inside(utsfs.state / "web", "domainname") == "nisdom"
    assert util.host_names() == utsfs.host_names


def test_shell_ls_shows_created_namespaces(utsfs):
    m = utsfs.mnt
    sh(f"mkdir {q(m / 'a')} {q(m / 'b')}")
    assert sh(f"ls {q(m)}").stdout == "a\nb\n"
    assert sh(f"ls {q(m / 'a')}").stdout == "".join(f"{a}\n" for a in sorted(util.ATTR_FILES))


def test_shell_rmdir_removes_namespace(utsfs):
    m = utsfs.mnt
    sh(f"mkdir {q(m / 'gone')} && rmdir {q(m / 'gone')}")
    assert utsfs.names() == []
    assert utsfs.state_names() == []


@pytest.mark.parametrize("name", ["db-1.example", "A_b", "9start", "h" * 64])
def test_mkdir_sets_hostname_to_name(utsfs, name):
    utsfs.mkdir(name)
    assert utsfs.read(name, "hostname") == name + "\n"
    assert util.inside(utsfs.state / name) == name


def test_mkdir_with_name_that_is_no_hostname_keeps_host_hostname(utsfs):
    host_hostname = utsfs.host_names[0].rstrip("\n")
    for name in ("my box", "-dash", "under+plus", "ünï", "x" * 65):
        utsfs.mkdir(name)
        assert util.inside(utsfs.state / name) == host_hostname, name
        assert utsfs.read(name, "hostname") == host_hostname + "\n", name


def test_fresh_namespace_inherits_host_domainname(utsfs):
    utsfs.mkdir("fresh")
    host_domainname = utsfs.host_names[1].rstrip("\n")
    assert util.inside(utsfs.state / "fresh", "domainname") == host_domainname
    assert utsfs.read("fresh", "domainname") == host_domainname + "\n"


def test_echo_strips_one_trailing_newline(utsfs):
    utsfs.mkdir("n")
    sh(f"echo one > {q(utsfs.path('n', 'hostname'))}")
    assert util.inside(utsfs.state / "n") == "one"
    sh(f"printf two > {q(utsfs.path('n', 'hostname'))}")
    assert util.inside(utsfs.state / "n") == "two"


def test_split_writes_in_one_open_concatenate(utsfs):
    utsfs.mkdir("split")
    sh(f"{{ printf ab; printf cd; }} > {q(utsfs.path('split', 'hostname'))}")
    assert util.inside(utsfs.state / "split") == "abcd"
    assert utsfs.read("split", "hostname") == "abcd\n"


@pytest.mark.setdomainname
def test_consecutive_write_calls_on_one_fd_concatenate(utsfs):
    utsfs.mkdir("fd")
    fd = os.open(utsfs.path("fd", "domainname"), os.O_WRONLY)
    try:
        assert os.write(fd, b"exa") == 3
        assert os.write(fd, b"mple.org") == 8
        assert os.write(fd, b"\n") == 1
    finally:
        os.close(fd)
    assert util.inside(utsfs.state / "fd", "domainname") == "example.org"


def test_truncation_alone_changes_nothing(utsfs):
    utsfs.mkdir("keep")
    sh(f": > {q(utsfs.path('keep', 'hostname'))}")
    sh(f": > {q(utsfs.path('keep', 'domainname'))}")
    assert util.inside(utsfs.state / "keep") == "keep"
    assert utsfs.read("keep", "hostname") == "keep\n"


def test_longest_valid_hostname_is_accepted(utsfs):
    value = "h" * 63 + "9"
    utsfs.mkdir("long")
    sh(f"echo {value} > {q(utsfs.path('long', 'hostname'))}")
    assert util.inside(utsfs.state / "long") == value
    assert utsfs.read("long", "hostname") == value + "\n"


def test_every_allowed_hostname_character_is_accepted(utsfs):
    value = "Az09._-zZ"
    utsfs.mkdir("chars")
    sh(f"echo {value} > {q(utsfs.path('chars', 'hostname'))}")
    assert util.inside(utsfs.state / "chars") == value
