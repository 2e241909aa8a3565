"""Measure a subject beside its baseline, in interleaved rounds.

The machine is shared and noisy, so no figure stands alone: each round runs
the baseline and then the subject for the same seconds with the same
connections, and a row reports the medians over the rounds and the median of
the per-round ratios (subject / baseline).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import loadgen
from .loadgen import Request, Result


@dataclass
class Side:
    results: list[Result] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return statistics.median(r.rps for r in self.results)

    @property
    def p50_ms(self) -> float:
        return statistics.median(r.p50_ms for r in self.results)

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.p99_ms for r in self.results)

    @property
    def failures(self) -> int:
        """Socket errors and answers that were not 2xx/3xx, over all rounds."""
        return sum(r.socket_errors + r.non_2xx_3xx for r in self.results)


@dataclass
class Row:
    case: str
    connections: int
    subject: Side = field(default_factory=Side)
    baseline: Side = field(default_factory=Side)

    @property
    def ratio(self) -> float:
        """Median over rounds of subject req/s ÷ baseline req/s (1.0 = as fast)."""
        return statistics.median(s.rps / b.rps for s, b in zip(self.subject.results, self.baseline.results))

    @property
    def latency_ratio(self) -> float:
        """Median over rounds of subject p50 ÷ baseline p50 (1.0 = as quick; higher is slower)."""
        return statistics.median(s.p50_ms / b.p50_ms for s, b in zip(self.subject.results, self.baseline.results))


@dataclass(frozen=True)
class Target:
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    requests: Sequence[Request] = ()


def measure(case: str, subject: Target, baseline: Target, *, connections: Sequence[int], rounds: int,
            seconds: float, progress: Callable[[str], None] = print) -> list[Row]:
    rows = []
    for c in connections:
        row = Row(case, c)
        for n in range(rounds):
            for side, target in ((row.baseline, baseline), (row.subject, subject)):
                side.results.append(loadgen.run(target.url, connections=c, seconds=seconds,
                                                headers=target.headers, requests=target.requests))
            progress(f"  {case}, {c} conn, round {n + 1}/{rounds}: "
                     f"{row.subject.results[-1].rps:,.0f} vs {row.baseline.results[-1].rps:,.0f} req/s")
        rows.append(row)
    return rows


def warm_up(*targets: Target, seconds: float = 1.0) -> None:
    for t in targets:
        loadgen.run(t.url, connections=4, seconds=seconds, headers=t.headers, requests=t.requests)


def _ignore(*args: object) -> None:
    pass


def per_request_us(app: Callable[..., Any], environ: dict[str, Any], *, calls: int, batches: int,
                   clock: Callable[[], float] = time.thread_time) -> float:
    """Best-of-``batches`` microseconds per call of a WSGI app, in-process.

    ``time.thread_time`` (CPU of this thread) is the steadiest clock on a shared
    machine; pass ``time.perf_counter`` where waiting (a socket) is the cost.
    """
    best = float("inf")
    for _ in range(batches):
        started = clock()
        for _ in range(calls):
            b"".join(app(dict(environ), _ignore))
        best = min(best, (clock() - started) / calls * 1e6)
    return best
