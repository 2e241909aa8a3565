"""The cross-site hand-off in real Chromium (issue 10): three registrable domains.

The service is ``id.onebar.test``; site A is ``a.site-one.test`` and site B
``b.site-two.test`` (other registrable domains: the service's cookie never
reaches their bars' requests), site C is ``c.onebar.test`` (same-site: the
cookie does). Chromium maps ``*.test`` to 127.0.0.1 (``--host-resolver-rules``)
and treats these http origins as the secure https deployments they stand for
(``--unsafely-treat-insecure-origin-as-secure``: ``crypto.subtle``, ``Secure``
cookies). The journey runs with third-party cookies blocked in the browser
profile (proven with a probe cookie) and again with them allowed.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, BrowserType, Page, expect

from ..conftest import chromium_executable
from ..live import MANY_SIGN_INS, Service, free_port, run_server, start_service
from .conftest import ADA, HOSTPAGE, PASSWORD


@dataclass
class Domains:
    service: Service
    id: str   # the service's public origin
    a: str    # cross-site
    b: str    # cross-site
    c: str    # same-site

    def me(self, credential: str | None = None, origin: str | None = None) -> dict:  # type: ignore[type-arg]
        """The service's /api/me asked server-side (as a replaying attacker would)."""
        request = urllib.request.Request(self.service.url + "/api/me", headers={
            "Host": self.id.split("://")[1], **({"Origin": origin} if origin else {}),
            **({"Authorization": f"Bearer {credential}"} if credential else {})})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def domains(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Domains]:
    tmp = tmp_path_factory.mktemp("crosssite")
    port, pa, pb, pc = (free_port() for _ in range(4))
    ident = f"http://id.onebar.test:{port}"
    a, b, c = f"http://a.site-one.test:{pa}", f"http://b.site-two.test:{pb}", f"http://c.onebar.test:{pc}"
    apps = [("alpha", "Alpha", a + "/"), ("beta", "Beta", b + "/"), ("gamma", "Gamma", c + "/")]
    with ExitStack() as stack:
        service = stack.enter_context(start_service(
            tmp / "service", port=port, apps=apps, users=[(*ADA, PASSWORD)],
            env={**MANY_SIGN_INS, "ONEBAR_PUBLIC_URL": ident}))
        for name, p in (("a", pa), ("b", pb), ("c", pc)):
            stack.enter_context(run_server([sys.executable, str(HOSTPAGE), str(p), ident], url=f"http://localhost:{p}",
                                           health="/healthz", log=tmp / f"site-{name}.log"))
        yield Domains(service=service, id=ident, a=a, b=b, c=c)


def _profile(path: Path, block_third_party: bool) -> Path:
    """A Chromium profile whose settings block (or allow) third-party cookies."""
    prefs = {"profile": {"cookie_controls_mode": 1 if block_third_party else 0,
                         "block_third_party_cookies": block_third_party}}
    (path / "Default").mkdir(parents=True, exist_ok=True)
    (path / "Default" / "Preferences").write_text(json.dumps(prefs))
    return path


@contextmanager
def cross_site_chromium(browser_type: BrowserType, profile: Path, origins: Iterable[str],
                        block_third_party: bool = True) -> Iterator[BrowserContext]:
    """Chromium with ``*.test`` on 127.0.0.1 and ``origins`` treated as secure;
    an uncaught error in any of its pages fails the test."""
    args = [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
        "--host-resolver-rules=MAP *.test 127.0.0.1",
        "--unsafely-treat-insecure-origin-as-secure=" + ",".join(origins),
    ]
    exe = chromium_executable()
    context = browser_type.launch_persistent_context(
        str(_profile(profile, block_third_party)), args=args, headless=True,
        **({"executable_path": exe} if exe else {}))
    errors: list[str] = []
    context.on("weberror", lambda e: errors.append(str(e.error)))
    try:
        yield context
    finally:
        context.close()
    assert errors == []


@pytest.fixture(params=["third-party-cookies-blocked", "third-party-cookies-allowed"])
def chromium(request: pytest.FixtureRequest, browser_type: BrowserType, domains: Domains,
             tmp_path: Path) -> Iterator[tuple[BrowserContext, bool]]:
    blocked = request.param.endswith("blocked")
    with cross_site_chromium(browser_type, tmp_path / "profile", (domains.id, domains.a, domains.b, domains.c),
                             blocked) as context:
        yield context, blocked


def bar_user(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("one-bar [part~=name]")


def sign_in_link(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("one-bar [part~=signin]")


def test_the_journey_across_three_registrable_domains(chromium: tuple[BrowserContext, bool], domains: Domains) -> None:
    context, blocked = chromium
    page = context.pages[0] if context.pages else context.new_page()

    # The profile's setting, proven: a SameSite=None cookie of C is (not) sent from A.
    page.goto(domains.c + "/probe/set")
    page.goto(domains.a + "/page")
    sent = page.evaluate("u => fetch(u, {credentials: 'include'}).then(r => r.json())", domains.c + "/probe/check")
    assert sent == {"cookie": not blocked}

    visited: list[str] = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and visited.append(frame.url))

    # A (cross-site): "Sign in" leads to the service's form, then back, signed in.
    page.goto(domains.a + "/page")
    sign_in_link(page).click()
    page.get_by_label("Email").fill(ADA[0])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(bar_user(page)).to_have_text(ADA[1])
    assert page.url == domains.a + "/page"  # the code left the address bar
    credential = page.evaluate("k => localStorage[k]", domains.id + "/api/me")
    assert credential and domains.me(credential, domains.a)["user"]["name"] == ADA[1]

    # B (cross-site): one click, no password.
    visited.clear()
    b = context.new_page()
    b.on("framenavigated", lambda frame: frame == b.main_frame and visited.append(frame.url))
    b.goto(domains.b + "/page")
    expect(sign_in_link(b)).to_be_visible()
    sign_in_link(b).click()
    expect(bar_user(b)).to_have_text(ADA[1])
    assert not any("/login" in url for url in visited), visited
    assert b.url == domains.b + "/page"

    # C (same-site): already signed in, with the service's own cookie.
    c = context.new_page()
    c.goto(domains.c + "/page")
    expect(bar_user(c)).to_have_text(ADA[1])
    assert c.evaluate("k => localStorage[k]", domains.id + "/api/me") is None  # no hand-off there

    # Sign out on B.
    b.bring_to_front()
    b.locator("one-bar [part~=user]").click()
    b.get_by_role("menuitem", name="Sign out").click()
    expect(sign_in_link(b)).to_be_visible()

    # A and C: signed out on their next check (here, a reload).
    for other in (page, c):
        other.bring_to_front()
        other.reload()
        expect(sign_in_link(other)).to_be_visible()
    # The service itself: signed out.
    svc = context.new_page()
    svc.goto(domains.id + "/api/me")
    assert json.loads(svc.locator("body").inner_text())["user"] is None
    # A copied credential, replayed: refused.
    assert domains.me(credential, domains.a)["user"] is None


def test_a_tab_does_not_finish_a_sign_in_it_did_not_start(chromium: tuple[BrowserContext, bool],
                                                         domains: Domains) -> None:
    # Login CSRF: the attacker's own code and state, planted in a link for the victim.
    context, _ = chromium
    page = context.pages[0] if context.pages else context.new_page()
    warnings: list[str] = []
    page.on("console", lambda m: m.type == "warning" and warnings.append(m.text))
    tokens: list[str] = []
    page.on("request", lambda r: r.url.endswith("/api/token") and tokens.append(r.url))
    page.goto(domains.a + "/page#onebar_code=" + "x" * 43 + "&onebar_state=" + "y" * 43)
    expect(sign_in_link(page)).to_be_visible()
    expect(page).to_have_url(domains.a + "/page")  # the planted code is gone from the address bar
    page.wait_for_timeout(300)
    expect(sign_in_link(page)).to_be_visible()
    assert "onebar: ignored a sign-in this tab did not start" in warnings
    assert tokens == []  # not even tried


def test_auto_signin_bounces_once_when_signed_out_and_signs_in_when_signed_in(
        chromium: tuple[BrowserContext, bool], domains: Domains) -> None:
    context, _ = chromium
    page = context.pages[0] if context.pages else context.new_page()
    authorizations: list[str] = []
    page.on("request", lambda r: "/authorize?" in r.url and authorizations.append(r.url))
    # Signed out at the service: one bounce to it and straight back (prompt=none).
    with page.expect_event("framenavigated", predicate=lambda f: "onebar_error=login_required" in f.url):
        page.goto(domains.a + "/page?auto=1")
    expect(page).to_have_url(domains.a + "/page?auto=1")
    expect(sign_in_link(page)).to_be_visible()
    page.reload()
    expect(sign_in_link(page)).to_be_visible()
    page.wait_for_timeout(300)
    assert len(authorizations) == 1 and "prompt=none" in authorizations[0]  # one bounce, no loop

    # Signed in at the service: a new tab session on B signs in without a click.
    page.goto(f"{domains.id}/login")
    page.get_by_label("Email").fill(ADA[0])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    b = context.new_page()
    b.goto(domains.b + "/page?auto=1")
    expect(bar_user(b)).to_have_text(ADA[1])
