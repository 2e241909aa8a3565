"""The reliability drill: load, kill -9, service down, disk trouble, fuzz.

    python -m bench.drill                      # everything, about 5 minutes
    python -m bench.drill --only crash,disk    # some of: load, crash, down, disk, fuzz
    python -m bench.drill --write              # also put the result lines in BENCHMARKS.md

Every load is bounded in time and count and goes to ``localhost`` only. Each
drill prints one ``PASS`` or ``FAIL`` line with its figures; the exit status
is 1 if any failed. The fast parts of the same drills run in the normal test
suite (``tests/reliability/``), with smaller numbers and no wrk.

1. load   64 wrk connections for 60 s mixing signed-in ``/api/me``, signed
          out, bad cookies and sign-ins: no 5xx, no socket error, nothing
          logged as an error; p50/p99 reported.
2. crash  the same load plus sign-up and sign-in clients; the service is
          killed with SIGKILL three times mid-load and restarted: every
          sign-up and sign-in acknowledged before a kill still works, the
          database passes ``integrity_check``, every client recovers.
3. down   the demo sites (Flask, Django, static) with the service down:
          pages answer within 1 s, signed out, the bar shows its fallback;
          when it returns they know the user again.
4. disk   a missing, read-only or corrupt data dir or database: one
          ``error:`` line and a non-zero exit, no traceback; a database
          locked by another writer: 503 with Retry-After, never 500, and
          no acknowledged sign-up lost.
5. fuzz   the property-based tests of ``tests/fuzz`` with many more examples.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from . import loadgen
from .drills.common import Outcome, restore_permissions
from .drills.crash import drill_crash
from .drills.disk import drill_disk
from .drills.down import drill_down
from .drills.fuzz import drill_fuzz
from .drills.load import drill_load

ALL = ("load", "crash", "down", "disk", "fuzz")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drill", description="Onebar's reliability drill.")
    parser.add_argument("--only", default=",".join(ALL), help=f"comma-separated subset of: {', '.join(ALL)}")
    parser.add_argument("--seconds", type=float, default=60, help="length of the load drill (default 60)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--kills", type=int, default=3, help="kill -9 rounds in the crash drill (default 3)")
    parser.add_argument("--no-browser", action="store_true", help="skip Chromium in the service-down drill")
    parser.add_argument("--write", action="store_true", help="put the result lines in BENCHMARKS.md")
    args = parser.parse_args(argv)
    only = [d.strip() for d in args.only.split(",") if d.strip()]
    if set(only) - set(ALL):
        parser.error(f"unknown drill(s): {', '.join(sorted(set(only) - set(ALL)))}")
    if {"load", "crash"} & set(only):
        try:
            loadgen.require_wrk()
        except loadgen.LoadgenMissing as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    runs: dict[str, Callable[[Path], Outcome]] = {
        "load": lambda w: drill_load(w, seconds=args.seconds, connections=args.connections),
        "crash": lambda w: drill_crash(w, kills=args.kills, connections=args.connections),
        "down": lambda w: drill_down(w, browser=not args.no_browser),
        "disk": drill_disk,
        "fuzz": lambda w: drill_fuzz(),
    }
    outcomes = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="onebar-drill-") as tmp:
        for name in ALL:
            if name not in only:
                continue
            print(f"[{time.monotonic() - started:5.0f}s] drill {name}...", flush=True)
            work = Path(tmp) / name
            work.mkdir()
            try:
                outcome = runs[name](work)
            except Exception as exc:  # noqa: BLE001 - a drill that breaks is a failed drill, reported as one
                outcome = Outcome(name, False, f"the drill itself failed: {type(exc).__name__}: {exc}")
            finally:
                restore_permissions(Path(tmp))
            outcomes.append(outcome)
            print(outcome.line(), flush=True)
    failed = [o for o in outcomes if not o.passed]
    print(f"\n{len(outcomes) - len(failed)} passed, {len(failed)} failed "
          f"(drill in {time.monotonic() - started:.0f} s)")
    if args.write:
        from . import report

        lines = "\n".join(o.line() for o in outcomes)
        command = f"python -m bench.drill {' '.join(sys.argv[1:])}".strip()
        report.write_sections(report.ROOT / "BENCHMARKS.md", {"drill": "\n".join([
            "## Reliability drill", "",
            f"Latest result of `{command}` "
            f"on {time.strftime('%Y-%m-%d %H:%M %Z')} ({report.machine()}). What each drill does is in "
            "`bench/drill.py`'s docstring; the fast parts run in `tests/reliability/`.", "",
            "```", lines, "```", ""])})
    return 1 if failed else 0




if __name__ == "__main__":
    sys.exit(main())
