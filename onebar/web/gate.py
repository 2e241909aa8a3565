"""Bound the requests that hash passwords before Flask sees them.

A sign-in, a sign-up, a password change or reset, an email change and an
account deletion (the last two ask for the current password) each cost a
password hash (~100 ms of CPU, 32 MB). :class:`SignInGate` lets at most ``places`` of them be in the
app at once in this process (about two per hashing thread: one hashing, one
next in line); any more are answered 503 with ``Retry-After: 1`` at once, for
a few microseconds, without parsing the form. So a storm of sign-ins, correct
ones included, holds at most ``places`` of the server's threads and never
queues ``/api/me`` behind it. Per-account and per-address limits on every
attempt (``onebar.ratelimit``) then answer the admitted ones with 429 without
hashing. Example::

    app.wsgi_app = SignInGate(app.wsgi_app, places=2)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

#: POSTs to these paths hash a password.
HASHING_PATHS = frozenset({"/login", "/signup", "/account/password", "/account/email", "/account/delete"})
#: ... and POSTs to paths under these (a password reset link's page).
HASHING_PREFIXES = ("/password/reset/",)


def hashes_a_password(environ: dict[str, Any]) -> bool:
    if environ.get("REQUEST_METHOD") != "POST":
        return False
    path = environ.get("PATH_INFO") or ""
    return path in HASHING_PATHS or path.startswith(HASHING_PREFIXES)

BUSY_BODY = b"The service is busy. Please try again in a moment.\n"
BUSY_HEADERS = [
    ("Content-Type", "text/plain; charset=utf-8"),
    ("Content-Length", str(len(BUSY_BODY))),
    ("Retry-After", "1"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
]


class SignInGate:
    """WSGI middleware: see the module docstring.

    :param app: the service's Flask WSGI app.
    :param places: password-hashing requests allowed in the app at once.
    """

    def __init__(self, app: WSGIApp, places: int) -> None:
        self.app = app
        self.places = places
        self._places = threading.BoundedSemaphore(places)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not hashes_a_password(environ):
            return self.app(environ, start_response)
        if not self._places.acquire(blocking=False):
            _drain(environ)
            start_response("503 Service Unavailable", list(BUSY_HEADERS))
            return [BUSY_BODY]
        try:
            # Pages are small: read the whole answer so the place is free
            # again as soon as this returns.
            result = self.app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        finally:
            self._places.release()


def _drain(environ: dict[str, Any], limit: int = 64 * 1024) -> None:
    """Read a small form body, so the client's kept-alive connection stays usable."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    if 0 < length <= limit:
        environ["wsgi.input"].read(length)
