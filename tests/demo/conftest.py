"""The demo, live: the identity service and the three demo sites on their own localhost ports.

Started once per session with the :mod:`tests.live` helpers, exactly as
``onebar demo`` starts them (each site its own process, storage and port; the
sites know only the service's URL), with the demo accounts of :mod:`onebar.demo`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

from onebar.demo import DEMO_USERS

from ..live import MANY_SIGN_INS, Service, free_port, run_server, start_service

ADA, GRACE = DEMO_USERS


def look_again(page: Page) -> None:
    """Come back to the tab as a user does (visibility, focus): the bar asks the service again.

    A page the server rendered for the user reloads itself when the bar learns
    of a sign-out, so the nudge may land on a page that is going away: that is
    the feature working, and the caller goes on with the page that replaced it.
    """
    try:
        page.evaluate("() => { document.dispatchEvent(new Event('visibilitychange')); "
                      "window.dispatchEvent(new Event('focus')); }")
    except PlaywrightError as exc:
        if "context was destroyed" not in exc.message:
            raise
        page.wait_for_load_state()


@dataclass(frozen=True)
class Demo:
    service: Service
    tasks: str      # origins, no trailing slash
    notes: str
    handbook: str
    base: Path      # each site's storage is base / site id


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    base = tmp_path_factory.mktemp("demo")
    ports = {"tasks": free_port(), "notes": free_port(), "handbook": free_port()}
    url = {site: f"http://localhost:{port}" for site, port in ports.items()}
    apps = [("tasks", "Tasks", url["tasks"] + "/"), ("notes", "Notes", url["notes"] + "/"),
            ("handbook", "Handbook", url["handbook"] + "/")]
    with ExitStack() as stack:
        service = stack.enter_context(start_service(base / "service", apps=apps, users=DEMO_USERS, env=MANY_SIGN_INS))
        for site, module, health, where in (
            ("tasks", "demo_apps.flask_tasks", "/healthz", "--data-dir"),
            ("notes", "demo_apps.django_notes", "/healthz", "--data-dir"),
            ("handbook", "demo_apps.static_site", "/", "--out"),
        ):
            argv = [sys.executable, "-m", module, "--port", str(ports[site]), "--service-url", service.url,
                    where, str(base / site)]
            if site == "tasks":  # as onebar demo starts it: its CSP lets the bar reach the live stream
                argv += ["--events-origin", f"http://localhost:{service.events_port}"]
            stack.enter_context(run_server(argv, url=url[site], health=health, log=base / f"{site}.log"))
        yield Demo(service=service, base=base, **url)
