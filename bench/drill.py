"""The reliability drill: load, kill -9, service down, disk trouble, fuzz.

    python -m bench.drill                      # everything, about 5 minutes
    python -m bench.drill --only crash,disk    # some of: load, crash, down, disk, fuzz
    python -m bench.drill --write              # also put the result lines in BENCHMARKS.md

Every load is bounded in time and count and goes to ``localhost`` only. Each
drill prints one ``PASS`` or ``FAIL`` line with its figures; the exit status
is 1 if any failed. The fast parts of the same drills run in the normal test
suite (``tests/reliability/``), with smaller numbers and no wrk.

1. load   64 wrk connections for 60 s mixing signed-in ``/api/me``, signed
          out, bad cookies and sign-ins: no 5xx, no socket error, nothing
          logged as an error; p50/p99 reported.
2. crash  the same load plus sign-up and sign-in clients; the service is
          killed with SIGKILL three times mid-load and restarted: every
          sign-up and sign-in acknowledged before a kill still works, the
          database passes ``integrity_check``, every client recovers.
3. down   the demo sites (Flask, Django, static) with the service down:
          pages answer within 1 s, signed out, the bar shows its fallback;
          when it returns they know the user again.
4. disk   a missing, read-only or corrupt data dir or database: one
          ``error:`` line and a non-zero exit, no traceback; a database
          locked by another writer: 503 with Retry-After, never 500, and
          no acknowledged sign-up lost.
5. fuzz   the property-based tests of ``tests/fuzz`` with many more examples.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from itsdangerous import URLSafeTimedSerializer

from onebar import passwords
from onebar.sessions import SESSION_SALT, SessionCodec
from onebar.store import App, SQLiteStore

from . import loadgen, procs
from .clients import DOWN, Visitor, me
from .datagen import PASSWORD, populate
from .loadgen import Request

MAX_AGE = 14 * 24 * 3600
#: Every drill client comes from 127.0.0.1, where real visitors come from many
#: addresses: the per-address sign-in/sign-up throttle is raised for the drill
#: (its own tests are in tests/test_ratelimit.py).
THROTTLE_OFF = {"ONEBAR_LOGIN_RATE_LIMIT": "1000000/minute", "ONEBAR_LOGIN_IP_RATE_LIMIT": "1000000/minute",
                "ONEBAR_LOGIN_ATTEMPT_RATE_LIMIT": "1000000/minute",
                "ONEBAR_LOGIN_IP_ATTEMPT_RATE_LIMIT": "1000000/minute"}
ALL = ("load", "crash", "down", "disk", "fuzz")


@dataclass
class Outcome:
    name: str
    passed: bool
    figures: str
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = f"{'PASS' if self.passed else 'FAIL'} {self.name}: {self.figures}"
        return text + "".join(f"\n     - {p}" for p in self.problems[:10])


def _log_errors(log: Path) -> list[str]:
    """Tracebacks and ERROR lines a server logged."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if "Traceback" in line or " ERROR " in line]


# -- a service with users ------------------------------------------------------------

@dataclass
class Fixture:
    data: Path
    keys: tuple[str, str]
    pairs: list[tuple[str, str]]  # (sid, uid) of existing sessions
    emails: list[str]  # existing users' emails (password PASSWORD)
    origin: str = "http://localhost:5001"

    @property
    def database(self) -> Path:
        return self.data / "onebar.sqlite3"

    def cookie(self, sid: str, uid: str) -> str:
        return SessionCodec(self.keys, MAX_AGE).encode(sid, uid)

    def service(self, port: int | None = None) -> procs.Server:
        return procs.service(self.data, self.keys, port=port, env=THROTTLE_OFF)


def make_fixture(work: Path, name: str, users: int = 1000, apps: Sequence[App] = ()) -> Fixture:
    data = work / name
    data.mkdir(parents=True)
    keys = procs.new_keys()
    pairs = populate(data / "onebar.sqlite3", users, sample=min(users, 50),
                     apps=tuple(apps) or (App("notes", "Notes", "http://localhost:5001/"),))
    conn = sqlite3.connect(data / "onebar.sqlite3")
    try:
        uid_email = dict(conn.execute("SELECT id, email FROM users").fetchall())
    finally:
        conn.close()
    return Fixture(data, keys, pairs, [uid_email[uid] for _, uid in pairs])


def mixed_requests(fx: Fixture, port: int) -> list[Request]:
    """Signed in, signed out, five kinds of bad cookie and (about 1 in 100) a sign-in."""
    origin = {"Origin": fx.origin}
    good = [Request("GET", "/api/me", {**origin, "Cookie": f"onebar_session={fx.cookie(*p)}"}) for p in fx.pairs[:20]]
    valid = fx.cookie(*fx.pairs[0])
    foreign = URLSafeTimedSerializer("not-our-key-" * 3, salt=SESSION_SALT).dumps({"s": "x", "u": "y"})
    bad = [valid[:-3] + ("AAA" if not valid.endswith("AAA") else "BBB"),  # tampered signature
           "not-a-cookie", foreign,  # another key
           fx.cookie("no-such-session", "u_0000000000000000"),  # valid signature, no session
           "x" * 2000]  # over-long
    bad_reqs = [Request("GET", "/api/me", {**origin, "Cookie": f"onebar_session={b}"}) for b in bad]
    anon = [Request("GET", "/api/me", origin)] * 10
    visitor = Visitor(port)
    token = visitor.fetch_token("/login")
    csrf_cookie = "; ".join(f"{k}={v}" for k, v in visitor.jar.items())
    body = f"csrf_token={token}&email={fx.emails[1].replace('@', '%40')}&password={PASSWORD}&next="
    login = Request("POST", "/login", {"Cookie": csrf_cookie, "Content-Type": "application/x-www-form-urlencoded"},
                    body)
    fast = (good + anon + bad_reqs) * 3
    return fast[:99] + [login]


# -- 1. load ---------------------------------------------------------------------------

def drill_load(work: Path, *, seconds: float = 60, connections: int = 64) -> Outcome:
    loadgen.require_wrk()
    fx = make_fixture(work, "load")
    with fx.service() as svc:
        reqs = mixed_requests(fx, svc.port)
        r = loadgen.run(svc.url + "/", connections=connections, seconds=seconds, requests=reqs, count=True,
                        timeout=15)
        logged = _log_errors(svc.log)
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


# -- 2. crash ------------------------------------------------------------------------------

@dataclass
class Ack:
    email: str
    cookie: str
    kind: str  # signup | signin
    at: float


@dataclass
class CrashLog:
    acks: list[Ack] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)
    last_ok: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, worker: str, ack: Ack | None = None) -> None:
        with self.lock:
            self.last_ok[worker] = time.monotonic()
            if ack:
                self.acks.append(ack)

    def count(self, what: str) -> None:
        with self.lock:
            self.answers[what] += 1


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


def verify_acks(port: int, acks: Sequence[Ack], *, password_checks: int = 3) -> list[str]:
    """Every acknowledged session still signs in; a few accounts still take their password."""
    lost = []
    for ack in acks:
        try:
            doc = me(port, ack.cookie)
        except (*DOWN, RuntimeError, ValueError) as exc:
            lost.append(f"{ack.kind} of {ack.email}: /api/me failed ({exc})")
            continue
        user = doc.get("user") if isinstance(doc, dict) else None
        if not user or user.get("email") != ack.email:
            lost.append(f"{ack.kind} of {ack.email} acknowledged but its session is gone")
    for ack in [a for a in acks if a.kind == "signup"][:password_checks]:
        answer = Visitor(port).login(ack.email, PASSWORD)
        if answer.status != 303:
            lost.append(f"account {ack.email} acknowledged but its password no longer works (HTTP {answer.status})")
    return lost


def check_database(path: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        integrity = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        conn.close()
    problems = [] if integrity == ["ok"] else [f"integrity_check: {'; '.join(integrity[:5])}"]
    return problems + ([f"{len(orphans)} rows break a foreign key"] if orphans else [])


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
              tag: str = "crash") -> CrashResult:
    """Load, SIGKILL ``kills`` times ``interval`` seconds apart, restart each time, then verify."""
    fx = make_fixture(work, tag, users=users)
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
        logged = _log_errors(server.log)
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
                       db_problems=check_database(fx.database),
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


# -- 4. disk trouble --------------------------------------------------------------------

NOBODY = 65534


def _as_nobody(argv: list[str]) -> list[str]:
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]


def can_drop_privileges() -> bool:
    """Root can run the service as ``nobody`` (util-linux ``setpriv``), for the
    permission cases that root itself would walk through."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    try:
        done = subprocess.run(_as_nobody([sys.executable, "-c", "import onebar.cli"]), cwd=procs.ROOT,
                              capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


@dataclass
class StartCase:
    name: str
    data_dir: Path
    env: dict[str, str]
    unprivileged: bool = False


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEBAR_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def serve_once(case: StartCase, timeout: float = 30.0) -> tuple[int | None, str]:
    """Run ``onebar serve`` for ``case``: (exit status or None if it kept serving, stderr)."""
    argv = [sys.executable, "-m", "onebar", "--data-dir", str(case.data_dir), "serve", "--host", procs.HOST,
            "--port", str(procs.free_port())]
    if case.unprivileged and os.geteuid() == 0:
        argv = _as_nobody(argv)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=_clean_env(case.env),
                              cwd=procs.ROOT)
    except subprocess.TimeoutExpired as exc:
        out = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return None, out
    return done.returncode, done.stderr + done.stdout


def start_cases(base: Path, keys: Sequence[str]) -> tuple[list[StartCase], list[str]]:
    """Broken data dirs, each as a user would meet it; and the cases skipped here."""
    env = {"ONEBAR_SECRET_KEYS": ",".join(keys)}
    base.mkdir(parents=True, exist_ok=True)
    cases = []
    afile = base / "a-file"
    afile.write_text("not a directory\n")
    cases.append(StartCase("data dir is a file", afile, env))
    cases.append(StartCase("data dir under a file", afile / "data", env))
    corrupt = base / "corrupt-db"
    corrupt.mkdir()
    (corrupt / "onebar.sqlite3").write_bytes(b"this is not a database, it only has its name\n" * 40)
    cases.append(StartCase("corrupt database", corrupt, env))
    isdir = base / "db-is-dir"
    (isdir / "onebar.sqlite3").mkdir(parents=True)
    cases.append(StartCase("database path is a directory", isdir, env))
    badkeys = base / "bad-keys"
    badkeys.mkdir()
    (badkeys / "secret_keys.json").write_text("{not json")
    cases.append(StartCase("corrupt key file", badkeys, {}))

    skipped = []
    if os.geteuid() != 0 or can_drop_privileges():
        unpriv = os.geteuid() == 0
        for p in (base, *base.parents):  # the unprivileged service must reach its (broken) data dir
            if p.stat().st_mode & 0o005 != 0o005:
                p.chmod(p.stat().st_mode | 0o005)
            if p == Path(tempfile.gettempdir()):
                break
        locked_out = base / "no-entry"
        (locked_out / "data").mkdir(parents=True)
        locked_out.chmod(0o700)
        cases.append(StartCase("data dir inside a directory it cannot enter", locked_out / "data", env, unpriv))
        parent = base / "read-only-parent"
        parent.mkdir()
        cases.append(StartCase("missing data dir in a read-only parent", parent / "data", env, unpriv))
        rodir = base / "read-only-dir"
        rodir.mkdir()
        SQLiteStore(rodir / "onebar.sqlite3").close()
        cases.append(StartCase("read-only data dir", rodir, env, unpriv))
        rodb = base / "read-only-db"
        rodb.mkdir()
        SQLiteStore(rodb / "onebar.sqlite3").close()
        for p in rodb.glob("onebar.sqlite3-*"):
            p.unlink()
        if unpriv:
            os.chown(rodb, NOBODY, NOBODY)
            os.chown(rodb / "onebar.sqlite3", NOBODY, NOBODY)
        (rodb / "onebar.sqlite3").chmod(0o444)
        cases.append(StartCase("read-only database file", rodb, env, unpriv))
        parent.chmod(0o555)
        rodir.chmod(0o555)
    else:
        skipped = ["the read-only cases: running as root without a way to drop privileges"]
    return cases, skipped


def check_start_error(case: StartCase) -> str | None:
    """None if ``onebar serve`` refused with one clear line; else what went wrong."""
    code, output = serve_once(case)
    lines = [line for line in output.strip().splitlines() if line.strip()]
    if code is None:
        return f"{case.name}: it started serving instead of refusing"
    if code == 0:
        return f"{case.name}: exit status 0"
    if "Traceback" in output:
        return f"{case.name}: a traceback: {lines[-1] if lines else ''}"
    if len(lines) != 1 or not lines[0].startswith("error:"):
        return f"{case.name}: expected one 'error:' line, got {lines!r}"
    return None


@dataclass
class LockResult:
    acks: list[Ack]
    answers: Counter[str]
    lost: list[str]
    reads_ok: int
    reads_failed: int
    db_problems: list[str]


def hold_write_lock(database: Path, seconds: float, taken: threading.Event) -> None:
    """Another writer: take SQLite's write lock and sit on it."""
    conn = sqlite3.connect(database, isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN IMMEDIATE")
        taken.set()
        time.sleep(seconds)
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def run_locked(work: Path, *, hold: float = 7.0, writers: int = 4, before: float = 1.0, after: float = 2.0,
               tag: str = "locked") -> LockResult:
    """Sign-ups while another process holds the write lock longer than the service waits for it."""
    fx = make_fixture(work, tag, users=50)
    log = CrashLog()
    stop = threading.Event()
    reads: Counter[bool] = Counter()
    with fx.service() as svc:
        def signups(wid: int) -> None:
            visitor = Visitor(svc.port, timeout=30)
            n = 0
            while not stop.is_set():
                n += 1
                email = f"{tag}-{wid}-{n}@example.com"
                try:
                    answer = visitor.signup(email, f"Locked {wid}", PASSWORD)
                except DOWN:
                    log.count("connection failed")
                    visitor.token = None
                    continue
                cookie = answer.set_cookies.get("onebar_session")
                visitor.forget_session()
                if answer.status == 303 and cookie:
                    log.ok(f"w{wid}", Ack(email, cookie, "signup", time.monotonic()))
                    log.count("303 acknowledged")
                elif answer.status == 503:
                    retry = answer.headers.get("retry-after")
                    log.count("503 with Retry-After" if retry else "503 without Retry-After")
                else:
                    log.count(f"{answer.status}")

        def reader() -> None:
            cookie = fx.cookie(*fx.pairs[0])
            while not stop.is_set():
                try:
                    doc = me(svc.port, cookie)
                    reads[isinstance(doc, dict) and doc.get("user") is not None] += 1
                except (*DOWN, RuntimeError):
                    reads[False] += 1
                stop.wait(0.05)

        taken = threading.Event()
        threads = [threading.Thread(target=signups, args=(i,), daemon=True) for i in range(writers)]
        threads.append(threading.Thread(target=reader, daemon=True))
        for t in threads:
            t.start()
        time.sleep(before)
        locker = threading.Thread(target=hold_write_lock, args=(fx.database, hold, taken), daemon=True)
        locker.start()
        locker.join(hold + 35)
        time.sleep(after)
        stop.set()
        for t in threads:
            t.join(60)
        lost = verify_acks(svc.port, log.acks, password_checks=1)
    return LockResult(log.acks, log.answers, lost, reads[True], reads[False], check_database(fx.database))


def drill_disk(work: Path) -> Outcome:
    cases, skipped = start_cases(work / "disk", procs.new_keys())
    start_problems = [p for p in (check_start_error(c) for c in cases) if p]
    lock = run_locked(work)
    answers = lock.answers
    bad = {k: n for k, n in answers.items() if k not in ("303 acknowledged", "503 with Retry-After")}
    problems = start_problems + lock.lost + lock.db_problems
    problems += [f"sign-ups answered {k} × {n}" for k, n in bad.items()]
    if not answers.get("503 with Retry-After"):
        problems.append("the lock never produced a 503: the drill did not test what it claims")
    if lock.reads_failed:
        problems.append(f"{lock.reads_failed} signed-in reads failed while the database was locked")
    figures = (f"{len(cases) - len(start_problems)}/{len(cases)} broken data dirs refused with one 'error:' line "
               f"({', '.join(c.name for c in cases)}); database locked for 7 s under 4 sign-up writers: "
               f"{answers.get('503 with Retry-After', 0)} × 503 + Retry-After, "
               f"{sum(n for k, n in answers.items() if k.startswith('5') and not k.startswith('503'))} × other 5xx, "
               f"{len(lock.acks)} sign-ups acknowledged, {len(lock.lost)} lost; "
               f"{lock.reads_ok} signed-in reads answered during the run, {lock.reads_failed} failed"
               + "".join(f"; skipped {s}" for s in skipped))
    return Outcome("disk", not problems, figures, problems)


# -- 3. service down -----------------------------------------------------------------------

@dataclass
class Site:
    id: str
    name: str
    module: str
    health: str
    knows_users: bool  # the page greets a signed-in user by name (a static page knows nobody)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://{procs.HOST}:{self.port}"


#: The first name the demo sites greet the drill's user with; never on a guest's page.
NAME = "Ada"


def demo_sites() -> list[Site]:
    return [
        Site("tasks", "Tasks", "demo_apps.flask_tasks", "/healthz", True),
        Site("notes", "Notes", "demo_apps.django_notes", "/healthz", True),
        Site("handbook", "Handbook", "demo_apps.static_site", "/", False),
    ]


@dataclass
class DownResult:
    slowest_ms: float  # slowest page answer while the service was down
    problems: list[str]
    pickup_s: dict[str, float]
    bar_fallback: str  # what the bar showed with the service down ("" if not checked)
    bar_back: str


def _page(site: Site, cookie: str | None, timeout: float = 10) -> tuple[int, str, float]:
    started = time.perf_counter()
    headers = {"Cookie": f"onebar_session={cookie}"} if cookie else {}
    answer = Visitor(site.port, timeout=timeout).request("GET", "/", headers=headers)
    return answer.status, answer.body.decode(errors="replace"), (time.perf_counter() - started) * 1000


def _named_user(fx: Fixture) -> tuple[str, str]:
    """Ada, with two sessions: one the sites will have seen (cached), one they will not."""
    store = SQLiteStore(fx.database)
    try:
        user = store.create_user("ada@example.com", "Ada Lovelace", passwords.hash_password(PASSWORD))
        expires = int(time.time()) + 3600
        seen = fx.cookie(store.create_session(user.id, expires_at=expires), user.id)
        fresh = fx.cookie(store.create_session(user.id, expires_at=expires), user.id)
    finally:
        store.close()
    return seen, fresh


@contextmanager
def _chromium() -> Iterator[object | None]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        yield None
        return
    if chromium is None:
        yield None
        return
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            yield browser
        finally:
            browser.close()


def _bar_text(page: object, url: str) -> str:
    """Load ``url``; what the bar shows once drawn: the user's name, 'fallback: <link>' or 'no bar'."""
    page.goto(url, wait_until="load")  # type: ignore[attr-defined]
    if not page.locator("one-bar").count():  # type: ignore[attr-defined]
        return "no bar"
    drawn = page.locator("one-bar [part~=name], one-bar [part~=signin]")  # type: ignore[attr-defined]
    drawn.first.wait_for(timeout=10_000)
    name = page.locator("one-bar [part~=name]")  # type: ignore[attr-defined]
    if name.count():
        return name.first.text_content() or ""
    return f"fallback: {page.locator('one-bar [part~=signin]').first.text_content()}"  # type: ignore[attr-defined]


def _signed_in_page(browser: object, cookie: str) -> object:
    context = browser.new_context()  # type: ignore[attr-defined]
    context.add_cookies([{"name": "onebar_session", "value": cookie, "domain": "localhost", "path": "/",
                          "httpOnly": True, "sameSite": "Lax"}])
    return context.new_page()


def run_down(work: Path, *, browser: bool = True) -> DownResult:
    sites = demo_sites()
    for site in sites:
        site.port = procs.free_port()
    fx = make_fixture(work, "down", users=10, apps=[App(s.id, s.name, f"http://localhost:{s.port}/") for s in sites])
    seen, fresh = _named_user(fx)
    port = procs.free_port()
    service = fx.service(port)
    problems: list[str] = []
    pickup: dict[str, float] = {}
    fallback = back = ""
    with ExitStack() as stack:
        stack.enter_context(service)
        for site in sites:
            own_dir = str(fx.data / site.id)
            where = ["--out", own_dir] if site.id == "handbook" else ["--data-dir", own_dir]
            argv = [sys.executable, "-m", site.module, "--host", procs.HOST, "--port", str(site.port),
                    "--service-url", service.url, *where]
            stack.enter_context(procs.Server(site.name, argv, site.port, fx.data / f"{site.id}.log",
                                             _clean_env({}), health=site.health))
        chromium = stack.enter_context(_chromium()) if browser else None
        for site in sites:
            status, text, _ = _page(site, seen)
            if status != 200 or (site.knows_users and NAME not in text):
                problems.append(f"{site.name} did not greet {NAME} with the service up (HTTP {status})")
        tab = None
        if chromium is not None:  # a returning visitor: the bar's script is in the browser's cache
            tab = _signed_in_page(chromium, seen)
            shown = _bar_text(tab, sites[0].url + "/")
            if shown != "Ada Lovelace":
                problems.append(f"with the service up the bar showed {shown!r}")

        service.kill9()  # the service is gone, without a goodbye
        slowest = 0.0
        for site in sites:
            for cookie, label in ((seen, "a visitor it had seen"), (fresh, "a visitor it had not seen")):
                try:
                    status, text, took = _page(site, cookie)
                except DOWN as exc:
                    problems.append(f"{site.name} failed with the service down: {exc}")
                    continue
                slowest = max(slowest, took)
                if status != 200:
                    problems.append(f"{site.name} answered {status} with the service down")
                if took > 1000:
                    problems.append(f"{site.name} took {took:.0f} ms for {label} with the service down")
                if label.endswith("not seen") and site.knows_users and NAME in text:
                    problems.append(f"{site.name} did not show {label} as signed out")
        if tab is not None:
            fallback = _bar_text(tab, sites[0].url + "/")
            if not fallback.startswith("fallback:"):
                problems.append(f"with the service down the bar showed {fallback!r}, not its fallback")
            if tab.locator("#greeting").count() != 1:  # type: ignore[attr-defined]
                problems.append("with the service down the Tasks page lost its content in the browser")

        restarted = time.monotonic()
        service.start()
        for site in sites:
            if not site.knows_users:
                continue
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                status, text, _ = _page(site, fresh)
                if status == 200 and NAME in text:
                    pickup[site.name] = time.monotonic() - restarted
                    break
                time.sleep(0.05)
            else:
                problems.append(f"{site.name} did not know {NAME} again within 15 s of the service's return")
        if tab is not None:
            back = _bar_text(tab, sites[0].url + "/")
            if back != "Ada Lovelace":
                problems.append(f"after the service returned the bar showed {back!r}")
    return DownResult(slowest, problems, pickup, fallback, back)


def drill_down(work: Path, *, browser: bool = True) -> Outcome:
    r = run_down(work, browser=browser)
    pick = ", ".join(f"{name} {s:.1f} s" for name, s in r.pickup_s.items())
    figures = (f"Tasks (Flask), Notes (Django), Handbook (static) with the service killed: slowest page "
               f"{r.slowest_ms:.0f} ms (limit 1 000), unseen visitors signed out"
               + (f", the bar showed its fallback ({r.bar_fallback.removeprefix('fallback: ')!r})" if r.bar_fallback
                  else ", bar not checked (no Chromium)")
               + f"; after restart the user is back in {pick}"
               + (f" and the bar shows {r.bar_back!r}" if r.bar_back else ""))
    return Outcome("down", not r.problems, figures, r.problems)


# -- 5. fuzz ---------------------------------------------------------------------------------

def drill_fuzz(*, timeout: float = 900) -> Outcome:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "tests/fuzz", "-q", "-p", "no:cacheprovider"],
                          cwd=procs.ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "ONEBAR_FUZZ": "thorough"})
    summary = next((line for line in reversed(done.stdout.splitlines()) if re.search(r"\d+ (passed|failed)", line)),
                   done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "no output")
    problems = [] if done.returncode == 0 else [line for line in done.stdout.splitlines()
                                                if line.startswith(("FAILED", "ERROR"))][:10] or [summary]
    summary = re.sub(r" in [\d.]+s.*$", "", summary.strip("= "))
    return Outcome("fuzz", done.returncode == 0,
                   f"tests/fuzz with ONEBAR_FUZZ=thorough (20× the suite's examples): {summary} "
                   f"in {time.monotonic() - started:.0f} s", problems)


# -- the command ---------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drill", description="Onebar's reliability drill.")
    parser.add_argument("--only", default=",".join(ALL), help=f"comma-separated subset of: {', '.join(ALL)}")
    parser.add_argument("--seconds", type=float, default=60, help="length of the load drill (default 60)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--kills", type=int, default=3, help="kill -9 rounds in the crash drill (default 3)")
    parser.add_argument("--no-browser", action="store_true", help="skip Chromium in the service-down drill")
    parser.add_argument("--write", action="store_true", help="put the result lines in BENCHMARKS.md")
    args = parser.parse_args(argv)
    only = [d.strip() for d in args.only.split(",") if d.strip()]
    if set(only) - set(ALL):
        parser.error(f"unknown drill(s): {', '.join(sorted(set(only) - set(ALL)))}")
    if {"load", "crash"} & set(only):
        try:
            loadgen.require_wrk()
        except loadgen.LoadgenMissing as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    runs: dict[str, Callable[[Path], Outcome]] = {
        "load": lambda w: drill_load(w, seconds=args.seconds, connections=args.connections),
        "crash": lambda w: drill_crash(w, kills=args.kills, connections=args.connections),
        "down": lambda w: drill_down(w, browser=not args.no_browser),
        "disk": drill_disk,
        "fuzz": lambda w: drill_fuzz(),
    }
    outcomes = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="onebar-drill-") as tmp:
        for name in ALL:
            if name not in only:
                continue
            print(f"[{time.monotonic() - started:5.0f}s] drill {name}...", flush=True)
            work = Path(tmp) / name
            work.mkdir()
            try:
                outcome = runs[name](work)
            except Exception as exc:  # noqa: BLE001 - a drill that breaks is a failed drill, reported as one
                outcome = Outcome(name, False, f"the drill itself failed: {type(exc).__name__}: {exc}")
            finally:
                _restore_permissions(Path(tmp))
            outcomes.append(outcome)
            print(outcome.line(), flush=True)
    failed = [o for o in outcomes if not o.passed]
    print(f"\n{len(outcomes) - len(failed)} passed, {len(failed)} failed "
          f"(drill in {time.monotonic() - started:.0f} s)")
    if args.write:
        from . import report

        lines = "\n".join(o.line() for o in outcomes)
        command = f"python -m bench.drill {' '.join(sys.argv[1:])}".strip()
        report.write_sections(report.ROOT / "BENCHMARKS.md", {"drill": "\n".join([
            "## Reliability drill", "",
            f"Latest result of `{command}` "
            f"on {time.strftime('%Y-%m-%d %H:%M %Z')} ({report.machine()}). What each drill does is in "
            "`bench/drill.py`'s docstring; the fast parts run in `tests/reliability/`.", "",
            "```", lines, "```", ""])})
    return 1 if failed else 0


def _restore_permissions(root: Path) -> None:
    """Read-only test directories must not stop the temporary directory's removal."""
    for path in root.rglob("*"):
        try:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
