"""A small cookie-keeping HTTP client for tests against live servers (stdlib only).

It never follows redirects, so a test sees each ``Location`` itself.
"""

from __future__ import annotations

import functools
import http.client
import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def header_list(self, name: str) -> list[str]:
        return self.headers.get_all(name) or []


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class _FromAddress(urllib.request.HTTPHandler):
    """Connects from a given local address (e.g. 127.0.0.2: another client on loopback)."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source

    def http_open(self, req: urllib.request.Request):  # type: ignore[no-untyped-def]
        return self.do_open(functools.partial(http.client.HTTPConnection, source_address=(self.source, 0)), req)


class Browserish:
    """Keeps cookies like a browser would for one origin; never follows redirects.

    :param source: the local address to connect from; ``127.0.0.2`` and
        ``127.0.0.3`` are two clients on loopback, as a proxy sees them.
    """

    def __init__(self, base: str, source: str | None = None) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        handlers: list[urllib.request.BaseHandler] = [urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()]
        if source:
            handlers.append(_FromAddress(source))
        self._opener = urllib.request.build_opener(*handlers)

    def request(self, method: str, path: str, *, data: dict[str, str] | None = None, json_body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        body = None
        hdrs = dict(headers or {})
        if data is not None:
            body = urllib.parse.urlencode(data).encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif json_body is not None:
            body = json_body
            hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=hdrs)
        try:
            with self._opener.open(req, timeout=10) as resp:
                return Reply(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return Reply(exc.code, exc.headers, exc.read())

    def get(self, path: str, **kw: object) -> Reply:
        return self.request("GET", path, **kw)  # type: ignore[arg-type]

    def post(self, path: str, **kw: object) -> Reply:
        return self.request("POST", path, **kw)  # type: ignore[arg-type]

    def csrf(self, path: str = "/login") -> str:
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', self.get(path).text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, email: str, password: str, next: str = "") -> Reply:
        return self.post("/login", data={"csrf_token": self.csrf(), "email": email, "password": password,
                                         "next": next})

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)
