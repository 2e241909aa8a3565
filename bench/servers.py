"""Benchmark 0: which production server, on figures.

Signed-in ``GET /api/me`` at 64 connections (wrk, loopback, bounded in time)
under waitress, granian and gunicorn side by side. On each server two apps run
over the same database: the service (what ``onebar serve`` serves, access log
on) and the raw-WSGI baseline (``bench/baseline.py``). Rounds interleave every
server and app, so a busy moment of the shared machine hits them all.

Each process is started as::

    python -m bench.servers SERVER APP --port P [--workers W] [--threads T]

with ``SERVER`` one of waitress, granian, gunicorn and ``APP`` service or
baseline (settings from ``ONEBAR_*`` variables, as ``onebar serve`` reads them).
For granian the service row *is* ``onebar serve --workers W --threads T``.
waitress is one process by design (threads only); granian and gunicorn
(``gthread``) get ``W`` worker processes of ``T`` threads each.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onebar.sessions import SessionCodec

from . import loadgen, procs
from .compare import Side
from .datagen import populate
from .me import APPS, MAX_AGE, ORIGIN, USERS, same_answer

SERVERS = ("waitress", "granian", "gunicorn")
WORKERS = 2
THREADS = 8
#: Goal (issue 11): as served ≥ 0.6 × the baseline on the same server.
TARGET_SAME = 0.6
#: Goal: as served on the chosen server ≥ 0.5 × the baseline on the fastest server.
TARGET_FASTEST = 0.5
#: Goal: p99 under this at 64 connections, as served on the chosen server.
TARGET_P99_MS = 20.0
CHOSEN = "granian"

TARGETS = {"service": "onebar.serving:service_app", "baseline": "bench.baseline:app_from_env"}


def argv(server: str, app: str, port: int, *, workers: int = WORKERS, threads: int = THREADS) -> list[str]:
    if server == "granian" and app == "service":
        return [sys.executable, "-m", "onebar", "serve", "--host", procs.HOST, "--port", str(port),
                "--workers", str(workers), "--threads", str(threads), "--events-port", "0"]
    return [sys.executable, "-m", "bench.servers", server, app, "--port", str(port), "--workers", str(workers),
            "--threads", str(threads)]


@dataclass
class Comparison:
    connections: int
    #: (server, app) → that pair's rounds; a Side, as the other benchmarks keep theirs.
    cells: dict[tuple[str, str], Side] = field(default_factory=dict)

    def ratio(self, server: str, against: str | None = None) -> float:
        """Median over rounds of service req/s on ``server`` ÷ baseline req/s on ``against`` (default same)."""
        s = self.cells[(server, "service")].results
        b = self.cells[(against or server, "baseline")].results
        return statistics.median(x.rps / y.rps for x, y in zip(s, b))

    def fastest_baseline(self) -> str:
        return max((srv for srv, app in self.cells if app == "baseline"),
                   key=lambda srv: self.cells[(srv, "baseline")].rps)


def available() -> list[str]:
    out = []
    for name in SERVERS:
        try:
            __import__(name)
        except ImportError:
            continue
        out.append(name)
    return out


def run(workdir: Path, *, connections: int = 64, rounds: int, seconds: float,
        servers: Sequence[str] | None = None, progress: Callable[[str], None] = print) -> Comparison:
    servers = list(servers or available())
    data = workdir / "servers"
    data.mkdir(parents=True)
    keys = procs.new_keys()
    pairs = populate(data / "onebar.sqlite3", USERS, apps=APPS, sample=1)
    cookie = SessionCodec(keys, MAX_AGE).encode(*pairs[0])
    headers = {"Cookie": f"onebar_session={cookie}", "Origin": ORIGIN}
    running: dict[tuple[str, str], procs.ChildServer] = {}
    comparison = Comparison(connections)
    try:
        for server in servers:
            for app in ("baseline", "service"):
                port = procs.free_port()
                env = procs.service_env(data, keys, {"ONEBAR_ACCESS_LOG": "1"})
                running[(server, app)] = procs.server(f"{app} on {server}", argv(server, app, port), port,
                                                      data / f"{server}-{app}.log", env).start()
                comparison.cells[(server, app)] = Side()
            if same_answer(running[(server, "service")], running[(server, "baseline")], headers)["user"] is None:
                raise RuntimeError("the minted cookie does not sign in")
        for (server, app), proc in running.items():
            loadgen.run(proc.url + "/api/me", connections=8, seconds=1, headers=headers)
        for n in range(rounds):
            for server in servers:
                for app in ("baseline", "service"):
                    r = loadgen.run(running[(server, app)].url + "/api/me", connections=connections,
                                    seconds=seconds, headers=headers)
                    comparison.cells[(server, app)].results.append(r)
                progress(f"  round {n + 1}/{rounds}, {server}: service "
                         f"{comparison.cells[(server, 'service')].results[-1].rps:,.0f} req/s, baseline "
                         f"{comparison.cells[(server, 'baseline')].results[-1].rps:,.0f} req/s")
    finally:
        for proc in running.values():
            proc.stop()
    return comparison


def markdown(c: Comparison, command: str) -> str:
    from .report import ms, num, stamp, table

    fastest = c.fastest_baseline()
    rows = []
    for server in [s for s in SERVERS if (s, "service") in c.cells]:
        svc, base = c.cells[(server, "service")], c.cells[(server, "baseline")]
        warn = " ⚠ errors" if svc.failures or base.failures else ""
        rows.append([server + (" (chosen)" if server == CHOSEN else ""), num(svc.rps), ms(svc.p50_ms),
                     ms(svc.p99_ms), num(base.rps), ms(base.p99_ms), f"**{c.ratio(server):.2f}**{warn}",
                     f"{c.ratio(server, fastest):.2f}"])
    out = ["## 0. Which server: waitress, granian, gunicorn", "",
           f"Signed-in `GET /api/me` (valid cookie, `Origin` of a registered app) at {c.connections} connections, "
           f"over the same database of {USERS:,} users. On each server: the service as `onebar serve` builds it "
           "(access log on) and the raw-WSGI baseline (`bench/baseline.py`). waitress: one process, "
           f"{THREADS} threads (it has no worker processes); granian and gunicorn (`gthread`): {WORKERS} worker "
           f"processes × {THREADS} threads. Rounds interleave every server and app; figures are medians over "
           "rounds, ratios medians of per-round ratios.", "", stamp(command), "",
           table(["server", "service req/s", "p50 ms", "p99 ms", "baseline req/s", "p99 ms",
                  "service ÷ baseline, same server", f"service ÷ baseline on {fastest}"], rows), ""]
    if (CHOSEN, "service") in c.cells:
        chosen = c.cells[(CHOSEN, "service")]
        same, vs_fastest = c.ratio(CHOSEN), c.ratio(CHOSEN, fastest)
        out += [f"`onebar serve` uses {CHOSEN}. Goals at {c.connections} connections: "
                f"≥ {TARGET_SAME} × the baseline on the same server: {same:.2f}, "
                f"{'met' if same >= TARGET_SAME else 'not met'}; ≥ {TARGET_FASTEST} × the baseline on the fastest "
                f"server ({fastest}): {vs_fastest:.2f}, {'met' if vs_fastest >= TARGET_FASTEST else 'not met'}; "
                f"p99 < {TARGET_P99_MS:g} ms: {ms(chosen.p99_ms)} ms, "
                f"{'met' if chosen.p99_ms < TARGET_P99_MS else 'not met'}. On this shared machine the p99 at "
                "64 connections follows the neighbours' load more than the server: compare it with the "
                "baseline's p99 in the same rounds, and with the load average in the line above.", ""]
    return "\n".join(out)


# -- the processes -----------------------------------------------------------------

def _serve(server: str, target: str, port: int, workers: int, threads: int) -> None:
    from onebar.serving import run as serve_granian

    if server == "granian":
        serve_granian(target, host=procs.HOST, port=port, workers=workers, threads=threads, name=target)
    elif server == "gunicorn":
        exe = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
        import os

        os.execv(exe, [exe, "--bind", f"{procs.HOST}:{port}", "--workers", str(workers), "--worker-class",
                       "gthread", "--threads", str(threads), "--log-level", "warning", f"{target}()"])
    else:
        from onebar.wsgiserver import run as serve_waitress

        module, _, name = target.partition(":")
        factory: Any = getattr(__import__(module, fromlist=[name]), name)
        serve_waitress(factory(), host=procs.HOST, port=port, threads=threads, name=target)


def main(argv_: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.servers", description="Serve the service or the baseline.")
    parser.add_argument("server", choices=SERVERS)
    parser.add_argument("app", choices=sorted(TARGETS))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--threads", type=int, default=THREADS)
    args = parser.parse_args(argv_)
    _serve(args.server, TARGETS[args.app], args.port, args.workers, args.threads)


if __name__ == "__main__":
    main()
