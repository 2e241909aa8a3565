"""The store on PostgreSQL, for many service nodes: psycopg 3 with a connection pool.

Every wait is bounded, so a PostgreSQL that is down, slow or saturated turns
into :class:`onebar.exc.StoreBusy` / :class:`onebar.exc.StoreError` (the web
layer answers ``503`` with ``Retry-After``), never into a hung request:

- ``connect_timeout``: seconds to open one connection;
- ``statement_timeout`` and ``lock_timeout``: seconds one statement may run
  or wait for a row or table lock (set on every connection);
- ``pool_timeout``: seconds a request waits for a free pooled connection.

A connection that has been idle for more than ``check_after`` seconds is
checked (one round trip) as it leaves the pool and replaced if dead; one in
use a moment ago is known good and skips the check, which would cost a busy
``/api/me`` a third of its speed. A connection that breaks in use fails that
one request (503) and is discarded. So when PostgreSQL comes back after a
restart the service carries on by itself (``reconnect_timeout`` bounds one
round of the pool's reconnection attempts; the next request starts another).

The schema's version lives in the one-row table ``onebar_schema``; upgrades
run under an advisory lock, so nodes starting together apply each one once.

Example::

    store = PostgresStore("postgresql://onebar:secret@db.internal/onebar")
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool, PoolTimeout

from ..exc import StoreBusy, StoreError
from ..urls import mask_password
from . import schema
from .sql import SQLStore

#: pg_advisory_xact_lock key of schema upgrades ("onebar" as a number).
_UPGRADE_LOCK = 0x6F6E65626172

#: Errors that mean "try again shortly", not "broken".
_BUSY = (errors.QueryCanceled, errors.LockNotAvailable, errors.SerializationFailure, errors.DeadlockDetected,
         errors.TooManyConnections)


class _Conn:
    """One pooled connection in a transaction, speaking the shared ``?`` SQL."""

    __slots__ = ("conn",)

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self.conn.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(sql.replace("?", "%s"), rows)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class PostgresStore(SQLStore):
    """:class:`onebar.store.Store` on PostgreSQL.

    :param url: ``postgresql://user:password@host:port/dbname`` (libpq's URL;
        ``?sslmode=require`` and the like pass through). The password is never
        logged: messages show the URL with it masked.
    :param upgrade: apply missing schema versions now.
    """

    connect_timeout = 3
    statement_timeout = 5.0
    lock_timeout = 5.0
    pool_timeout = 3.0
    pool_min = 1
    pool_max = 10
    reconnect_timeout = 5.0
    check_after = 1.0
    dialect = "postgresql"
    _integrity_errors = (psycopg.IntegrityError,)

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: int | None = None,
        statement_timeout: float | None = None,
        lock_timeout: float | None = None,
        pool_timeout: float | None = None,
        pool_max: int | None = None,
        upgrade: bool = True,
    ) -> None:
        for name, value in (("connect_timeout", connect_timeout), ("statement_timeout", statement_timeout),
                            ("lock_timeout", lock_timeout), ("pool_timeout", pool_timeout), ("pool_max", pool_max)):
            if value is not None:
                setattr(self, name, value)
        self.url = url
        self.where = mask_password(url)
        self._kwargs = {
            "connect_timeout": max(1, int(self.connect_timeout)),
            "application_name": "onebar",
            # Reads are one statement each: in autocommit they cost one round
            # trip instead of three (BEGIN, the query, COMMIT). Writes open a
            # transaction of their own (_db(write=True)).
            "autocommit": True,
            "options": f"-c statement_timeout={int(self.statement_timeout * 1000)}"
                       f" -c lock_timeout={int(self.lock_timeout * 1000)}",
        }
        # One direct connection first: a wrong URL, password or database is
        # one clear error at start-up, not a pool retrying in the background.
        try:
            psycopg.connect(url, **self._kwargs).close()  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {self.where}: {_first_line(exc)}") from None
        except Exception as exc:  # noqa: BLE001 - libpq's URL parser raises ProgrammingError and the like
            raise StoreError(f"cannot use the database URL {self.where}: {_first_line(exc)}") from None
        #: When each pooled connection last finished a transaction without error.
        self._last_good: weakref.WeakKeyDictionary[psycopg.Connection[Any], float] = weakref.WeakKeyDictionary()
        self._pool = ConnectionPool(
            url, kwargs=self._kwargs, min_size=self.pool_min, max_size=self.pool_max, timeout=self.pool_timeout,
            reconnect_timeout=self.reconnect_timeout, check=self._check_if_idle, open=False, name="onebar",
        )
        self._pool.open(wait=False)
        if upgrade:
            try:
                self.upgrade()
            except BaseException:
                self.close()
                raise

    def __repr__(self) -> str:
        return f"PostgresStore({self.where!r})"

    # -- plumbing ---------------------------------------------------------

    def _check_if_idle(self, conn: psycopg.Connection[Any]) -> None:
        last = self._last_good.get(conn)
        if last is None or time.monotonic() - last > self.check_after:
            ConnectionPool.check_connection(conn)

    @contextmanager
    def _db(self, write: bool = False) -> Iterator[_Conn]:
        try:
            with self._pool.connection() as conn:
                if write:
                    try:
                        with conn.transaction():
                            yield _Conn(conn)
                    except BaseException:
                        self._committed(False)
                        raise
                    self._committed(True)
                else:
                    yield _Conn(conn)
            self._last_good[conn] = time.monotonic()
        except PoolTimeout:
            raise StoreBusy(f"no connection to PostgreSQL at {self.where} within {self.pool_timeout:g} s "
                            "(the server is down, or every connection is busy)") from None
        except _BUSY as exc:
            raise StoreBusy(f"PostgreSQL is busy: {_first_line(exc)}") from None
        except psycopg.IntegrityError:
            raise
        except psycopg.OperationalError as exc:
            raise StoreError(f"lost PostgreSQL at {self.where}: {_first_line(exc)}") from None
        except psycopg.Error as exc:
            raise StoreError(f"database error: {_first_line(exc)}") from None

    def _lock_key(self, db: _Conn, key: str) -> None:
        db.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (key,))

    def _snapshot(self, db: _Conn) -> None:
        db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    # -- schema -------------------------------------------------------------

    def schema_version(self) -> int:
        with self._db() as db:
            if db.execute("SELECT to_regclass('onebar_schema')").fetchone()[0] is None:
                return 0
            return int(db.execute("SELECT version FROM onebar_schema").fetchone()[0])

    def upgrade(self) -> tuple[int, int]:
        """Apply the missing schema versions in one transaction; ``(before, after)``."""
        with self._db(write=True) as db:
            db.execute("SELECT pg_advisory_xact_lock(?)", (_UPGRADE_LOCK,))
            db.execute("CREATE TABLE IF NOT EXISTS onebar_schema (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM onebar_schema").fetchone()
            if row is None:
                db.execute("INSERT INTO onebar_schema (version) VALUES (0)")
            before = int(row[0]) if row else 0
            if before > schema.latest():
                raise StoreError(f"the database at {self.where} has schema version {before}, newer than this "
                                 f"Onebar knows ({schema.latest()}): upgrade Onebar")
            for number, migration in schema.pending(before):
                for statement in migration.statements(self.dialect):
                    db.execute(statement)
                db.execute("UPDATE onebar_schema SET version = ?", (number,))
        return before, max(before, schema.latest())

    def ping(self) -> None:
        with self._db() as db:
            db.execute("SELECT 1").fetchone()

    def close(self) -> None:
        self._pool.close(timeout=1.0)
