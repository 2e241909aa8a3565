"""kill -9 under a small bounded load: what was acknowledged survives, the database is sound.

The same drill as ``python -m bench.drill --only crash`` (bench/drills/crash.py), with
one kill, a few clients and no wrk: sign-up and sign-in clients and a
signed-in reader run against ``onebar serve``; the service is killed with
SIGKILL mid-load and restarted on the same port. On each store backend: the
SQLite file, and PostgreSQL (the data copied there as ``onebar db copy`` does).
"""

from __future__ import annotations

import pytest

from bench.drills.crash import run_crash
from onebar.store import SQLiteStore, open_url

from ..conftest import BACKENDS


@pytest.mark.parametrize("backend", BACKENDS)
def test_acknowledged_sign_ups_and_sign_ins_survive_kill_9(tmp_path, request, backend):
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    r = run_crash(tmp_path, kills=1, interval=2.5, after=1.5, signup_workers=2, signin_workers=1, users=20,
                  use_wrk=False, database_url=url)
    before_kill = [a for a in r.acks if a.at < r.killed_at[0]]
    assert {a.kind for a in before_kill} == {"signup", "signin"}, "the load did not write before the kill"
    assert r.answers["connection failed"] > 0, "no client met the dead service: the kill missed the load"
    assert r.lost == []
    assert r.db_problems == []
    assert r.five_xx == 0 and r.logged == []
    assert r.unrecovered == [], "a client never succeeded again after the restart"
    if url is not None:  # the service really wrote to PostgreSQL, not to the SQLite file it was copied from
        signed_up = next(a.email for a in r.acks if a.kind == "signup")
        pg, lite = open_url(url), SQLiteStore(tmp_path / "crash" / "onebar.sqlite3")
        try:
            assert pg.get_credentials(signed_up) is not None and lite.get_credentials(signed_up) is None
        finally:
            pg.close()
            lite.close()
