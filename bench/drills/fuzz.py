"""5. fuzz: the property-based tests of tests/fuzz with many more examples."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from .. import procs
from .common import Outcome


def drill_fuzz(*, timeout: float = 900) -> Outcome:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "tests/fuzz", "-q", "-p", "no:cacheprovider"],
                          cwd=procs.ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "ONEBAR_FUZZ": "thorough"})
    summary = next((line for line in reversed(done.stdout.splitlines()) if re.search(r"\d+ (passed|failed)", line)),
                   done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "no output")
    problems = [] if done.returncode == 0 else [line for line in done.stdout.splitlines()
                                                if line.startswith(("FAILED", "ERROR"))][:10] or [summary]
    summary = re.sub(r" in [\d.]+s.*$", "", summary.strip("= "))
    return Outcome("fuzz", done.returncode == 0,
                   f"tests/fuzz with ONEBAR_FUZZ=thorough (20× the suite's examples): {summary} "
                   f"in {time.monotonic() - started:.0f} s", problems)
