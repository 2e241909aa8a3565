"""1. load: wrk mixing signed-in, signed-out, bad cookies and sign-ins; no 5xx, no socket error."""

from __future__ import annotations

from pathlib import Path

from .. import loadgen
from .common import Outcome, log_errors, make_fixture, mixed_requests


def drill_load(work: Path, *, seconds: float = 60, connections: int = 64) -> Outcome:
    loadgen.require_wrk()
    fx = make_fixture(work, "load")
    with fx.service() as svc:
        reqs = mixed_requests(fx, svc.port)
        r = loadgen.run(svc.url + "/", connections=connections, seconds=seconds, requests=reqs, count=True,
                        timeout=15)
        logged = log_errors(svc.log)
    five = r.count(500, 599)
    statuses = ", ".join(f"{s}: {n:,}" for s, n in sorted(r.statuses.items()))
    problems = [f"{five} answers were 5xx"] if five else []
    problems += [f"{r.socket_errors} socket errors (connect {r.connect_errors}, read {r.read_errors}, "
                 f"write {r.write_errors}, timeout {r.timeouts})"] if r.socket_errors else []
    problems += [f"the service logged: {line}" for line in logged]
    odd = {s: n for s, n in r.statuses.items() if s not in (200, 303) and not 500 <= s <= 599}
    problems += [f"unexpected answers {odd}: every request of the mix should get 200 (or 303 for a sign-in)"] \
        if odd else []
    problems += ["no sign-in succeeded: the mix did not test writes"] if not r.statuses.get(303) else []
    figures = (f"{connections} connections × {r.seconds:.0f} s, {r.requests:,} requests ({r.rps:,.0f}/s): "
               f"{five} 5xx, {r.socket_errors} socket errors; p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.0f} ms, "
               f"max {r.max_ms:,.0f} ms; answers {statuses}")
    return Outcome("load", not problems, figures, problems)
