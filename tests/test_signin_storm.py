"""A storm of correct sign-ins cannot starve /api/me (issue 9, item 2).

64 loops sign in with one free account's correct password, in their own
process, bounded in time and count; meanwhile a signed-in client asks
/api/me one request at a time. Each password check costs ~100 ms of CPU, so
without bounds the storm took every thread and core. The bounds: limits on
every sign-in attempt (per account and address) and a small pool for
hashing (503 past it).

The issue's goal is a p99 under 100 ms; `python -m bench --only storm` prints
that figure against it. This test guards the behaviour on two shared, busy
cores, so its bound is generous: the median under 50 ms and the p99 under
250 ms (or 3× the p99 the same client saw just before without a storm, when
the neighbours make even that slow). Without the bounds, /api/me took
seconds (median 9.5 s here), so the test fails clearly when they are gone.
"""

from __future__ import annotations

import statistics

from bench.storm import measure, p99

from .live import start_service

ADA = ("ada@example.com", "Ada Lovelace", "lovelace1815")
GRACE = ("grace@example.com", "Grace Hopper", "hopper1906")  # asks /api/me while Ada's account storms
GENEROUS_P99_MS = 250.0
STORM = dict(email=ADA[0], password=ADA[2], reader=(GRACE[0], GRACE[2]), connections=64, seconds=5.0,
             max_requests=100_000, quiet_seconds=2.0)
FAILED = "an /api/me request failed, or answered signed out, during the storm"


def assert_me_stayed_fast(f) -> None:
    assert 10_000.0 not in f.stormy, FAILED
    bound = max(GENEROUS_P99_MS, 3 * p99(f.quiet))
    assert p99(f.stormy) < bound, (
        f"/api/me p99 {p99(f.stormy):.1f} ms during the storm (alone: {p99(f.quiet):.1f} ms; bound {bound:.0f} ms)")
    assert statistics.median(f.stormy) < 50, f"/api/me median {statistics.median(f.stormy):.1f} ms"


def test_a_storm_of_correct_sign_ins_is_limited_and_me_stays_fast(tmp_path):
    with start_service(tmp_path / "svc", users=[ADA, GRACE], env={"ONEBAR_ACCESS_LOG": "0"}) as svc:
        f = measure(svc.url, **STORM)
    assert f.answers.get(303, 0) >= 1, f"no sign-in succeeded: {f.answers}"
    refused = f.answers.get(429, 0) + f.answers.get(503, 0)
    assert refused > 10 * f.answers[303], f"the storm was not bounded: {f.answers}"
    assert f.answers[303] <= 20, f"more sign-ins than the per-account limit lets through: {f.answers}"
    assert set(f.answers) <= {303, 429, 503}, f"unexpected answers: {f.answers}"
    assert_me_stayed_fast(f)


def test_a_storm_the_limits_cannot_stop_is_turned_away_by_the_hashing_gate(tmp_path):
    # Sign-ins from thousands of addresses (or accounts) pass every per-account
    # and per-address limit; the limits lifted here stand in for that. What is
    # left is the gate in front of Flask: a bounded number of password hashes
    # in flight, the excess answered 503 at once, and /api/me answered
    # throughout. (Its latency is the benchmark's to report: on two shared
    # cores the gate's figure and a gateless one overlap too often to assert.)
    from .live import MANY_SIGN_INS

    with start_service(tmp_path / "svc", users=[ADA, GRACE], env={"ONEBAR_ACCESS_LOG": "0", **MANY_SIGN_INS}) as svc:
        f = measure(svc.url, **STORM)
    assert f.answers.get(303, 0) > 20, f"the limits were not lifted, so this proves nothing: {f.answers}"
    assert f.answers.get(503, 0) > f.answers[303], f"the gate did not turn the excess away: {f.answers}"
    assert set(f.answers) <= {303, 429, 503}, f"unexpected answers: {f.answers}"
    assert 10_000.0 not in f.stormy, FAILED
