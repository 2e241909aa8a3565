"""How many idle live streams one node holds, and how fast one event reaches them all.

``python -m bench --only live`` starts the stream process as ``onebar serve``
does (``python -m onebar.live``: granian, ASGI, one worker), opens N idle
``GET /api/events`` streams from one asyncio client process (signed-in
cookies, at most 8 streams per session as the service allows), reads the
stream process's resident memory (the granian main process and its worker),
then registers an app, which every stream hears of (``apps_changed``), and
times how long the event takes to reach each stream, from the commit.

The baseline is the same run with one stream: the ratio says what fanning out
to N costs over telling one. The event log is polled every 250 ms (the
default; Redis wake-ups are off here), so about half of that is in every
figure, baseline included.
"""

from __future__ import annotations

import asyncio
import math
import os
import resource
import secrets
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from onebar.sessions import SessionCodec
from onebar.store import App, SQLiteStore
from onebar.store.sql import session_key

from .procs import HOST, free_port, new_keys, server
from .report import ms, num, stamp, table

COUNTS = (1, 1_000, 10_000)
PER_SESSION = 8  # onebar.live.LiveApp.per_session


@dataclass(frozen=True)
class Row:
    streams: int
    rss_idle_mb: float
    rss_open_mb: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    delivered: int
    open_seconds: float


def _rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` and its children (granian's worker), in KiB."""
    total = 0
    pids = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                pids += [int(p) for p in fh.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _cookies(data_dir: Path, keys: tuple[str, str], count: int) -> list[str]:
    """``count`` signed session cookies of one user (sessions written in one transaction)."""
    store = SQLiteStore(data_dir / "onebar.sqlite3")
    user = store.create_user(f"bench-{secrets.token_hex(4)}@example.com", "Bench", "x")
    store.close()
    codec = SessionCodec(keys, 14 * 24 * 3600)
    sids = [secrets.token_urlsafe(32) for _ in range(count)]
    now = int(time.time())
    conn = sqlite3.connect(data_dir / "onebar.sqlite3")
    with conn:
        conn.executemany("INSERT INTO sessions (key, user_id, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                         [(session_key(s), user.id, now, now, now + 3600) for s in sids])
    conn.close()
    return [codec.encode(s, user.id) for s in sids]


async def _measure(port: int, cookies: list[str], n: int, raise_event: Callable[[], None],
                   pid: int) -> tuple[float, list[float], float, int]:
    """Open ``n`` streams, read RSS, raise one event; (open seconds, delays in s, RSS KiB, delivered)."""
    arrived: list[float] = []
    ready = 0
    writers: list[asyncio.StreamWriter] = []
    readers: list[asyncio.Task[None]] = []
    go = asyncio.Event()

    async def one(i: int, slots: asyncio.Semaphore) -> None:
        nonlocal ready
        async with slots:
            reader, writer = await asyncio.open_connection(HOST, port, limit=4096)
            writers.append(writer)
            cookie = cookies[i // PER_SESSION]
            writer.write(f"GET /api/events HTTP/1.1\r\nHost: {HOST}:{port}\r\nCookie: onebar_session={cookie}\r\n\r\n"
                         .encode())
            await reader.readuntil(b"event: ready")
            ready += 1
        await go.wait()
        await reader.readuntil(b"event: apps_changed")
        arrived.append(time.perf_counter())

    slots = asyncio.Semaphore(256)
    started = time.perf_counter()
    readers = [asyncio.create_task(one(i, slots)) for i in range(n)]
    while ready < n:
        await asyncio.sleep(0.05)
        failed = [t for t in readers if t.done() and t.exception()]
        if failed:
            raise RuntimeError(f"a stream failed to open: {failed[0].exception()!r}")
    opened = time.perf_counter() - started
    await asyncio.sleep(1.0)  # settle
    rss = _rss_kb(pid)
    go.set()
    await asyncio.sleep(0.2)
    t0 = time.perf_counter()
    await asyncio.to_thread(raise_event)
    try:
        await asyncio.wait_for(asyncio.gather(*readers), timeout=60)
    except TimeoutError:
        pass
    for w in writers:
        w.close()
    return opened, [a - t0 for a in arrived], rss, len(arrived)


def run(work: Path, counts: tuple[int, ...] = COUNTS, progress: Callable[[str], None] = print) -> list[Row]:
    _raise_fd_limit()
    rows: list[Row] = []
    for n in counts:
        data_dir = work / f"live-{n}"
        data_dir.mkdir(parents=True, exist_ok=True)
        keys = new_keys()
        store = SQLiteStore(data_dir / "onebar.sqlite3")
        store.close()
        cookies = _cookies(data_dir, keys, math.ceil(n / PER_SESSION))
        port = free_port()
        env = {"ONEBAR_DATA_DIR": str(data_dir), "ONEBAR_SECRET_KEYS": ",".join(keys), "ONEBAR_ACCESS_LOG": "0"}
        proc = server("onebar events", [sys.executable, "-m", "onebar.live", "--host", HOST, "--port", str(port)],
                      port, data_dir / "live.log", env)
        with proc.start():
            time.sleep(1.0)
            assert proc.proc is not None
            idle = _rss_kb(proc.proc.pid)

            def raise_event() -> None:
                s = SQLiteStore(data_dir / "onebar.sqlite3")
                s.add_app(App(f"a{secrets.token_hex(3)}", "Bench", "http://localhost:9/"))
                s.close()

            progress(f"live: opening {n:,} streams")
            opened, delays, rss, delivered = asyncio.run(_measure(port, cookies, n, raise_event, proc.proc.pid))
        delays.sort()
        p = (lambda q: delays[min(len(delays) - 1, int(q * len(delays)))] * 1000) if delays else (lambda q: math.nan)
        rows.append(Row(n, idle / 1024, rss / 1024, statistics.median(delays) * 1000 if delays else math.nan,
                        p(0.99), p(1.0), delivered, opened))
        progress(f"live: {n:,} streams: {rss / 1024:.0f} MiB, p99 {p(0.99):.0f} ms, {delivered:,} delivered")
    return rows


def markdown(rows: list[Row], command: str) -> str:
    base = rows[0]
    body = [[num(r.streams), f"{r.rss_idle_mb:.0f}", f"**{r.rss_open_mb:.0f}**",
             f"{(r.rss_open_mb - r.rss_idle_mb) * 1024 / r.streams:.1f}" if r.streams > 1 else "",
             ms(r.p50_ms), f"**{ms(r.p99_ms)}**", ms(r.max_ms), f"{r.p99_ms / base.p99_ms:.2f}",
             f"{num(r.delivered)} of {num(r.streams)}", f"{r.open_seconds:.1f}"] for r in rows]
    return "\n".join([
        "## 9. Live streams: idle streams per node, and one event to all of them", "",
        "`GET /api/events` (onebar.live) served as `onebar serve` serves it: granian's ASGI interface, one "
        "worker process, beside the WSGI workers. N idle streams are opened from one asyncio client process "
        "(signed-in cookies, 8 streams per session); the stream process's resident memory (granian's main "
        "process and its worker) is read, then one app is registered and the `apps_changed` event is timed "
        "from the commit to its arrival on every stream. Baseline: the same with one stream (the ratio is p99 "
        "against it). The log is polled every 250 ms, so about 125 ms of waiting is in every figure; with "
        "`ONEBAR_REDIS_URL` a wake-up reads it at once.", "",
        stamp(command), "",
        table(["streams", "RSS idle (MiB)", "RSS open (MiB)", "KiB / stream", "p50 (ms)", "p99 (ms)", "max (ms)",
               "p99 vs 1 stream", "delivered", "seconds to open all"], body),
        ""])
