"""Plain HTTP visitors for the drills: a cookie jar, a new connection per request.

No redirects are followed and nothing is retried here: a drill needs to see
every answer (a 303 with a cookie is an acknowledged sign-in) and every
refused connection (the service is down).
"""

from __future__ import annotations

import http.client
import json
import re
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlencode

from .procs import HOST

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
COOKIE = "onebar_session"

#: What a client sees when the service is not there (or dies mid-answer).
DOWN = (OSError, http.client.HTTPException)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    set_cookies: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class Visitor:
    """One browser-like visitor of ``localhost:port``."""

    port: int
    timeout: float = 15.0
    jar: dict[str, str] = field(default_factory=dict)
    token: str | None = None

    def request(self, method: str, path: str, *, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        send = dict(headers or {})
        if self.jar and "Cookie" not in send:
            send["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            send["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=send)
            resp = conn.getresponse()
            data = resp.read()
            set_cookies = {}
            for raw in resp.headers.get_all("Set-Cookie") or []:
                try:
                    parsed = SimpleCookie(raw)
                except CookieError:
                    continue
                for name, morsel in parsed.items():
                    set_cookies[name] = morsel.value
                    if morsel["max-age"] == "0" or not morsel.value:
                        self.jar.pop(name, None)
                    else:
                        self.jar[name] = morsel.value
            return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, set_cookies, data)
        finally:
            conn.close()

    def fetch_token(self, path: str = "/login") -> str:
        page = self.request("GET", path)
        match = CSRF.search(page.body.decode(errors="replace"))
        if page.status != 200 or not match:
            raise RuntimeError(f"no CSRF token on {path} (HTTP {page.status})")
        self.token = match.group(1)
        return self.token

    def signup(self, email: str, name: str, password: str) -> Answer:
        token = self.token or self.fetch_token("/signup")
        return self.request("POST", "/signup", form={"csrf_token": token, "name": name, "email": email,
                                                     "password": password, "confirm": password, "next": ""})

    def login(self, email: str, password: str) -> Answer:
        token = self.token or self.fetch_token("/login")
        return self.request("POST", "/login", form={"csrf_token": token, "email": email, "password": password,
                                                    "next": ""})

    def forget_session(self) -> None:
        """Drop the session cookie (keep the CSRF one), like a new browser tab of a fresh profile."""
        self.jar.pop(COOKIE, None)


def me(port: int, cookie: str | None, timeout: float = 5.0) -> object:
    """The ``/api/me`` document for ``cookie`` (no jar)."""
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
    answer = Visitor(port, timeout=timeout).request("GET", "/api/me", headers=headers)
    if answer.status != 200:
        raise RuntimeError(f"/api/me answered {answer.status}")
    return answer.json()
