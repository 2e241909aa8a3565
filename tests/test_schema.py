"""Schema versions: a database made by an older Onebar is upgraded in place, its data kept.

``V1_SQLITE`` is the schema exactly as the first release created it (main's
``onebar/store/sqlite.py`` before schema versions were shared), so this test
keeps proving that a real, already-deployed database upgrades.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import psycopg
import pytest

from onebar.exc import StoreError
from onebar.sessions import SessionCodec
from onebar.store import AuditEvent, SQLiteStore, schema
from onebar.store.postgres import PostgresStore
from onebar.store.sql import session_key

from .live import TEST_SECRET_KEYS

V1_SQLITE = """
    CREATE TABLE users (
        id          TEXT PRIMARY KEY,
        email       TEXT NOT NULL,
        email_key   TEXT NOT NULL UNIQUE,
        name        TEXT NOT NULL,
        avatar_url  TEXT,
        password    TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        key          TEXT PRIMARY KEY,
        user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at   INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL,
        revoked_at   INTEGER,
        user_agent   TEXT NOT NULL DEFAULT '',
        ip           TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX sessions_user ON sessions(user_id, revoked_at);
    CREATE TABLE apps (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        url        TEXT NOT NULL,
        position   INTEGER NOT NULL
    );
"""

SID = "a-session-id-issued-by-version-1"


def _fill_v1(execute) -> None:  # type: ignore[no-untyped-def]
    now = int(time.time())
    execute("INSERT INTO users (id, email, email_key, name, avatar_url, password, created_at) VALUES "
            "('u_ada', 'Ada@Example.com', 'ada@example.com', 'Ada Lovelace', NULL, 'scrypt:hash', 1700000000)")
    execute(f"INSERT INTO sessions (key, user_id, created_at, last_seen_at, expires_at, user_agent, ip) VALUES "
            f"('{session_key(SID)}', 'u_ada', {now}, {now}, {now + 3600}, 'Firefox', '10.0.0.1')")
    execute("INSERT INTO apps (id, name, url, position) VALUES ('notes', 'Notes', 'https://notes.example.com/', 1)")


def _assert_v1_data_kept(store) -> None:  # type: ignore[no-untyped-def]
    assert store.schema_version() == schema.latest()
    assert store.get_credentials("ada@example.com")[1] == "scrypt:hash"
    active = store.get_active_session(SID, int(time.time()))
    assert active is not None and active.user.name == "Ada Lovelace" and active.session.user_agent == "Firefox"
    assert [a.id for a in store.list_apps()] == ["notes"]
    # what version 2 added works on the upgraded database
    assert store.acquire_attempt("k", 1, 60, time.time())
    # ... and version 3: accounts start unverified, enabled, at token version 0; the audit log is empty
    ada = store.get_user("u_ada")
    assert not ada.email_verified and not ada.disabled and store.get_token_version("u_ada") == 0
    assert store.list_audit() == []
    store.add_audit(AuditEvent("login.success", 1700000100, "u_ada", ada.email))
    assert [e.event for e in store.list_audit(user_id="u_ada")] == ["login.success"]


def test_a_version_1_sqlite_database_with_data_is_upgraded_at_start(tmp_path):
    path = tmp_path / "onebar.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(V1_SQLITE)
    _fill_v1(conn.execute)
    conn.execute("PRAGMA user_version = 1")
    conn.close()

    untouched = SQLiteStore(path, upgrade=False)
    assert untouched.schema_version() == 1
    untouched.close()
    store = SQLiteStore(path)
    try:
        _assert_v1_data_kept(store)
        assert store.upgrade() == (schema.latest(), schema.latest())
    finally:
        store.close()
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_version_1_postgresql_database_is_upgraded_by_upgrade(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        for statement in schema.MIGRATIONS[0].statements("postgresql"):
            conn.execute(statement)
        conn.execute("CREATE TABLE onebar_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO onebar_schema VALUES (1)")
        _fill_v1(conn.execute)
    store = PostgresStore(postgres_url, upgrade=False)
    try:
        assert store.schema_version() == 1
        assert store.upgrade() == (1, schema.latest())
        _assert_v1_data_kept(store)
    finally:
        store.close()


def test_nodes_starting_together_upgrade_a_new_database_once(postgres_url):
    stores, failures = [], []

    def start() -> None:
        try:
            stores.append(PostgresStore(postgres_url))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert failures == []
        assert {s.schema_version() for s in stores} == {schema.latest()}
    finally:
        for s in stores:
            s.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_newer_than_this_onebar_is_refused(tmp_path, request, backend):
    if backend == "sqlite":
        conn = sqlite3.connect(tmp_path / "new.sqlite3")
        conn.execute(f"PRAGMA user_version = {schema.latest() + 1}")
        conn.close()
        opening = lambda: SQLiteStore(tmp_path / "new.sqlite3")  # noqa: E731
    else:
        url = request.getfixturevalue("postgres_url")
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE onebar_schema (version INTEGER NOT NULL)")
            conn.execute("INSERT INTO onebar_schema VALUES (%s)", (schema.latest() + 1,))
        opening = lambda: PostgresStore(url)  # noqa: E731
    with pytest.raises(StoreError, match="newer than this Onebar knows"):
        opening()


def test_every_migration_runs_on_both_engines(tmp_path, postgres_url):
    """The list applies from scratch on each engine (what a later branch's one-line append must keep true)."""
    lite = SQLiteStore(tmp_path / "fresh.sqlite3")
    pg = PostgresStore(postgres_url)
    try:
        assert lite.schema_version() == pg.schema_version() == len(schema.MIGRATIONS)
        codec = SessionCodec(TEST_SECRET_KEYS, 3600)
        for store in (lite, pg):
            user = store.create_user("grace@example.com", "Grace", "h")
            sid = store.create_session(user.id, expires_at=int(time.time()) + 60)
            token = codec.decode(codec.encode(sid, user.id))
            assert store.get_active_session(token.sid, int(time.time())).user.id == user.id
    finally:
        lite.close()
        pg.close()
