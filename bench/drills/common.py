"""What the drills share: a service with users, its outcome, acknowledged writes."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from itsdangerous import URLSafeTimedSerializer

from onebar.sessions import SESSION_SALT, SessionCodec
from onebar.store import App, SQLiteStore, open_url

from .. import procs
from ..clients import DOWN, Visitor, me
from ..datagen import PASSWORD, populate
from ..loadgen import Request

MAX_AGE = 14 * 24 * 3600
#: Every drill client comes from 127.0.0.1, where real visitors come from many
#: addresses: the per-address sign-in/sign-up throttle is raised for the drill
#: (its own tests are in tests/test_ratelimit.py).
THROTTLE_OFF = {"ONEBAR_LOGIN_RATE_LIMIT": "1000000/minute", "ONEBAR_LOGIN_IP_RATE_LIMIT": "1000000/minute",
                "ONEBAR_LOGIN_ATTEMPT_RATE_LIMIT": "1000000/minute",
                "ONEBAR_LOGIN_IP_ATTEMPT_RATE_LIMIT": "1000000/minute"}


@dataclass
class Outcome:
    name: str
    passed: bool
    figures: str
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = f"{'PASS' if self.passed else 'FAIL'} {self.name}: {self.figures}"
        return text + "".join(f"\n     - {p}" for p in self.problems[:10])


def log_errors(log: Path) -> list[str]:
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
    #: None: the service keeps the SQLite file in ``data``; else it runs on this
    #: PostgreSQL database, filled with a copy of that file.
    database_url: str | None = None

    @property
    def database(self) -> Path:
        return self.data / "onebar.sqlite3"

    def cookie(self, sid: str, uid: str) -> str:
        return SessionCodec(self.keys, MAX_AGE).encode(sid, uid)

    def service(self, port: int | None = None) -> procs.ChildServer:
        env = THROTTLE_OFF if self.database_url is None else {**THROTTLE_OFF, "ONEBAR_DATABASE_URL": self.database_url}
        return procs.service(self.data, self.keys, port=port, env=env)

    def check_database(self) -> list[str]:
        return check_database(self.database) if self.database_url is None else check_postgres(self.database_url)


def make_fixture(work: Path, name: str, users: int = 1000, apps: Sequence[App] = (),
                 database_url: str | None = None) -> Fixture:
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
    if database_url is not None:  # what `onebar db copy --to` does
        source, target = SQLiteStore(data / "onebar.sqlite3"), open_url(database_url)
        try:
            target.replace_rows(list(source.export_rows()))
        finally:
            source.close()
            target.close()
    return Fixture(data, keys, pairs, [uid_email[uid] for _, uid in pairs], database_url=database_url)


def mixed_requests(fx: Fixture, port: int) -> list[Request]:
    """Signed in, signed out, five kinds of bad cookie and (about 1 in 100) a sign-in."""
    origin = {"Origin": fx.origin}
    # The sign-in is the last sampled user's, whose cookie is not among the signed-in
    # requests: each sign-in that gets through may end that account's least recently
    # used session (ONEBAR_MAX_SESSIONS), which would turn those requests signed out.
    good = [Request("GET", "/api/me", {**origin, "Cookie": f"onebar_session={fx.cookie(*p)}"})
            for p in fx.pairs[:-1][:20]]
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
    body = f"csrf_token={token}&email={fx.emails[-1].replace('@', '%40')}&password={PASSWORD}&next="
    login = Request("POST", "/login", {"Cookie": csrf_cookie, "Content-Type": "application/x-www-form-urlencoded"},
                    body)
    fast = (good + anon + bad_reqs) * 3
    return fast[:99] + [login]


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


def check_postgres(url: str) -> list[str]:
    """PostgreSQL checks its own pages; what is left to see is rows that lost their parent."""
    store = open_url(url)
    try:
        with store._db() as db:
            orphans = db.execute("SELECT COUNT(*) FROM sessions s LEFT JOIN users u ON u.id = s.user_id"
                                 " WHERE u.id IS NULL").fetchone()[0]
    finally:
        store.close()
    return [f"{orphans} sessions lost their user"] if orphans else []


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEBAR_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def restore_permissions(root: Path) -> None:
    """Read-only test directories must not stop the temporary directory's removal."""
    for path in root.rglob("*"):
        try:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        except OSError:
            pass
