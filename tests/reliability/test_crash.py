"""kill -9 under a small bounded load: what was acknowledged survives, the database is sound.

The same drill as ``python -m bench.drill --only crash`` (bench/drills/crash.py), with
one kill, a few clients and no wrk: sign-up and sign-in clients and a
signed-in reader run against ``onebar serve``; the service is killed with
SIGKILL mid-load and restarted on the same port.
"""

from __future__ import annotations

from bench.drills.crash import run_crash


def test_acknowledged_sign_ups_and_sign_ins_survive_kill_9(tmp_path):
    r = run_crash(tmp_path, kills=1, interval=2.5, after=1.5, signup_workers=2, signin_workers=1, users=20,
                  use_wrk=False)
    before_kill = [a for a in r.acks if a.at < r.killed_at[0]]
    assert {a.kind for a in before_kill} == {"signup", "signin"}, "the load did not write before the kill"
    assert r.answers["connection failed"] > 0, "no client met the dead service: the kill missed the load"
    assert r.lost == []
    assert r.db_problems == []
    assert r.five_xx == 0 and r.logged == []
    assert r.unrecovered == [], "a client never succeeded again after the restart"
