"""The schema's history: one list of migrations that every backend applies in order.

A database records how many of :data:`MIGRATIONS` it has applied (SQLite in
``PRAGMA user_version``, PostgreSQL in the one-row table ``onebar_schema``)
and applies the rest at start-up, or when ``onebar db upgrade`` runs, inside
one transaction, so a failed upgrade leaves the database as it was.

Adding a schema version is one entry appended to :data:`MIGRATIONS`::

    Migration("users can be disabled", "ALTER TABLE users ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0"),

Write the SQL once, in the common part of both dialects (``TEXT``,
``BIGINT``, ``DOUBLE PRECISION``, ``ALTER TABLE … ADD COLUMN … DEFAULT``,
``CREATE INDEX``); give ``postgresql=`` or ``sqlite=`` only where one engine
needs other words. Statements are separated by ``;``. Never edit an entry
that has shipped: databases out there have already applied it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    #: What the version adds, for ``onebar db upgrade``'s report.
    name: str
    #: SQL both engines accept.
    sql: str
    #: Replaces ``sql`` on PostgreSQL / on SQLite when given.
    postgresql: str | None = None
    sqlite: str | None = None

    def statements(self, dialect: str) -> list[str]:
        text = {"postgresql": self.postgresql, "sqlite": self.sqlite}[dialect] or self.sql
        return [s.strip() for s in text.split(";") if s.strip()]


MIGRATIONS: list[Migration] = [
    # 1: the tables Onebar started with (times are Unix seconds).
    Migration("users, sessions and registered apps", """
        CREATE TABLE users (
            id          TEXT PRIMARY KEY,
            email       TEXT NOT NULL,
            email_key   TEXT NOT NULL UNIQUE,
            name        TEXT NOT NULL,
            avatar_url  TEXT,
            password    TEXT NOT NULL,
            created_at  BIGINT NOT NULL
        );
        CREATE TABLE sessions (
            key          TEXT PRIMARY KEY,
            user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at   BIGINT NOT NULL,
            last_seen_at BIGINT NOT NULL,
            expires_at   BIGINT NOT NULL,
            revoked_at   BIGINT,
            user_agent   TEXT NOT NULL DEFAULT '',
            ip           TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX sessions_user ON sessions(user_id, revoked_at);
        CREATE TABLE apps (
            id         TEXT PRIMARY KEY,
            name       TEXT NOT NULL,
            url        TEXT NOT NULL,
            position   BIGINT NOT NULL
        )
    """),
    # 2: failed sign-ins counted where every worker process sees them.
    Migration("sign-in attempt windows shared by every worker", """
        CREATE TABLE attempts (
            key  TEXT NOT NULL,
            at   DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX attempts_key ON attempts(key, at)
    """),
    # 3: the account lifecycle (verification, disabling, single-use links) and
    # the audit log. An audit line's id is text that sorts in the order lines
    # were written (onebar.store.sql), so db copy moves it unchanged.
    Migration("email verification, disabled accounts, single-use links and the audit log", """
        ALTER TABLE users ADD COLUMN email_verified BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE users ADD COLUMN disabled_at BIGINT;
        ALTER TABLE users ADD COLUMN token_version BIGINT NOT NULL DEFAULT 0;
        CREATE TABLE audit (
            id       TEXT PRIMARY KEY,
            at       BIGINT NOT NULL,
            event    TEXT NOT NULL,
            user_id  TEXT,
            email    TEXT NOT NULL DEFAULT '',
            address  TEXT NOT NULL DEFAULT '',
            app      TEXT NOT NULL DEFAULT '',
            detail   TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX audit_at ON audit(at);
        CREATE INDEX audit_user ON audit(user_id, at)
    """),
    # 4: the cross-site hand-off's one-time codes (onebar.handoff), kept as hashes.
    Migration("one-time hand-off codes for sites on other domains", """
        CREATE TABLE handoff_codes (
            code_hash    TEXT PRIMARY KEY,
            session_key  TEXT NOT NULL,
            origin       TEXT NOT NULL,
            challenge    TEXT NOT NULL,
            expires_at   BIGINT NOT NULL
        );
        CREATE INDEX handoff_codes_expiry ON handoff_codes(expires_at)
    """),
]


def latest() -> int:
    """The schema version this code writes."""
    return len(MIGRATIONS)


def pending(version: int) -> list[tuple[int, Migration]]:
    """``(number, migration)`` still to apply to a database at ``version``."""
    return list(enumerate(MIGRATIONS[version:], start=version + 1))
