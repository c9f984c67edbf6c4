# SPDX-License-Identifier: GPL-2.0-or-later
"""Delegation as cgroup v2 does it: chown/chmod of a namespace directory, who may do
what, and owner and mode kept in STATE/.utsfs.conf across restarts and crashes."""

import errno
import os
import shutil
import stat
import threading

import pytest

import util
from util import DELEGATE, NOBODY, run

FILE_MODES = {"hostname": 0o644, "domainname": 0o644, "id": 0o444}
if util.HAS_NS_IDS:
    FILE_MODES["nsid"] = 0o444

# Every test here records its figures for tests/RELIABILITY.md.
pytestmark = pytest.mark.usefixtures("figures")


@pytest.fixture
def act(figures):
    """util.as_user, counted: operations tried as other users and how they ended."""
    def act(uid, op, *args, gid=None):
        figures.add("tried")
        try:
            result = util.as_user(uid, op, *args, gid=gid)
        except OSError as e:
            figures.error(errno.errorcode.get(e.errno, str(e.errno)), expected=True)
            raise
        figures.add("acknowledged")
        return result
    return act


@pytest.fixture
def fs(utsfs):
    utsfs.mkdir("web")
    return utsfs


def refused(err, fn, *args, **kwargs):
    with pytest.raises(OSError) as e:
        fn(*args, **kwargs)
    assert e.value.errno == err, (f"{getattr(fn, '__name__', fn)}{args} failed with "
                                  f"{errno.errorcode.get(e.value.errno)}, "
                                  f"want {errno.errorcode[err]}")


def owner_mode(path):
    st = os.lstat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def group(fs, name):
    """The .utsfs.conf group of name, or None."""
    return util.conf_groups(fs.state).get(util.group_name(name))


def entry(fs, name, uid, gid, mode):
    """The group utsfs keeps for name: its namespace's id (NS_GET_ID's where
    the kernel has it) and this boot's id beside owner and mode."""
    return util.conf_entry(fs.state / name, uid, gid, mode)


def legacy_entry(fs, name, uid, gid, mode):
    """A group as utsfs wrote it before 64-bit ids: keyed by the inode number, no boot=."""
    return {"id": str(util.nsfs_id(fs.state / name)), "uid": str(uid), "gid": str(gid),
            "mode": f"{mode:04o}"}


def other_boot():
    """A boot id that is not this boot's."""
    import uuid
    while True:
        boot = str(uuid.uuid4())
        if boot != util.boot_id():
            return boot


# --- who may browse, read and write -------------------------------------------


def test_unprivileged_user_browses_and_reads_everything_it_may(fs, act):
    """The fixture's mount point is reachable by others, who list and read as the modes allow."""
    for parent in (fs.root, fs.mnt):
        assert stat.S_IMODE(os.stat(parent).st_mode) & 0o005 == 0o005, parent
    ident = util.nsfs_id(fs.state / "web")
    # The root lists the view .all (every namespace on the host) beside the names.
    assert act(NOBODY, "listdir", fs.mnt) == [".all", "web"]
    assert act(NOBODY, "listdir", fs.path("web")) == sorted(os.listdir(fs.path("web")))
    assert act(NOBODY, "read", fs.path("web", "hostname")) == "web\n"
    assert act(NOBODY, "read", fs.path("web", "id")) == f"{ident}\n"
    assert act(NOBODY, "readlink", fs.path("web", "ns")) == str(fs.state / "web")


@pytest.mark.parametrize("uid", [NOBODY, DELEGATE], ids=["nobody", "uid1000"])
def test_non_root_cannot_write_a_root_owned_hostname(fs, act, uid):
    """Before any delegation, no other user can set hostname or domainname (EACCES)."""
    before = util.inside_both(fs.state / "web")
    refused(errno.EACCES, act, uid, "write", fs.path("web", "hostname"), "intruder\n")
    refused(errno.EACCES, act, uid, "write", fs.path("web", "domainname"), "intruder\n")
    assert util.inside_both(fs.state / "web") == before


@pytest.mark.parametrize("uid", [NOBODY, DELEGATE], ids=["nobody", "uid1000"])
def test_only_root_creates_removes_and_renames_names(fs, act, uid):
    """Even the owner of a namespace cannot mkdir, rmdir or rename in MOUNT (0755 root)."""
    os.chown(fs.path("web"), DELEGATE, DELEGATE)
    before = fs.snapshot()
    refused(errno.EACCES, act, uid, "mkdir", fs.path("new"))
    refused(errno.EACCES, act, uid, "rmdir", fs.path("web"))
    refused(errno.EACCES, act, uid, "rename", fs.path("web"), fs.path("moved"))
    assert fs.snapshot() == before
    assert owner_mode(fs.mnt) == (0, 0, 0o755)


# --- chown --------------------------------------------------------------------


def test_chown_gives_the_directory_and_its_files_to_the_owner(fs):
    """chown UID:GID sets the owner of the directory and of every file in it; modes stay."""
    os.chown(fs.path("web"), DELEGATE, 1001)
    assert owner_mode(fs.path("web")) == (DELEGATE, 1001, 0o555)
    files = os.listdir(fs.path("web"))
    assert sorted(files) == sorted(util.ATTR_FILES)
    for name in files:
        st = os.lstat(fs.path("web", name))
        assert (st.st_uid, st.st_gid) == (DELEGATE, 1001), name
        if name in FILE_MODES:
            assert stat.S_IMODE(st.st_mode) == FILE_MODES[name], name
    assert group(fs, "web") == entry(fs, "web", DELEGATE, 1001, 0o555)


def test_owner_writes_hostname_and_domainname(fs, act):
    """After chown, the owner sets both values; the namespace itself changes."""
    os.chown(fs.path("web"), DELEGATE, DELEGATE)
    assert act(DELEGATE, "write", fs.path("web", "hostname"), "delegated\n") == 10
    assert act(DELEGATE, "write", fs.path("web", "domainname"), "example.org\n") == 12
    assert util.inside_both(fs.state / "web") == ("delegated", "example.org")
    assert fs.read("web", "hostname") == "delegated\n"


def test_owner_sets_hostname_from_a_shell(fs):
    """The issue's own words: a delegated user's `echo NAME > hostname` works."""
    os.chown(fs.path("web"), DELEGATE, DELEGATE)
    run(["setpriv", f"--reuid={DELEGATE}", f"--regid={DELEGATE}", "--clear-groups",
         "sh", "-c", f"echo web02 > {util.q(fs.path('web', 'hostname'))}"], cwd="/")
    assert util.inside(fs.state / "web") == "web02"


@pytest.mark.parametrize("attr", ["id"] + (["nsid"] if util.HAS_NS_IDS else []))
def test_owner_cannot_write_id(fs, act, attr):
    """id and nsid stay 0444 for their owner too."""
    os.chown(fs.path("web"), DELEGATE, DELEGATE)
    content = fs.read("web", attr)
    refused(errno.EACCES, act, DELEGATE, "write", fs.path("web", attr), "1\n")
    assert fs.read("web", attr) == content


def test_others_cannot_write_a_delegated_hostname(fs, act):
    """The owner's files stay 0644: any other user is refused with EACCES."""
    os.chown(fs.path("web"), DELEGATE, DELEGATE)
    refused(errno.EACCES, act, NOBODY, "write", fs.path("web", "hostname"), "other\n")
    refused(errno.EACCES, act, NOBODY, "write", fs.path("web", "domainname"), "other\n")
    assert util.inside(fs.state / "web") == "web"


def test_chown_by_non_root_fails_eperm(fs, act):
    """Neither the owner nor a stranger can give the directory away (the kernel says EPERM)."""
    os.chown(fs.path("web"), DELEGATE, DELEGATE)
    conf = (fs.state / util.CONF).read_text()
    refused(errno.EPERM, act, DELEGATE, "chown", fs.path("web"), NOBODY, NOBODY)
    refused(errno.EPERM, act, NOBODY, "chown", fs.path("web"), NOBODY, -1)
    assert owner_mode(fs.path("web")) == (DELEGATE, DELEGATE, 0o555)
    assert (fs.state / util.CONF).read_text() == conf


def test_chown_of_group_only_keeps_the_owner(fs):
    os.chown(fs.path("web"), -1, 1001)
    assert owner_mode(fs.path("web")) == (0, 1001, 0o555)
    os.chown(fs.path("web"), DELEGATE, -1)
    assert owner_mode(fs.path("web")) == (DELEGATE, 1001, 0o555)
    assert group(fs, "web") == entry(fs, "web", DELEGATE, 1001, 0o555)


# --- chmod --------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o500, 0o550, 0o511, 0o000, 0o1555, 0o2555, 0o4555,
                                  0o7555], ids=oct)
def test_chmod_by_root_sets_exactly_those_bits_and_keeps_them(fs, mode):
    """st_mode & 07777 is what chmod set, in the tree, in .utsfs.conf and after a restart."""
    os.chmod(fs.path("web"), mode)
    assert owner_mode(fs.path("web")) == (0, 0, mode)
    assert stat.S_ISDIR(os.stat(fs.path("web")).st_mode)
    assert group(fs, "web") == entry(fs, "web", 0, 0, mode)
    fs.restart()
    assert owner_mode(fs.path("web")) == (0, 0, mode)


def test_owner_chmods_its_directory(fs, act):
    os.chown(fs.path("web"), DELEGATE, DELEGATE)
    act(DELEGATE, "chmod", fs.path("web"), 0o550)
    assert owner_mode(fs.path("web")) == (DELEGATE, DELEGATE, 0o550)
    assert group(fs, "web") == entry(fs, "web", DELEGATE, DELEGATE, 0o550)


def test_chmod_by_others_fails_eperm(fs, act):
    """A user who owns neither MOUNT/web nor has root: EPERM, mode unchanged."""
    refused(errno.EPERM, act, NOBODY, "chmod", fs.path("web"), 0o500)
    os.chown(fs.path("web"), DELEGATE, DELEGATE)
    refused(errno.EPERM, act, NOBODY, "chmod", fs.path("web"), 0o500)
    refused(errno.EPERM, act, NOBODY, "chmod", fs.path("web"), 0o777)
    assert owner_mode(fs.path("web")) == (DELEGATE, DELEGATE, 0o555)


# Any one write bit is refused, alone or among others.
WRITE_BIT_MODES = [0o200, 0o020, 0o002, 0o700, 0o750, 0o755, 0o777, 0o7777]


@pytest.mark.parametrize("mode", WRITE_BIT_MODES, ids=oct)
@pytest.mark.parametrize("who", ["root", "owner"])
def test_chmod_asking_for_a_write_bit_fails_eperm_and_changes_nothing(fs, act, who, mode):
    """Namespace directories never show write bits: with one, the owner could
    mount a FUSE file system of her own over the directory (fusermount3 lets
    a user mount on a directory she may write), hiding the name from root or
    making rmdir fail with EBUSY. Root is refused too."""
    os.chown(fs.path("web"), DELEGATE, 1001)
    os.chmod(fs.path("web"), 0o550)
    conf = (fs.state / util.CONF).read_text()
    if who == "root":
        refused(errno.EPERM, os.chmod, fs.path("web"), mode)
    else:
        refused(errno.EPERM, act, DELEGATE, "chmod", fs.path("web"), mode)
    assert owner_mode(fs.path("web")) == (DELEGATE, 1001, 0o550)
    assert (fs.state / util.CONF).read_text() == conf
    fs.restart()
    assert owner_mode(fs.path("web")) == (DELEGATE, 1001, 0o550)


@pytest.mark.parametrize("who", ["root", "owner"])
@pytest.mark.parametrize("how", ["u+w", "0700", "a+w"])
def test_chmod_command_asking_for_write_fails_and_changes_nothing(fs, who, how):
    """chmod(1) says why, for root and the owner alike; nothing changes."""
    os.chown(fs.path("web"), DELEGATE, DELEGATE)
    prefix = "" if who == "root" else (
        f"setpriv --reuid={DELEGATE} --regid={DELEGATE} --clear-groups ")
    before = fs.snapshot()
    res = util.sh(f"{prefix}chmod {how} {util.q(fs.path('web'))}", check=False)
    assert res.returncode != 0
    assert "Operation not permitted" in res.stderr
    assert owner_mode(fs.path("web")) == (DELEGATE, DELEGATE, 0o555)
    assert fs.snapshot() == before
    assert group(fs, "web") == entry(fs, "web", DELEGATE, DELEGATE, 0o555)


def fusermount_as(uid, path):
    """What fusermount3 (setuid root) does for uid asking to mount a FUSE file
    system on path, as libfuse asks it: the /dev/fuse fd comes back over the
    socket in _FUSE_COMMFD, which is closed at once (a mount it made is dead)."""
    import socket
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        return run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                    "fusermount3", "-o", "rw", "--", path], check=False, cwd="/",
                   pass_fds=[theirs.fileno()],
                   env=dict(os.environ, _FUSE_COMMFD=str(theirs.fileno())))
    finally:
        ours.close()
        theirs.close()


@pytest.mark.parametrize("mode", [0o555, 0o500], ids=oct)
def test_the_owner_cannot_mount_over_her_directory(fs, mode):
    """Why write bits are refused: fusermount3 lets a user mount FUSE on a
    directory she may write. On her namespace directory it refuses, so she
    can neither hide the name from root nor make root's rmdir fail (EBUSY)."""
    fusermount = shutil.which("fusermount3")
    if not os.stat(fusermount).st_mode & stat.S_ISUID:
        pytest.skip("fusermount3 is not setuid root here")
    # The same call on a directory she may write mounts: the check is the modes.
    own = fs.root / "own"
    own.mkdir()
    os.chown(own, DELEGATE, DELEGATE)
    try:
        res = fusermount_as(DELEGATE, own)
        assert res.returncode == 0, res.stderr
        assert [m.fstype for m in util.mounts_at(own)] == ["fuse"]
    finally:
        util.umount_everything_under(own)
    os.chown(fs.path("web"), DELEGATE, DELEGATE)
    os.chmod(fs.path("web"), mode)
    res = fusermount_as(DELEGATE, fs.path("web"))
    assert res.returncode != 0
    assert "no write access to mountpoint" in res.stderr, res.stderr
    assert util.mounts_at(fs.path("web")) == []
    assert sorted(os.listdir(fs.path("web"))) == sorted(util.ATTR_FILES)
    os.rmdir(fs.path("web"))
    assert fs.names() == []


def test_chmod_0500_hides_the_directory_but_not_its_name(fs, act):
    """Others can no longer enter MOUNT/web (EACCES) yet still see the name in MOUNT."""
    os.chown(fs.path("web"), DELEGATE, DELEGATE)
    os.chmod(fs.path("web"), 0o500)
    refused(errno.EACCES, act, NOBODY, "listdir", fs.path("web"))
    refused(errno.EACCES, act, NOBODY, "read", fs.path("web", "hostname"))
    refused(errno.EACCES, act, NOBODY, "lstat", fs.path("web", "id"))
    assert act(NOBODY, "listdir", fs.mnt) == [".all", "web"]
    assert "hostname" in act(DELEGATE, "listdir", fs.path("web"))
    assert act(DELEGATE, "read", fs.path("web", "hostname")) == "web\n"
    assert fs.read("web", "hostname") == "web\n"


def test_owner_cannot_chmod_or_chown_the_attribute_files(fs, act):
    """The kernel lets the owner try; utsfs refuses with EPERM and the files keep their modes."""
    os.chown(fs.path("web"), DELEGATE, DELEGATE)
    for name in FILE_MODES:
        refused(errno.EPERM, act, DELEGATE, "chmod", fs.path("web", name), 0o666)
        refused(errno.EPERM, os.chown, fs.path("web", name), NOBODY, NOBODY)
        assert owner_mode(fs.path("web", name)) == (DELEGATE, DELEGATE, FILE_MODES[name])


def test_mount_root_refuses_chmod_and_chown(fs):
    refused(errno.EPERM, os.chmod, fs.mnt, 0o777)
    refused(errno.EPERM, os.chmod, fs.mnt, 0o555)
    refused(errno.EPERM, os.chown, fs.mnt, DELEGATE, DELEGATE)
    assert owner_mode(fs.mnt) == (0, 0, 0o755)


# --- persistence ----------------------------------------------------------------


def delegate_web(fs):
    os.chown(fs.path("web"), DELEGATE, 1001)
    os.chmod(fs.path("web"), 0o550)


def check_delegated_web(fs, act):
    assert owner_mode(fs.path("web")) == (DELEGATE, 1001, 0o550)
    assert owner_mode(fs.path("web", "hostname")) == (DELEGATE, 1001, 0o644)
    assert act(DELEGATE, "write", fs.path("web", "hostname"), "still-mine\n") == 11
    refused(errno.EACCES, act, NOBODY, "listdir", fs.path("web"))
    assert util.inside(fs.state / "web") == "still-mine"


def test_owner_and_mode_survive_a_restart(fs, act):
    delegate_web(fs)
    fs.restart()
    check_delegated_web(fs, act)
    assert group(fs, "web") == entry(fs, "web", DELEGATE, 1001, 0o550)


def test_owner_and_mode_survive_kill9(fs, act):
    delegate_web(fs)
    fs.kill9()
    util.start_after_crash(fs)
    check_delegated_web(fs, act)
    assert group(fs, "web") == entry(fs, "web", DELEGATE, 1001, 0o550)


def test_conf_holds_one_escaped_group_per_delegated_name(fs):
    """Exactly the delegated names have a group, named by the URI-escaped name."""
    for name in ("my box", "plain", "ünï"):
        fs.mkdir(name)
    delegate_web(fs)
    os.chmod(fs.path("my box"), 0o500)
    os.chown(fs.path("ünï"), NOBODY, NOBODY)
    assert util.conf_groups(fs.state) == {
        "web": entry(fs, "web", DELEGATE, 1001, 0o550),
        "my%20box": entry(fs, "my box", 0, 0, 0o500),
        "%C3%BCn%C3%AF": entry(fs, "ünï", NOBODY, NOBODY, 0o555),
    }
    text = (fs.state / util.CONF).read_text()
    assert "[my%20box]\n" in text and "mode=0550\n" in text
    assert owner_mode(fs.path("plain")) == (0, 0, 0o555)


def test_conf_exists_only_while_something_is_delegated(fs):
    assert not (fs.state / util.CONF).exists()
    os.chmod(fs.path("web"), 0o550)
    assert (fs.state / util.CONF).is_file()
    os.rmdir(fs.path("web"))
    assert not (fs.state / util.CONF).exists()
    assert os.listdir(fs.state) == []


def test_conf_is_replaced_atomically_on_every_change(fs, figures):
    """Each change renames a new file over the old (new inode); a reader never sees half a file."""
    os.chmod(fs.path("web"), 0o500)
    modes = [0o500, 0o550, 0o555, 0o511]
    seen, bad = [], []
    done = threading.Event()

    def reader():
        while not done.is_set():
            try:
                web = util.read_keyfile(fs.state / util.CONF).get("web")
            except (AssertionError, FileNotFoundError) as e:
                bad.append(repr(e))
                continue
            if web is None or int(web["mode"], 8) not in modes:
                bad.append(repr(web))
            seen.append(1)

    thread = threading.Thread(target=reader)
    thread.start()
    inodes = set()
    try:
        for i in range(300):
            os.chmod(fs.path("web"), modes[i % len(modes)])
            inodes.add(os.stat(fs.state / util.CONF).st_ino)
    finally:
        done.set()
        thread.join()
    figures.add("tried", 300)
    figures.add("acknowledged", 300)
    figures.set("reads of the conf file", len(seen))
    assert bad == []
    assert len(seen) > 0
    # Inode numbers of freed files get reused: many distinct ones, not one.
    assert len(inodes) > 1
    assert sorted(os.listdir(fs.state)) == [util.CONF, "web"]


def test_rmdir_drops_the_delegation_and_a_new_namespace_starts_root_owned(fs, act):
    """A reused name never inherits an owner: rmdir forgets the group."""
    delegate_web(fs)
    os.rmdir(fs.path("web"))
    assert util.conf_groups(fs.state) == {}
    fs.mkdir("web")
    assert owner_mode(fs.path("web")) == (0, 0, 0o555)
    assert owner_mode(fs.path("web", "hostname")) == (0, 0, 0o644)
    refused(errno.EACCES, act, DELEGATE, "write", fs.path("web", "hostname"), "mine\n")
    fs.restart()
    assert owner_mode(fs.path("web")) == (0, 0, 0o555)


def test_rename_moves_owner_and_mode_with_the_namespace(fs, act):
    delegate_web(fs)
    ident = util.nsfs_id(fs.state / "web")
    os.rename(fs.path("web"), fs.path("site"))
    assert owner_mode(fs.path("site")) == (DELEGATE, 1001, 0o550)
    assert util.conf_groups(fs.state) == {"site": entry(fs, "site", DELEGATE, 1001, 0o550)}
    assert util.nsfs_id(fs.state / "site") == ident
    fs.mkdir("web")
    assert owner_mode(fs.path("web")) == (0, 0, 0o555)
    fs.restart()
    assert owner_mode(fs.path("site")) == (DELEGATE, 1001, 0o550)
    assert owner_mode(fs.path("web")) == (0, 0, 0o555)
    assert act(DELEGATE, "write", fs.path("site", "hostname"), "moved\n") == 6


def test_stale_groups_are_ignored_and_pruned_at_start(fs):
    """A group for a gone name or for another namespace gives nothing and is dropped;
    a hand-written group that matches its namespace is honoured."""
    fs.mkdir("mine")
    web = entry(fs, "web", DELEGATE, DELEGATE, 0o500)
    fs.stop()
    (fs.state / util.CONF).write_text(util.keyfile_text({
        # Another live namespace's id.
        "web": {**web, "id": str(util.conf_id(fs.state / "mine"))},
        "gone": web,
        "mine": entry(fs, "mine", DELEGATE, 1001, 0o550),
    }, comment="written by hand"))
    fs.start()
    assert owner_mode(fs.path("web")) == (0, 0, 0o555)
    assert owner_mode(fs.path("mine")) == (DELEGATE, 1001, 0o550)
    groups = util.conf_groups(fs.state)
    assert sorted(groups) == ["mine"]
    assert groups["mine"] == entry(fs, "mine", DELEGATE, 1001, 0o550)


def test_a_group_of_another_boot_is_dropped_at_start_though_its_id_matches(fs):
    """Ids last one boot: a group whose boot= is not this boot's is stale,
    whatever its id says, and goes at start (before any lookup)."""
    fs.mkdir("mine")
    fs.stop()
    (fs.state / util.CONF).write_text(util.keyfile_text({
        "web": {**entry(fs, "web", DELEGATE, DELEGATE, 0o500), "boot": other_boot()},
        "mine": entry(fs, "mine", DELEGATE, 1001, 0o550),
    }))
    fs.start()
    assert sorted(util.conf_groups(fs.state)) == ["mine"]
    assert owner_mode(fs.path("web")) == (0, 0, 0o555)
    assert owner_mode(fs.path("mine")) == (DELEGATE, 1001, 0o550)
    assert util.conf_groups(fs.state) == {"mine": entry(fs, "mine", DELEGATE, 1001, 0o550)}


def test_a_legacy_group_whose_name_holds_its_inode_is_migrated_at_start(fs, act):
    """A group an older utsfs wrote (no boot=, id the inode number) whose name
    still holds a namespace of that inode number is keyed anew once, at start:
    the file is rewritten with the namespace's id and this boot's, before any
    lookup; the owner stays and the mode loses its write bits."""
    fs.stop()
    (fs.state / util.CONF).write_text(util.keyfile_text(
        {"web": legacy_entry(fs, "web", DELEGATE, 1001, 0o750)}, comment="an older utsfs"))
    fs.start()
    group = util.conf_groups(fs.state)["web"]
    assert {k: group[k] for k in ("id", "boot", "uid", "gid")} == {
        k: v for k, v in entry(fs, "web", DELEGATE, 1001, 0o550).items() if k != "mode"}
    assert owner_mode(fs.path("web")) == (DELEGATE, 1001, 0o550)
    assert act(DELEGATE, "write", fs.path("web", "hostname"), "still-mine\n") == 11
    assert util.inside(fs.state / "web") == "still-mine"
    fs.restart()
    assert owner_mode(fs.path("web")) == (DELEGATE, 1001, 0o550)
    assert util.conf_groups(fs.state)["web"]["boot"] == util.boot_id()


def test_a_migrated_legacy_group_is_written_without_write_bits(fs):
    """.utsfs.conf says what the tree shows: the mode without write bits."""
    fs.stop()
    (fs.state / util.CONF).write_text(util.keyfile_text(
        {"web": legacy_entry(fs, "web", DELEGATE, 1001, 0o750)}))
    fs.start()
    assert owner_mode(fs.path("web")) == (DELEGATE, 1001, 0o550)
    assert util.conf_groups(fs.state) == {"web": entry(fs, "web", DELEGATE, 1001, 0o550)}


def test_a_legacy_group_whose_inode_does_not_match_is_dropped_at_start(fs):
    """A legacy group keyed by another inode number than its name holds now
    (the namespace it was set for is gone), or for a name that is gone,
    gives nothing and goes at start."""
    fs.mkdir("other")
    fs.stop()
    (fs.state / util.CONF).write_text(util.keyfile_text({
        "web": {**legacy_entry(fs, "web", DELEGATE, DELEGATE, 0o750),
                "id": str(util.nsfs_id(fs.state / "other"))},
        "gone": legacy_entry(fs, "web", DELEGATE, DELEGATE, 0o750),
    }))
    fs.start()
    assert not (fs.state / util.CONF).exists()
    assert owner_mode(fs.path("web")) == (0, 0, 0o555)
    assert owner_mode(fs.path("other")) == (0, 0, 0o555)


def rebind_with_standard_tools(nsfile):
    """What another tool does to a name: a new namespace bound in the old one's place."""
    util.sh(f"umount {util.q(nsfile)} && rm {util.q(nsfile)} && touch {util.q(nsfile)} "
            f"&& unshare --uts={util.q(nsfile)} true")


def ls_ln(path):
    """{name: (perms, uid, gid)} as `ls -ln` shows them."""
    rows = util.run(["ls", "-ln", path], env=dict(os.environ, LC_ALL="C")).stdout
    return {r.split(maxsplit=8)[8]: tuple(r.split()[i] for i in (0, 2, 3))
            for r in rows.splitlines()[1:]}


def test_a_namespace_that_gets_a_dead_ones_inode_number_inherits_no_owner(fs, act):
    """The forced inode-reuse attack, with standard tools and no restart: the
    name of a namespace delegated to uid 65534 is re-bound to a new namespace,
    which the kernel often gives the dead one's inode number. The new one is
    root:root 0555, 65534 cannot write its hostname, and the owner's group
    goes from .utsfs.conf once a lookup sees the name hold another namespace."""
    nsfile = fs.state / "web"
    reused = 0
    for i in range(8):
        os.chown(fs.path("web"), NOBODY, NOBODY)
        assert ls_ln(fs.mnt) == {"web": ("dr-xr-xr-x", str(NOBODY), str(NOBODY))}
        assert group(fs, "web") == entry(fs, "web", NOBODY, NOBODY, 0o555)
        old_ino, old_id = util.nsfs_id(nsfile), util.ns_id(nsfile) if util.HAS_NS_IDS else None
        rebind_with_standard_tools(nsfile)
        reused += util.nsfs_id(nsfile) == old_ino
        if util.HAS_NS_IDS:
            assert util.ns_id(nsfile) != old_id
        value = util.inside(nsfile)
        # At once, before anything else looks: the old owner cannot write.
        refused(errno.EACCES, act, NOBODY, "write", fs.path("web", "hostname"), f"evil{i}\n")
        assert util.inside(nsfile) == value
        # A name re-bound behind utsfs's back may lag by one watcher pass.
        util.settled(lambda: ls_ln(fs.mnt) == {"web": ("dr-xr-xr-x", "0", "0")},
                     "ls -l shows the new namespace root-owned")
        assert owner_mode(fs.path("web")) == (0, 0, 0o555)
        assert owner_mode(fs.path("web", "hostname")) == (0, 0, 0o644)
        assert os.stat(fs.path("web")).st_ino == util.nsfs_id(nsfile)
        assert group(fs, "web") is None
        assert not (fs.state / util.CONF).exists()
        refused(errno.EACCES, act, NOBODY, "write", fs.path("web", "hostname"), f"evil{i}\n")
        assert util.inside(nsfile) == value
    assert reused > 0, "the kernel never gave the new namespace the old inode number"


# --- The files utsfs trusts at start ---


@pytest.mark.parametrize("umask", [0o000, 0o277], ids=["umask 000", "umask 277"])
def test_conf_and_record_are_private_whatever_the_umask(utsfs, umask):
    """.utsfs.conf (owners, modes) and the record (hostnames of hidden names)
    come out 0600, and a directory made for the record 0700, whatever umask
    the daemon was started under: neither looser nor stricter."""
    record = utsfs.root / "records" / "deep" / "record.conf"
    utsfs.options.append(f"restore={record}")
    old = os.umask(umask)
    try:
        utsfs.restart()
    finally:
        os.umask(old)
    utsfs.mkdir("web")
    os.chown(utsfs.path("web"), DELEGATE, DELEGATE)
    os.chmod(utsfs.path("web"), 0o500)
    assert stat.S_IMODE(os.stat(utsfs.state / util.CONF).st_mode) == 0o600
    util.settled(lambda: record.exists() and "[web]" in record.read_text(), "web in the record")
    assert stat.S_IMODE(os.stat(record).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(record.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(record.parent.parent).st_mode) == 0o700


@pytest.mark.parametrize("legacy", [False, True], ids=["nsid", "legacy"])
def test_a_journal_that_names_a_path_outside_the_state_dir_is_ignored(utsfs, legacy):
    """A rename journal entry is a name, checked as mkdir checks one: a
    `from=../outside/victim` never makes the daemon unmount or unlink a file
    outside the state directory, and a group named like a path is dropped;
    whether written as utsfs writes it now or as an older one did."""
    utsfs.mkdir("x")
    key = (f"id={util.nsfs_id(utsfs.state / 'x')}\n" if legacy else
           f"id={util.conf_id(utsfs.state / 'x')}\nboot={util.boot_id()}\n")
    outside = utsfs.root / "outside"
    outside.mkdir()
    victim = outside / "victim"
    victim.touch()
    run(["mount", "--bind", utsfs.state / "x", victim])
    try:
        utsfs.stop()
        (utsfs.state / util.CONF).write_text(
            f"[.rename]\nfrom=../outside/victim\nto=x\n{key}\n"
            f"[..%2Foutside%2Fvictim]\n{key}uid=0\ngid=0\nmode=0555\n")
        utsfs.start()
        assert [m.fstype for m in util.mounts_at(victim)] == ["nsfs"]
        assert utsfs.names() == ["x"]
        assert util.conf_groups(utsfs.state) == {}
    finally:
        util.umount_everything_under(outside)


def test_a_record_left_readable_to_all_becomes_private_at_start(utsfs):
    """A record an older utsfs wrote 0644 is written anew at start, 0600,
    though nothing in it changed."""
    record = utsfs.root / "record.conf"
    utsfs.mkdir("web")
    utsfs.options.append(f"restore={record}")
    utsfs.restart()
    util.settled(lambda: record.exists() and "[web]" in record.read_text(), "web in the record")
    utsfs.stop()
    os.chmod(record, 0o644)
    text = record.read_text()
    utsfs.start()
    assert stat.S_IMODE(os.stat(record).st_mode) == 0o600
    assert record.read_text() == text
