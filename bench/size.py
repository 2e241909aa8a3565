"""The bar's wire size: what ``/onebar.js`` serves, gzipped, against its 4 KB budget.

``python -m bench --only size`` prints it (no wrk, no browser needed). The
same budget is a test: ``tests/test_script_build.py``.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass

from .procs import ROOT
from .report import stamp, table

SOURCE = ROOT / "static" / "onebar.js"      # readable; served at /onebar.js?debug
SERVED = ROOT / "static" / "onebar.min.js"  # npm run build (terser); served at /onebar.js
BUDGET = 4096


@dataclass(frozen=True)
class Size:
    source_bytes: int
    source_gzip: int
    served_bytes: int
    served_gzip: int


def _gzip(body: bytes) -> int:
    return len(gzip.compress(body, compresslevel=9, mtime=0))


def run() -> Size:
    source, served = SOURCE.read_bytes(), SERVED.read_bytes()
    return Size(len(source), _gzip(source), len(served), _gzip(served))


def markdown(s: Size, command: str) -> str:
    rows = [
        ["`/onebar.js` (static/onebar.min.js, terser)", f"{s.served_bytes:,}", f"**{s.served_gzip:,}**",
         f"{s.served_gzip / BUDGET:.0%} of {BUDGET:,}"],
        ["`/onebar.js?debug` (static/onebar.js, the source)", f"{s.source_bytes:,}", f"{s.source_gzip:,}", ""],
    ]
    return "\n".join([
        "## The bar's size", "",
        "What the service sends for the bar's tag, and the readable source it is built from "
        "(`npm run build`). gzip level 9; the budget is 4 KB gzipped with every feature, "
        "also checked by `tests/test_script_build.py`.", "",
        stamp(command), "",
        table(["file", "bytes", "gzipped", "budget"], rows),
        ""])
