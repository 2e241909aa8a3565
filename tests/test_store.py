"""The SQLite store: case-insensitive emails, hashed session ids, schema on first start."""

import sqlite3
import time

import pytest

from api.exc import DuplicateError, ValidationError
from api.store import App, SQLiteStore


def test_schema_is_created_on_first_start_in_wal_mode(tmp_path):
    SQLiteStore(tmp_path / "db.sqlite3").close()
    conn = sqlite3.connect(tmp_path / "db.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"users", "sessions", "apps"} <= {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}


def test_emails_are_unique_whatever_their_case(store):
    store.create_user("Ada@Example.com", "Ada", "h")
    with pytest.raises(DuplicateError):
        store.create_user("ada@EXAMPLE.com ", "Ada again", "h")
    assert store.get_credentials("ADA@example.COM")[0].email == "Ada@Example.com"


def test_session_ids_are_not_stored_in_the_clear(store):
    user = store.create_user("ada@example.com", "Ada", "h")
    sid = store.create_session(user.id, expires_at=int(time.time()) + 60)
    dump = "\n".join(sqlite3.connect(store.path).iterdump())
    assert sid not in dump
    assert store.get_active_session(sid, int(time.time())).user.id == user.id


@pytest.mark.parametrize("url", ["http://*.localhost:5001/", "https://*.example.com", "https://(a|b).example.com/",
                                 "null", "*", "https://[evil", "file:///etc/passwd"])
def test_app_urls_are_literal_http_origins(store, url):
    with pytest.raises(ValidationError):
        store.add_app(App("x", "X", url))


def test_apps_keep_the_order_they_were_added(store):
    assert [a.id for a in store.list_apps()] == ["notes", "tasks"]
    store.add_app(App("wiki", "Wiki", "https://wiki.example.com/"))
    assert [a.id for a in store.list_apps()] == ["notes", "tasks", "wiki"]
