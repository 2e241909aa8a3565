"""Servers for the benchmarks and drills: subprocesses on free localhost ports.

The identity service runs exactly as ``onebar serve`` runs it (``python -m onebar
serve``: granian, the same workers and threads); the baseline runs under the
same server with the same settings (``python -m bench.servers granian
baseline``). Each is a :class:`onebar.demo.process.ChildServer` (the helper
``onebar demo`` and the tests use too): polled on ``/healthz`` until it
answers, stopped, killed with SIGKILL and started again on the same port.
"""

from __future__ import annotations

import http.client
import json
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from onebar.demo.process import ChildServer, free_port

__all__ = ["ChildServer", "baseline", "free_port", "get", "get_json", "new_keys", "server", "service", "service_env"]

ROOT = Path(__file__).resolve().parent.parent
HOST = "localhost"


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


def server(name: str, argv: Sequence[str], port: int, log: Path, env: Mapping[str, str] | None = None, *,
           health: str = "/healthz") -> ChildServer:
    """A server on ``localhost:port``; ``start()`` (or ``with``) returns once ``health`` answers."""
    return ChildServer(name, argv, url=f"http://{HOST}:{port}", log=log, health=health, env=dict(env or {}), cwd=ROOT)


def service_env(data_dir: Path, keys: Sequence[str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {"ONEBAR_DATA_DIR": str(data_dir), "ONEBAR_SECRET_KEYS": ",".join(keys), **(extra or {})}


def service(data_dir: Path, keys: Sequence[str], *, port: int | None = None, threads: int = 8, workers: int = 1,
            env: Mapping[str, str] | None = None) -> ChildServer:
    """The identity service, as ``onebar serve --host localhost --port P --workers W --threads N``."""
    port = port or free_port()
    argv = [sys.executable, "-m", "onebar", "serve", "--host", HOST, "--port", str(port), "--workers", str(workers),
            "--threads", str(threads), "--events-port", "0"]  # the live stream has its own benchmark
    return server("onebar serve", argv, port, data_dir / "service.log", service_env(data_dir, keys, env))


def baseline(data_dir: Path, keys: Sequence[str], *, port: int | None = None, threads: int = 8,
             workers: int = 1) -> ChildServer:
    """The raw-WSGI baseline over the same data dir, under the same server (granian) and settings."""
    port = port or free_port()
    argv = [sys.executable, "-m", "bench.servers", "granian", "baseline", "--port", str(port),
            "--workers", str(workers), "--threads", str(threads)]
    return server("baseline", argv, port, data_dir / "baseline.log", service_env(data_dir, keys))
