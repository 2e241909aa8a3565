"""2. crash: kill -9 mid-load, restart; acknowledged writes survive, the database stays whole."""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .. import loadgen, procs
from ..clients import DOWN, Visitor, me
from ..datagen import PASSWORD
from .common import (
    Ack,
    CrashLog,
    Fixture,
    Outcome,
    log_errors,
    make_fixture,
    mixed_requests,
    verify_acks,
)


def _writer(kind: str, wid: int, port: int, fx: Fixture, log: CrashLog, stop: threading.Event, tag: str) -> None:
    """Sign up new accounts (or sign in existing ones) until told to stop; record what was acknowledged."""
    name = f"{kind}-{wid}"
    visitor = Visitor(port, timeout=20)
    n = 0
    while not stop.is_set():
        n += 1
        email = f"{tag}-{wid}-{n}@example.com" if kind == "signup" else fx.emails[(wid * 7 + n) % len(fx.emails)]
        try:
            if kind == "signup":
                answer = visitor.signup(email, f"Crash {wid} {n}", PASSWORD)
            else:
                answer = visitor.login(email, PASSWORD)
        except DOWN:
            log.count("connection failed")
            visitor.token = None
            stop.wait(0.05)
            continue
        cookie = answer.set_cookies.get("onebar_session")
        visitor.forget_session()  # each operation as a fresh browser, so none revokes another
        if answer.status == 303 and cookie:
            log.ok(name, Ack(email, cookie, kind, time.monotonic()))
            log.count(f"{kind} {answer.status}")
        else:
            log.count(f"{kind} {answer.status}")
            if answer.status == 400:  # CSRF token refused: fetch a new one
                visitor.token = None


def _reader(port: int, cookie: str, log: CrashLog, stop: threading.Event, timeline: list[tuple[float, bool]]) -> None:
    while not stop.is_set():
        try:
            doc = me(port, cookie, timeout=5)
            ok = isinstance(doc, dict) and doc.get("user") is not None
        except (*DOWN, RuntimeError, ValueError):
            ok = False
        timeline.append((time.monotonic(), ok))
        if ok:
            log.ok("reader")
        stop.wait(0.02)


@dataclass
class CrashResult:
    kills: int
    killed_at: list[float]
    acks: list[Ack]
    lost: list[str]
    db_problems: list[str]
    answers: Counter[str]
    restart_s: list[float]
    recover_s: list[float]
    unrecovered: list[str]
    five_xx: int
    wrk: loadgen.Result | None
    logged: list[str]


def run_crash(work: Path, *, kills: int = 3, interval: float = 5.0, after: float = 4.0, signup_workers: int = 3,
              signin_workers: int = 2, users: int = 200, use_wrk: bool = True, connections: int = 64,
              tag: str = "crash", database_url: str | None = None) -> CrashResult:
    """Load, SIGKILL ``kills`` times ``interval`` seconds apart, restart each time, then verify."""
    fx = make_fixture(work, tag, users=users, database_url=database_url)
    port = procs.free_port()
    server = fx.service(port)
    log = CrashLog()
    stop = threading.Event()
    timeline: list[tuple[float, bool]] = []
    restarts: list[tuple[float, float]] = []  # (killed at, answering again at)
    wrk_result: list[loadgen.Result] = []
    server.start()
    threads = [threading.Thread(target=_writer, args=("signup", i, port, fx, log, stop, tag), daemon=True)
               for i in range(signup_workers)]
    threads += [threading.Thread(target=_writer, args=("signin", i, port, fx, log, stop, tag), daemon=True)
                for i in range(signin_workers)]
    threads.append(threading.Thread(target=_reader, args=(port, fx.cookie(*fx.pairs[0]), log, stop, timeline),
                                    daemon=True))
    if use_wrk:
        reqs = mixed_requests(fx, port)
        total = kills * interval + after + kills * 3 + 2
        threads.append(threading.Thread(target=lambda: wrk_result.append(loadgen.run(
            server.url + "/", connections=connections, seconds=total, requests=reqs, count=True, timeout=15)),
            daemon=True))
    try:
        for t in threads:
            t.start()
        for _ in range(kills):
            stop.wait(interval)
            killed = time.monotonic()
            server.kill9()
            stop.wait(0.3)
            server.start()
            restarts.append((killed, time.monotonic()))
        stop.wait(after)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    try:
        lost = verify_acks(port, log.acks)
        logged = log_errors(server.log)
    finally:
        server.stop()
    recover = []
    for killed, back in restarts:
        first_ok = next((t for t, ok in timeline if t > back and ok), None)
        recover.append((first_ok - back) if first_ok else float("inf"))
    final = restarts[-1][1] if restarts else 0.0
    unrecovered = [w for w in [*(f"signup-{i}" for i in range(signup_workers)),
                               *(f"signin-{i}" for i in range(signin_workers)), "reader"]
                   if log.last_ok.get(w, 0.0) < final]
    five = sum(n for what, n in log.answers.items() if what.split()[-1].startswith("5") and what.split()[-1] != "503")
    return CrashResult(kills=len(restarts), killed_at=[k for k, _ in restarts], acks=log.acks, lost=lost,
                       db_problems=fx.check_database(),
                       answers=log.answers, restart_s=[b - k for k, b in restarts], recover_s=recover,
                       unrecovered=unrecovered, five_xx=five, wrk=wrk_result[0] if wrk_result else None,
                       logged=logged)


def drill_crash(work: Path, *, kills: int = 3, connections: int = 64) -> Outcome:
    r = run_crash(work, kills=kills, connections=connections)
    problems = r.lost + r.db_problems + [f"{w} never succeeded after the last restart" for w in r.unrecovered]
    problems += [f"{r.five_xx} answers to sign-ups/sign-ins were 5xx (not 503)"] if r.five_xx else []
    problems += [f"the service logged: {line}" for line in r.logged]
    if r.wrk is not None and r.wrk.count(500, 599) - r.wrk.statuses.get(503, 0):
        problems.append(f"wrk saw {r.wrk.count(500, 599)} 5xx answers")
    signups = sum(1 for a in r.acks if a.kind == "signup")
    figures = (f"{r.kills} × kill -9 under load; {signups} sign-ups and {len(r.acks) - signups} sign-ins "
               f"acknowledged, {len(r.lost)} lost; integrity_check {'ok' if not r.db_problems else 'FAILED'}; "
               f"restart to /healthz {statistics.median(r.restart_s):.1f} s (median), clients signed in again "
               f"{max(r.recover_s) * 1000:.0f} ms after it at worst"
               + (f"; wrk {r.wrk.requests:,} requests, {r.wrk.socket_errors:,} refused during the outages"
                  if r.wrk else ""))
    return Outcome("crash", not problems, figures, problems)
