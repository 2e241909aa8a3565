"""``python -m bench``: run the benchmarks, print the tables, rewrite BENCHMARKS.md."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from . import loadgen, me, report, scale, servers, size, storm

BENCHES = ("servers", "me", "fastpath", "storm", "middleware", "size", "browser", "scale", "store", "cluster", "live")

INTRO = """\
# Benchmarks

Speed measured, not hoped for. Each figure below is a **ratio against a baseline
measured beside it in the same run**: the machine has two shared cores, so
absolute requests per second say little and change from run to run, while a
ratio of two things measured in interleaved rounds holds. Load comes from
[wrk](https://github.com/wg/wrk) on `localhost` only, bounded in time.

Reproduce everything (a few minutes; needs `wrk`: `apt-get install -y wrk`):

    python -m bench                  # all benchmarks, rewrites this file
    python -m bench --quick          # one short round of each, a smoke run
    python -m bench --only servers,me  # some of: servers, me, fastpath, storm, middleware, size, browser, scale, store, cluster, live
    python -m bench --only size      # the bar's wire size alone (seconds; no wrk, no browser)
    python -m bench.drill            # the reliability drill (its section is at the end)

Reading the ratios: for requests per second, 1.00 means as fast as the
baseline and 0.50 half as fast; for latency, 1.00 means as quick and 2.00
twice as slow. A ⚠ marks a run that saw socket errors or non-2xx answers.
On this shared machine the same ratio moves by up to about ±0.07 from one run
to the next, more while other work runs (benchmark 0's granian row and
benchmark 1's signed-in row at 64 connections measure nearly the same thing,
minutes apart); `--rounds 5` steadies it at the cost of time. Absolute
requests per second and p99 latencies move far more.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Onebar benchmarks against baselines.")
    parser.add_argument("--only", default=",".join(BENCHES),
                        help=f"comma-separated subset of: {', '.join(BENCHES)}")
    parser.add_argument("--quick", action="store_true", help="one short round each; scale stops at 100 000")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per figure (default 3; 1 with --quick)")
    parser.add_argument("--seconds", type=float, help="seconds per wrk run (default 3; 2 with --quick)")
    parser.add_argument("--connections", default="1,16,64", help="for /api/me (default 1,16,64)")
    parser.add_argument("--sizes", help="users for the scale benchmark (default 10,10000,1000000)")
    parser.add_argument("--out", type=Path, default=report.ROOT / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)

    only = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = set(only) - set(BENCHES)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    rounds = args.rounds or (1 if args.quick else 3)
    seconds = args.seconds or (2.0 if args.quick else 3.0)
    connections = [int(c) for c in args.connections.split(",")]
    sizes = ([int(s) for s in args.sizes.split(",")] if args.sizes
             else [10, 10_000, 100_000] if args.quick else list(scale.SIZES))
    if any(b in only for b in ("servers", "me", "fastpath", "middleware", "scale", "store", "cluster")):
        try:
            loadgen.require_wrk()
        except loadgen.LoadgenMissing as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    command = report.command_line()
    sections: dict[str, str] = {"intro": INTRO}
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)

    def section(name: str, build: Callable[[], str]) -> None:
        if name not in only:
            return
        log(f"== {name}")
        sections[name] = build()
        print("\n" + sections[name], flush=True)

    with tempfile.TemporaryDirectory(prefix="onebar-bench-") as tmp:
        work = Path(tmp)
        section("servers", lambda: servers.markdown(
            servers.run(work, rounds=rounds, seconds=seconds, progress=log), command))
        section("me", lambda: me.markdown(
            me.run(work, connections=connections, rounds=rounds, seconds=seconds, progress=log), command))
        section("fastpath", lambda: me.markdown_fastpath(
            me.run_fastpath(work, connections=connections, rounds=rounds, seconds=seconds, progress=log), command))
        section("storm", lambda: storm.markdown(storm.run(work, seconds=6.0, progress=log), command))
        if "middleware" in only:
            from . import middleware

            section("middleware", lambda: middleware.markdown(
                middleware.run(work, rounds=rounds, seconds=seconds, progress=log), command))
        section("size", lambda: size.markdown(size.run(), command))
        if "browser" in only:
            from . import browser

            section("browser", lambda: browser.markdown(browser.run(work, progress=log), command))
        section("scale", lambda: scale.markdown(
            scale.run(work, sizes=sizes, rounds=rounds, seconds=seconds, progress=log), command))
        if "store" in only:
            from . import stores

            section("store", lambda: stores.markdown(
                stores.run(work, connections=connections, rounds=rounds, seconds=seconds, progress=log), command))
        if "cluster" in only:
            from . import clusterbench

            section("cluster", lambda: clusterbench.markdown(
                clusterbench.run(work, connections=connections, rounds=rounds, seconds=seconds, progress=log),
                command))

        if "live" in only:
            from . import live

            counts = (1, 1_000) if args.quick else live.COUNTS
            section("live", lambda: live.markdown(live.run(work, counts, progress=log), command))

    if not args.no_write:
        report.write_sections(args.out, sections)
        log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
