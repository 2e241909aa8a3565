"""Tables as Markdown, and BENCHMARKS.md kept section by section.

Each benchmark (and the drill) owns one section between
``<!-- section:NAME -->`` markers; a run rewrites the sections it measured and
keeps the others, so ``python -m bench --only scale`` does not erase the rest.
"""

from __future__ import annotations

import platform
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = ("intro", "servers", "me", "fastpath", "storm", "middleware", "size", "browser", "scale", "store", "cluster", "live", "drill")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> str:
    """A Markdown table; ``align`` is one letter per column (l/r), default right but the first."""
    align = align or "l" + "r" * (len(headers) - 1)
    rule = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def comparison_table(rows: Sequence[Any], subject: str, baseline: str) -> str:
    """The usual table of a ratio benchmark: ``compare.Row`` s, subject first, then its baseline."""
    return table(
        ["connections", f"{subject} req/s", "p50 ms", "p99 ms", f"{baseline} req/s", "p50 ms", "p99 ms",
         "ratio (req/s)"],
        [[r.connections, num(r.subject.rps), ms(r.subject.p50_ms), ms(r.subject.p99_ms), num(r.baseline.rps),
          ms(r.baseline.p50_ms), ms(r.baseline.p99_ms),
          f"**{r.ratio:.2f}**" + (" ⚠ errors" if r.subject.failures or r.baseline.failures else "")]
         for r in rows])


def num(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def ms(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:,.0f}"


def machine() -> str:
    try:
        wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1]
    except (OSError, IndexError):
        wrk = "?"
    cores = len(__import__("os").sched_getaffinity(0))
    load = __import__("os").getloadavg()[0]
    return (f"{platform.system()} {platform.machine()}, {cores} cores shared with other work "
            f"(load average {load:.1f} when the section started), "
            f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, wrk {wrk}")


def stamp(command: str) -> str:
    return f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} with `{command}` ({machine()})."


def command_line() -> str:
    args = " ".join(sys.argv[1:])
    return f"python -m bench {args}".strip()


def write_sections(path: Path, sections: Mapping[str, str]) -> None:
    """Replace (or add, in :data:`ORDER`) each named section of ``path``."""
    text = path.read_text() if path.exists() else ""
    found = {m.group(1): m.group(0) for m in re.finditer(r"<!-- section:(\w+) -->.*?<!-- /section:\1 -->\n?",
                                                         text, re.S)}
    blocks = {name: found[name] for name in found}
    for name, body in sections.items():
        blocks[name] = f"<!-- section:{name} -->\n{body.strip()}\n<!-- /section:{name} -->\n"
    names = [n for n in ORDER if n in blocks] + [n for n in blocks if n not in ORDER]
    path.write_text("\n".join(blocks[n] for n in names))
