"""Fill a service's database with N users and N active sessions, fast.

Rows go straight into SQLite in one transaction (schema from
:class:`onebar.store.SQLiteStore`, so it is the real one), with one shared
password hash, random-looking ids and session keys that are the SHA-256 of a
secret id, exactly as the store keeps them. One million users and sessions
take a few seconds; the database is left in WAL mode like any other::

    python -m bench.datagen /tmp/onebar-1m --users 1000000

:func:`populate` returns a random sample of ``(sid, uid)`` pairs, from which
the benchmarks mint cookies that hit rows spread over the whole table.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from onebar import passwords
from onebar.store import App, SQLiteStore

#: The password of every generated user.
PASSWORD = "bench-password-123"
_BATCH = 50_000


def populate(database: str | Path, users: int, *, sample: int = 1000, seed: int = 1,
             apps: tuple[App, ...] = ()) -> list[tuple[str, str]]:
    """Add ``users`` users, each with one session valid for a day, and ``apps``.

    Returns up to ``sample`` ``(sid, uid)`` pairs chosen at random.
    """
    store = SQLiteStore(database)  # creates the schema
    for app in apps:
        store.add_app(app)
    start = store.list_users()
    store.close()
    if start:
        raise ValueError(f"{database} already has users; populate an empty database")

    rng = random.Random(seed)
    picked = set(rng.sample(range(users), min(sample, users)))
    chosen: list[tuple[str, str]] = []
    pw_hash = passwords.hash_password(PASSWORD)
    now = int(time.time())
    expires = now + 24 * 3600

    def rows() -> Iterator[tuple[tuple[object, ...], tuple[object, ...]]]:
        for i in range(users):
            uid = f"u_{rng.getrandbits(64):016x}"
            sid = base64.urlsafe_b64encode(rng.randbytes(32)).rstrip(b"=").decode()
            email = f"user{i}@example.com"
            if i in picked:
                chosen.append((sid, uid))
            yield ((uid, email, email, f"User {i}", pw_hash, now),
                   (hashlib.sha256(sid.encode()).hexdigest(), uid, now, now, expires, "bench", "127.0.0.1"))

    conn = sqlite3.connect(database, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")  # one big load: no WAL copy, WAL again below
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")  # 256 MiB while loading
        conn.execute("BEGIN")
        batch: list[tuple[tuple[object, ...], tuple[object, ...]]] = []
        for pair in rows():
            batch.append(pair)
            if len(batch) == _BATCH:
                _flush(conn, batch)
        _flush(conn, batch)
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()
    return chosen


def _flush(conn: sqlite3.Connection, batch: list[tuple[tuple[object, ...], tuple[object, ...]]]) -> None:
    conn.executemany("INSERT INTO users (id, email, email_key, name, password, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                     [u for u, _ in batch])
    conn.executemany("INSERT INTO sessions (key, user_id, created_at, last_seen_at, expires_at, user_agent, ip)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?)", [s for _, s in batch])
    batch.clear()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.datagen", description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--users", type=int, default=10_000)
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    populate(args.data_dir / "onebar.sqlite3", args.users)
    print(f"{args.users} users and sessions in {time.perf_counter() - started:.1f} s -> {args.data_dir}")


if __name__ == "__main__":
    main()
