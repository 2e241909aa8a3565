"""Failed sign-ins are counted where every worker and node sees them: in the store
(SQLite for the workers of one node, PostgreSQL for many) or in Redis; with
Redis stopped, signing in still works (the limits fail open, with a warning)."""

from __future__ import annotations

import logging
import time

import pytest
import redis

from onebar import settings as settings_mod
from onebar.web import create_app

from .conftest import AuthActions
from bench.engines import RedisServer
from .live import TEST_SECRET_KEYS


def _settings(tmp_path, **overrides):  # type: ignore[no-untyped-def]
    return settings_mod.load(environ={}, data_dir=tmp_path, secret_keys=list(TEST_SECRET_KEYS),
                             public_url="http://localhost:5000", **overrides)


def _worker(cfg):  # type: ignore[no-untyped-def]
    """One more worker process's view: its own app and its own store connections."""
    app = create_app(cfg)
    app.config["TESTING"] = True
    app.config["SERVER_NAME"] = "localhost:5000"  # the public URL's host, as browsers send it
    return app, AuthActions(app.test_client(), app)


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def workers(request, tmp_path):
    overrides = {}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    elif request.param == "redis":
        server = request.getfixturevalue("redis_server")
        redis.Redis(port=server.port).flushdb()
        overrides["redis_url"] = server.url
    cfg = _settings(tmp_path, **overrides)
    pair = [_worker(cfg) for _ in range(2)]
    yield [auth for _, auth in pair]
    for app, _ in pair:
        app.extensions["onebar.service"].store.close()


def test_failed_sign_ins_spread_over_workers_still_hit_the_limit(workers):
    a, b = workers
    assert a.signup().status_code == 303
    a.logout()
    # Two browsers the account never signed in on: the owner's own browser
    # counts in a window of its own (tests/test_lockout_and_audit.py).
    a.forget_device()
    for n in range(5):  # the per-account limit is 5 a minute; alternate workers
        assert (a, b)[n % 2].login(password="wrong password").status_code == 401
    for auth in (a, b):
        blocked = auth.login()  # even the right password waits now, on either worker
        assert blocked.status_code == 429
        assert 0 < int(blocked.headers["Retry-After"]) <= 60


def test_sign_ins_go_on_while_redis_is_stopped_and_limits_return_with_it(tmp_path, caplog):
    server = RedisServer()
    try:
        server.start()
        app, auth = _worker(_settings(tmp_path, redis_url=server.url))
        assert auth.signup().status_code == 303
        auth.logout()

        server.stop()
        with caplog.at_level(logging.WARNING, logger="onebar.ratelimit"):
            started = time.monotonic()
            for _ in range(6):
                assert auth.login(password="wrong password").status_code == 401  # not 429, not 500
            assert auth.login().status_code == 303
            assert time.monotonic() - started < 10, "waiting on a stopped Redis"
            assert auth.me()["user"]["name"] == "Ada Lovelace"
        warned = [r for r in caplog.records if "sign-in limits are not enforced" in r.getMessage()]
        assert len(warned) == 1, "one warning, not one per request"

        server.start()  # same port: the next attempts are counted again
        auth.logout()
        for _ in range(5):
            assert auth.login(password="wrong password").status_code == 401
        assert auth.login().status_code == 429
        app.extensions["onebar.service"].store.close()
    finally:
        server.destroy()


def test_an_unusable_limits_storage_is_one_config_error_without_its_password(tmp_path):
    from onebar.exc import ConfigError

    with pytest.raises(ConfigError, match="cannot count sign-ins in nonsense://counter:\\*\\*\\*@host") as caught:
        create_app(_settings(tmp_path, rate_limit_storage="nonsense://counter:limits-secret@host"))
    assert "limits-secret" not in str(caught.value)


def test_two_service_processes_on_one_data_dir_share_the_counts(tmp_path):
    """Worker processes of one node, without Redis: the SQLite file they share holds the counts."""
    from bench import procs
    from bench.clients import Visitor
    from onebar import passwords
    from onebar.store import SQLiteStore

    keys = procs.new_keys()
    store = SQLiteStore(tmp_path / "onebar.sqlite3")
    store.create_user("ada@example.com", "Ada Lovelace", passwords.hash_password("correct horse battery"))
    store.close()
    with procs.service(tmp_path, keys) as first, procs.service(tmp_path, keys) as second:
        visitors = [Visitor(first.port), Visitor(second.port)]
        for n in range(5):
            assert visitors[n % 2].login("ada@example.com", "wrong password").status == 401
        for visitor in visitors:
            assert visitor.login("ada@example.com", "correct horse battery").status == 429
