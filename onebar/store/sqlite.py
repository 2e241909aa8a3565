"""The embedded default store: one SQLite file in WAL mode.

Each thread gets its own connection (SQLite connections are not shared across
threads); writers wait up to ``busy_timeout`` seconds for the lock and then
raise :class:`onebar.exc.StoreBusy`, which the web layer turns into
``503 Retry-After``. ``synchronous=FULL`` makes a committed write survive a
crash of the process or of the machine, so an acknowledged sign-up is kept.

Secret session ids are never stored: a session row is keyed by the SHA-256 of
its id, so a copy of the database cannot be turned into cookies.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..exc import DuplicateError, NotFound, StoreBusy, StoreError, ValidationError
from .base import APP_ID, ActiveSession, App, Session, User, clean_email, normalize_email, normalize_origin

SCHEMA = [
    # version 1
    """
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
    """,
]

_USER_COLS = "u.id, u.email, u.name, u.avatar_url, u.created_at"
_SESSION_COLS = "s.key, s.user_id, s.created_at, s.last_seen_at, s.expires_at, s.user_agent, s.ip"


def session_key(sid: str) -> str:
    """The stored, showable handle of a secret session id."""
    return hashlib.sha256(sid.encode()).hexdigest()


def _user(row: tuple) -> User:  # type: ignore[type-arg]
    return User(id=row[0], email=row[1], name=row[2], avatar_url=row[3], created_at=row[4])


def _session(row: tuple) -> Session:  # type: ignore[type-arg]
    return Session(*row)


class _Holder:
    """One thread's connection. When the thread ends, its thread-local holder
    is collected and the finalizer closes the connection (no leaked handles
    under servers that start a thread per request)."""

    __slots__ = ("conn", "__weakref__")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        weakref.finalize(self, conn.close)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    msg = str(exc).lower()
    return "locked" in msg or "busy" in msg


class SQLiteStore:
    """:class:`onebar.store.Store` on one SQLite file.

    :param path: the database file; its directory must exist and be writable.
    :param busy_timeout: seconds a writer waits for the lock before
        :class:`StoreBusy`.
    """

    busy_timeout = 5.0

    def __init__(self, path: str | Path, *, busy_timeout: float | None = None) -> None:
        self.path = Path(path)
        if busy_timeout is not None:
            self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._holders: weakref.WeakSet[_Holder] = weakref.WeakSet()
        self._create_private()
        self._migrate()

    # -- plumbing ---------------------------------------------------------

    def _create_private(self) -> None:
        """Create the database file owner-only (SQLite gives -wal/-shm the same mode)."""
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError as exc:
            raise StoreError(f"cannot create the database {self.path}: {exc.strerror}") from None

    def _connect(self) -> sqlite3.Connection:
        holder: _Holder | None = getattr(self._local, "holder", None)
        if holder is None:
            try:
                conn = sqlite3.connect(
                    self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
                )
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("PRAGMA synchronous = FULL")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open the database {self.path}: {exc}") from None
            holder = self._local.holder = _Holder(conn)
            self._holders.add(holder)
        return holder.conn

    @contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            if write:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    # Never leave the connection inside a transaction: it would
                    # hold the write lock and block every other writer.
                    if conn.in_transaction:
                        try:
                            conn.execute("ROLLBACK")
                        except sqlite3.Error:
                            pass
                    raise
            else:
                yield conn
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise StoreBusy("the database is busy; try again shortly") from None
            raise StoreError(f"database error: {exc}") from None
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.IntegrityError):
                raise
            raise StoreError(f"database error: {exc}") from None

    def _migrate(self) -> None:
        conn = self._connect()
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"cannot switch {self.path} to WAL mode (got {mode})")
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise StoreBusy("the database is busy; try again shortly") from None
            raise StoreError(f"cannot open the database {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc}") from None
        with self._db(write=True) as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(SCHEMA[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    def ping(self) -> None:
        with self._db() as db:
            db.execute("SELECT 1").fetchone()

    def close(self) -> None:
        for holder in list(self._holders):
            holder.conn.close()
        self._holders = weakref.WeakSet()
        self._local = threading.local()

    # -- users --------------------------------------------------------------

    def create_user(self, email: str, name: str, password_hash: str) -> User:
        key = normalize_email(email)
        user = User(id="u_" + secrets.token_hex(8), email=clean_email(email), name=name, avatar_url=None,
                    created_at=int(time.time()))
        try:
            with self._db(write=True) as db:
                db.execute(
                    "INSERT INTO users (id, email, email_key, name, password, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (user.id, user.email, key, user.name, password_hash, user.created_at),
                )
        except sqlite3.IntegrityError:
            raise DuplicateError("an account with this email already exists") from None
        return user

    def get_user(self, user_id: str) -> User | None:
        with self._db() as db:
            row = db.execute(f"SELECT {_USER_COLS} FROM users u WHERE u.id = ?", (user_id,)).fetchone()
        return _user(row) if row else None

    def get_credentials(self, email: str) -> tuple[User, str] | None:
        try:
            key = normalize_email(email)
        except ValidationError:
            return None
        with self._db() as db:
            row = db.execute(f"SELECT {_USER_COLS}, u.password FROM users u WHERE u.email_key = ?", (key,)).fetchone()
        return (_user(row[:5]), row[5]) if row else None

    def list_users(self) -> list[User]:
        with self._db() as db:
            rows = db.execute(f"SELECT {_USER_COLS} FROM users u ORDER BY u.created_at, u.email_key").fetchall()
        return [_user(r) for r in rows]

    def update_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        avatar_url: str | None = None,
    ) -> User:
        """Change the profile; a password changes only through :meth:`set_password`, which revokes sessions."""
        changes: dict[str, str | None] = {"name": name} if name else {}
        if avatar_url is not None:
            changes["avatar_url"] = avatar_url or None  # "" clears it
        with self._db(write=True) as db:
            if changes:
                sets = ", ".join(f"{k} = ?" for k in changes)
                db.execute(f"UPDATE users SET {sets} WHERE id = ?", (*changes.values(), user_id))
            row = db.execute(f"SELECT {_USER_COLS} FROM users u WHERE u.id = ?", (user_id,)).fetchone()
        if row is None:
            raise NotFound(f"no user {user_id}")
        return _user(row)

    def set_password(self, user_id: str, password_hash: str) -> None:
        """Change a password and revoke every session of the user, in one transaction."""
        with self._db(write=True) as db:
            if db.execute("UPDATE users SET password = ? WHERE id = ?", (password_hash, user_id)).rowcount == 0:
                raise NotFound(f"no user {user_id}")
            db.execute("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                       (int(time.time()), user_id))

    # -- sessions -------------------------------------------------------------

    def create_session(self, user_id: str, *, expires_at: int, user_agent: str = "", ip: str = "") -> str:
        sid = secrets.token_urlsafe(32)
        now = int(time.time())
        with self._db(write=True) as db:
            db.execute(
                "INSERT INTO sessions (key, user_id, created_at, last_seen_at, expires_at, user_agent, ip)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_key(sid), user_id, now, now, expires_at, user_agent[:300], ip[:64]),
            )
        return sid

    def get_active_session(self, sid: str, now: int) -> ActiveSession | None:
        with self._db() as db:
            row = db.execute(
                f"SELECT {_SESSION_COLS}, {_USER_COLS} FROM sessions s JOIN users u ON u.id = s.user_id"
                " WHERE s.key = ? AND s.revoked_at IS NULL AND s.expires_at > ?",
                (session_key(sid), now),
            ).fetchone()
        if row is None:
            return None
        return ActiveSession(session=_session(row[:7]), user=_user(row[7:]))

    def extend_session(self, sid: str, *, expires_at: int, now: int) -> None:
        with self._db(write=True) as db:
            db.execute(
                "UPDATE sessions SET expires_at = ?, last_seen_at = ? WHERE key = ? AND revoked_at IS NULL",
                (expires_at, now, session_key(sid)),
            )

    def revoke_session(self, sid: str) -> bool:
        return self._revoke("key = ?", (session_key(sid),)) > 0

    def revoke_session_key(self, user_id: str, key: str) -> bool:
        return self._revoke("key = ? AND user_id = ?", (key, user_id)) > 0

    def revoke_user_sessions(self, user_id: str, *, except_sid: str | None = None) -> int:
        if except_sid is None:
            return self._revoke("user_id = ?", (user_id,))
        return self._revoke("user_id = ? AND key != ?", (user_id, session_key(except_sid)))

    def _revoke(self, where: str, params: tuple[str, ...]) -> int:
        with self._db(write=True) as db:
            cur = db.execute(
                f"UPDATE sessions SET revoked_at = ? WHERE revoked_at IS NULL AND {where}", (int(time.time()), *params)
            )
            return cur.rowcount

    def list_sessions(self, user_id: str, now: int, limit: int = 50) -> list[Session]:
        with self._db() as db:
            rows = db.execute(
                f"SELECT {_SESSION_COLS} FROM sessions s WHERE s.user_id = ? AND s.revoked_at IS NULL"
                " AND s.expires_at > ? ORDER BY s.last_seen_at DESC LIMIT ?",
                (user_id, now, limit),
            ).fetchall()
        return [_session(r) for r in rows]

    def purge_sessions(self, before: int) -> int:
        """Delete sessions that expired or were revoked before ``before``."""
        with self._db(write=True) as db:
            return db.execute(
                "DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ?", (before, before)
            ).rowcount

    # -- apps -----------------------------------------------------------------

    def add_app(self, app: App) -> App:
        if not APP_ID.match(app.id):
            raise ValidationError("an app id is 1-32 lower-case letters, digits, '-' or '_', such as 'notes'")
        if not app.name.strip():
            raise ValidationError("an app needs a name")
        normalize_origin(app.url)
        try:
            with self._db(write=True) as db:
                position = db.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM apps").fetchone()[0]
                db.execute("INSERT INTO apps (id, name, url, position) VALUES (?, ?, ?, ?)",
                           (app.id, app.name.strip(), app.url, position))
        except sqlite3.IntegrityError:
            raise DuplicateError(f"an app with id {app.id!r} is already registered") from None
        return app

    def remove_app(self, app_id: str) -> bool:
        with self._db(write=True) as db:
            return db.execute("DELETE FROM apps WHERE id = ?", (app_id,)).rowcount > 0

    def list_apps(self) -> list[App]:
        with self._db() as db:
            rows = db.execute("SELECT id, name, url FROM apps ORDER BY position").fetchall()
        return [App(*r) for r in rows]
