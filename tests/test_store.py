"""The SQLite store: case-insensitive emails, hashed session ids, schema on first start."""

import sqlite3
import time

import pytest

from onebar.exc import DuplicateError, ValidationError
from onebar.store import App, SQLiteStore


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


@pytest.mark.parametrize("url", ["http://[::1]:5001/", "http://*.localhost:5001/", "https://*.example.com", "https://(a|b).example.com/",
                                 "null", "*", "https://[evil", "file:///etc/passwd"])
def test_app_urls_are_literal_http_origins(store, url):
    with pytest.raises(ValidationError):
        store.add_app(App("x", "X", url))


def test_apps_keep_the_order_they_were_added(store):
    assert [a.id for a in store.list_apps()] == ["notes", "tasks"]
    store.add_app(App("wiki", "Wiki", "https://wiki.example.com/"))
    assert [a.id for a in store.list_apps()] == ["notes", "tasks", "wiki"]


def test_a_failed_commit_releases_the_write_lock(store):
    # A deferred foreign key makes COMMIT itself fail, as a full disk would.
    with pytest.raises(sqlite3.IntegrityError):
        with store._db(write=True) as db:
            db.execute("PRAGMA defer_foreign_keys = ON")
            db.execute("INSERT INTO sessions (key, user_id, created_at, last_seen_at, expires_at)"
                       " VALUES ('k', 'no-such-user', 0, 0, 0)")
    other_worker = SQLiteStore(store.path, busy_timeout=0.2)
    assert other_worker.create_user("ada@example.com", "Ada", "h").name == "Ada"
    assert store.create_user("grace@example.com", "Grace", "h").name == "Grace"


def test_set_password_revokes_every_session_with_it(store):
    user = store.create_user("ada@example.com", "Ada", "old-hash")
    sids = [store.create_session(user.id, expires_at=int(time.time()) + 60) for _ in range(3)]
    store.set_password(user.id, "new-hash")
    assert store.get_credentials("ada@example.com")[1] == "new-hash"
    assert all(store.get_active_session(sid, int(time.time())) is None for sid in sids)


def test_a_profile_update_cannot_change_the_password(store):
    user = store.create_user("ada@example.com", "Ada", "old-hash")
    sid = store.create_session(user.id, expires_at=int(time.time()) + 60)
    with pytest.raises(TypeError):
        store.update_user(user.id, password_hash="new-hash")  # only set_password, which revokes sessions
    assert store.update_user(user.id, name="Ada L.").name == "Ada L."
    assert store.get_credentials("ada@example.com")[1] == "old-hash"
    assert store.get_active_session(sid, int(time.time())) is not None


def test_purge_drops_expired_and_revoked_sessions_only(store):
    user = store.create_user("ada@example.com", "Ada", "h")
    now = int(time.time())
    live = store.create_session(user.id, expires_at=now + 60)
    store.create_session(user.id, expires_at=now - 60)
    store.revoke_session(store.create_session(user.id, expires_at=now + 60))
    assert store.purge_sessions(before=now + 1) == 2
    assert store.get_active_session(live, now) is not None


def test_database_file_is_owner_only(tmp_path):
    SQLiteStore(tmp_path / "db.sqlite3").close()
    assert (tmp_path / "db.sqlite3").stat().st_mode & 0o077 == 0


def test_connections_of_finished_threads_are_closed(tmp_path):
    import gc
    import threading

    s = SQLiteStore(tmp_path / "db.sqlite3")
    for _ in range(20):
        t = threading.Thread(target=s.ping)
        t.start()
        t.join()
    gc.collect()
    assert len(s._holders) <= 2, "one per live thread (this one), not one per thread ever"
