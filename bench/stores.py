"""Benchmark 7: signed-in ``GET /api/me`` with the store on PostgreSQL, against SQLite.

The same data (1 000 users, each with a session) in both stores: populated in
SQLite, then copied to a PostgreSQL server started for the run (loopback,
``initdb`` in a temp dir, ``fsync=off``, stopped afterwards) as ``onebar db
copy`` does. Two ``onebar serve`` processes with the same keys, one per
store, answer the same cookie; the baseline of this ratio is the SQLite one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from pathlib import Path

from onebar.sessions import SessionCodec
from onebar.store import SQLiteStore, open_url

from . import compare, procs
from .compare import Row, Target
from .datagen import populate
from .engines import PostgresServer
from .me import APPS, MAX_AGE, ORIGIN, USERS, same_answer


def run(workdir: Path, *, connections: Sequence[int], rounds: int, seconds: float,
        progress: Callable[[str], None] = print) -> list[Row]:
    lite_dir, pg_dir = workdir / "store-sqlite", workdir / "store-postgresql"
    lite_dir.mkdir(parents=True)
    pg_dir.mkdir(parents=True)
    keys = procs.new_keys()
    pairs = populate(lite_dir / "onebar.sqlite3", USERS, apps=APPS, sample=1)
    headers = {"Cookie": f"onebar_session={SessionCodec(keys, MAX_AGE).encode(*pairs[0])}", "Origin": ORIGIN}
    pg = PostgresServer()
    try:
        pg.start()
        url = seeded_database(pg, lite_dir / "onebar.sqlite3")
        with procs.service(lite_dir, keys) as lite, \
                procs.service(pg_dir, keys, env={"ONEBAR_DATABASE_URL": url}) as served:
            if same_answer(served, lite, headers)["user"] is None:
                raise RuntimeError("the cookie does not sign in; the benchmark would measure the wrong path")
            subject, baseline = Target(served.url + "/api/me", headers), Target(lite.url + "/api/me", headers)
            compare.warm_up(baseline, subject)
            progress("/api/me signed in: onebar serve on PostgreSQL vs on SQLite")
            return compare.measure("signed in", subject, baseline, connections=connections, rounds=rounds,
                                   seconds=seconds, progress=progress)
    finally:
        pg.destroy()


def seeded_database(pg: PostgresServer, sqlite_path: Path) -> str:
    """A new database on ``pg`` holding what the SQLite file holds (as ``onebar db copy`` copies): its URL."""
    url = pg.create_database("bench_" + secrets.token_hex(4))
    source, target = SQLiteStore(sqlite_path), open_url(url)
    try:
        target.replace_rows(list(source.export_rows()))
    finally:
        source.close()
        target.close()
    return url


def markdown(rows: list[Row], command: str) -> str:
    from .report import comparison_table, stamp

    out = ["## 7. Signed-in `GET /api/me` with the store on PostgreSQL", "",
           "The same service (`onebar serve`: granian, 1 worker × 8 threads) over the same "
           f"{USERS:,} users, once on the embedded SQLite file and once on PostgreSQL "
           "(a local server started for the run, psycopg 3 with a pool of up to 10 connections). "
           "Ratio = PostgreSQL req/s ÷ SQLite req/s, median of the per-round ratios. A signed-in `/api/me` "
           "is one indexed read; on PostgreSQL it is one round trip (reads run in autocommit, and a pooled "
           "connection used within the last second skips the pool's liveness check).", "", stamp(command), ""]
    out.append(comparison_table(rows, "PostgreSQL", "SQLite"))
    out.append("")
    return "\n".join(out)
