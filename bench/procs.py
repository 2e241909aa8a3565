"""Servers for the benchmarks and drills: subprocesses on free localhost ports.

The identity service runs exactly as ``onebar serve`` runs it (``python -m onebar
serve``: granian, the same workers and threads); the baseline runs under the
same server with the same settings (``python -m bench.servers granian
baseline``). Each is polled on ``/healthz`` until it answers, and can be
stopped, killed with SIGKILL and started again on the same port.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "localhost"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def new_keys() -> tuple[str, str]:
    """An old and a new signing key, fresh for each run."""
    return secrets.token_urlsafe(32), secrets.token_urlsafe(32)


def get(port: int, path: str, headers: Mapping[str, str] | None = None,
        timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """One GET to ``localhost:port`` (no redirects, no cookie jar)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=dict(headers or {}))
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def get_json(port: int, path: str, headers: Mapping[str, str] | None = None) -> object:
    status, _, body = get(port, path, headers)
    if status != 200:
        raise RuntimeError(f"GET {path} on port {port} answered {status}")
    return json.loads(body)


@dataclass
class Server:
    """A server process; ``start()`` returns once ``/healthz`` answers 200."""

    name: str
    argv: Sequence[str]
    port: int
    log: Path
    env: Mapping[str, str] = field(default_factory=dict)
    health: str = "/healthz"
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 30.0) -> Server:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, env=full_env, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; log {self.log}:\n{self.tail()}")
            try:
                if get(self.port, self.health, timeout=2)[0] == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not answer {self.health} within {timeout:.0f}s:\n{self.tail()}")
            time.sleep(0.05)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill9(self) -> None:
        """SIGKILL: no clean-up, no flush, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> Server:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def service_env(data_dir: Path, keys: Sequence[str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {"ONEBAR_DATA_DIR": str(data_dir), "ONEBAR_SECRET_KEYS": ",".join(keys), **(extra or {})}


def service(data_dir: Path, keys: Sequence[str], *, port: int | None = None, threads: int = 8, workers: int = 1,
            env: Mapping[str, str] | None = None) -> Server:
    """The identity service, as ``onebar serve --host localhost --port P --workers W --threads N``."""
    port = port or free_port()
    argv = [sys.executable, "-m", "onebar", "serve", "--host", HOST, "--port", str(port), "--workers", str(workers),
            "--threads", str(threads)]
    return Server("onebar serve", argv, port, data_dir / "service.log", service_env(data_dir, keys, env))


def baseline(data_dir: Path, keys: Sequence[str], *, port: int | None = None, threads: int = 8,
             workers: int = 1) -> Server:
    """The raw-WSGI baseline over the same data dir, under the same server (granian) and settings."""
    port = port or free_port()
    argv = [sys.executable, "-m", "bench.servers", "granian", "baseline", "--port", str(port),
            "--workers", str(workers), "--threads", str(threads)]
    return Server("baseline", argv, port, data_dir / "baseline.log", service_env(data_dir, keys))
