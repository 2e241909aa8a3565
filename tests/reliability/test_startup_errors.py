"""A broken data directory or database: `onebar serve` prints one `error:` line and exits, no traceback.

The cases are the disk drill's (bench/drills/disk.py ``start_cases``): missing,
unreachable, read-only or corrupt data dirs, databases and key files. Root
ignores permission bits, so as root (as CI runs) the service runs without the
capabilities that bypass them (setpriv), and every case runs: none is skipped.
"""

from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bench.drills.common import restore_permissions
from bench.drills.disk import check_start_error, start_cases

from ..live import TEST_SECRET_KEYS


@pytest.fixture(scope="module")
def outcomes():
    # Not under pytest's own temporary directory: the unprivileged cases need
    # their parents world-searchable, and pytest's base directory must stay 0700.
    base = Path(tempfile.mkdtemp(prefix="onebar-startup-"))
    try:
        cases = start_cases(base / "cases", TEST_SECRET_KEYS)
        with ThreadPoolExecutor(4) as pool:
            problems = dict(zip((c.name for c in cases), pool.map(check_start_error, cases)))
        yield problems
    finally:
        restore_permissions(base)
        shutil.rmtree(base, ignore_errors=True)


CASES = [
    "data dir is a file",
    "data dir under a file",
    "corrupt database",
    "database path is a directory",
    "corrupt key file",
    "data dir inside a directory it cannot enter",
    "missing data dir in a read-only parent",
    "read-only data dir",
    "read-only database file",
]


@pytest.mark.parametrize("case", CASES)
def test_serve_refuses_with_one_error_line(outcomes, case):
    assert outcomes[case] is None


def test_every_case_was_built(outcomes):
    assert set(outcomes) == set(CASES)
