"""Replay the signed-out ``GET /api/me`` answer instead of recomputing it.

Every page view of a signed-out visitor asks ``/api/me`` with no session
cookie. That answer depends on nothing but the request's ``Origin`` and
``Host`` headers and its scheme (which CORS headers flask-cors adds, which
links the document names), so the Flask app computes it once per such key,
with every hook and header, and this wrapper replays it byte for byte.

Anything else goes to the app untouched: another path or method, a query
string, any cookie header that mentions the session cookie's name (even a
forged or empty one, which the app must clear), and any answer that is not a
plain 200 without ``Set-Cookie``. The cache is bounded, so clients sending
made-up ``Origin`` or ``Host`` values only evict each other.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class SignedOutMeCache:
    """WSGI middleware around the service: see the module docstring.

    :param app: the service's WSGI app (inside any ProxyFix, so the scheme
        and host it sees are the ones the app sees).
    :param cookie_name: the session cookie's name; requests mentioning it
        always reach the app.
    :param max_entries: answers kept; the least recently used go first.
    """

    path = "/api/me"

    def __init__(self, app: WSGIApp, cookie_name: str, max_entries: int = 256) -> None:
        self.app = app
        self.cookie_name = cookie_name
        self.max_entries = max_entries
        self._answers: OrderedDict[tuple[str, str, str], tuple[str, list[tuple[str, str]], bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO") != self.path
            or environ.get("REQUEST_METHOD") != "GET"
            or environ.get("QUERY_STRING")
            or self.cookie_name in environ.get("HTTP_COOKIE", "")
        ):
            return self.app(environ, start_response)
        key = (environ.get("HTTP_ORIGIN", ""), environ.get("HTTP_HOST", ""), environ.get("wsgi.url_scheme", ""))
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
        if answer is None:
            answer = self._compute(environ)
            status, headers, _ = answer
            if status.startswith("200 ") and not any(k.lower() == "set-cookie" for k, _ in headers):
                with self._lock:
                    self._answers[key] = answer
                    while len(self._answers) > self.max_entries:
                        self._answers.popitem(last=False)
        status, headers, body = answer
        start_response(status, list(headers))
        return [body]

    def _compute(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> Callable[[bytes], None]:
            captured[:] = [status, list(headers)]
            return lambda data: None

        result = self.app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return captured[0], captured[1], body
