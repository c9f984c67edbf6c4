# SPDX-License-Identifier: GPL-2.0-or-later
"""-o restore=PATH: names come back with their values after the state dir is wiped (a reboot)."""

import os
import stat
import subprocess
import time

import pytest

import util
from util import q, run, sh


@pytest.fixture
def record(utsfs):
    path = utsfs.root / "record.conf"
    utsfs.options.append(f"restore={path}")
    utsfs.restart()
    return path


def reboot(utsfs):
    """What a reboot does to /run: every mount in the state dir and the dir itself gone."""
    utsfs.stop()
    util.umount_everything_under(utsfs.state)
    run(["rm", "-rf", utsfs.state])
    utsfs.start()


@pytest.mark.setdomainname
def test_reboot_brings_names_back_with_their_values(utsfs, record):
    utsfs.mkdir("web")
    utsfs.write("web", "hostname", b"web01\n")
    utsfs.write("web", "domainname", b"example.org\n")
    utsfs.mkdir("my box")
    os.chown(utsfs.path("my box"), 1000, 1001)
    os.chmod(utsfs.path("my box"), 0o550)
    reboot(utsfs)
    assert utsfs.names() == ["my box", "web"]
    assert utsfs.read("web", "hostname") == "web01\n"
    assert utsfs.read("web", "domainname") == "example.org\n"
    assert util.inside(utsfs.state / "web") == "web01"
    st = os.stat(utsfs.path("my box"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1001, 0o550)
    # "my box" is no hostname: the namespace kept the host's, and so does its successor.
    assert utsfs.read("my box", "hostname") == util.host_names()[0]
    assert [m.fstype for m in util.mounts_at(utsfs.state / "web")] == ["nsfs"]


def test_record_follows_rename_and_rmdir(utsfs, record):
    utsfs.mkdir("a")
    utsfs.mkdir("gone")
    os.rename(utsfs.path("a"), utsfs.path("b"))
    os.rmdir(utsfs.path("gone"))
    reboot(utsfs)
    assert utsfs.names() == ["b"]
    assert utsfs.read("b", "hostname") == "a\n"


def test_record_keeps_changes_made_inside_namespaces(utsfs, record):
    utsfs.mkdir("x")
    util.set_inside(utsfs.state / "x", "changed-inside")
    reboot(utsfs)
    assert utsfs.read("x", "hostname") == "changed-inside\n"


def test_names_in_the_state_dir_win_over_the_record(utsfs, record):
    ident = utsfs.mkdir("x")
    utsfs.write("x", "hostname", b"recorded\n")
    utsfs.stop()
    util.set_inside(utsfs.state / "x", "live")
    utsfs.start()
    assert utsfs.read("x", "id") == f"{ident}\n"
    assert utsfs.read("x", "hostname") == "live\n"


def recorded(record, *needles, absent=()):
    """Wait until the record holds every needle and none of absent: the
    recorder thread writes it a little after a change (at most every 0.1 s,
    one write for a burst)."""
    def holds():
        text = record.read_text()
        return all(n in text for n in needles) and not any(a in text for a in absent)

    util.settled(holds, f"the record holding {needles} and not {absent}")


def test_record_is_a_readable_key_file(utsfs, record):
    utsfs.mkdir("my box")
    recorded(record, "[my%20box]")
    text = record.read_text()
    assert "hostname=" in text and "mode=0555" in text


def test_a_recorded_mode_with_write_bits_comes_back_without_them(utsfs, record):
    """A record an older utsfs wrote (namespace directories were 0755, 0750
    then) brings names back without the write bits, as a chmod must ask for
    none now: in the tree, in .utsfs.conf and in the record written anew."""
    utsfs.mkdir("web")
    os.chown(utsfs.path("web"), util.DELEGATE, 1001)
    os.chmod(utsfs.path("web"), 0o550)
    recorded(record, "[web]", "mode=0550")
    utsfs.stop()
    record.write_text(record.read_text().replace("mode=0550", "mode=0750"))
    util.umount_everything_under(utsfs.state)
    run(["rm", "-rf", utsfs.state])
    utsfs.start()
    st = os.stat(utsfs.path("web"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (util.DELEGATE, 1001, 0o550)
    group = util.conf_groups(utsfs.state)["web"]
    assert (group["uid"], group["gid"], group["mode"]) == (str(util.DELEGATE), "1001", "0550")
    recorded(record, "[web]", "mode=0550", absent=["mode=0750"])


def test_a_burst_of_changes_reaches_the_record_whole(utsfs, record):
    names = [f"n{i}" for i in range(50)]
    for name in names:
        utsfs.mkdir(name)
    for i in range(100):
        utsfs.write("n0", "hostname", f"v{i}\n".encode())
    os.rmdir(utsfs.path("n1"))
    recorded(record, "hostname=v99", *[f"[{n}]" for n in names if n != "n1"],
             absent=["[n1]"])


def test_a_change_inside_reaches_the_record_while_running(utsfs, record):
    utsfs.mkdir("x")
    util.set_inside(utsfs.state / "x", "changed-inside")
    recorded(record, "hostname=changed-inside")


def test_without_restore_nothing_comes_back(utsfs):
    utsfs.mkdir("x")
    reboot(utsfs)
    assert utsfs.names() == []


def test_names_other_tools_make_or_remove_reach_the_record(utsfs, record):
    utsfs.mkdir("ours")
    recorded(record, "[ours]")
    nsfile = utsfs.state / "theirs"
    sh(f"touch {q(nsfile)} && unshare --uts={q(nsfile)} hostname theirs")
    recorded(record, "[ours]", "[theirs]", "hostname=theirs")
    sh(f"umount {q(utsfs.state / 'ours')} && rm {q(utsfs.state / 'ours')}")
    recorded(record, "[theirs]", absent=["[ours]"])


def test_changes_that_are_not_ours_leave_the_record_file_alone(utsfs, record):
    """Every mount on the host and every sethostname anywhere asks for a save;
    a record that would come out the same is not written again."""
    utsfs.mkdir("x")
    recorded(record, "[x]")
    time.sleep(0.3)  # the saves asked for so far are done
    before = os.stat(record)
    elsewhere = utsfs.root / "elsewhere"
    elsewhere.mkdir()
    for i in range(5):
        run(["mount", "-t", "tmpfs", "none", elsewhere])
        run(["umount", elsewhere])
        run(["unshare", "--uts", "hostname", f"not-ours-{i}"])
    time.sleep(0.5)  # time for several saves
    after = os.stat(record)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_record_that_cannot_be_written_is_written_once_it_can(utsfs):
    """A failed write of the record (here: an immutable directory) is tried
    again after a pause, without waiting for the next change."""
    # A directory of its own: only the record's writes fail.
    folder = utsfs.root / "records"
    record = folder / "record.conf"
    utsfs.options.append(f"restore={record}")
    utsfs.restart()
    utsfs.mkdir("before")
    recorded(record, "[before]")
    if run(["chattr", "+i", folder], check=False).returncode != 0:
        pytest.skip("no immutable directories on this file system")
    try:
        utsfs.output.allow(r"^.*cannot write the record.*\n?")
        utsfs.mkdir("during")
        time.sleep(0.3)  # a write or two fails meanwhile
        assert "[during]" not in record.read_text()
    finally:
        run(["chattr", "-i", folder])
    recorded(record, "[before]", "[during]")


def test_a_change_inside_right_after_a_start_reaches_the_record(utsfs, record):
    """The record listens before the watcher starts: a hostname changed inside
    a namespace by other means, with no mount or poll since the start to wake
    the watcher otherwise, still reaches it."""
    utsfs.mkdir("early")
    for i in range(5):
        utsfs.restart()
        util.set_inside(utsfs.state / "early", f"early{i}")
        util.settled(lambda: f"hostname=early{i}\n" in util.read_text(record),
                     f"early{i} in the record")


def test_a_record_with_garbage_brings_names_back_as_mkdir_would(utsfs, record):
    """What a record says is input from a stranger, root's file or not."""
    utsfs.stop()
    util.umount_everything_under(utsfs.state)
    run(["rm", "-rf", utsfs.state])
    record.write_text("[good2]\nhostname=g2\nmode=banana\nuid=-5\ngid=99999999999\n"
                      "[good]\nhostname=-bad-host\n"
                      "[..%2Fescape]\nhostname=x\n[.dot]\nhostname=y\n")
    record.chmod(0o600)
    utsfs.output.allow(r"^.*(ignoring (mode|uid|gid)=|not restoring \[).*\n")
    utsfs.start()
    assert utsfs.names() == ["good", "good2"]
    st = os.stat(utsfs.path("good2"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o555)
    assert utsfs.read("good2", "hostname") == "g2\n"
    assert utsfs.read("good", "hostname") == "good\n"
    log = utsfs.log.read_text()
    assert "ignoring mode=banana" in log and "ignoring uid=-5" in log
    assert "not restoring [..%2Fescape]" in log


@pytest.mark.parametrize("option", ["restore=DIR", "restore=", "state_dir="])
def test_a_directory_or_an_empty_path_where_a_file_is_wanted_is_refused(utsfs, tmp_path,
                                                                          option):
    precious = tmp_path / "records"
    precious.mkdir()
    (precious / "data").write_text("precious\n")
    utsfs.stop()
    argv = [os.fspath(util.utsfs_bin()), "-f", "-o",
            option.replace("DIR", os.fspath(precious)) +
            ("" if option.startswith("state_dir") else f",state_dir={utsfs.state}"),
            os.fspath(utsfs.mnt)]
    res = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path,
                         timeout=util.EXIT_DEADLINE)
    assert res.returncode == 1 and res.stderr.startswith("utsfs: "), res.stderr
    assert not util.mounts_at(utsfs.mnt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["records"]
    assert (precious / "data").read_text() == "precious\n"


def test_a_mount_point_that_is_no_directory_is_refused(utsfs, tmp_path):
    utsfs.stop()
    afile = tmp_path / "afile"
    afile.write_text("")
    res = subprocess.run([os.fspath(util.utsfs_bin()), "-f", "-o",
                          f"state_dir={utsfs.state}", os.fspath(afile)],
                         capture_output=True, text=True, timeout=util.EXIT_DEADLINE)
    assert res.returncode == 1
    assert res.stderr == f"utsfs: cannot mount on {afile}: Not a directory\n"
    assert not util.mounts_at(afile)
