"""The store, on each backend (SQLite, PostgreSQL): case-insensitive emails, hashed
session ids, apps in order, concurrent writers, transactions that fail cleanly."""

import sqlite3
import threading
import time

import pytest

from onebar.exc import DuplicateError, NotFound, StoreBusy, ValidationError
from onebar.store import App, AuditEvent, SQLiteStore, schema
from onebar.tokens import INVITE

from .conftest import APPS, BACKENDS, open_test_store


@pytest.fixture(params=BACKENDS)
def store(request, settings):
    s = open_test_store(request.param, settings, request)
    for a in APPS:
        s.add_app(a)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(settings):
    s = SQLiteStore(settings.database)
    yield s
    s.close()


def test_schema_is_created_on_first_start_in_wal_mode(tmp_path):
    SQLiteStore(tmp_path / "db.sqlite3").close()
    conn = sqlite3.connect(tmp_path / "db.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"users", "sessions", "apps"} <= {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}


def test_a_new_store_is_at_the_latest_schema_version(store):
    assert store.schema_version() == schema.latest()
    assert store.upgrade() == (schema.latest(), schema.latest())  # nothing left to do


def test_emails_are_unique_whatever_their_case(store):
    store.create_user("Ada@Example.com", "Ada", "h")
    with pytest.raises(DuplicateError):
        store.create_user("ada@EXAMPLE.com ", "Ada again", "h")
    assert store.get_credentials("ADA@example.COM")[0].email == "Ada@Example.com"


def test_session_ids_are_not_stored_in_the_clear(store):
    user = store.create_user("ada@example.com", "Ada", "h")
    sid = store.create_session(user.id, expires_at=int(time.time()) + 60)
    dump = repr(list(store.export_rows()))
    assert "ada@example.com" in dump  # the dump does hold the data
    assert sid not in dump
    assert store.get_active_session(sid, int(time.time())).user.id == user.id


@pytest.mark.parametrize("url", ["http://[::1]:5001/", "http://*.localhost:5001/", "https://*.example.com", "https://(a|b).example.com/",
                                 "null", "*", "https://[evil", "file:///etc/passwd"])
def test_app_urls_are_literal_http_origins(sqlite_store, url):
    with pytest.raises(ValidationError):
        sqlite_store.add_app(App("x", "X", url))


def test_apps_keep_the_order_they_were_added(store):
    assert [a.id for a in store.list_apps()] == ["notes", "tasks"]
    store.add_app(App("wiki", "Wiki", "https://wiki.example.com/"))
    assert [a.id for a in store.list_apps()] == ["notes", "tasks", "wiki"]
    with pytest.raises(DuplicateError):
        store.add_app(App("wiki", "Wiki again", "https://wiki2.example.com/"))
    assert store.remove_app("notes") and not store.remove_app("notes")
    assert [a.id for a in store.list_apps()] == ["tasks", "wiki"]


def test_a_failed_commit_releases_the_write_lock(sqlite_store):
    store = sqlite_store
    # A deferred foreign key makes COMMIT itself fail, as a full disk would.
    with pytest.raises(sqlite3.IntegrityError):
        with store._db(write=True) as db:
            db.execute("PRAGMA defer_foreign_keys = ON")
            db.execute("INSERT INTO sessions (key, user_id, created_at, last_seen_at, expires_at)"
                       " VALUES ('k', 'no-such-user', 0, 0, 0)")
    other_worker = SQLiteStore(store.path, busy_timeout=0.2)
    assert other_worker.create_user("ada@example.com", "Ada", "h").name == "Ada"
    assert store.create_user("grace@example.com", "Grace", "h").name == "Grace"


def test_an_error_inside_a_write_rolls_it_back_and_frees_the_lock(store):
    with pytest.raises(RuntimeError):
        with store._db(write=True) as db:
            db.execute("INSERT INTO users (id, email, email_key, name, password, created_at)"
                       " VALUES ('u_half', 'half@example.com', 'half@example.com', 'Half', 'h', 0)")
            raise RuntimeError("the process fails half-way")
    assert store.get_user("u_half") is None
    started = time.monotonic()
    assert store.create_user("next@example.com", "Next", "h").name == "Next"
    assert time.monotonic() - started < 3.0  # not the 5 s a held lock would cost


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


def test_sessions_expire_revoke_and_list(store):
    ada = store.create_user("ada@example.com", "Ada", "h")
    now = int(time.time())
    first = store.create_session(ada.id, expires_at=now + 60, user_agent="Firefox", ip="10.0.0.1")
    second = store.create_session(ada.id, expires_at=now + 60)
    assert store.get_active_session(first, now + 61) is None  # expired
    store.extend_session(first, expires_at=now + 120, now=now + 1)
    assert store.get_active_session(first, now + 61).session.user_agent == "Firefox"
    assert {s.key for s in store.list_sessions(ada.id, now)} == {
        store.get_active_session(first, now).session.key, store.get_active_session(second, now).session.key}
    assert store.revoke_user_sessions(ada.id, except_sid=first) == 1
    assert store.get_active_session(second, now) is None
    key = store.get_active_session(first, now).session.key
    assert store.revoke_session_key(ada.id, key) and not store.revoke_session(first)
    assert store.list_sessions(ada.id, now) == []


def test_purge_drops_expired_and_revoked_sessions_only(store):
    user = store.create_user("ada@example.com", "Ada", "h")
    now = int(time.time())
    live = store.create_session(user.id, expires_at=now + 60)
    store.create_session(user.id, expires_at=now - 60)
    store.revoke_session(store.create_session(user.id, expires_at=now + 60))
    assert store.purge_sessions(before=now + 1) == 2
    assert store.get_active_session(live, now) is not None


def test_concurrent_sign_ups_and_sign_ins_are_all_kept(store, settings, request):
    """Eight writers at once, each on its own store (as worker processes are): nothing lost, nothing refused."""
    backend = request.node.callspec.params["store"]
    acked: list[tuple[str, str]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    others = [store] + [open_other(backend, store) for _ in range(3)]

    def writer(wid: int) -> None:
        s = others[wid % len(others)]
        try:
            for n in range(8):
                user = s.create_user(f"w{wid}-{n}@example.com", f"Writer {wid}", "h")
                sid = s.create_session(user.id, expires_at=int(time.time()) + 60)
                with lock:
                    acked.append((user.email, sid))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for other in others[1:]:
        other.close()
    assert failures == []
    assert len(acked) == 64
    now = int(time.time())
    assert all(store.get_active_session(sid, now).user.email == email for email, sid in acked)
    assert len(store.list_users()) == 64


def open_other(backend: str, store):  # type: ignore[no-untyped-def]
    """A second store on the same database, as another worker process opens it."""
    if backend == "sqlite":
        return SQLiteStore(store.path)
    from onebar.store.postgres import PostgresStore

    return PostgresStore(store.url)


def test_attempt_windows_count_across_workers_exactly(store, request):
    """Two workers hitting one window at once accept exactly `limit` attempts between them."""
    other = open_other(request.node.callspec.params["store"], store)
    accepted: list[bool] = []
    lock = threading.Lock()
    now = time.time()

    def hit(s) -> None:  # type: ignore[no-untyped-def]
        for _ in range(10):
            ok = s.acquire_attempt("k", 7, 60, now)
            with lock:
                accepted.append(ok)

    threads = [threading.Thread(target=hit, args=(s,)) for s in (store, other, store, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    other.close()
    assert accepted.count(True) == 7
    assert store.attempt_window("k", 60, now + 1) == (now, 7)
    assert store.attempt_window("k", 60, now + 61) == (now + 61, 0)  # the window moved on
    assert store.acquire_attempt("k", 7, 60, now + 61)
    store.clear_attempts("k")
    assert store.attempt_window("k", 60, now + 62)[1] == 0


def test_a_store_waits_a_bounded_time_for_a_held_lock(store, request):
    """Another writer holding the lock: a write fails with StoreBusy within the store's timeout, reads go on."""
    backend = request.node.callspec.params["store"]
    user = store.create_user("reader@example.com", "Reader", "h")
    if backend == "sqlite":
        quick = SQLiteStore(store.path, busy_timeout=0.3)
        holder = sqlite3.connect(store.path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        release = lambda: (holder.execute("ROLLBACK"), holder.close())  # noqa: E731
    else:
        import psycopg

        from onebar.store.postgres import PostgresStore

        quick = PostgresStore(store.url, lock_timeout=0.3)
        holder = psycopg.connect(store.url)
        holder.execute("LOCK TABLE users IN EXCLUSIVE MODE")  # readers pass, writers wait
        release = lambda: (holder.rollback(), holder.close())  # noqa: E731
    try:
        started = time.monotonic()
        with pytest.raises(StoreBusy):
            quick.create_user("writer@example.com", "Writer", "h")
        assert time.monotonic() - started < 2.0
        assert quick.get_user(user.id).name == "Reader"
    finally:
        release()
    assert quick.create_user("writer@example.com", "Writer", "h").name == "Writer"
    quick.close()


def test_database_file_is_owner_only(tmp_path):
    SQLiteStore(tmp_path / "db.sqlite3").close()
    assert (tmp_path / "db.sqlite3").stat().st_mode & 0o077 == 0


def test_connections_of_finished_threads_are_closed(tmp_path):
    import gc

    s = SQLiteStore(tmp_path / "db.sqlite3")
    for _ in range(20):
        t = threading.Thread(target=s.ping)
        t.start()
        t.join()
    gc.collect()
    assert len(s._holders) <= 2, "one per live thread (this one), not one per thread ever"


# -- the account lifecycle and the audit log (schema version 3), on both engines ----------

def test_email_verification_follows_the_address(store):
    user = store.create_user("Ada@Example.com", "Ada", "h")
    assert not user.email_verified
    assert not store.mark_email_verified(user.id, "someone-else@example.com")
    assert store.mark_email_verified(user.id, "ADA@example.com")
    assert store.get_user(user.id).email_verified
    changed = store.set_email(user.id, "ada@lovelace.example")
    assert changed.email == "ada@lovelace.example" and not changed.email_verified
    assert not store.mark_email_verified(user.id, "ada@example.com"), "a link for the old address is dead"
    assert store.get_user_by_email("ada@example.com") is None
    assert store.get_user_by_email("ADA@lovelace.example").id == user.id


def test_an_email_change_is_cleaned_and_unique(store):
    ada = store.create_user("ada@example.com", "Ada", "h")
    store.create_user("grace@example.com", "Grace", "h")
    with pytest.raises(DuplicateError):
        store.set_email(ada.id, "GRACE@example.com")
    assert store.set_email(ada.id, " \uff41da@example.org ").email == "ada@example.org"  # NFKC, trimmed
    with pytest.raises(ValidationError):
        store.set_email(ada.id, "ada\u200b@example.org")


def test_the_token_version_moves_with_every_password_and_email_change(store):
    user = store.create_user("ada@example.com", "Ada", "h")
    assert store.get_token_version(user.id) == 0
    store.set_password(user.id, "h2")
    assert store.get_token_version(user.id) == 1
    store.set_email(user.id, "ada@example.org")
    assert store.get_token_version(user.id) == 2
    assert store.get_token_version("u_nobody") is None


def test_a_disabled_account_has_no_active_session_until_enabled(store):
    user = store.create_user("ada@example.com", "Ada", "h")
    now = int(time.time())
    sid = store.create_session(user.id, expires_at=now + 60)
    assert store.set_disabled(user.id, True)
    assert store.get_user(user.id).disabled
    assert store.get_active_session(sid, now) is None
    assert store.set_disabled(user.id, False) and not store.get_user(user.id).disabled
    assert store.get_active_session(sid, now) is None, "disabling revoked the sessions for good"
    assert store.get_active_session(store.create_session(user.id, expires_at=now + 60), now) is not None
    assert not store.set_disabled("u_nobody", True)


def test_deleting_an_account_keeps_its_audit_lines(store):
    user = store.create_user("ada@example.com", "Ada", "h")
    sid = store.create_session(user.id, expires_at=int(time.time()) + 60)
    store.add_audit(AuditEvent("signup", 1_700_000_000, user.id, user.email))
    assert store.delete_user(user.id) and not store.delete_user(user.id)
    assert store.get_user(user.id) is None and store.get_active_session(sid, int(time.time())) is None
    assert [e.event for e in store.list_audit(user_id=user.id)] == ["signup"]


def test_an_invitation_makes_one_account_once_and_the_newest_replaces_older_ones(store):
    older = store.create_invite("grace@example.com")
    nonce = store.create_invite("Grace@Example.com")  # a new invitation to the same address
    assert not store.invite_pending("grace@example.com", older) and store.invite_pending("grace@example.com", nonce)
    with pytest.raises(NotFound):
        store.create_user("grace@example.com", "Grace", "h", invite=older)
    assert store.get_user_by_email("grace@example.com") is None, "a refused invitation creates nothing"
    with pytest.raises(NotFound):
        store.create_user("mallory@example.com", "Mallory", "h", invite=nonce)  # another address's invitation
    user = store.create_user("grace@example.com", "Grace", "h", invite=nonce)
    assert not store.invite_pending("grace@example.com", nonce), "used up by the sign-up"
    assert store.delete_user(user.id)
    with pytest.raises(NotFound):
        store.create_user("grace@example.com", "Grace", "h", invite=nonce)

    pending = store.create_invite("ada@example.com")
    ada = store.create_user("ada@example.com", "Ada", "h")  # the operator added her by hand meanwhile
    with pytest.raises(DuplicateError):
        store.create_user("ada@example.com", "Ada", "h", invite=pending)
    assert store.invite_pending("ada@example.com", pending), "a failed sign-up does not use the invitation"
    assert store.delete_user(ada.id)
    assert not store.invite_pending("ada@example.com", pending), "removing the account withdraws its invitation"


def test_invitations_are_purged_once_their_links_have_expired(store):
    nonce = store.create_invite("grace@example.com")
    lifetime = INVITE[1]  # the signed link's max age (7 days)
    store.purge_sessions(before=int(time.time()) + lifetime - 60)  # the link still works then: kept
    assert store.invite_pending("grace@example.com", nonce) and store.row_counts()["invites"] == 1
    store.purge_sessions(before=int(time.time()) + lifetime + 60)
    assert not store.invite_pending("grace@example.com", nonce)
    assert store.row_counts()["invites"] == 0, "no longer counted among the pending invitations"


def test_the_audit_log_filters_and_keeps_the_order_events_were_written(store):
    at = 1_700_000_000
    for i, (event, email) in enumerate([("login.failure", "Ada@Example.com"), ("login.lockout", "ada@example.com"),
                                        ("login.success", "grace@example.com"), ("logout", "ADA@example.com")]):
        store.add_audit(AuditEvent(event, at + (i // 2), "u_x" if i % 2 else None, email, "10.0.0.1", "notes"))
    # two events in the same second stay in the order they were written
    assert [e.event for e in store.list_audit()] == ["login.failure", "login.lockout", "login.success", "logout"]
    assert [e.event for e in store.list_audit(email="ada@EXAMPLE.com")] == ["login.failure", "login.lockout",
                                                                            "logout"]
    assert [e.event for e in store.list_audit(user_id="u_x")] == ["login.lockout", "logout"]
    assert [e.event for e in store.list_audit(user_id="u_x", email="grace@example.com")] == [
        "login.lockout", "login.success", "logout"], "the account's lines, and the address's"
    assert [e.event for e in store.list_audit(since=at + 1)] == ["login.success", "logout"]
    assert [e.event for e in store.list_audit(limit=2)] == ["login.success", "logout"], "the newest, oldest first"
    first = store.list_audit()[0]
    assert first == AuditEvent("login.failure", at, None, "Ada@Example.com", "10.0.0.1", "notes", "")


def test_audit_fields_are_bounded(store):
    store.add_audit(AuditEvent("login.failure", 1, None, "a" * 1000, "b" * 100, "c" * 100, "d" * 1000))
    (event,) = store.list_audit()
    assert (len(event.email), len(event.address), len(event.app), len(event.detail)) == (320, 64, 64, 200)


# -- one-time hand-off codes (onebar.handoff) ----------------------------------------

def test_a_handoff_code_is_taken_once_and_names_its_live_session(store):
    user = store.create_user("ada@example.com", "Ada", "h")
    now = int(time.time())
    sid = store.create_session(user.id, expires_at=now + 600)
    key = store.get_active_session(sid, now).session.key
    store.create_handoff_code("c" * 64, session_key=key, origin="https://notes.example.org",
                              challenge="x" * 43, expires_at=now + 60)
    taken = store.take_handoff_code("c" * 64, now)
    assert (taken.session_key, taken.origin, taken.challenge) == (key, "https://notes.example.org", "x" * 43)
    assert store.take_handoff_code("c" * 64, now) is None  # the second redemption gets nothing
    assert store.get_active_session_by_key(key, now).user.id == user.id
    store.revoke_session(sid)
    assert store.get_active_session_by_key(key, now) is None
    assert store.get_active_session_by_key("no-such-key", now) is None


def test_an_expired_handoff_code_is_gone(store):
    now = int(time.time())
    store.create_handoff_code("e" * 64, session_key="k", origin="https://a.example", challenge="x" * 43,
                              expires_at=now + 60)
    assert store.take_handoff_code("e" * 64, now + 60) is None
    assert store.take_handoff_code("e" * 64, now) is None  # taking an expired code deleted it


def test_concurrent_redemptions_of_one_code_get_it_once(store):
    now = int(time.time())
    store.create_handoff_code("r" * 64, session_key="k", origin="https://a.example", challenge="x" * 43,
                              expires_at=now + 60)
    results, barrier = [], threading.Barrier(8)

    def redeem():
        barrier.wait()
        results.append(store.take_handoff_code("r" * 64, now))

    threads = [threading.Thread(target=redeem) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1


# -- the event log (onebar.store.base.Event): every way a session ends, a profile
# or the app list changes writes its event, in the same transaction ------------------


def _new_events(store, after):
    return [(e.kind, e.user_id, e.session_key) for e in store.events_after(after)]


def _two_sessions(store, email="ada@example.com"):
    from onebar.store.sql import session_key
    user = store.create_user(email, "Ada", "h")
    sids = [store.create_session(user.id, expires_at=int(time.time()) + 60) for _ in range(2)]
    return user, sids, [session_key(s) for s in sids]


def test_ending_one_session_records_which_one(store):
    user, sids, keys = _two_sessions(store)
    start = store.last_event_id()
    assert store.revoke_session(sids[0])
    assert not store.revoke_session(sids[0])  # already ended: nothing more to tell
    assert store.revoke_session_key(user.id, keys[1])
    assert _new_events(store, start) == [("session_ended", user.id, keys[0]), ("session_ended", user.id, keys[1])]
    assert store.last_event_id() > start


@pytest.mark.parametrize("end", [
    pytest.param(lambda s, u: s.revoke_user_sessions(u.id), id="sign-out-everywhere"),
    pytest.param(lambda s, u: s.set_password(u.id, "h2"), id="password-change"),
    pytest.param(lambda s, u: s.set_disabled(u.id, True), id="account-disabled"),
    pytest.param(lambda s, u: s.delete_user(u.id), id="account-deleted"),
])
def test_ending_every_session_of_a_user_records_one_event_per_session(store, end):
    user, sids, keys = _two_sessions(store)
    other, _, other_keys = _two_sessions(store, "bob@example.com")
    store.revoke_session(sids[0])  # ended before: not ended again
    start = store.last_event_id()
    end(store, user)
    assert _new_events(store, start) == [("session_ended", user.id, keys[1])]


def test_sign_out_everywhere_else_keeps_this_session_quiet(store):
    user, sids, keys = _two_sessions(store)
    start = store.last_event_id()
    assert store.revoke_user_sessions(user.id, except_sid=sids[0]) == 1
    assert _new_events(store, start) == [("session_ended", user.id, keys[1])]


def test_profile_changes_are_recorded(store):
    user = store.create_user("ada@example.com", "Ada", "h")
    start = store.last_event_id()
    store.update_user(user.id, name="Ada L.")
    store.update_user(user.id, avatar_url="https://example.com/a.png")
    store.set_email(user.id, "ada2@example.com")
    store.update_user(user.id)  # nothing changed, nothing to tell
    assert _new_events(store, start) == [("profile_changed", user.id, None)] * 3


def test_app_list_changes_are_recorded(store):
    start = store.last_event_id()
    store.add_app(App("wiki", "Wiki", "https://wiki.example.com/"))
    assert store.remove_app("wiki") and not store.remove_app("wiki")
    assert _new_events(store, start) == [("apps_changed", None, None)] * 2


def test_events_are_read_in_order_in_pages_and_purged_after_an_hour(store, monkeypatch):
    user = store.create_user("ada@example.com", "Ada", "h")
    start = store.last_event_id()
    for i in range(5):
        store.update_user(user.id, name=f"Ada {i}")
    page = store.events_after(start, limit=3)
    assert [e.id for e in page] == sorted(e.id for e in page) and len(page) == 3
    assert len(store.events_after(page[-1].id)) == 2
    assert all(e.data == {} and e.at >= time.time() - 60 for e in page)
    store.purge_sessions(before=int(time.time()) + 10)  # younger than an hour: kept
    assert len(store.events_after(start)) == 5
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3700)
    store.purge_sessions(before=int(real()) + 3700)
    assert store.events_after(start) == []


def test_concurrent_writers_never_let_a_reader_skip_an_event(store):
    user = store.create_user("ada@example.com", "Ada", "h")
    seen: list[int] = []
    stop = threading.Event()
    last = store.last_event_id()

    def read() -> None:
        nonlocal last
        while not stop.is_set() or store.events_after(last):
            for e in store.events_after(last):
                seen.append(e.id)
                last = e.id

    def write(n: int) -> None:
        for i in range(15):
            store.update_user(user.id, name=f"Ada {n}.{i}")

    start = store.last_event_id()
    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(timeout=60)
    stop.set()
    reader.join(timeout=60)
    assert sorted(seen) == [e.id for e in store.events_after(start, limit=1000)]
    assert len(seen) == 60


def test_an_app_gets_a_back_channel_on_its_own_origin_only(store):
    secret = "s" * 43
    assert store.list_backchannels() == []
    with pytest.raises(ValidationError, match="own origin"):
        store.set_backchannel("notes", "https://evil.example/.onebar/backchannel", secret)
    with pytest.raises(ValidationError, match="a path on the app"):
        store.set_backchannel("notes", "http://localhost:5001/.onebar/backchannel?x=1", secret)
    with pytest.raises(ValidationError, match="secret"):
        store.set_backchannel("notes", "http://localhost:5001/.onebar/backchannel", "short")
    assert not store.set_backchannel("nope", "https://nope.example/.onebar/backchannel", secret)
    assert store.set_backchannel("notes", "http://localhost:5001/.onebar/backchannel", secret)
    (found,) = store.list_backchannels()
    assert (found.app_id, found.origin, found.url, found.secret) == (
        "notes", "http://localhost:5001", "http://localhost:5001/.onebar/backchannel", secret)
    assert secret not in repr(found)  # never in a log line by accident
    assert [a.id for a in store.list_apps()] == ["notes", "tasks"]  # the app itself is unchanged
    assert store.set_backchannel("notes", None)
    assert store.list_backchannels() == []


def test_a_transaction_that_records_events_wakes_the_streams_after_it_commits(store):
    woken: list[int] = []
    store.on_events = lambda: woken.append(store.last_event_id())  # after the commit: the event is readable
    user = store.create_user("ada@example.com", "Ada", "h")
    assert woken == []  # nothing to tell
    store.update_user(user.id, name="Ada L.")
    assert woken == [store.last_event_id()]
    with pytest.raises(DuplicateError):
        store.add_app(App("notes", "Notes again", "https://notes2.example.com/"))  # rolled back
    store.set_password(user.id, "h2")  # no session to end: no event
    assert len(woken) == 1


def test_a_new_session_beyond_the_cap_ends_the_least_recently_used(store):
    from onebar.store.sql import session_key

    now = int(time.time())
    user = store.create_user("ada@example.com", "Ada", "h")
    bob = store.create_user("bob@example.com", "Bob", "h")
    bobs = store.create_session(bob.id, expires_at=now + 600)
    sids = [store.create_session(user.id, expires_at=now + 600, keep=3) for _ in range(3)]
    for i, sid in enumerate((sids[1], sids[0], sids[2])):  # last used: 1 longest ago, then 0, then 2
        store.extend_session(sid, expires_at=now + 600, now=now + 10 + i)
    start = store.last_event_id()
    newest = store.create_session(user.id, expires_at=now + 600, keep=3)
    assert _new_events(store, start) == [("session_ended", user.id, session_key(sids[1]))]
    alive = [s for s in (*sids, newest) if store.get_active_session(s, now) is not None]
    assert alive == [sids[0], sids[2], newest]
    assert store.get_active_session(bobs, now) is not None  # another account's sessions are not counted
    store.create_session(user.id, expires_at=now + 600)  # no cap asked: nothing ends
    assert store.get_active_session(sids[0], now) is not None
