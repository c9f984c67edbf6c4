# SPDX-License-Identifier: GPL-2.0-or-later
"""The pytest plugin (python/pytest_utsfs.py): its fixtures as another project
uses them, inside() on its own, and where meson installs it."""

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pytest_utsfs  # python/, on sys.path through util
import util

pytest_plugins = ["pytester"]

PLUGIN_DIR = util.REPO / "python"
needs_fuse = pytest.mark.skipif(util.fuse_skip_reason() is not None,
                                reason=util.fuse_skip_reason() or "")


def thread_uts() -> str:
    return os.readlink("/proc/thread-self/ns/uts")


@pytest.fixture
def plain():
    """The plugin's own Utsfs on this build, as a wider-scoped fixture of a
    user would make it."""
    with pytest_utsfs.Utsfs(util.utsfs_bin()) as fs:
        yield fs


@pytest.fixture
def project(pytester, monkeypatch):
    """A pytester directory set up as another project's: the plugin importable
    as if installed, and pointed at this build."""
    monkeypatch.setenv("PYTHONPATH", str(PLUGIN_DIR))
    monkeypatch.setenv("UTSFS_BIN", util.utsfs_bin())
    return pytester


def run_project(pytester, *args):
    """pytest in a process of its own with the plugin enabled, as a user runs it."""
    return pytester.runpytest_subprocess("-p", "pytest_utsfs", "-p", "no:cacheprovider",
                                         "-rs", *args, timeout=120)


def test_the_tests_use_the_plugin_from_this_tree():
    assert Path(pytest_utsfs.__file__) == PLUGIN_DIR / "pytest_utsfs.py"


# --- another project's test suite, run by pytest -------------------------------

USER_TESTS = '''
import json
import os
import socket
import subprocess
import threading

import pytest

HOST = socket.gethostname()


def record(**facts):
    with open(os.environ["RECORD"], "a") as f:
        f.write(json.dumps(facts) + "\\n")


def test_inside_a_namespace_the_hostname_is_its_own(utsfs):
    record(mount=str(utsfs.mount), state=str(utsfs.state), pid=utsfs.pid)
    utsfs.mkdir("web", hostname="web01")
    with utsfs.inside("web"):
        assert socket.gethostname() == "web01"
        assert subprocess.run(["hostname"], capture_output=True,
                              text=True).stdout == "web01\\n"
    assert socket.gethostname() == HOST


def test_the_hostname_comes_back_when_the_body_raises(utsfs):
    utsfs.mkdir("db")
    with pytest.raises(ZeroDivisionError):
        with utsfs.inside("db"):
            assert socket.gethostname() == "db"
            1 / 0
    assert socket.gethostname() == HOST


def test_other_threads_keep_the_hosts_hostname(utsfs):
    utsfs.mkdir("web", hostname="web02")
    seen = []
    with utsfs.inside("web"):
        other = threading.Thread(target=lambda: seen.append(socket.gethostname()))
        other.start()
        other.join()
        seen.append(socket.gethostname())
    assert seen == ["web02", "web02"]
    seen.clear()
    started = threading.Event()
    done = threading.Event()

    def outside():
        started.set()
        done.wait()
        seen.append(socket.gethostname())

    other = threading.Thread(target=outside)
    other.start()
    started.wait()
    with utsfs.inside("web"):
        done.set()
        other.join()
    assert seen == [HOST]


def test_each_test_gets_a_fresh_mount(utsfs):
    record(mount=str(utsfs.mount), state=str(utsfs.state), pid=utsfs.pid)
    assert utsfs.names() == []
    utsfs.mkdir("a", domainname="example.org")
    utsfs.mkdir("b")
    assert utsfs.names() == ["a", "b"]
    assert utsfs.read("a", "domainname") == "example.org"
    assert os.readlink(utsfs.mount / "a" / "ns") == str(utsfs.nsfile("a"))
    utsfs.rmdir("b")
    assert utsfs.names() == ["a"]


def test_a_failing_test_still_gets_its_names_removed(utsfs):
    record(mount=str(utsfs.mount), state=str(utsfs.state), pid=utsfs.pid)
    utsfs.mkdir("left")
    with utsfs.inside("left"):
        assert socket.gethostname() == "right"
'''


@needs_fuse
def test_another_project_tests_its_hostnames_with_the_fixture(project, tmp_path, monkeypatch):
    """Another project's tests see the hostname of the namespace they enter,
    and the host's again after, even when the body raises; every mount,
    daemon and directory is gone after each test, also a failed one."""
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("RECORD", str(record))
    census = util.mount_census()
    host = socket.gethostname()
    project.makepyfile(test_hostnames=USER_TESTS)
    result = run_project(project)
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*assert 'left' == 'right'*"])
    assert socket.gethostname() == host
    assert util.mount_census() == census, "the fixture left mounts behind"
    runs = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(runs) == 3 and len({r["mount"] for r in runs}) == 3
    for r in runs:
        assert not os.path.exists(Path(r["mount"]).parent), "temporary directory kept"
        with pytest.raises(ProcessLookupError):
            os.kill(r["pid"], 0)


@needs_fuse
def test_a_test_that_strays_into_a_namespace_is_an_error_and_brought_back(project):
    project.makepyfile(test_stray='''
        import ctypes
        import os
        import socket

        HOST = socket.gethostname()

        def test_enters_by_hand_and_stays(utsfs):
            utsfs.mkdir("web", hostname="web01")
            fd = os.open(utsfs.nsfile("web"), os.O_RDONLY)
            assert ctypes.CDLL(None).setns(fd, 0x04000000) == 0
            assert socket.gethostname() == "web01"

        def test_the_next_test_runs_on_the_host():
            assert socket.gethostname() == HOST
    ''')
    result = run_project(project)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*the test left its thread in another UTS namespace*"])


# Where utsfs cannot work, and what the skip says. Still root without
# CAP_SYS_ADMIN: setns and mount would be refused. unshare -r: CAP_SYS_ADMIN
# in a new user namespace, which does not own the host's UTS namespace, so
# setns back into it is refused.
WITHOUT = {
    "CAP_SYS_ADMIN": (["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin"],
                      "*SKIPPED*utsfs needs CAP_SYS_ADMIN*"),
    "a user namespace owning the UTS namespace": (
        ["unshare", "-Urm", "--propagation", "private"],
        "*SKIPPED*user namespace that owns this UTS namespace*"),
}


@needs_fuse
@pytest.mark.parametrize("without", sorted(WITHOUT))
def test_where_utsfs_cannot_work_the_fixture_skips_and_says_why(project, without):
    wrapper, says = WITHOUT[without]
    project.makepyfile(test_skip='''
        def test_needs_utsfs(utsfs):
            raise AssertionError("ran where utsfs cannot work")
    ''')
    result = project.run(*wrapper, sys.executable, "-m", "pytest", "-p", "pytest_utsfs",
                         "-p", "no:cacheprovider", "-rs", timeout=120)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([says])


@needs_fuse
def test_an_abort_in_a_captured_test_still_says_why(project, plain, monkeypatch):
    plain.mkdir("web")
    monkeypatch.setenv("NSFILE", str(plain.nsfile("web")))
    project.makepyfile(test_abort='''
        import os
        import pytest_utsfs

        def test_drops_its_capabilities_inside():
            with pytest_utsfs.inside(os.environ["NSFILE"]):
                os.setresuid(65534, 65534, 65534)
    ''')
    result = run_project(project)
    assert result.ret in (-signal.SIGABRT, 128 + signal.SIGABRT), result.ret
    # pytest's capture of fd 2 dies with the process: the reason goes around it.
    assert "aborting rather than run on in the wrong UTS namespace" in result.stderr.str()


@needs_fuse
def test_without_utsfs_installed_the_fixture_skips_and_says_why(project, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("fusermount3"), bin_dir / "fusermount3")
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("UTSFS_BIN")
    project.makepyfile(test_skip='''
        def test_needs_utsfs(utsfs):
            raise AssertionError("ran without utsfs")
    ''')
    result = run_project(project)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*utsfs is not installed*"])


@needs_fuse
def test_a_project_can_choose_its_utsfs_by_overriding_utsfs_binary(project, tmp_path,
                                                                   monkeypatch):
    # The binary under test (UTSFS_BIN may name a sanitizer build), taken before it goes.
    binary = util.utsfs_bin()
    monkeypatch.delenv("UTSFS_BIN")
    project.makeconftest(f'''
        import pytest

        @pytest.fixture(scope="session")
        def utsfs_binary():
            return {binary!r}
    ''')
    project.makepyfile(test_choose='''
        def test_runs(utsfs, utsfs_binary):
            with open(f"/proc/{utsfs.pid}/cmdline", "rb") as f:
                assert f.read().split(b"\\0")[0].decode() == utsfs_binary
    ''')
    run_project(project).assert_outcomes(passed=1)


# --- inside() -------------------------------------------------------------------


@needs_fuse
def test_inside_returns_when_the_body_raises(plain):
    plain.mkdir("web", hostname="web01")
    host, uts = socket.gethostname(), thread_uts()
    with pytest.raises(KeyError):
        with plain.inside("web"):
            assert socket.gethostname() == "web01"
            assert thread_uts() == f"uts:[{util.nsfs_id(plain.nsfile('web'))}]"
            raise KeyError("web")
    assert (socket.gethostname(), thread_uts()) == (host, uts)


@needs_fuse
def test_inside_blocks_nest(plain):
    plain.mkdir("outer")
    plain.mkdir("inner")
    host = socket.gethostname()
    with plain.inside("outer"):
        with plain.inside("inner"):
            assert socket.gethostname() == "inner"
        assert socket.gethostname() == "outer"
    assert socket.gethostname() == host


@needs_fuse
def test_inside_takes_any_uts_namespace_file(plain):
    plain.mkdir("web", hostname="web01")
    with pytest_utsfs.inside(plain.path("web", "ns")):
        assert socket.gethostname() == "web01"
    proc = subprocess.Popen(["nsenter", f"--uts={plain.nsfile('web')}", "sleep", "60"])
    try:
        util.settled(lambda: util.read_text(f"/proc/{proc.pid}/comm") == "sleep\n",
                     "nsenter has become sleep")
        with pytest_utsfs.inside(f"/proc/{proc.pid}/ns/uts"):
            assert socket.gethostname() == "web01"
    finally:
        util.kill_and_wait(proc)


@needs_fuse
def test_inside_refuses_what_is_not_a_uts_namespace_and_stays(plain):
    uts = thread_uts()
    with pytest.raises(OSError) as e:
        with pytest_utsfs.inside("/proc/self/ns/net"):
            pytest.fail("entered a network namespace as a UTS one")
    assert e.value.errno == errno.EINVAL
    with pytest.raises(FileNotFoundError):
        with plain.inside("nothing"):
            pytest.fail("entered a name that does not exist")
    assert thread_uts() == uts


@needs_fuse
def test_utsfs_is_not_started_from_inside_a_namespace(plain):
    plain.mkdir("web")
    other = pytest_utsfs.Utsfs(util.utsfs_bin())
    try:
        with plain.inside("web"):
            with pytest.raises(pytest_utsfs.UtsfsError, match="outside inside"):
                other.start()
    finally:
        other.close()


# A process that enters NAME's namespace, then cannot come back.
CANNOT_RETURN = {
    "capabilities dropped": '''
        with pytest_utsfs.inside(NSFILE):
            # Every uid non-zero: no CAP_SYS_ADMIN left to setns back with.
            os.setresuid(65534, 65534, 65534)
    ''',
    "left on another thread": '''
        block = pytest_utsfs.inside(NSFILE)
        block.__enter__()
        leave = threading.Thread(target=block.__exit__, args=(None, None, None))
        leave.start()
        leave.join()
    ''',
}


@needs_fuse
@pytest.mark.parametrize("how", sorted(CANNOT_RETURN))
def test_a_thread_that_cannot_return_aborts_the_process(plain, how):
    plain.mkdir("web", hostname="web01")
    script = "import os, sys, threading\nimport pytest_utsfs\n" + \
        f"NSFILE = {str(plain.nsfile('web'))!r}\n" + textwrap.dedent(CANNOT_RETURN[how]) + \
        "print('ran on', flush=True)\n"
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(PLUGIN_DIR)},
                         timeout=util.COMMAND_DEADLINE)
    assert res.returncode == -signal.SIGABRT, (res.returncode, res.stdout, res.stderr)
    assert "ran on" not in res.stdout
    assert "aborting rather than run on in the wrong UTS namespace" in res.stderr


def test_the_projects_fixture_enters_with_the_plugin(utsfs):
    utsfs.mkdir("web")
    utsfs.write("web", "hostname", b"web01")
    with utsfs.inside("web"):
        assert socket.gethostname() == "web01"
    assert socket.gethostname() == util.host_names()[0].rstrip("\n")


# --- the Utsfs class --------------------------------------------------------------


@needs_fuse
def test_closing_removes_every_name_and_leaves_nothing_mounted(tmp_path):
    census = util.mount_census()
    with pytest_utsfs.Utsfs(util.utsfs_bin(), tmpdir=tmp_path) as fs:
        for name in ("a", "b", "c"):
            fs.mkdir(name)
        # The root also lists .all, which is no name and cannot be removed.
        assert sorted(os.listdir(fs.mount)) == [".all", "a", "b", "c"]
        assert fs.names() == ["a", "b", "c"]
        ids = [util.nsfs_id(fs.nsfile(n)) for n in fs.names()]
        assert len(set(ids)) == 3
        proc = fs.proc
    assert proc.returncode == 0
    assert not fs.root.exists()
    assert util.mount_census() == census


@needs_fuse
def test_closing_after_the_daemon_died_says_so_and_still_cleans_up(tmp_path):
    census = util.mount_census()
    fs = pytest_utsfs.Utsfs(util.utsfs_bin(), tmpdir=tmp_path)
    fs.start()
    fs.mkdir("web")
    util.kill_and_wait(fs.proc)
    with pytest.raises(pytest_utsfs.UtsfsError, match="utsfs died during the test"):
        fs.close()
    assert not fs.root.exists()
    assert util.mount_census() == census


@needs_fuse
def test_a_daemon_that_does_not_start_is_reported_with_its_output(tmp_path):
    with pytest.raises(pytest_utsfs.UtsfsError) as e:
        with pytest_utsfs.Utsfs(util.utsfs_bin(), options=["no_such_option"],
                                tmpdir=tmp_path):
            pass
    assert "exited with status" in str(e.value)
    assert "utsfs output:" in str(e.value)
    assert list(tmp_path.iterdir()) == []


# --- installation -----------------------------------------------------------------

# /usr/bin/python3's import path: Debian's, where the plugin must land.
PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(shutil.which("meson") is None, reason="meson is not installed")
@pytest.mark.parametrize("prefix", ["/usr/local", "/usr"])
def test_meson_installs_the_plugin_where_python_imports_it(tmp_path, prefix):
    build, destdir = tmp_path / "build", tmp_path / "dest"
    util.run(["meson", "setup", f"--prefix={prefix}", build, util.REPO])
    util.run(["meson", "install", "-C", build, "--no-rebuild", "--tags", "python-runtime",
              "--destdir", destdir])
    installed = [p for p in destdir.rglob("*") if p.is_file()]
    assert [p.name for p in installed] == ["pytest_utsfs.py"]
    target = Path("/") / installed[0].parent.relative_to(destdir)
    assert target.name == "dist-packages"
    search = json.loads(util.run([PYTHON, "-c", "import json, sys; "
                                  "print(json.dumps(sys.path))"]).stdout)
    assert str(target) in search, f"{target} is not on {PYTHON}'s path {search}"
    assert installed[0].read_bytes() == (PLUGIN_DIR / "pytest_utsfs.py").read_bytes()
    # What `pytest -p pytest_utsfs` imports, from there.
    out = util.run([PYTHON, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                    "import pytest_utsfs; print(pytest_utsfs.__file__, "
                    "callable(pytest_utsfs.inside))", installed[0].parent],
                   cwd="/").stdout
    assert out == f"{installed[0]} True\n"
