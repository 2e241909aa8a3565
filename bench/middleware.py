"""Benchmark 3: what the WSGI middleware costs an app per request.

The same one-page app (:mod:`bench.mwapp`) runs without the middleware (the
baseline) and with it, verifying a signed-in cookie remotely (asking the
service's ``/api/me``) or locally (signature here, session in the service's
SQLite file), each with its answer cache and without. All run under the same
server settings as the service. Two measures:

* through waitress with wrk at 16 connections: req/s ratio against the app
  without the middleware, in interleaved rounds;
* in-process: wall-clock microseconds the middleware adds to one call of the
  app (best of 5 batches), which is the cost an app would see at low load.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.test import EnvironBuilder

from onebar.sessions import SessionCodec

from . import compare, procs
from .compare import Row, Target
from .datagen import populate
from .me import APPS, MAX_AGE
from .mwapp import MODES, make

CONNECTIONS = 16
LABELS = {
    "remote": "remote, cached (5 s)",
    "remote-uncached": "remote, uncached (asks /api/me every time)",
    "local": "local, cached (5 s)",
    "local-uncached": "local, uncached (signature + store lookup every time)",
}


@dataclass
class MiddlewareResult:
    rows: dict[str, Row] = field(default_factory=dict)
    added_us: dict[str, float] = field(default_factory=dict)


def _app_server(mode: str, data: Path, keys: tuple[str, str], service_url: str) -> procs.ChildServer:
    port = procs.free_port()
    argv = [sys.executable, "-m", "bench.mwapp", "--mode", mode, "--service-url", service_url,
            "--database", str(data / "onebar.sqlite3"), "--host", procs.HOST, "--port", str(port)]
    return procs.server(f"mwapp {mode}", argv, port, data / f"mwapp-{mode}.log", procs.service_env(data, keys))


def _wall_us(app: Callable[..., Any], environ: dict[str, Any], calls: int = 300, batches: int = 5) -> float:
    # Wall time: the uncached remote mode waits on a socket, which CPU time misses.
    return compare.per_request_us(app, environ, calls=calls, batches=batches, clock=time.perf_counter)


def run(workdir: Path, *, rounds: int, seconds: float, progress: Callable[[str], None] = print) -> MiddlewareResult:
    data = workdir / "middleware"
    data.mkdir(parents=True)
    keys = procs.new_keys()
    pairs = populate(data / "onebar.sqlite3", 1000, apps=APPS, sample=1)
    cookie = SessionCodec(keys, MAX_AGE).encode(*pairs[0])
    headers = {"Cookie": f"onebar_session={cookie}"}
    result = MiddlewareResult()
    with ExitStack() as stack:
        svc = stack.enter_context(procs.service(data, keys))
        servers = {mode: stack.enter_context(_app_server(mode, data, keys, svc.url)) for mode in MODES}
        for mode, server in servers.items():
            status, _, body = procs.get(server.port, "/", headers)
            expected = b"Hello, guest." if mode == "none" else b"Hello, User "
            if status != 200 or not body.startswith(expected):
                raise RuntimeError(f"mwapp {mode} answered {status} {body!r}; expected {expected!r}")

        environ = EnvironBuilder(path="/", headers=headers).get_environ()
        apps = {mode: make(mode, service_url=svc.url, keys=list(keys), database=str(data / "onebar.sqlite3"))
                for mode in MODES}
        bare = _wall_us(apps["none"], environ)
        for mode in MODES[1:]:
            result.added_us[mode] = max(0.0, _wall_us(apps[mode], environ) - bare)

        baseline = Target(servers["none"].url + "/", headers)
        compare.warm_up(baseline, *(Target(s.url + "/", headers) for s in servers.values()))
        for mode in MODES[1:]:
            progress(f"middleware {LABELS[mode]} vs the app without it")
            result.rows[mode] = compare.measure(LABELS[mode], Target(servers[mode].url + "/", headers), baseline,
                                                connections=[CONNECTIONS], rounds=rounds, seconds=seconds,
                                                progress=progress)[0]
    return result


def markdown(r: MiddlewareResult, command: str) -> str:
    from .report import ms, num, stamp, table

    rows = []
    for mode in MODES[1:]:
        row = r.rows[mode]
        rows.append([LABELS[mode], f"{r.added_us[mode]:,.0f} µs", num(row.subject.rps), ms(row.subject.p50_ms),
                     num(row.baseline.rps), ms(row.baseline.p50_ms),
                     f"**{row.ratio:.2f}**" + (" ⚠ errors" if row.subject.failures or row.baseline.failures else "")])
    median_base = statistics.median(r.rows[m].baseline.rps for m in MODES[1:])
    return "\n".join([
        "## 3. The WSGI middleware's cost per request", "",
        "A one-page WSGI app (`bench/mwapp.py`) with `OnebarMiddleware` and a signed-in cookie, against the same app "
        "without it, both served like the service (waitress, 8 threads). *Remote* asks the running service's "
        "`/api/me`; *local* checks the signature with the service's keys and the session in its SQLite file. "
        f"Throughput at {CONNECTIONS} connections (the app alone does about {median_base:,.0f} req/s here); "
        "*added* is the in-process wall time the middleware adds to one call (best of 5 batches).", "",
        stamp(command), "",
        table(["verification", "added per call", "with req/s", "p50 ms", "without req/s", "p50 ms",
               "ratio (req/s)"], rows),
        "",
        "Uncached remote verification costs a full `/api/me` round trip per request, served by the same two "
        "cores: that is what the cache is for, and a sign-out reaches the app within its 5 s window.",
        ""])
