"""4. disk: broken data dirs refused with one line; a locked database answers 503, loses nothing."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from onebar.store import SQLiteStore

from .. import procs
from ..clients import DOWN, Visitor, me
from ..datagen import PASSWORD
from .common import Ack, CrashLog, Outcome, check_database, clean_env, make_fixture, verify_acks

NOBODY = 65534

#: The capabilities that let root walk through permission bits. Without them,
#: root meets a read-only or locked directory as any other user does.
_DAC_CAPS = "-dac_override,-dac_read_search,-fowner"


def _without_root_powers(argv: list[str]) -> list[str]:
    """As root, run ``argv`` without the capabilities that bypass file
    permissions (util-linux ``setpriv``); the interpreter stays reachable,
    which running as ``nobody`` would not guarantee (a Python under /root)."""
    if os.geteuid() != 0:
        return argv
    if shutil.which("setpriv") is None:
        raise RuntimeError("running as root, the permission cases need util-linux's setpriv")
    return ["setpriv", f"--bounding-set={_DAC_CAPS}", f"--inh-caps={_DAC_CAPS}", *argv]


@dataclass
class StartCase:
    name: str
    data_dir: Path
    env: dict[str, str]
    unprivileged: bool = False


def serve_once(case: StartCase, timeout: float = 30.0) -> tuple[int | None, str]:
    """Run ``onebar serve`` for ``case``: (exit status or None if it kept serving, stderr)."""
    argv = [sys.executable, "-m", "onebar", "--data-dir", str(case.data_dir), "serve", "--host", procs.HOST,
            "--port", str(procs.free_port())]
    if case.unprivileged:
        argv = _without_root_powers(argv)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=clean_env(case.env),
                              cwd=procs.ROOT)
    except subprocess.TimeoutExpired as exc:
        out = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return None, out
    return done.returncode, done.stderr + done.stdout


def start_cases(base: Path, keys: Sequence[str]) -> list[StartCase]:
    """Broken data dirs, each as a user would meet it."""
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
    (badkeys / "secret_keys.json").chmod(0o600)  # owner-only as the service writes it: only its content is bad
    cases.append(StartCase("corrupt key file", badkeys, {}))

    # The permission cases: as root, the service runs without the capabilities
    # that ignore permission bits, and what it must not reach belongs to nobody.
    root = os.geteuid() == 0
    locked_out = base / "no-entry"
    (locked_out / "data").mkdir(parents=True)
    if root:
        os.chown(locked_out, NOBODY, NOBODY)
    locked_out.chmod(0o700)
    cases.append(StartCase("data dir inside a directory it cannot enter", locked_out / "data", env, True))
    parent = base / "read-only-parent"
    parent.mkdir()
    cases.append(StartCase("missing data dir in a read-only parent", parent / "data", env, True))
    rodir = base / "read-only-dir"
    rodir.mkdir()
    SQLiteStore(rodir / "onebar.sqlite3").close()
    cases.append(StartCase("read-only data dir", rodir, env, True))
    rodb = base / "read-only-db"
    rodb.mkdir()
    SQLiteStore(rodb / "onebar.sqlite3").close()
    for p in rodb.glob("onebar.sqlite3-*"):
        p.unlink()
    if root:
        os.chown(rodb, NOBODY, NOBODY)
        os.chown(rodb / "onebar.sqlite3", NOBODY, NOBODY)
    (rodb / "onebar.sqlite3").chmod(0o444)
    cases.append(StartCase("read-only database file", rodb, env, True))
    parent.chmod(0o555)
    rodir.chmod(0o555)
    return cases


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
    cases = start_cases(work / "disk", procs.new_keys())
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
               f"{lock.reads_ok} signed-in reads answered during the run, {lock.reads_failed} failed")
    return Outcome("disk", not problems, figures, problems)
