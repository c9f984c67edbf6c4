# SPDX-License-Identifier: GPL-2.0-or-later
"""Figures the reliability tests record, and tests/RELIABILITY.md generated from them.

A test asks for the `figures` fixture (conftest.py), counts what it did into
it (fig.add("tried"), fig.set("seed", 42), fig.error("EEXIST", expected=True))
and the fixture saves it into this session's JSON file when the test ends,
passed or failed. At session end conftest.py calls write_report(): when any
test recorded figures, RELIABILITY.md is regenerated. Tests that did not run
in this session keep the figures of their last run (kept, as JSON, in a
comment at the end of RELIABILITY.md), each with its own date and commit.
"""

import datetime
import functools
import json
import os
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import util

REPORT = Path(__file__).resolve().parent / "RELIABILITY.md"
# CI may keep the raw figures: set UTSFS_RELIABILITY_JSON to a path.
ENV_JSON = "UTSFS_RELIABILITY_JSON"

# The figures every table shows, in this order, with their labels.
COMMON = [
    ("tried", "operations tried"),
    ("acknowledged", "operations acknowledged (succeeded)"),
    ("interrupted", "operations interrupted by a kill"),
    ("expected_errors", "expected errors"),
    ("unexpected_errors", "unexpected errors"),
    ("kills", "kills survived"),
    ("restarts", "restarts verified"),
    ("fuzzed", "inputs fuzzed"),
    ("clients", "concurrent clients"),
    ("seed", "seed"),
    ("seconds", "seconds"),
]
_JSON_MARK = "<!-- figures-json:"

_session_file = None
_own_session_file = False
_outcomes = {}


class Figures:
    """What one test did, in numbers."""

    def __init__(self, nodeid: str, about: str = "", path=None, name=None):
        # pytest's node id (for the outcome), and one relative to the repository
        # (the report's key), the same whichever directory pytest ran from.
        self.pytest_nodeid = nodeid
        self.nodeid = nodeid
        if path is not None and name is not None:
            try:
                self.nodeid = f"{Path(path).relative_to(util.REPO)}::{name}"
            except ValueError:
                pass
        self.about = about
        self.counts = Counter()
        self.values = {}
        # errno name -> count, kept apart for expected and unexpected errors.
        self.expected = Counter()
        self.unexpected = Counter()

    def add(self, key: str, n: int = 1):
        self.counts[key] += n

    def set(self, key: str, value):
        self.values[key] = value

    def error(self, name: str, expected: bool, n: int = 1):
        """Count an error by its errno name (or a short description)."""
        if expected:
            self.expected[name] += n
            self.counts["expected_errors"] += n
        else:
            self.unexpected[name] += n
            self.counts["unexpected_errors"] += n

    def as_dict(self) -> dict:
        figures = dict(self.counts)
        figures.update(self.values)
        if self.expected:
            figures["expected errors by errno"] = dict(sorted(self.expected.items()))
        if self.unexpected:
            figures["unexpected errors by errno"] = dict(sorted(self.unexpected.items()))
        return {"nodeid": self.nodeid, "pytest_nodeid": self.pytest_nodeid,
                "about": self.about, "figures": figures,
                "date": datetime.datetime.now(datetime.timezone.utc)
                .strftime("%Y-%m-%d %H:%M UTC"),
                "commit": commit(), "binary": util.utsfs_bin()}

    def save(self):
        """Add (or replace) this test's figures in the session's file."""
        if _session_file is None:
            return
        records = _load(_session_file)
        records[self.nodeid] = self.as_dict()
        tmp = _session_file.with_name(_session_file.name + ".tmp")
        tmp.write_text(json.dumps(records, indent=1, sort_keys=True))
        tmp.replace(_session_file)


@functools.lru_cache(maxsize=None)
def commit() -> str:
    """The checked-out commit, marked when the tree has other uncommitted changes
    (looked up once per session)."""
    repo = util.REPO
    try:
        head = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "-C", repo, "status", "--porcelain",
                                 "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not head:
        return "unknown"
    changed = [line[3:] for line in status.splitlines()
               if line[3:] != "tests/RELIABILITY.md"]
    return head + ("+uncommitted" if changed else "")


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


# --- the session ------------------------------------------------------------


def begin_session():
    global _session_file, _own_session_file
    _outcomes.clear()
    commit.cache_clear()
    if os.environ.get(ENV_JSON):
        _session_file = Path(os.environ[ENV_JSON])
        _own_session_file = False
    else:
        fd, name = tempfile.mkstemp(prefix="utsfs-reliability-", suffix=".json")
        os.close(fd)
        _session_file = Path(name)
        _own_session_file = True
    _session_file.write_text("{}")


def note_outcome(nodeid: str, when: str, outcome: str):
    """The worst outcome of a test's setup, call and teardown."""
    rank = {"passed": 0, "skipped": 1, "failed": 2}
    if when == "teardown" and outcome == "skipped":
        return
    old = _outcomes.get(nodeid, "passed")
    if rank.get(outcome, 2) >= rank.get(old, 2):
        _outcomes[nodeid] = outcome


def end_session():
    """Regenerate RELIABILITY.md when tests recorded figures in this session."""
    global _session_file
    if _session_file is None:
        return
    records = _load(_session_file)
    if _own_session_file:
        _session_file.unlink(missing_ok=True)
    _session_file = None
    if not records:
        return
    for rec in records.values():
        rec["outcome"] = _outcomes.get(rec.pop("pytest_nodeid", rec["nodeid"]), "unknown")
    write_report(records)


# --- RELIABILITY.md -----------------------------------------------------------


def _previous() -> dict:
    try:
        text = REPORT.read_text()
    except FileNotFoundError:
        return {}
    start = text.rfind(_JSON_MARK)
    if start < 0:
        return {}
    end = text.find("-->", start)
    try:
        return json.loads(text[start + len(_JSON_MARK):end])
    except ValueError:
        return {}


def _cell(value) -> str:
    if isinstance(value, dict):
        value = ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value).replace("|", "\\|").replace("\n", " ")


def render(records: dict) -> str:
    out = ["# utsfs reliability figures", "",
           "Generated by the reliability tests themselves (tests/reliability.py, "
           "called from tests/conftest.py at the end of a pytest session that ran "
           "any of them); do not edit by hand. Regenerate with:", "",
           "    /usr/bin/python3 -m pytest tests/test_delegation.py tests/test_faults.py "
           "tests/test_stress.py tests/test_fuzz.py tests/test_watch_attack.py", "",
           "A test not run in the latest session keeps the figures of its own last "
           "run, with that run's date and commit. Set UTSFS_FUZZ_SEED to replay a "
           "fuzz or kill-storm run with the seed shown.", ""]
    totals = Counter()
    for rec in records.values():
        for key in ("tried", "acknowledged", "interrupted", "expected_errors",
                    "unexpected_errors", "kills", "fuzzed"):
            value = rec["figures"].get(key)
            if isinstance(value, int):
                totals[key] += value
    out += ["## Summary", "",
            "| test | outcome | tried | acknowledged | interrupted | expected errors "
            "| unexpected errors | kills | inputs fuzzed | date | commit |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for nodeid, rec in sorted(records.items()):
        f = rec["figures"]
        out.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            _cell(nodeid.removeprefix("tests/")), rec.get("outcome", "unknown"),
            *(_cell(f.get(k, "")) for k in ("tried", "acknowledged", "interrupted",
                                             "expected_errors", "unexpected_errors",
                                             "kills", "fuzzed")),
            rec["date"], rec["commit"]))
    out.append("| **all** | | {} | {} | {} | {} | {} | {} | {} | | |".format(
        *(totals[k] for k in ("tried", "acknowledged", "interrupted", "expected_errors",
                              "unexpected_errors", "kills", "fuzzed"))))
    out.append("")
    labels = dict(COMMON)
    for nodeid, rec in sorted(records.items()):
        f = rec["figures"]
        out += [f"## {nodeid}", ""]
        if rec.get("about"):
            out += [rec["about"], ""]
        out += [f"{rec.get('outcome', 'unknown')} on {rec['date']}, commit "
                f"{rec['commit']}, daemon `{rec.get('binary', '?')}`.", "",
                "| figure | value |", "| --- | --- |"]
        for key, label in COMMON:
            if key in f:
                out.append(f"| {label} | {_cell(f[key])} |")
        for key in sorted(k for k in f if k not in labels):
            out.append(f"| {_cell(key)} | {_cell(f[key])} |")
        out.append("")
    out.append(_JSON_MARK + "\n" + json.dumps(records, indent=1, sort_keys=True)
               + "\n-->")
    return "\n".join(out) + "\n"


def _function(nodeid: str):
    """(file, test function) of a node id such as tests/test_x.py::test_y[param]."""
    path, _, name = nodeid.partition("::")
    return path, name.partition("[")[0]


def _still_there(nodeid: str, ran: set) -> bool:
    """Whether an old record still stands for a test: its function exists, and
    when that function ran in this session, this very variant ran too."""
    path, func = _function(nodeid)
    try:
        text = (util.REPO / path).read_text()
    except OSError:
        return False
    if f"def {func}(" not in text:
        return False
    return (path, func) not in ran


def write_report(records: dict):
    ran = {_function(n) for n in records}
    merged = {n: r for n, r in _previous().items() if _still_there(n, ran)}
    merged.update(records)
    tmp = REPORT.with_name(REPORT.name + ".tmp")
    tmp.write_text(render(merged))
    tmp.replace(REPORT)
