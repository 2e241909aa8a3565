"""A one-page WSGI app, with or without the Onebar middleware, for benchmark 3.

    python -m bench.mwapp --mode remote --service-url http://localhost:5000 --port 5200

Modes: ``none`` (no middleware: the baseline), ``remote`` and
``remote-uncached`` (:class:`~onebar.integrations.wsgi.RemoteVerifier`, with its
default 5 s cache or none), ``local`` and ``local-uncached``
(:class:`~onebar.integrations.wsgi.LocalVerifier` on the service's SQLite file,
keys from ``ONEBAR_SECRET_KEYS``). Served by ``onebar.wsgiserver.run`` (waitress),
as the baseline is.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from onebar import logs
from onebar.integrations.wsgi import LocalVerifier, OnebarMiddleware, RemoteVerifier
from onebar.store import SQLiteStore

MODES = ("none", "remote", "remote-uncached", "local", "local-uncached")


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/healthz":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    user = environ.get("onebar.user")
    body = (f"Hello, {user.name}!" if user else "Hello, guest.").encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def make(mode: str, *, service_url: str, keys: list[str], database: str) -> Callable[..., Iterable[bytes]]:
    if mode == "none":
        return hello
    if mode.startswith("remote"):
        verifier: Any = RemoteVerifier(service_url, cache_ttl=0 if mode.endswith("uncached") else None)
    else:
        verifier = LocalVerifier(keys, store=SQLiteStore(database),
                                 cache_ttl=0 if mode.endswith("uncached") else None)
    return OnebarMiddleware(hello, service_url=service_url, verifier=verifier)


def main() -> None:
    from onebar.wsgiserver import run

    parser = argparse.ArgumentParser(prog="python -m bench.mwapp")
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--service-url", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    keys = [k for k in os.environ.get("ONEBAR_SECRET_KEYS", "").split(",") if k]
    app = make(args.mode, service_url=args.service_url, keys=keys, database=args.database)
    logging.basicConfig(level=logging.INFO, format=logs.FORMAT)
    run(app, host=args.host, port=args.port, threads=args.threads, name=f"mwapp-{args.mode}")


if __name__ == "__main__":
    main()
