"""Fixtures for the server-side integrations: a real service, a stub one, a fake clock."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ..httpclient import Browserish
from ..live import MANY_SIGN_INS, Service, start_service

ADA = ("ada@example.com", "Ada Lovelace", "correct horse battery")
GRACE = ("grace@example.com", "Grace Hopper", "cobol-1959-flowmatic")


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The identity service as `onebar serve` runs it, with Ada and Grace."""
    with start_service(tmp_path_factory.mktemp("integrations") / "svc", users=[ADA, GRACE], env=MANY_SIGN_INS) as svc:
        yield svc


def sign_in(service: Service, who: tuple[str, str, str] = ADA) -> str:
    """Sign in on the service's own page; return the session cookie's value."""
    browser = Browserish(service.url)
    reply = browser.login(who[0], who[2])
    assert reply.status == 303, reply.text
    cookie = browser.cookie("onebar_session")
    assert cookie
    return cookie


def sign_out(service: Service, cookie: str) -> None:
    """What the bar's "Sign out" does: POST /api/logout with the cookie."""
    req = urllib.request.Request(service.url + "/api/logout", data=b"{}", method="POST", headers={
        "Content-Type": "application/json", "Origin": service.url, "Cookie": f"onebar_session={cookie}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert json.load(resp)["user"] is None


def me(service: Service, cookie: str) -> dict[str, Any]:
    req = urllib.request.Request(service.url + "/api/me", headers={"Cookie": f"onebar_session={cookie}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.load(resp)  # type: ignore[no-any-return]


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


ADA_ME = {"id": "u_ada", "name": "Ada Lovelace", "email": "ada@example.com", "initials": "AL", "avatar_url": None}


@dataclass
class StubService:
    """A stand-in for the service's /api/me: records what it is sent, answers what it is told."""

    url: str = ""
    status: int = 200
    body: bytes = field(default_factory=lambda: json.dumps({"user": ADA_ME, "apps": [], "links": {}}).encode())
    delay: float = 0.0
    requests: list[dict[str, str]] = field(default_factory=list)

    def answer(self, user: dict[str, Any] | None) -> None:
        self.body = json.dumps({"user": user, "apps": [], "links": {}}).encode()


@pytest.fixture
def stub() -> Iterator[StubService]:
    state = StubService()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            state.requests.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            if state.delay:
                time.sleep(state.delay)
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("localhost", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://localhost:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def database(service: Service) -> Path:
    return service.data_dir / "onebar.sqlite3"
