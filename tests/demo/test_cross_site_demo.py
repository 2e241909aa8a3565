"""`onebar demo --cross-site`: every process on its own *.localhost name, the sites cross-site to the service.

Chromium here is pytest-playwright's session browser, launched with no
``--host-resolver-rules``: it resolves ``*.localhost`` to this machine by
itself, as the demo's banner says. (Python does not, so the test's own HTTP
requests go to ``localhost`` with the printed name as ``Host``, as a browser
sends it.)
"""

from __future__ import annotations

import re
import urllib.request
from urllib.parse import urlsplit

from playwright.sync_api import Browser, expect

from onebar.demo import DEMO_USERS

from .test_demo_command import listening, port_args, ports, running_demo, stop_with_ctrl_c  # noqa: F401

LABELS = ("Identity service", "Tasks (Flask)", "Notes (Django)", "Handbook (plain HTML)")
NAMES = ("id", "tasks", "notes", "handbook")


def answers(url: str, path: str) -> int:
    parts = urlsplit(url)
    request = urllib.request.Request(f"http://localhost:{parts.port}{path}", headers={"Host": parts.netloc})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status  # type: ignore[no-any-return]


def test_cross_site_demo_prints_its_names_and_signs_in_through_the_hand_off(ports: list[int],
                                                                            browser: Browser) -> None:
    with running_demo("--cross-site", *port_args(ports)) as (proc, out):
        urls = []
        for label, name, port in zip(LABELS, NAMES, ports, strict=True):
            url = f"http://{name}.localhost:{port}"
            assert re.search(rf"^  {re.escape(label)} +{re.escape(url)}/$", out, re.M), out
            urls.append(url)
        assert "no flag or\n/etc/hosts line is needed" in out
        service, tasks, notes, handbook = urls
        assert answers(service, "/healthz") == 200
        for url in (tasks, notes, handbook):
            assert answers(url, "/") == 200

        email, name, password = DEMO_USERS[0]
        context = browser.new_context()
        try:
            page = context.new_page()
            # The Handbook (a static page): the bar's "Sign in" goes through the service's form and back.
            page.goto(handbook + "/")
            page.locator("one-bar [part~=signin]").click()
            expect(page).to_have_url(re.compile(re.escape(service + "/login?")))
            page.get_by_label("Email").fill(email)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()
            # Back on the Handbook, the hand-off module redeems the code (/api/token) before the
            # bar shows the name: a few round trips through four processes, slow on a loaded machine.
            expect(page.locator("one-bar [part~=name]")).to_have_text(name, timeout=15_000)
            expect(page).to_have_url(handbook + "/")
            credential = page.evaluate("k => localStorage[k]", service + "/api/me")
            assert credential  # the hand-off's site credential: the service's cookie never came along
            # Tasks (Flask): its server signs in through its own hand-off, without a password now.
            page.goto(tasks + "/tasks")
            expect(page.get_by_role("heading", level=1)).to_have_text(f"{name.split()[0]}’s tasks")
            expect(page.locator("one-bar [part~=name]")).to_have_text(name)
        finally:
            context.close()
        stop_with_ctrl_c(proc)
    assert [p for p in ports if listening(p)] == []
