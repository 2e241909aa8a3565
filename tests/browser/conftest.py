"""Live servers and page helpers for the bar's browser tests.

Per session: the identity service (``onebar serve``, via :mod:`tests.live`)
with three registered apps and three users, and the static host site
(:mod:`tests.browser.hostpage`) on its own port, registered as the app
``notes``. Chromium is pytest-playwright's session ``browser``, launched with
the arguments in ``tests/conftest.py``; every test page gets a fresh context.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from ..live import MANY_SIGN_INS, Service, free_port, run_server, start_service

HOSTPAGE = Path(__file__).with_name("hostpage.py")
PASSWORD = "correct horse battery staple"
ADA = ("ada@example.com", "Ada Lovelace")
GRACE = ("grace@example.com", "Grace Hopper")
XSS_NAME = "<img src=x onerror=alert(1)>"
MALLORY = ("mallory@example.com", XSS_NAME)
TIMEOUT_MS = 4000  # the bar's own time limit for /api/me


@dataclass
class Sites:
    service: Service
    host: str       # the host site's origin, registered as app "notes"
    closed: str     # an origin nobody listens on

    def page_url(self, **params: str) -> str:
        return f"{self.host}/page" + ("?" + urlencode(params) if params else "")

    def fake_api(self, mode: str) -> str:
        return f"{self.host}/fake/{mode}"


@pytest.fixture(scope="session")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    tmp = tmp_path_factory.mktemp("browser")
    host_port, closed_port = free_port(), free_port()
    host = f"http://localhost:{host_port}"
    apps = [("notes", "Notes", host + "/"), ("tasks", "Tasks", "http://localhost:9/tasks/"),
            ("wiki", "Wiki", "http://localhost:9/wiki/")]
    users = [(email, name, PASSWORD) for email, name in (ADA, GRACE, MALLORY)]
    with start_service(tmp / "service", apps=apps, users=users, env=MANY_SIGN_INS) as service:
        argv = [sys.executable, str(HOSTPAGE), str(host_port), service.url, f"http://localhost:{service.events_port}"]
        with run_server(argv, url=host, health="/healthz", log=tmp / "hostpage.log"):
            yield Sites(service=service, host=host, closed=f"http://localhost:{closed_port}")


@dataclass
class Watched:
    """A page plus what it reported: uncaught errors, console lines, /api/me requests."""

    page: Page
    errors: list[str] = field(default_factory=list)
    console: list[ConsoleMessage] = field(default_factory=list)
    me_requests: list[str] = field(default_factory=list)

    def warnings(self) -> list[str]:
        return [m.text for m in self.console if m.type == "warning"]


def sign_in(page: Page, sites: Sites, email: str, then: str) -> None:
    """Through the service's real sign-in form, and back to ``then``."""
    page.goto(f"{sites.service.url}/login?next={quote(then, safe='')}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(then)


@pytest.fixture(scope="session")
def signed_in_state(browser: Browser, sites: Sites) -> Callable[[str], Any]:
    """Storage state (cookies) of a browser signed in as ``email``, made once per user."""
    cache: dict[str, Any] = {}

    def state(email: str) -> Any:
        if email not in cache:
            context = browser.new_context()
            try:
                sign_in(context.new_page(), sites, email, sites.page_url())
                cache[email] = context.storage_state()
            finally:
                context.close()
        return cache[email]

    return state


@pytest.fixture
def open_page(browser: Browser, signed_in_state: Callable[[str], Any]) -> Iterator[Callable[..., Watched]]:
    """``open_page(as_user=None, **context_args)``: a fresh context and page, watched.

    At the end of the test, an uncaught error in any page fails the test.
    """
    contexts: list[BrowserContext] = []
    watched: list[Watched] = []

    def make(as_user: str | None = None, **context_args: Any) -> Watched:
        if as_user:
            context_args["storage_state"] = signed_in_state(as_user)
        context = browser.new_context(**context_args)
        contexts.append(context)
        w = Watched(context.new_page())
        w.page.on("pageerror", lambda exc: w.errors.append(str(exc)))
        w.page.on("console", lambda m: w.console.append(m))
        w.page.on("request", lambda r: r.url.endswith("/api/me") and w.me_requests.append(r.url))
        watched.append(w)
        return w

    yield make
    for context in contexts:
        context.close()
    assert [e for w in watched for e in w.errors] == []


def bar(page: Page) -> Any:
    """The bar's host element (Playwright locators pierce its open shadow root)."""
    return page.locator("one-bar")


def wait_rendered(page: Page) -> None:
    """Until the bar shows either a user button or a sign-in link."""
    expect(page.locator("one-bar [part~=user], one-bar [part~=signin]")).to_have_count(1)
