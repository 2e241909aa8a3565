"""What both SQL stores say: the queries behind :class:`onebar.store.Store`.

:class:`SQLStore` holds every query, written once with ``?`` placeholders
in the SQL both engines share. A backend supplies the plumbing:

- ``_db(write)``: a context manager giving one transaction (``write`` takes the
  write lock up front where the engine has one) whose ``execute(sql, params)``
  returns a DB-API cursor, and whose ``executemany`` inserts many rows; it
  turns engine errors into :class:`StoreBusy` / :class:`StoreError` and lets
  the engine's integrity errors through for the callers below.
- ``_integrity_errors``: those integrity error classes.
- ``_lock_key(db, key)``: serialise writers of one attempt window (SQLite's
  write transaction already does); ``_snapshot(db)``: one snapshot for a
  whole transaction's reads.

Secret session ids are never stored: a session row is keyed by the SHA-256 of
its id, so a copy of the database cannot be turned into cookies.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from ..exc import DuplicateError, NotFound, ValidationError
from ..tokens import INVITE
from .base import (APP_ID, APPS_CHANGED, PROFILE_CHANGED, SESSION_ENDED, ActiveSession, App, AuditEvent, Backchannel,
                   Event, HandoffCode, Session, User, check_backchannel_url, clean_email, normalize_email,
                   normalize_origin)

_USER_COLS = "u.id, u.email, u.name, u.avatar_url, u.created_at, u.email_verified, u.disabled_at"
_NUSER = 7  # columns in _USER_COLS
_SESSION_COLS = "s.key, s.user_id, s.created_at, s.last_seen_at, s.expires_at, s.user_agent, s.ip"

#: The tables ``onebar db copy`` moves, parents before children. A migration
#: that adds a table worth moving appends it here.
COPIED_TABLES = ("users", "sessions", "apps", "audit", "invites")


def session_key(sid: str) -> str:
    """The stored, showable handle of a secret session id."""
    return hashlib.sha256(sid.encode()).hexdigest()


def _user(row: Any) -> User:
    return User(id=row[0], email=row[1], name=row[2], avatar_url=row[3], created_at=row[4],
                email_verified=bool(row[5]), disabled_at=row[6])


def _nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def _audit_id() -> str:
    """A new audit line's id: text that sorts in the order lines were written
    (nanoseconds, then random), so ``db copy`` moves it as it is on both engines."""
    return f"{time.time_ns():020d}{secrets.token_hex(4)}"


#: Events stay at least this long (seconds), so a bar that reconnects after a
#: short gap replays what it missed instead of asking ``/api/me`` again.
EVENT_KEEP = 3600


def _session(row: Any) -> Session:
    return Session(*row)


class SQLStore:
    """The queries of :class:`onebar.store.Store`; subclasses bring the connection."""

    _integrity_errors: tuple[type[Exception], ...] = ()
    #: Called with no arguments after a transaction that recorded events
    #: commits (never inside it): with ``redis_url``, a wake-up published to
    #: every node's stream process (onebar.live.publisher; open_store sets it).
    on_events: Callable[[], None] | None = None
    _recorded = threading.local()

    def _committed(self, ok: bool) -> None:
        """Backends call this when a write transaction ends: tell ``on_events`` if it recorded events."""
        recorded = getattr(self._recorded, "flag", False)
        self._recorded.flag = False
        if ok and recorded and self.on_events is not None:
            self.on_events()

    def _db(self, write: bool = False) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _lock_key(self, db: Any, key: str) -> None:
        """Make concurrent writers of one attempt window wait for each other."""

    def _snapshot(self, db: Any) -> None:
        """Make every read of this write transaction see one snapshot (SQLite's already does)."""

    def _record(self, db: Any, kind: str, rows: list[tuple[str | None, str | None]]) -> None:
        """Append ``kind`` events, one per ``(user_id, session_key)``, in the caller's transaction.

        Writers of events queue on one lock until they commit, so ids are
        handed out in commit order and a reader that asks for "after id N"
        never skips a row committed late (SQLite's write lock already does
        this; PostgreSQL takes a transaction advisory lock).
        """
        if not rows:
            return
        self._lock_key(db, "onebar.events")
        self._recorded.flag = True
        now = int(time.time())
        db.executemany("INSERT INTO events (at, kind, user_id, session_key, data) VALUES (?, ?, ?, ?, ?)",
                       [(now, kind, user_id, key, "{}") for user_id, key in rows])

    def _end_sessions(self, db: Any, where: str, params: tuple[Any, ...]) -> int:
        """Revoke the live sessions matching ``where`` and record one ``session_ended`` each."""
        ended = db.execute(
            f"UPDATE sessions SET revoked_at = ? WHERE revoked_at IS NULL AND {where} RETURNING user_id, key",
            (int(time.time()), *params),
        ).fetchall()  # read to the end: SQLite finishes a RETURNING statement only then
        self._record(db, SESSION_ENDED, [(r[0], r[1]) for r in ended])
        return len(ended)

    # -- users --------------------------------------------------------------

    def create_user(self, email: str, name: str, password_hash: str, *, invite: str | None = None) -> User:
        """A new account; with ``invite``, the pending invitation for ``email`` with that nonce is
        used up in the same transaction (:class:`NotFound` if there is none: used, replaced or
        withdrawn), so one invitation makes one account, once."""
        key = normalize_email(email)
        user = User(id="u_" + secrets.token_hex(8), email=clean_email(email), name=name, avatar_url=None,
                    created_at=int(time.time()))
        try:
            with self._db(write=True) as db:
                if invite is not None and not db.execute(
                        "DELETE FROM invites WHERE email_key = ? AND nonce_hash = ?",
                        (key, _nonce_hash(invite))).rowcount:
                    raise NotFound("this invitation has been used or replaced")
                db.execute(
                    "INSERT INTO users (id, email, email_key, name, password, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (user.id, user.email, key, user.name, password_hash, user.created_at),
                )
        except self._integrity_errors:
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
        return (_user(row[:_NUSER]), row[_NUSER]) if row else None

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
                if db.execute(f"UPDATE users SET {sets} WHERE id = ?", (*changes.values(), user_id)).rowcount:
                    self._record(db, PROFILE_CHANGED, [(user_id, None)])
            row = db.execute(f"SELECT {_USER_COLS} FROM users u WHERE u.id = ?", (user_id,)).fetchone()
        if row is None:
            raise NotFound(f"no user {user_id}")
        return _user(row)

    def set_password(self, user_id: str, password_hash: str) -> None:
        """Change a password and revoke every session of the user, in one transaction.

        Bumps the token version, so a password reset link works once.
        """
        with self._db(write=True) as db:
            if db.execute("UPDATE users SET password = ?, token_version = token_version + 1 WHERE id = ?",
                          (password_hash, user_id)).rowcount == 0:
                raise NotFound(f"no user {user_id}")
            self._end_sessions(db, "user_id = ?", (user_id,))

    def get_user_by_email(self, email: str) -> User | None:
        found = self.get_credentials(email)
        return found[0] if found else None

    def get_token_version(self, user_id: str) -> int | None:
        with self._db() as db:
            row = db.execute("SELECT token_version FROM users WHERE id = ?", (user_id,)).fetchone()
        return int(row[0]) if row else None

    def set_email(self, user_id: str, email: str) -> User:
        """Change the email: it is unverified again, and older signed links die."""
        key = normalize_email(email)
        try:
            with self._db(write=True) as db:
                changed = db.execute(
                    "UPDATE users SET email = ?, email_key = ?, email_verified = 0, token_version = token_version + 1"
                    " WHERE id = ?", (clean_email(email), key, user_id)).rowcount
                if changed:
                    self._record(db, PROFILE_CHANGED, [(user_id, None)])
        except self._integrity_errors:
            raise DuplicateError("an account with this email already exists") from None
        if not changed:
            raise NotFound(f"no user {user_id}")
        return self.get_user(user_id)  # type: ignore[return-value]

    def mark_email_verified(self, user_id: str, email: str) -> bool:
        """Mark ``email`` verified if it is still the user's address."""
        try:
            key = normalize_email(email)
        except ValidationError:
            return False
        with self._db(write=True) as db:
            return int(db.execute("UPDATE users SET email_verified = 1 WHERE id = ? AND email_key = ?",
                                  (user_id, key)).rowcount) > 0

    def set_disabled(self, user_id: str, disabled: bool) -> bool:
        """Disable (and revoke every session, in one transaction) or enable an account."""
        now = int(time.time())
        with self._db(write=True) as db:
            changed = int(db.execute("UPDATE users SET disabled_at = ? WHERE id = ?",
                                     (now if disabled else None, user_id)).rowcount)
            if disabled:
                self._end_sessions(db, "user_id = ?", (user_id,))
        return changed > 0

    def delete_user(self, user_id: str) -> bool:
        """Delete an account, its sessions and any invitation to its address; its audit lines stay."""
        with self._db(write=True) as db:
            gone = db.execute("DELETE FROM sessions WHERE user_id = ? RETURNING key, revoked_at", (user_id,)).fetchall()
            self._record(db, SESSION_ENDED, [(user_id, r[0]) for r in gone if r[1] is None])
            db.execute("DELETE FROM invites WHERE email_key IN (SELECT email_key FROM users WHERE id = ?)", (user_id,))
            return int(db.execute("DELETE FROM users WHERE id = ?", (user_id,)).rowcount) > 0

    # -- invitations -------------------------------------------------------------

    def create_invite(self, email: str) -> str:
        """A new invitation nonce for ``email`` (for the signed link); it replaces any older one,
        so only the newest invitation to an address works. Only its hash is stored."""
        nonce = secrets.token_urlsafe(16)
        with self._db(write=True) as db:
            db.execute(
                "INSERT INTO invites (email_key, nonce_hash, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (email_key) DO UPDATE SET nonce_hash = excluded.nonce_hash,"
                " created_at = excluded.created_at",
                (normalize_email(email), _nonce_hash(nonce), int(time.time())),
            )
        return nonce

    def invite_pending(self, email: str, nonce: str) -> bool:
        """Whether the invitation to ``email`` with ``nonce`` is still unused and the newest one."""
        try:
            key = normalize_email(email)
        except ValidationError:
            return False
        with self._db() as db:
            return db.execute("SELECT 1 FROM invites WHERE email_key = ? AND nonce_hash = ?",
                              (key, _nonce_hash(nonce))).fetchone() is not None

    # -- sessions -------------------------------------------------------------

    def create_session(self, user_id: str, *, expires_at: int, user_agent: str = "", ip: str = "",
                       keep: int | None = None) -> str:
        sid = secrets.token_urlsafe(32)
        now = int(time.time())
        with self._db(write=True) as db:
            db.execute(
                "INSERT INTO sessions (key, user_id, created_at, last_seen_at, expires_at, user_agent, ip)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_key(sid), user_id, now, now, expires_at, user_agent[:300], ip[:64]),
            )
            if keep is not None:
                # This session and the account's keep - 1 most recently used others stay; the
                # rest end here, in the same transaction, each recorded as any ended session is.
                key = session_key(sid)
                self._end_sessions(db, "user_id = ? AND key != ? AND expires_at > ? AND key NOT IN ("
                                   "SELECT key FROM sessions WHERE user_id = ? AND key != ? AND revoked_at IS NULL"
                                   " AND expires_at > ? ORDER BY last_seen_at DESC, created_at DESC LIMIT ?)",
                                   (user_id, key, now, user_id, key, now, keep - 1))
        return sid

    def get_active_session(self, sid: str, now: int) -> ActiveSession | None:
        with self._db() as db:
            row = db.execute(
                f"SELECT {_SESSION_COLS}, {_USER_COLS} FROM sessions s JOIN users u ON u.id = s.user_id"
                " WHERE s.key = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND u.disabled_at IS NULL",
                (session_key(sid), now),
            ).fetchone()
        if row is None:
            return None
        return ActiveSession(session=_session(row[:7]), user=_user(row[7:]))

    def get_active_session_by_key(self, key: str, now: int) -> ActiveSession | None:
        """The live session whose public handle is ``key`` (a site credential names it this way)."""
        with self._db() as db:
            row = db.execute(
                f"SELECT {_SESSION_COLS}, {_USER_COLS} FROM sessions s JOIN users u ON u.id = s.user_id"
                " WHERE s.key = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND u.disabled_at IS NULL",
                (key, now),
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
            return self._end_sessions(db, where, params)

    def list_sessions(self, user_id: str, now: int, limit: int = 50) -> list[Session]:
        with self._db() as db:
            rows = db.execute(
                f"SELECT {_SESSION_COLS} FROM sessions s WHERE s.user_id = ? AND s.revoked_at IS NULL"
                " AND s.expires_at > ? ORDER BY s.last_seen_at DESC LIMIT ?",
                (user_id, now, limit),
            ).fetchall()
        return [_session(r) for r in rows]

    def purge_sessions(self, before: int) -> int:
        """Delete sessions that expired or were revoked before ``before``, attempts older than
        a day before it, invitations whose links had expired by then, and events older than
        it (but never younger than :data:`EVENT_KEEP`)."""
        with self._db(write=True) as db:
            db.execute("DELETE FROM attempts WHERE at < ?", (before - 24 * 3600,))
            db.execute("DELETE FROM invites WHERE created_at < ?", (before - INVITE[1],))
            db.execute("DELETE FROM events WHERE at < ?", (min(before, int(time.time()) - EVENT_KEEP),))
            return int(db.execute(
                "DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ?", (before, before)
            ).rowcount)

    # -- the audit log ----------------------------------------------------------

    def add_audit(self, event: AuditEvent) -> None:
        with self._db(write=True) as db:
            db.execute(
                "INSERT INTO audit (id, at, event, user_id, email, address, app, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (_audit_id(), event.at, event.event, event.user_id, event.email[:320], event.address[:64],
                 event.app[:64], event.detail[:200]),
            )

    def list_audit(
        self, *, user_id: str | None = None, email: str | None = None, since: int | None = None, limit: int = 100
    ) -> list[AuditEvent]:
        """The newest ``limit`` events, oldest first.

        Given both ``user_id`` and ``email``, a line matches either: an account's
        lines from before its email changed, and those that name only the address.
        """
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        who: list[str] = []
        if user_id is not None:
            who.append("user_id = ?")
            params.append(user_id)
        if email is not None:
            # LOWER on both sides: each engine folds case the same way for the
            # column and the argument (SQLite ASCII only, PostgreSQL Unicode).
            who.append("LOWER(email) = LOWER(?)")
            try:
                params.append(clean_email(email))
            except ValidationError:
                params.append(email.strip())
        if who:
            where.append(f"({' OR '.join(who)})")
        if since is not None:
            where.append("at >= ?")
            params.append(since)
        with self._db() as db:
            rows = db.execute(
                "SELECT event, at, user_id, email, address, app, detail FROM audit"
                f" WHERE {' AND '.join(where)} ORDER BY at DESC, id DESC LIMIT ?", (*params, limit)
            ).fetchall()
        return [AuditEvent(*r) for r in reversed(rows)]

    # -- the event log ---------------------------------------------------------------

    def events_after(self, after_id: int, limit: int = 500) -> list[Event]:
        """Up to ``limit`` events with an id above ``after_id``, oldest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT id, at, kind, user_id, session_key, data FROM events WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [Event(id=int(r[0]), at=int(r[1]), kind=r[2], user_id=r[3], session_key=r[4], data=json.loads(r[5]))
                for r in rows]

    def last_event_id(self) -> int:
        """The newest event's id (0 when there is none): where a new reader starts."""
        with self._db() as db:
            return int(db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])

    # -- one-time hand-off codes ------------------------------------------------

    def create_handoff_code(
        self, code_hash: str, *, session_key: str, origin: str, challenge: str, expires_at: int
    ) -> None:
        with self._db(write=True) as db:
            db.execute(
                "INSERT INTO handoff_codes (code_hash, session_key, origin, challenge, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (code_hash, session_key, origin, challenge, expires_at),
            )

    def take_handoff_code(self, code_hash: str, now: int) -> HandoffCode | None:
        """Delete the code and return it if it had not expired: one statement, so two
        concurrent redemptions of one code cannot both get it. Expired codes go too."""
        with self._db(write=True) as db:
            rows = db.execute(
                "DELETE FROM handoff_codes WHERE code_hash = ?"
                " RETURNING session_key, origin, challenge, expires_at",
                (code_hash,),
            ).fetchall()  # read to the end: SQLite finishes a RETURNING statement only then
            row = rows[0] if rows else None
            db.execute("DELETE FROM handoff_codes WHERE expires_at <= ?", (now,))
        if row is None or int(row[3]) <= now:
            return None
        return HandoffCode(session_key=row[0], origin=row[1], challenge=row[2], expires_at=int(row[3]))

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
                self._record(db, APPS_CHANGED, [(None, None)])
        except self._integrity_errors:
            raise DuplicateError(f"an app with id {app.id!r} is already registered") from None
        return app

    def remove_app(self, app_id: str) -> bool:
        with self._db(write=True) as db:
            removed = int(db.execute("DELETE FROM apps WHERE id = ?", (app_id,)).rowcount) > 0
            if removed:
                self._record(db, APPS_CHANGED, [(None, None)])
            return removed

    def list_apps(self) -> list[App]:
        with self._db() as db:
            rows = db.execute("SELECT id, name, url FROM apps ORDER BY position").fetchall()
        return [App(*r) for r in rows]

    def set_backchannel(self, app_id: str, url: str | None, secret: str | None = None) -> bool:
        """Where the service POSTs logout tokens for ``app_id`` (:mod:`onebar.backchannel`),
        signed with ``secret``; ``url=None`` removes it. False: no such app."""
        with self._db(write=True) as db:
            row = db.execute("SELECT url FROM apps WHERE id = ?", (app_id,)).fetchone()
            if row is None:
                return False
            if url is not None:
                check_backchannel_url(url, normalize_origin(row[0]))
                if not secret or len(secret) < 32:
                    raise ValidationError("a back-channel needs a secret of at least 32 characters")
            else:
                secret = None
            db.execute("UPDATE apps SET backchannel_url = ?, backchannel_secret = ? WHERE id = ?",
                       (url, secret, app_id))
            return True

    def list_backchannels(self) -> list[Backchannel]:
        with self._db() as db:
            rows = db.execute("SELECT id, url, backchannel_url, backchannel_secret FROM apps"
                              " WHERE backchannel_url IS NOT NULL ORDER BY position").fetchall()
        return [Backchannel(app_id=r[0], origin=normalize_origin(r[1]), url=r[2], secret=r[3]) for r in rows]

    # -- attempt windows (sign-in limits every worker and node shares) ------------

    def acquire_attempt(self, key: str, limit: int, window: float, now: float, amount: int = 1) -> bool:
        """Record ``amount`` attempts at ``now`` unless ``limit`` are already in the last ``window`` seconds."""
        with self._db(write=True) as db:
            self._lock_key(db, key)
            db.execute("DELETE FROM attempts WHERE key = ? AND at <= ?", (key, now - window))
            count = db.execute("SELECT COUNT(*) FROM attempts WHERE key = ?", (key,)).fetchone()[0]
            if count + amount > limit:
                return False
            db.executemany("INSERT INTO attempts (key, at) VALUES (?, ?)", [(key, now)] * amount)
            return True

    def attempt_window(self, key: str, window: float, now: float) -> tuple[float, int]:
        """``(oldest attempt, number of attempts)`` in the last ``window`` seconds."""
        with self._db() as db:
            oldest, count = db.execute(
                "SELECT MIN(at), COUNT(*) FROM attempts WHERE key = ? AND at > ?", (key, now - window)
            ).fetchone()
        return (now if oldest is None else float(oldest)), int(count)

    def clear_attempts(self, key: str) -> None:
        with self._db(write=True) as db:
            db.execute("DELETE FROM attempts WHERE key = ?", (key,))

    # -- moving a whole store (onebar db copy) --------------------------------------

    def row_counts(self) -> dict[str, int]:
        with self._db() as db:
            return {t: int(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in COPIED_TABLES}

    def export_rows(self) -> Iterator[tuple[str, list[str], list[tuple[Any, ...]]]]:
        """``(table, columns, rows)`` of every copied table, read in one transaction."""
        with self._db(write=True) as db:  # one consistent snapshot on both engines
            self._snapshot(db)
            dumped = []
            for table in COPIED_TABLES:
                cur = db.execute(f"SELECT * FROM {table}")
                rows = [tuple(r) for r in cur.fetchall()]
                dumped.append((table, [d[0] for d in cur.description], rows))
        yield from dumped

    def replace_rows(self, tables: list[tuple[str, list[str], list[tuple[Any, ...]]]]) -> None:
        """Make the copied tables hold exactly ``tables`` (from :meth:`export_rows`), in one transaction."""
        with self._db(write=True) as db:
            for table in reversed(COPIED_TABLES):
                db.execute(f"DELETE FROM {table}")
            for table, columns, rows in tables:
                if table not in COPIED_TABLES or not all(c.isidentifier() for c in columns):
                    raise ValueError(f"not a copied table: {table}")
                if rows:
                    marks = ", ".join("?" for _ in columns)
                    db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
