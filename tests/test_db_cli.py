"""`onebar db upgrade` and `onebar db copy`: the operator's tools for the schema and for moving up
from the embedded SQLite store to PostgreSQL, run as the real command against a real PostgreSQL."""

from __future__ import annotations

import sqlite3
import time

import pytest

from onebar import settings as settings_mod
from onebar.sessions import SessionCodec
from onebar.store import App, AuditEvent, SQLiteStore, schema
from onebar.store.postgres import PostgresStore
from onebar.demo.process import free_port
from onebar.web import create_app

from .test_cli import assert_one_error_line, cli
from .test_schema import V1_SQLITE


def test_db_upgrade_reports_what_it_did(tmp_path):
    conn = sqlite3.connect(tmp_path / "onebar.sqlite3", isolation_level=None)
    conn.executescript(V1_SQLITE)
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    first = cli(tmp_path, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert f"upgraded the schema from version 1 to {schema.latest()}" in first.stdout
    again = cli(tmp_path, "db", "upgrade")
    assert f"schema version {schema.latest()}, up to date" in again.stdout


def test_db_upgrade_on_postgresql_never_shows_the_password(tmp_path, postgres_server, postgres_url):
    result = cli(tmp_path, "db", "upgrade", env={"ONEBAR_DATABASE_URL": postgres_url})
    assert result.returncode == 0, result.stderr
    assert f"upgraded the schema from version 0 to {schema.latest()}" in result.stdout
    assert postgres_server.password not in result.stdout + result.stderr
    assert "onebar:***@127.0.0.1" in result.stdout


@pytest.fixture
def embedded(tmp_path):
    """A data dir whose SQLite store has two users (one verified, one disabled), live and revoked
    sessions, two apps, two audit events and two pending invitations."""
    data = tmp_path / "data"
    settings = settings_mod.load(environ={}, data_dir=data)  # creates the key file, as `onebar` does
    store = SQLiteStore(settings.database)
    store.add_app(App("notes", "Notes", "https://notes.example.com/"))
    store.add_app(App("tasks", "Tasks", "https://tasks.example.com/"))
    ada = store.create_user("Ada@Example.com", "Ada Lovelace", "scrypt:ada")
    grace = store.create_user("grace@example.com", "Grace Hopper", "scrypt:grace")
    later = int(time.time()) + 3600
    live = store.create_session(ada.id, expires_at=later, user_agent="Firefox")
    revoked = store.create_session(grace.id, expires_at=later)
    store.revoke_session(revoked)
    store.mark_email_verified(ada.id, "ada@example.com")
    store.set_disabled(grace.id, True)
    store.add_audit(AuditEvent("signup", 1_700_000_000, ada.id, ada.email, "127.0.0.1"))
    store.add_audit(AuditEvent("account.disable", 1_700_000_001, grace.id, grace.email, detail="by operator"))
    nonce = store.create_invite("alan@example.com")
    store.create_invite("barbara@example.com")
    store.close()
    codec = SessionCodec(settings.secret_keys, settings.session_max_age)
    return data, settings, {"live": codec.encode(live, ada.id), "revoked": codec.encode(revoked, grace.id),
                            "invite": nonce}


def _me(settings, database_url: str, cookie: str):  # type: ignore[no-untyped-def]
    cfg = settings.replace(database_url=database_url)
    app = create_app(cfg)
    app.config["SERVER_NAME"] = "localhost:5000"  # the public URL's host, as browsers send it
    client = app.test_client()
    client.set_cookie("onebar_session", cookie, domain="localhost")
    try:
        return client.get("/api/me").get_json()
    finally:
        app.extensions["onebar.service"].store.close()


def test_db_copy_moves_users_sessions_and_apps_and_cookies_keep_working(embedded, postgres_server, postgres_url):
    data, settings, cookies = embedded
    result = cli(data, "db", "copy", "--to", postgres_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "copied 2 users, 2 sessions, 2 apps, 2 audit events, 2 pending invitations to postgresql://onebar:***@127.0.0.1:")
    assert postgres_server.password not in result.stdout + result.stderr

    me = _me(settings, postgres_url, cookies["live"])
    assert me["user"]["name"] == "Ada Lovelace"  # a cookie issued against SQLite, answered by PostgreSQL
    assert [a["id"] for a in me["apps"]] == ["notes", "tasks"]
    assert _me(settings, postgres_url, cookies["revoked"])["user"] is None  # revoked stays revoked
    pg = PostgresStore(postgres_url)
    try:
        assert pg.get_credentials("ada@example.com")[1] == "scrypt:ada"  # signs in with the same password
        assert pg.get_user_by_email("ada@example.com").email_verified
        assert pg.get_user_by_email("grace@example.com").disabled
        assert pg.invite_pending("alan@example.com", cookies["invite"])  # the link sent before still works once
        assert [(e.event, e.email) for e in pg.list_audit()] == [("signup", "Ada@Example.com"),
                                                                 ("account.disable", "grace@example.com")]
        pg.add_audit(AuditEvent("login.success", int(time.time()), email="ada@example.com"))  # ids go on
        assert [e.event for e in pg.list_audit()][-1] == "login.success"
    finally:
        pg.close()


def test_db_copy_refuses_a_non_empty_target_unless_forced_and_repeats_exactly(embedded, postgres_url):
    data, settings, cookies = embedded
    assert cli(data, "db", "copy", "--to", postgres_url).returncode == 0
    refused = cli(data, "db", "copy", "--to", postgres_url)
    assert_one_error_line(refused, "already holds 2 users, 2 sessions, 2 apps", "--force")

    forced = cli(data, "db", "copy", "--to", postgres_url, "--force")
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.startswith("copied 2 users, 2 sessions, 2 apps, 2 audit events, 2 pending invitations to ")
    pg = PostgresStore(postgres_url)
    try:
        assert pg.row_counts() == {"users": 2, "sessions": 2, "apps": 2, "audit": 2, "invites": 2}
    finally:
        pg.close()
    assert _me(settings, postgres_url, cookies["live"])["user"]["name"] == "Ada Lovelace"


@pytest.mark.parametrize("url,words", [
    ("mysql://onebar:hunter2-secret@db/onebar", ["not a database URL", "onebar:***@db"]),
    ("postgresql://onebar:hunter2-secret@127.0.0.1:{free}/onebar", ["cannot connect to PostgreSQL",
                                                                    "onebar:***@127.0.0.1"]),
], ids=["unknown-scheme", "nothing-listening"])
def test_db_copy_to_a_bad_target_is_one_line_without_the_password(embedded, url, words):
    data, _, _ = embedded
    # The free port is picked now, not when the tests were collected: a server started since may hold it.
    result = cli(data, "db", "copy", "--to", url.format(free=free_port("127.0.0.1")))
    assert_one_error_line(result, *words)
    assert "hunter2-secret" not in result.stdout + result.stderr


@pytest.mark.parametrize("url,words", [
    ("mysql://onebar:hunter2-secret@db/onebar", ["database_url must be", "onebar:***@db"]),
    ("postgresql://onebar:hunter2-secret@127.0.0.1:{free}/onebar", ["cannot connect to PostgreSQL",
                                                                    "onebar:***@127.0.0.1"]),
], ids=["unknown-scheme", "nothing-listening"])
def test_serve_with_an_unusable_database_url_is_one_line_without_the_password(tmp_path, url, words):
    result = cli(tmp_path, "serve", "--port", str(free_port("127.0.0.1")),
                 env={"ONEBAR_DATABASE_URL": url.format(free=free_port("127.0.0.1"))})
    assert_one_error_line(result, *words)
    assert "hunter2-secret" not in result.stdout + result.stderr


def test_db_copy_to_another_sqlite_file_names_it_as_given(embedded, tmp_path):
    data, _, _ = embedded
    target = tmp_path / "copy" / "onebar.sqlite3"
    target.parent.mkdir()
    result = cli(data, "db", "copy", "--to", f"sqlite:///{target}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(f" to sqlite:///{target}")  # not sqlite:/… nor sqlite://…
