"""The demo's Flask and Django apps on other registrable domains know the user server-side (issue 10).

The service is ``id.onebar.test``; Tasks (Flask) is ``tasks.tasks-site.test``
and Notes (Django) ``notes.notes-site.test``, each started as ``onebar demo
--cross-site`` starts it (``--public-url``, ``--site-url``). Their servers
never see the service's cookie: they sign in through the middleware's own
``/.onebar/login`` and ``/.onebar/callback`` and keep an ``HttpOnly``
credential of their own, while each page's bar keeps its own in
``localStorage``. Chromium blocks third-party cookies (the profile of
:mod:`tests.browser.test_crosssite`, whose probe proves the setting takes).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, BrowserType, Page, expect

from onebar.demo import DEMO_USERS

from ..live import MANY_SIGN_INS, Service, free_port, run_server, start_service
from .test_crosssite import bar_user, cross_site_chromium, sign_in_link

ADA = DEMO_USERS[0]


@dataclass
class Sites:
    service: Service
    id: str      # origins, as browsers reach them
    tasks: str
    notes: str


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    tmp = tmp_path_factory.mktemp("crosssite-apps")
    port, pt, pn = free_port(), free_port(), free_port()
    ident = f"http://id.onebar.test:{port}"
    tasks, notes = f"http://tasks.tasks-site.test:{pt}", f"http://notes.notes-site.test:{pn}"
    inside = f"http://localhost:{port}"  # the apps' servers reach the service here (ONEBAR_ALLOWED_HOSTS)
    with ExitStack() as stack:
        service = stack.enter_context(start_service(
            tmp / "service", port=port, apps=[("tasks", "Tasks", tasks + "/"), ("notes", "Notes", notes + "/")],
            users=[ADA], env={**MANY_SIGN_INS, "ONEBAR_PUBLIC_URL": ident, "ONEBAR_ALLOWED_HOSTS": f"localhost:{port}"}))
        for module, p, site in (("demo_apps.flask_tasks", pt, tasks), ("demo_apps.django_notes", pn, notes)):
            argv = [sys.executable, "-m", module, "--host", "localhost", "--port", str(p), "--service-url", inside,
                    "--public-url", ident, "--site-url", site, "--data-dir", str(tmp / module)]
            stack.enter_context(run_server(argv, url=f"http://localhost:{p}", health="/healthz",
                                           log=tmp / f"{module}.log"))
        yield Sites(service=service, id=ident, tasks=tasks, notes=notes)


@pytest.fixture
def context(browser_type: BrowserType, sites: Sites, tmp_path: Path) -> Iterator[BrowserContext]:
    with cross_site_chromium(browser_type, tmp_path / "profile", (sites.id, sites.tasks, sites.notes)) as context:
        yield context


def greeting(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#greeting")


def test_flask_and_django_on_other_domains_know_the_user_server_side(context: BrowserContext, sites: Sites) -> None:
    email, name, password = ADA
    first = name.split()[0]
    tasks = context.pages[0] if context.pages else context.new_page()
    warnings: list[str] = []
    context.on("console", lambda m: m.type == "warning" and warnings.append(m.text))

    # Tasks, signed out: the server renders for a guest, the bar offers "Sign in".
    tasks.goto(sites.tasks + "/")
    expect(greeting(tasks)).to_have_text("Small lists, done.")
    expect(sign_in_link(tasks)).to_be_visible()
    assert not [c for c in context.cookies() if c["name"] == "onebar_session"]  # never been to the service

    # A members-only page: the server's own hand-off, the service's form, back to the page.
    tasks.get_by_role("link", name="See my tasks").click()
    expect(tasks).to_have_url(re.compile(re.escape(sites.id + "/login?")))
    tasks.get_by_label("Email").fill(email)
    tasks.get_by_label("Password").fill(password)
    tasks.get_by_role("button", name="Sign in").click()
    expect(tasks.get_by_role("heading", level=1)).to_have_text(f"{first}’s tasks")  # rendered by Flask
    # The bar catches up on its own (a round trip without a password), and the page stays.
    expect(bar_user(tasks)).to_have_text(name)
    expect(tasks).to_have_url(sites.tasks + "/tasks")
    expect(tasks.get_by_role("heading", level=1)).to_have_text(f"{first}’s tasks")
    site_cookie = [c for c in context.cookies(sites.tasks) if c["name"] == "onebar_site"]
    assert len(site_cookie) == 1 and site_cookie[0]["httpOnly"]

    # Notes: the bar's "Sign in" is one click, no password; then Django knows the user too.
    visited: list[str] = []
    notes = context.new_page()
    notes.on("framenavigated", lambda f: f == notes.main_frame and visited.append(f.url))
    notes.goto(sites.notes + "/")
    expect(greeting(notes)).to_have_text("Write it down.")
    sign_in_link(notes).click()
    expect(greeting(notes)).to_have_text(f"Welcome back, {first}.")  # rendered by Django: request.user
    expect(bar_user(notes)).to_have_text(name)
    assert not any(url.startswith(sites.id + "/login") for url in visited), visited
    expect(notes).to_have_url(sites.notes + "/")

    # Sign out on Notes: its bar and its server forget the user at once...
    notes.locator("one-bar [part~=user]").click()
    notes.get_by_role("menuitem", name="Sign out").click()
    expect(greeting(notes)).to_have_text("Write it down.")
    expect(sign_in_link(notes)).to_be_visible()

    # ...and Tasks, elsewhere, on its next look: its members-only page sends to the sign-in form,
    tasks.bring_to_front()
    tasks.reload()
    expect(tasks).to_have_url(re.compile(re.escape(sites.id + "/login?")))
    # and its home page is a guest's again.
    tasks.goto(sites.tasks + "/")
    expect(greeting(tasks)).to_have_text("Small lists, done.")
    expect(sign_in_link(tasks)).to_be_visible()
    assert "onebar: this page was rendered for another user" not in warnings
