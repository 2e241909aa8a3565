"""A storm of correct sign-ins against one free account, and /api/me measured beside it.

Issue 9's finding: 64 parallel loops signing in correctly (each sign-in a
password hash, ~100 ms of CPU) starved ``/api/me``. This drives the same storm,
bounded in count and time, on loopback only:

* :func:`storm` runs in its own process (``python -m bench.storm``) so its 64
  client threads never share a GIL with the measurement, at the lowest CPU
  priority (``nice 19``): it stands for clients on other machines, whose CPU
  is not the service's, and still sends as fast as it is answered. Each loop GETs
  ``/login`` once for a CSRF token, then POSTs the correct password again and
  again until ``seconds`` pass or ``max_requests`` are sent; it prints the
  answers by status as one JSON line.
* :func:`me_latencies` asks ``/api/me`` with a signed-in cookie, one request at
  a time on a kept-alive connection, and returns each latency in ms.

:func:`run` measures ``/api/me`` alone, then during the storm (the same
measurement, the same run) and reports both: ``python -m bench --only storm``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import procs

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
#: Limit the issue sets for /api/me's p99 during the storm.
TARGET_P99_MS = 100.0


def _loop(host: str, port: int, email: str, password: str, deadline: float, budget: list[int],
          lock: threading.Lock, counts: Counter[int]) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/login")
        resp = conn.getresponse()
        page = resp.read().decode()
        cookie = "; ".join(h.split(";", 1)[0] for k, h in resp.getheaders() if k.lower() == "set-cookie")
        token = _CSRF.search(page)
        if token is None:
            raise RuntimeError("no CSRF token on /login")
        body = urllib.parse.urlencode({"csrf_token": token.group(1), "email": email, "password": password,
                                       "next": ""})
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        while time.monotonic() < deadline:
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            try:
                conn.request("POST", "/login", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except OSError:
                status = 0
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=10)
            with lock:
                counts[status] += 1
    finally:
        conn.close()


def storm(url: str, *, email: str, password: str, connections: int = 64, seconds: float = 6.0,
          max_requests: int = 5000) -> dict[int, int]:
    """Sign in correctly from ``connections`` loops; stops after ``seconds`` or ``max_requests``."""
    from .loadgen import check_loopback

    check_loopback(url)
    parts = urllib.parse.urlsplit(url)
    deadline = time.monotonic() + seconds
    counts: Counter[int] = Counter()
    lock = threading.Lock()
    budget = [max_requests]
    threads = [threading.Thread(target=_loop, args=(parts.hostname, parts.port, email, password, deadline, budget,
                                                    lock, counts), daemon=True) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 20)
    return dict(counts)


def start_storm(url: str, *, email: str, password: str, connections: int = 64, seconds: float = 6.0,
                max_requests: int = 5000) -> subprocess.Popen[str]:
    """:func:`storm` in its own process; read its result with :func:`storm_result`."""
    return subprocess.Popen(
        [sys.executable, "-m", "bench.storm", url, "--email", email, "--password-stdin", "--connections",
         str(connections), "--seconds", str(seconds), "--max-requests", str(max_requests)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=procs.ROOT)


def storm_result(proc: subprocess.Popen[str], password: str | None = None, timeout: float = 60) -> dict[int, int]:
    out, _ = proc.communicate(None if password is None else password + "\n", timeout=timeout)
    line = next(line for line in out.splitlines() if line.startswith("STORM "))
    return {int(k): v for k, v in json.loads(line.removeprefix("STORM ")).items()}


def me_latencies(url: str, cookie: str, *, seconds: float, max_requests: int = 20000) -> list[float]:
    """Signed-in /api/me one at a time for ``seconds``: each latency in ms (a failure, or an answer
    that no longer knows the user, counts as 10 s)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    out: list[float] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and len(out) < max_requests:
            started = time.perf_counter()
            try:
                conn.request("GET", "/api/me", headers={"Cookie": cookie})
                resp = conn.getresponse()
                body = resp.read()
                ok = resp.status == 200 and b'"user":{' in body
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                ok = False
            out.append((time.perf_counter() - started) * 1000 if ok else 10_000.0)
            time.sleep(0.005)
    finally:
        conn.close()
    return out


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else float("inf")


@dataclass
class StormFigures:
    quiet: list[float]
    stormy: list[float]
    answers: dict[int, int]


def sign_in_cookie(url: str, email: str, password: str) -> str:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", "/login")
        resp = conn.getresponse()
        page = resp.read().decode()
        csrf = "; ".join(h.split(";", 1)[0] for k, h in resp.getheaders() if k.lower() == "set-cookie")
        token = _CSRF.search(page).group(1)  # type: ignore[union-attr]
        conn.request("POST", "/login", body=urllib.parse.urlencode(
            {"csrf_token": token, "email": email, "password": password, "next": ""}),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": csrf})
        resp = conn.getresponse()
        resp.read()
        for k, h in resp.getheaders():
            if k.lower() == "set-cookie" and h.startswith("onebar_session="):
                return h.split(";", 1)[0]
        raise RuntimeError(f"sign-in answered {resp.status} without a session cookie")
    finally:
        conn.close()


def measure(url: str, *, email: str, password: str, reader: tuple[str, str], seconds: float = 6.0,
            connections: int = 64, max_requests: int = 5000, quiet_seconds: float = 3.0) -> StormFigures:
    """/api/me alone, then during the storm, one after the other in the same run.

    The storm signs in as ``email``; /api/me is asked as ``reader`` (email,
    password), another member. Not the storm's account: each of its sign-ins
    that gets through ends the account's least recently used session past
    the cap (``ONEBAR_MAX_SESSIONS``), which would be the reader's.
    """
    cookie = sign_in_cookie(url, *reader)
    quiet = me_latencies(url, cookie, seconds=quiet_seconds)
    proc = start_storm(url, email=email, password=password, connections=connections, seconds=seconds,
                       max_requests=max_requests)
    try:
        assert proc.stdin is not None
        proc.stdin.write(password + "\n")
        proc.stdin.flush()
        time.sleep(0.5)  # the loops are signing in
        stormy = me_latencies(url, cookie, seconds=max(1.0, seconds - 1.0))
        answers = storm_result(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    return StormFigures(quiet, stormy, answers)


def run(workdir: Path, *, seconds: float, progress: Callable[[str], None] = print) -> StormFigures:
    data = workdir / "storm"
    data.mkdir(parents=True)
    keys = procs.new_keys()
    email, password = "storm@example.com", "storm-password-1"
    reader = ("reader@example.com", "reader-password-1")
    for who, secret, name in [(email, password, "Storm"), (*reader, "Reader")]:
        subprocess.run([sys.executable, "-m", "onebar", "--data-dir", str(data), "user", "add", who, "--name",
                        name, "--password-stdin"], input=secret + "\n", text=True, check=True,
                       capture_output=True, env={**os.environ, **procs.service_env(data, keys)}, cwd=procs.ROOT)
    with procs.service(data, keys, env={"ONEBAR_ACCESS_LOG": "0"}) as svc:
        progress("/api/me alone, then during 64 loops of correct sign-ins")
        return measure(svc.url, email=email, password=password, reader=reader, seconds=seconds,
                       max_requests=200_000)


def markdown(f: StormFigures, command: str) -> str:
    from .report import ms, stamp, table

    q50, s50 = statistics.median(f.quiet), statistics.median(f.stormy)
    q99, s99 = p99(f.quiet), p99(f.stormy)
    answers = ", ".join(f"{n:,} × {s or 'no answer'}" for s, n in sorted(f.answers.items()))
    return "\n".join([
        "## 6. /api/me during a storm of correct sign-ins", "",
        "One free account; 64 loops sign in with its correct password as fast as they can (bounded in time "
        "and count, in their own process), while one client, signed in as another member, asks `/api/me` "
        "one request at a time. "
        "The same client first asks it with no storm, in the same run: that is the baseline. "
        "`onebar serve` with its defaults (1 worker × 8 threads, one password hash at a time per worker, "
        "sign-in attempts limited per account and address).", "", stamp(command), "",
        table(["/api/me", "requests", "p50 ms", "p99 ms"],
              [["alone", len(f.quiet), ms(q50), ms(q99)], ["during the storm", len(f.stormy), ms(s50), ms(s99)]]),
        "", f"The storm's answers: {answers}. p99 during the storm ÷ p99 alone: **{s99 / q99:.2f}**; "
        f"goal p99 < {TARGET_P99_MS:g} ms during the storm: {ms(s99)} ms, "
        f"{'met' if s99 < TARGET_P99_MS else 'not met'}. Before the bounds (issue 9) the same storm pushed "
        "`/api/me` to a median of seconds. What is left is queueing: the refused sign-ins come back in "
        "microseconds, so 64 loops keep about 64 requests ahead of each `/api/me` in the worker's queue, "
        "as any 64-connection load would; the storm client runs on the same two shared cores "
        "(at nice 19), and the p99 of a few hundred samples is the neighbours' as much as ours.", ""])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.storm", description="A bounded storm of correct sign-ins.")
    parser.add_argument("url")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password-stdin", action="store_true", required=True)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--max-requests", type=int, default=5000)
    args = parser.parse_args()
    password = sys.stdin.readline().rstrip("\n")
    os.nice(19)
    counts = storm(args.url, email=args.email, password=password, connections=args.connections,
                   seconds=args.seconds, max_requests=args.max_requests)
    print("STORM " + json.dumps({str(k): v for k, v in counts.items()}), flush=True)


if __name__ == "__main__":
    main()
