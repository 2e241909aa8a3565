"""The load generator: wrk (Debian's ``wrk``), bounded in time, loopback only.

:func:`run` starts ``wrk`` against a ``http://localhost:PORT`` URL for a fixed
number of seconds with a fixed number of connections and returns its figures
(parsed from the line ``lua/report.lua`` prints). A list of
:class:`Request` makes every thread cycle through them (mixed loads, many
cookies); ``count=True`` adds the answers by status.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

SCRIPT = Path(__file__).resolve().parent / "lua" / "report.lua"
INSTALL = "apt-get install -y wrk"


class LoadgenMissing(RuntimeError):
    pass


def require_wrk() -> str:
    exe = shutil.which("wrk")
    if exe is None:
        raise LoadgenMissing(f"wrk is not installed; install it with: {INSTALL}  (Debian/Ubuntu, as root)")
    return exe


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""

    def line(self) -> str:
        for text in (self.path, self.body, *self.headers.values()):
            if any(c in text for c in "\t\n|"):
                raise ValueError(f"tab, newline or '|' in a request: {text!r}")
        headers = "|".join(f"{k}: {v}" for k, v in self.headers.items())
        return f"{self.method}\t{self.path}\t{headers}\t{self.body}"


@dataclass(frozen=True)
class Result:
    connections: int
    seconds: float
    requests: int
    connect_errors: int
    read_errors: int
    write_errors: int
    timeouts: int
    non_2xx_3xx: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[int, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def socket_errors(self) -> int:
        return self.connect_errors + self.read_errors + self.write_errors + self.timeouts

    def count(self, low: int, high: int) -> int:
        return sum(n for s, n in self.statuses.items() if low <= s <= high)


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in ("localhost", "127.0.0.1", "::1"):
        raise ValueError(f"load goes to loopback only, not {host!r}")


def run(url: str, *, connections: int, seconds: float, headers: Mapping[str, str] | None = None,
        requests: Sequence[Request] = (), count: bool = False, threads: int | None = None,
        timeout: float = 10.0) -> Result:
    """Run wrk for ``seconds`` with ``connections`` open; it stops by itself."""
    check_loopback(url)
    exe = require_wrk()
    threads = threads or min(2, connections)
    env = {**os.environ, "ONEBAR_WRK_COUNT": "1" if count else "0", "ONEBAR_WRK_REQUESTS": ""}
    argv = [exe, "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
            "--timeout", f"{timeout:g}s", "-s", str(SCRIPT)]
    for k, v in (headers or {}).items():
        argv += ["-H", f"{k}: {v}"]
    with tempfile.TemporaryDirectory(prefix="onebar-wrk-") as tmp:
        if requests:
            path = Path(tmp) / "requests.tsv"
            path.write_text("\n".join(r.line() for r in requests) + "\n")
            env["ONEBAR_WRK_REQUESTS"] = str(path)
        proc = subprocess.run([*argv, url], capture_output=True, text=True, env=env,
                              timeout=seconds + timeout + 30)
    for line in proc.stdout.splitlines():
        if line.startswith("ONEBAR_WRK "):
            data = json.loads(line.removeprefix("ONEBAR_WRK "))
            break
    else:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return Result(
        connections=connections,
        seconds=data["duration_us"] / 1e6,
        requests=data["requests"],
        connect_errors=data["connect"],
        read_errors=data["read"],
        write_errors=data["write"],
        timeouts=data["timeout"],
        non_2xx_3xx=data["status_errors"],
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        statuses={int(k): v for k, v in data["statuses"].items()},
    )
