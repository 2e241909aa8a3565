"""A WSGI app for the multi-process back-channel test, built by each granian worker (a factory).

``WORKERS_APP_SERVICE_URL``, ``WORKERS_APP_SECRET`` and ``WORKERS_APP_FILE``
configure it; it answers ``<pid> <user name or "signed out">``, so a test sees
which worker answered.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from onebar.integrations.wsgi import OnebarMiddleware, RemoteVerifier


def make() -> Callable[..., Iterable[bytes]]:
    def whoami(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        user = environ["onebar.user"]
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")])
        return [f"{os.getpid()} {user.name if user else 'signed out'}".encode()]

    service = os.environ["WORKERS_APP_SERVICE_URL"]
    return OnebarMiddleware(whoami, service_url=service, verifier=RemoteVerifier(service, cache_ttl=600),
                            backchannel_secret=os.environ["WORKERS_APP_SECRET"],
                            backchannel_file=os.environ["WORKERS_APP_FILE"])
