# SPDX-License-Identifier: GPL-2.0-or-later
"""Editing a hostname with the tools people use: vim, nano and mcedit (each
driven as a person would, nano and mcedit under tmux), cp, tee, dd and shell
redirection all save a new value. Tools that insist on a temporary file
renamed over the file (sed -i) fail and change nothing: see test_remove.py."""

import shutil

import pytest

import util
from test_filemanagers import Screen, clean_env
from util import q, sh


@pytest.fixture
def web(utsfs):
    utsfs.mkdir("web")
    utsfs.write("web", "hostname", b"web01\n")
    return utsfs.path("web", "hostname")


def needs(tool, package):
    if shutil.which(tool) is None:
        pytest.skip(f"needs {tool} (package {package}; tests/install-test-deps.sh)")


@pytest.fixture
def screen(utsfs, tmp_path):
    """Depends on utsfs, so it closes first: the editor must be gone before the unmount."""
    needs("tmux", "tmux")
    home = tmp_path / "home"
    home.mkdir()
    s = Screen(tmp_path, home)
    try:
        yield s
    finally:
        s.close()


def test_vim_saves_a_new_hostname(utsfs, web):
    needs("vim", "vim")
    # vim's own defaults (a backup copy, writing the file in place).
    util.run(["vim", "-N", "-es", "-c", "s/web01/vimset/", "-c", "wq", web],
             env=clean_env(utsfs.root))
    assert utsfs.read("web", "hostname") == "vimset\n"
    assert util.inside(utsfs.state / "web") == "vimset"


def test_nano_saves_a_new_hostname(utsfs, web, screen):
    needs("nano", "nano")
    screen.start(utsfs.root, ["nano", web])
    screen.wait_for(lambda s: "web01" in s, "the hostname in nano")
    screen.keys("C-k")  # cut the line
    screen.keys("nanoset")
    screen.keys("C-o")  # write out, under the same name
    screen.wait_for(lambda s: "File Name to Write" in s, "nano's file name prompt")
    screen.keys("Enter")
    screen.wait_for(lambda s: "Wrote" in s, "nano's word that it wrote the file")
    screen.keys("C-x")
    assert utsfs.read("web", "hostname") == "nanoset\n"


def test_mcedit_saves_a_new_hostname(utsfs, web, screen):
    needs("mcedit", "mc")
    screen.start(utsfs.root, ["mcedit", web])
    screen.wait_for(lambda s: "web01" in s, "the hostname in mcedit")
    screen.keys("C-y")  # delete the line
    screen.keys("mcset", "Enter")
    screen.keys("F2")
    screen.wait_for(lambda s: "Confirm save" in s, "mcedit's save question")
    screen.keys("Enter")
    util.settled(lambda: utsfs.read("web", "hostname") == "mcset\n", "mcedit's save")
    shown = screen.text()
    assert "rror" not in shown, shown
    screen.keys("F10")


@pytest.mark.parametrize("how", [
    "cp {src} {dst}", "tee {dst} < {src} > /dev/null", "dd if={src} of={dst} status=none",
    "cat {src} > {dst}", "echo shellset > {dst}"])
def test_shell_tools_save_a_new_hostname(utsfs, web, how):
    src = utsfs.root / "value"
    src.write_text("shellset\n")
    sh(how.format(src=q(src), dst=q(web)))
    assert utsfs.read("web", "hostname") == "shellset\n"
