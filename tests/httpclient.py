"""A small cookie-keeping HTTP client for tests against live servers (stdlib only).

It never follows redirects, so a test sees each ``Location`` itself.
"""

from __future__ import annotations

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


class Browserish:
    """Keeps cookies like a browser would for one origin; never follows redirects."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

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
