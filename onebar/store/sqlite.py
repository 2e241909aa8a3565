"""The embedded default store: one SQLite file in WAL mode.

Each thread gets its own connection (SQLite connections are not shared across
threads); writers wait up to ``busy_timeout`` seconds for the lock and then
raise :class:`onebar.exc.StoreBusy`, which the web layer turns into
``503 Retry-After``. ``synchronous=FULL`` makes a committed write survive a
crash of the process or of the machine, so an acknowledged sign-up is kept.
Every worker process of one node opens the same file, so what they share
(sessions, sign-in attempt windows) is shared without another server.

The schema's version is ``PRAGMA user_version``: opening the store applies
the migrations of :mod:`onebar.store.schema` it lacks.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..exc import StoreBusy, StoreError
from . import schema
from .sql import SQLStore, session_key

__all__ = ["SQLiteStore", "session_key"]


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


class SQLiteStore(SQLStore):
    """:class:`onebar.store.Store` on one SQLite file.

    :param path: the database file; its directory must exist and be writable.
    :param busy_timeout: seconds a writer waits for the lock before
        :class:`StoreBusy`.
    :param upgrade: apply missing schema versions now (``False``: leave that
        to :meth:`upgrade`, as ``onebar db upgrade`` does to report them).
    """

    busy_timeout = 5.0
    dialect = "sqlite"
    _integrity_errors = (sqlite3.IntegrityError,)

    def __init__(self, path: str | Path, *, busy_timeout: float | None = None, upgrade: bool = True) -> None:
        self.path = Path(path)
        if busy_timeout is not None:
            self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._holders: weakref.WeakSet[_Holder] = weakref.WeakSet()
        self._create_private()
        self._wal()
        if upgrade:
            self.upgrade()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

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
                    self._committed(False)
                    # Never leave the connection inside a transaction: it would
                    # hold the write lock and block every other writer.
                    if conn.in_transaction:
                        try:
                            conn.execute("ROLLBACK")
                        except sqlite3.Error:
                            pass
                    raise
                self._committed(True)
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

    def _wal(self) -> None:
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

    # -- schema -------------------------------------------------------------

    def schema_version(self) -> int:
        with self._db() as db:
            return int(db.execute("PRAGMA user_version").fetchone()[0])

    def upgrade(self) -> tuple[int, int]:
        """Apply the missing schema versions in one transaction; ``(before, after)``."""
        with self._db(write=True) as db:
            before = int(db.execute("PRAGMA user_version").fetchone()[0])
            if before > schema.latest():
                raise StoreError(f"the database {self.path} has schema version {before}, newer than this "
                                 f"Onebar knows ({schema.latest()}): upgrade Onebar")
            for number, migration in schema.pending(before):
                for statement in migration.statements(self.dialect):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")
        return before, max(before, schema.latest())

    def ping(self) -> None:
        with self._db() as db:
            db.execute("SELECT 1").fetchone()

    def close(self) -> None:
        for holder in list(self._holders):
            holder.conn.close()
        self._holders = weakref.WeakSet()
        self._local = threading.local()
