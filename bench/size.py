"""The bar's wire size: what the service serves for it, gzipped, each file against its budget.

``python -m bench --only size`` prints it (no wrk, no browser needed). The
same budgets are tests: ``tests/test_script_build.py``, which also checks that
README.md, BENCHMARKS.md and docs/bar.md give the figures measured here.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

from .procs import ROOT
from .report import stamp, table

STATIC = ROOT / "static"


@dataclass(frozen=True)
class File:
    path: str     # the URL the service serves it at (?debug: the source)
    source: Path  # readable, written for people
    built: Path   # npm run build (scripts/build-bar.mjs): what the URL serves
    budget: int   # gzipped bytes
    why: str


def _file(name: str, budget: int, why: str) -> File:
    return File(f"/{name}.js", STATIC / f"{name}.js", STATIC / f"{name}.min.js", budget, why)


#: Every page loads the bar; the modules only where /api/me lists them. Each
#: module's budget is about 1.4 times its size when it was set: room to grow a
#: little, and a test that fails on a build that stopped minifying it.
FILES = (
    _file("onebar", 4096, "every page"),
    _file("onebar-handoff", 2048, "cross-site pages only"),
    _file("onebar-live", 1200, "when the service runs a live stream"),
)


@dataclass(frozen=True)
class Size:
    path: str
    budget: int
    why: str
    source_bytes: int
    source_gzip: int
    served_bytes: int
    served_gzip: int


def gzipped(body: bytes) -> int:
    return len(gzip.compress(body, compresslevel=9, mtime=0))


def run() -> list[Size]:
    sizes = []
    for f in FILES:
        source, served = f.source.read_bytes(), f.built.read_bytes()
        sizes.append(Size(f.path, f.budget, f.why, len(source), gzipped(source), len(served), gzipped(served)))
    return sizes


def markdown(sizes: list[Size], command: str) -> str:
    rows = []
    for s in sizes:
        name = s.path.removeprefix("/")
        rows.append([f"`{s.path}` (static/{name.removesuffix('.js')}.min.js): {s.why}", f"{s.served_bytes:,}",
                     f"**{s.served_gzip:,}**", f"{s.served_gzip / s.budget:.0%} of {s.budget:,}"])
    for s in sizes:
        rows.append([f"`{s.path}?debug` (static/{s.path.removeprefix('/')}, the source)",
                     f"{s.source_bytes:,}", f"{s.source_gzip:,}", ""])
    return "\n".join([
        "## The bar's size", "",
        "What the service sends for the bar's tag and for its two lazy modules, and the readable sources "
        "they are built from (`npm run build`: clean-css for the bar's CSS, terser for the scripts). "
        "gzip level 9; the bar's budget is 4 KB gzipped with every feature, and each module has its own; "
        "all are checked by `tests/test_script_build.py`. A cross-site page with the live stream loads all three.", "",
        stamp(command), "",
        table(["file", "bytes", "gzipped", "budget"], rows),
        ""])
