"""Benchmark 5: how ``/api/me`` cost grows with 10, 10 000 and 1 000 000 users.

Each size gets its own database (N users, each with an active session, made by
:mod:`bench.datagen`) and its own service. wrk cycles through cookies of up
to 1 000 sessions picked at random over the whole table, so lookups land on
pages spread across the file rather than one hot row. The smallest size is
the baseline: a lookup that scans would show as a ratio far above 1.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from onebar.sessions import SessionCodec

from . import loadgen, procs
from .datagen import populate
from .loadgen import Request, Result
from .me import APPS, MAX_AGE, ORIGIN

SIZES = (10, 10_000, 1_000_000)


@dataclass
class ScaleRow:
    users: int
    build_seconds: float
    file_mb: float
    latency: list[Result] = field(default_factory=list)  # 1 connection
    load: list[Result] = field(default_factory=list)  # 16 connections

    @property
    def p50_ms(self) -> float:
        return statistics.median(r.p50_ms for r in self.latency)

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.p99_ms for r in self.latency)

    @property
    def rps(self) -> float:
        return statistics.median(r.rps for r in self.load)

    @property
    def load_p99_ms(self) -> float:
        return statistics.median(r.p99_ms for r in self.load)

    @property
    def failures(self) -> int:
        return sum(r.socket_errors + r.non_2xx_3xx for r in (*self.latency, *self.load))


def ratios(rows: Sequence[ScaleRow]) -> list[tuple[float, float]]:
    """Per row: (p50 latency ÷ smallest's, req/s ÷ smallest's), medians of per-round ratios."""
    first = rows[0]
    out = []
    for row in rows:
        lat = statistics.median(r.p50_ms / f.p50_ms for r, f in zip(row.latency, first.latency))
        thr = statistics.median(r.rps / f.rps for r, f in zip(row.load, first.load))
        out.append((lat, thr))
    return out


def run(workdir: Path, *, sizes: Sequence[int] = SIZES, rounds: int, seconds: float,
        progress: Callable[[str], None] = print) -> list[ScaleRow]:
    rows: list[ScaleRow] = []
    servers: list[procs.ChildServer] = []
    targets: list[list[Request]] = []
    with ExitStack() as stack:
        for n in sizes:
            data = workdir / f"scale-{n}"
            data.mkdir(parents=True)
            keys = procs.new_keys()
            started = time.perf_counter()
            pairs = populate(data / "onebar.sqlite3", n, apps=APPS, sample=1000)
            built = time.perf_counter() - started
            size_mb = (data / "onebar.sqlite3").stat().st_size / 2**20
            progress(f"  {n:,} users and sessions generated in {built:.1f} s ({size_mb:,.0f} MB)")
            codec = SessionCodec(keys, MAX_AGE)
            targets.append([Request("GET", "/api/me", {"Cookie": f"onebar_session={codec.encode(*p)}",
                                                       "Origin": ORIGIN}) for p in pairs])
            server = stack.enter_context(procs.service(data, keys))
            user = procs.get_json(server.port, "/api/me", dict(targets[-1][0].headers))
            if not isinstance(user, dict) or user.get("user") is None:
                raise RuntimeError(f"a generated cookie does not sign in on the {n}-user service")
            servers.append(server)
            rows.append(ScaleRow(n, built, size_mb))
        for server, reqs in zip(servers, targets):  # touch every sampled row once
            loadgen.run(server.url + "/api/me", connections=4, seconds=1, requests=reqs)
        for i in range(rounds):
            for row, server, reqs in zip(rows, servers, targets):
                row.latency.append(loadgen.run(server.url + "/api/me", connections=1, seconds=seconds,
                                               requests=reqs))
                row.load.append(loadgen.run(server.url + "/api/me", connections=16, seconds=seconds,
                                            requests=reqs))
                progress(f"  {row.users:,} users, round {i + 1}/{rounds}: p50 {row.latency[-1].p50_ms:.2f} ms,"
                         f" {row.load[-1].rps:,.0f} req/s at 16 conn")
    return rows


def markdown(rows: Sequence[ScaleRow], command: str) -> str:
    from .report import ms, num, stamp, table

    rel = ratios(rows)
    smallest = f"{rows[0].users:,}-user"
    return "\n".join([
        "## 5. How cost grows with the number of users and sessions", "",
        "Signed-in `GET /api/me` through `onebar serve`, one service per database; wrk cycles through cookies "
        "of up to 1 000 sessions picked at random. Latency at 1 connection, throughput at 16. Ratios are "
        f"against the {smallest} database, medians of per-round ratios: near 1.0 means nothing scans.", "",
        stamp(command), "",
        table(["users + sessions", "database", "made in", "p50 ms (1 conn)", "p99 ms (1 conn)", "req/s (16 conn)",
               "p99 ms (16 conn)", f"p50 ÷ {smallest}", f"req/s ÷ {smallest}"],
              [[num(r.users), f"{r.file_mb:,.0f} MB", f"{r.build_seconds:.1f} s", ms(r.p50_ms), ms(r.p99_ms),
                num(r.rps), ms(r.load_p99_ms), f"**{lat:.2f}**", f"**{thr:.2f}**"]
               + ([] if not r.failures else ["⚠ errors"])
               for r, (lat, thr) in zip(rows, rel)]),
        "",
        "Every query on this path is a primary-key or unique-index lookup (`sessions.key`, `users.id`); "
        "`tests/bench/test_query_plans.py` checks the store's query plans so a scan cannot slip in unseen.",
        ""])
