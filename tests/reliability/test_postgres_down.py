"""PostgreSQL stopped under the service: 503 with Retry-After within a bounded time, never a 500
or a hang; started again: the same service answers again by itself.

In-process (Flask's test client) against a PostgreSQL server of its own,
stopped and restarted on the same port and data directory.
"""

from __future__ import annotations

import time

import pytest

from onebar import settings as settings_mod
from onebar.exc import StoreError
from onebar.sessions import SessionCodec
from onebar.store.postgres import PostgresStore
from onebar.web import create_app

from ..conftest import APPS
from bench.engines import PostgresServer
from ..live import TEST_SECRET_KEYS

#: The store's own bounds, small so the test is quick; production's are class attributes.
BOUNDS = {"connect_timeout": 1, "pool_timeout": 1.0, "statement_timeout": 2.0, "lock_timeout": 2.0}
#: A request may take the pool's wait plus one connection attempt, and some slack for a busy machine.
LONGEST = BOUNDS["pool_timeout"] + BOUNDS["connect_timeout"] + 1.5


@pytest.fixture
def server():
    pg = PostgresServer()
    try:
        yield pg.start()
    finally:
        pg.destroy()


def _timed(fn):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    result = fn()
    return result, time.monotonic() - started


def test_service_answers_503_while_postgresql_is_down_and_recovers_without_restart(server, tmp_path):
    cfg = settings_mod.load(environ={}, data_dir=tmp_path, secret_keys=list(TEST_SECRET_KEYS),
                            public_url="http://localhost:5000", database_url=server.url())
    store = PostgresStore(server.url(), **BOUNDS)
    try:
        for a in APPS:
            store.add_app(a)
        user = store.create_user("ada@example.com", "Ada Lovelace", "not-a-real-hash")
        sid = store.create_session(user.id, expires_at=int(time.time()) + 3600)
        app = create_app(cfg, store)
        app.config["TESTING"] = True
        app.config["SERVER_NAME"] = "localhost:5000"  # the public URL's host, as browsers send it
        client = app.test_client()
        client.set_cookie("onebar_session", SessionCodec(cfg.secret_keys, 3600).encode(sid, user.id),
                          domain="localhost")
        assert client.get("/api/me").get_json()["user"]["name"] == "Ada Lovelace"

        server.stop()
        for path in ("/api/me", "/healthz", "/account"):
            answer, took = _timed(lambda: client.get(path))  # noqa: B023
            assert answer.status_code == 503, (path, answer.status_code)
            assert took < LONGEST, f"{path} took {took:.1f} s while PostgreSQL was down"
            if path != "/healthz":
                assert int(answer.headers["Retry-After"]) > 0
        signin, took = _timed(lambda: client.post("/login", data={"email": "ada@example.com", "password": "x"}))
        assert signin.status_code in (400, 503) and took < LONGEST  # CSRF first, never a 500

        server.start()
        deadline = time.monotonic() + 10
        while True:
            answer = client.get("/api/me")
            if answer.status_code == 200 or time.monotonic() > deadline:
                break
            assert answer.status_code == 503
            time.sleep(0.2)
        assert answer.status_code == 200, "the service did not recover within 10 s of PostgreSQL's return"
        assert answer.get_json()["user"]["name"] == "Ada Lovelace"
        assert client.get("/healthz").status_code == 200
    finally:
        store.close()


def test_a_wrong_password_is_one_clear_error_that_does_not_show_it(server):
    with pytest.raises(StoreError) as caught:
        PostgresStore(server.url(password="not-the-password"), connect_timeout=2)
    message = str(caught.value)
    assert "password authentication failed" in message
    assert "not-the-password" not in message and f"onebar:***@127.0.0.1:{server.port}" in message


def test_every_pooled_connection_busy_is_store_busy_not_a_hang(server):
    from onebar.exc import StoreBusy

    store = PostgresStore(server.url(), pool_max=1, pool_timeout=0.5)
    try:
        with store._db() as db:  # the only connection, held by another request
            db.execute("SELECT 1")
            started = time.monotonic()
            with pytest.raises(StoreBusy):
                store.ping()
            assert time.monotonic() - started < 2.0
        store.ping()  # free again
    finally:
        store.close()


def test_a_statement_that_runs_too_long_is_cancelled_as_busy(postgres_url):
    from onebar.exc import StoreBusy

    store = PostgresStore(postgres_url, statement_timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(StoreBusy):
            with store._db() as db:
                db.execute("SELECT pg_sleep(5)")
        assert time.monotonic() - started < 2.0
        store.ping()  # the connection is fine afterwards
    finally:
        store.close()
