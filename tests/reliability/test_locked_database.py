"""A database locked by another writer: 503 with Retry-After, never 500, nothing acknowledged lost.

In-process (Flask's test client, one client per thread) with a store that
waits only 0.2 s for the lock, so the whole story takes a few seconds; the
live version with the service's own 5 s wait is ``python -m bench.drill --only disk``.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections import Counter

import pytest
import time_machine

from onebar import settings as settings_mod
from onebar.sessions import SessionCodec
from onebar.store import SQLiteStore
from onebar.web import create_app

from ..conftest import APPS, PASSWORD
from ..live import TEST_SECRET_KEYS

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def locked_app(tmp_path):
    cfg = settings_mod.load(environ={}, data_dir=tmp_path, secret_keys=list(TEST_SECRET_KEYS),
                            public_url="http://localhost:5000",
                            login_rate_limit="100000/minute", login_ip_rate_limit="100000/minute",
                            login_attempt_rate_limit="100000/minute", login_ip_attempt_rate_limit="100000/minute")
    store = SQLiteStore(cfg.database, busy_timeout=0.2)  # type: ignore[arg-type]
    for a in APPS:
        store.add_app(a)
    app = create_app(cfg, store)
    app.config["TESTING"] = True
    yield app, store, cfg
    store.close()


def _signups(app, wid: int, stop: threading.Event, answers: Counter, acked: list, lock: threading.Lock) -> None:
    client = app.test_client()
    token = CSRF.search(client.get("/signup").get_data(as_text=True)).group(1)
    n = 0
    while not stop.is_set():
        n += 1
        email = f"w{wid}-{n}@example.com"
        r = client.post("/signup", data={"csrf_token": token, "name": f"Writer {wid}", "email": email,
                                          "password": PASSWORD, "confirm": PASSWORD, "next": ""})
        cookie = client.get_cookie("onebar_session")
        client.delete_cookie("onebar_session")  # the next sign-up as a fresh browser
        with lock:
            if r.status_code == 503:
                answers["503 with Retry-After" if r.headers.get("Retry-After") else "503 without Retry-After"] += 1
            else:
                answers[str(r.status_code)] += 1
            if r.status_code == 303 and cookie is not None:
                acked.append((email, cookie.value, time.monotonic()))


def test_sign_ups_under_a_held_write_lock_get_503_and_none_acknowledged_is_lost(locked_app):
    app, store, cfg = locked_app
    reader = store.create_user("reader@example.com", "Reader", "not-a-real-hash")
    sid = store.create_session(reader.id, expires_at=int(time.time()) + 3600)
    reader_cookie = SessionCodec(cfg.secret_keys, 3600).encode(sid, reader.id)
    answers: Counter[str] = Counter()
    acked: list[tuple[str, str, float]] = []
    lock = threading.Lock()
    stop = threading.Event()
    writers = [threading.Thread(target=_signups, args=(app, i, stop, answers, acked, lock)) for i in range(3)]
    for t in writers:
        t.start()
    try:
        time.sleep(0.5)  # concurrent writers, no outside lock: all should pass
        other = sqlite3.connect(cfg.database, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's writer sits on the lock
        client = app.test_client()
        client.set_cookie("onebar_session", reader_cookie, domain="localhost")
        reads = [client.get("/api/me") for _ in range(3)]
        time.sleep(1.2)
        other.execute("ROLLBACK")
        other.close()
        released = time.monotonic()
        time.sleep(0.8)
    finally:
        stop.set()
        for t in writers:
            t.join(30)

    assert [r.status_code for r in reads] == [200, 200, 200], "readers must not wait for writers (WAL)"
    assert all(r.get_json()["user"]["name"] == "Reader" for r in reads)
    assert answers["503 with Retry-After"] > 0, f"the lock never produced a 503: {answers}"
    assert set(answers) <= {"303", "503 with Retry-After"}, f"unexpected answers: {answers}"
    assert any(at > released for _, _, at in acked), "no sign-up succeeded after the lock was released"
    client = app.test_client()
    for email, cookie, _ in acked:
        client.set_cookie("onebar_session", cookie, domain="localhost")
        assert client.get("/api/me").get_json()["user"]["email"] == email
    assert {u.email for u in store.list_users()} >= {email for email, _, _ in acked}


def test_a_day_old_cookie_still_signs_in_while_the_database_is_locked(locked_app):
    """Renewing the cookie is a write; under another writer's lock it waits, the answer does not."""
    app, store, cfg = locked_app
    user = store.create_user("old@example.com", "Old Cookie", "not-a-real-hash")
    sid = store.create_session(user.id, expires_at=int(time.time()) + 10 * 24 * 3600)
    with time_machine.travel(time.time() - 2 * 24 * 3600, tick=False):
        old_cookie = SessionCodec(cfg.secret_keys, cfg.session_max_age).encode(sid, user.id)
    client = app.test_client()
    client.set_cookie("onebar_session", old_cookie, domain="localhost")
    other = sqlite3.connect(cfg.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        locked = client.get("/api/me")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert locked.status_code == 200 and locked.get_json()["user"]["name"] == "Old Cookie"
    assert "onebar_session=" not in locked.headers.get("Set-Cookie", "")  # not renewed this time
    renewed = client.get("/api/me")
    assert renewed.status_code == 200
    assert "onebar_session=" in renewed.headers.get("Set-Cookie", "")  # renewed once the lock is gone
