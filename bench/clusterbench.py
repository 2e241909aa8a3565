"""Benchmark 8: signed-in ``GET /api/me`` through nginx to two nodes, against one node answering directly.

The many-nodes shape of docs/deploy.md, on one machine: PostgreSQL and Redis
started for the run (``bench/engines.py``), the same 1 000 users as benchmark
7, two ``onebar serve`` nodes behind nginx (``bench/cluster.py``, the
configuration the docs show) and, as the baseline, one more node on the same
database that wrk asks directly. Every process shares the same two cores, so
the ratio says what nginx and a second node cost or gain here, not what a
second machine would add.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from onebar.sessions import SessionCodec

from . import compare, procs
from .cluster import cluster
from .compare import Row, Target
from .datagen import populate
from .engines import PostgresServer, RedisServer
from .me import APPS, MAX_AGE, ORIGIN, USERS
from .stores import seeded_database


def run(workdir: Path, *, connections: Sequence[int], rounds: int, seconds: float,
        progress: Callable[[str], None] = print) -> list[Row]:
    seed, single_dir = workdir / "cluster-seed", workdir / "cluster-single"
    seed.mkdir(parents=True)
    single_dir.mkdir(parents=True)
    keys = procs.new_keys()
    pairs = populate(seed / "onebar.sqlite3", USERS, apps=APPS, sample=1)
    headers = {"Cookie": f"onebar_session={SessionCodec(keys, MAX_AGE).encode(*pairs[0])}", "Origin": ORIGIN}
    pg, rds = PostgresServer(), RedisServer()
    try:
        pg.start()
        rds.start()
        url = seeded_database(pg, seed / "onebar.sqlite3")
        env = {"ONEBAR_DATABASE_URL": url, "ONEBAR_REDIS_URL": rds.url, "ONEBAR_TRUSTED_PROXIES": "1"}
        with procs.service(single_dir, keys, env=env) as single, \
                cluster(workdir / "cluster", keys, nodes=2, env=env) as many:
            for where in (single.url, many.url, many.url):
                status, _, body = procs.get(int(where.rsplit(":", 1)[1]), "/api/me", headers)
                if status != 200 or b'"email"' not in body:
                    raise RuntimeError(f"{where}/api/me does not sign in ({status}); the benchmark would "
                                       "measure the wrong path")
            subject, baseline = Target(many.url + "/api/me", headers), Target(single.url + "/api/me", headers)
            compare.warm_up(baseline, subject)
            progress("/api/me signed in: two nodes behind nginx vs one node directly, on PostgreSQL")
            return compare.measure("signed in", subject, baseline, connections=connections, rounds=rounds,
                                   seconds=seconds, progress=progress)
    finally:
        rds.destroy()
        pg.destroy()


def markdown(rows: list[Row], command: str) -> str:
    from .report import comparison_table, stamp

    out = ["## 8. Many nodes: two nodes behind nginx against one node", "",
           "Signed-in `GET /api/me` (a valid cookie, `Origin` of a registered app) over the same "
           f"{USERS:,} users on PostgreSQL, with Redis for the limits, as docs/deploy.md's many-nodes shape: "
           "two `onebar serve` nodes (granian, 1 worker × 8 threads each) behind nginx with the configuration "
           "the docs show, against one such node that wrk asks directly. Ratio = through nginx req/s ÷ one "
           "node req/s, median of the per-round ratios. nginx, both nodes, PostgreSQL, Redis and wrk share "
           "the same two cores: this measures what the proxy hop and a second process cost or gain on one "
           "machine; on machines of their own, nodes add their cores.", "", stamp(command), ""]
    out.append(comparison_table(rows, "2 nodes via nginx", "1 node"))
    out.append("")
    return "\n".join(out)
