"""The bar's core behaviour in a second engine: Firefox (Debian's firefox-esr), over WebDriver BiDi.

Render, sign in, sign out, strict CSP, keyboard, ready/state, pages that forget, against the same
live service and host site as the Chromium tests (:mod:`tests.browser.conftest`); and the
cross-site hand-off (:mod:`tests.browser.test_crosssite`'s journey, its core), with the service
and the sites on registrable domains of their own and third-party cookies blocked.
A missing Firefox fails these tests; it never skips them.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import quote

import pytest

from ..live import MANY_SIGN_INS, Service, free_port, run_server, start_service
from .conftest import ADA, HOSTPAGE, MALLORY, PASSWORD, XSS_NAME, Sites
from .firefox import Firefox, Tab

pytestmark = pytest.mark.browser

SHADOW = "document.querySelector('one-bar').shadowRoot"


def part(name: str) -> str:
    return f"{SHADOW}.querySelector('[part~={name}]')"


@pytest.fixture(scope="module")
def firefox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Firefox]:
    """One Firefox for this module's tests, closed after them."""
    with Firefox.launch(tmp_path_factory.mktemp("firefox")) as browser:
        yield browser


@pytest.fixture
def tab(firefox: Firefox) -> Iterator[Tab]:
    """A fresh tab with its own cookies; an uncaught error or console error in it fails the test."""
    t = firefox.new_tab()
    yield t
    errors = t.errors()
    t.close()
    assert errors == []


def rendered(tab: Tab) -> None:
    tab.wait_for(f"document.querySelector('one-bar') && ({part('user')} || {part('signin')})")


def sign_in(tab: Tab, sites: Sites, email: str, then: str) -> None:
    """Through the service's real form, typed and clicked."""
    tab.goto(f"{sites.service.url}/login?next={quote(then, safe='')}")
    tab.click("document.querySelector('input[name=email]')")
    tab.press(email)
    tab.click("document.querySelector('input[name=password]')")
    tab.press(PASSWORD)
    tab.click("document.querySelector('form button[type=submit]')")
    tab.wait_for(f"location.href == {json.dumps(then)} && document.readyState == 'complete'")


def test_firefox_draws_the_signed_out_bar_and_its_app_switcher(tab: Tab, sites: Sites) -> None:
    url = sites.page_url(app="notes")
    tab.goto(url)
    rendered(tab)
    assert tab.eval(f"{part('signin')}.textContent") == "Sign in"
    assert tab.eval(f"{part('signin')}.href") == f"{sites.service.url}/login?next={quote(url, safe='')}"
    assert tab.eval(f"{part('apps')}.textContent") == "Notes"
    assert tab.eval("getComputedStyle(document.querySelector('one-bar')).backgroundColor") == "rgb(255, 255, 255)"
    assert tab.eval(f"getComputedStyle({SHADOW}.querySelector('nav')).display") == "flex"
    assert tab.eval("window.onebar.state") == "signed-out"

    tab.click(part("apps"))
    assert tab.wait_for(f"{part('apps')}.getAttribute('aria-expanded') == 'true'")
    assert tab.eval(f"[...{SHADOW}.querySelectorAll('#apps [role=menuitem] .name')].map(a => a.textContent)") == [
        "Notes", "Tasks", "Wiki"]
    tab.click("document.querySelector('#title')")  # a click outside closes the menu
    assert tab.wait_for(f"{part('apps')}.getAttribute('aria-expanded') == 'false'")


def test_firefox_signs_in_through_the_form_and_back_signed_in(tab: Tab, sites: Sites) -> None:
    url = sites.page_url()
    tab.goto(url)
    rendered(tab)
    tab.click(part("signin"))
    tab.wait_for(f"location.href.startsWith({json.dumps(sites.service.url + '/login?next=')})")
    sign_in(tab, sites, ADA[0], then=url)
    assert tab.wait_for(f"{part('user')} && {part('user')}.getAttribute('aria-label')") == ADA[1]
    assert tab.eval(f"{part('user')}.querySelector('[part~=avatar]').textContent") == "AL"
    assert tab.eval("window.onebar.ready.then(u => u.email)") == ADA[0]
    assert tab.eval("window.onebar.state") == "signed-in"
    assert [e["user"]["email"] for e in tab.eval("window.hostpage.events")] == [ADA[0]]


def test_firefox_signs_out_from_the_bar_without_a_page_load(tab: Tab, sites: Sites) -> None:
    url = sites.page_url()
    sign_in(tab, sites, ADA[0], then=url)
    rendered(tab)
    tab.eval("window.stillTheSamePage = true")
    tab.click(part("user"))
    tab.click(f"[...{SHADOW}.querySelectorAll('[role=menuitem]')].find(a => a.textContent == 'Sign out')")
    tab.wait_for(part("signin"))
    assert tab.wait_for(f"{SHADOW}.activeElement && {SHADOW}.activeElement.getAttribute('part')") == "signin"
    assert tab.eval("window.stillTheSamePage") is True
    assert tab.eval("window.onebar.state") == "signed-out"
    assert tab.eval(f"fetch({json.dumps(sites.service.url + '/api/me')}, {{credentials: 'include'}})"
                    ".then(r => r.json()).then(d => d.user)") is None


def test_firefox_user_menu_by_keyboard(tab: Tab, sites: Sites) -> None:
    sign_in(tab, sites, ADA[0], then=sites.page_url())
    tab.wait_for(part("user"))
    active = f"{SHADOW}.activeElement && {SHADOW}.activeElement.textContent"
    tab.eval(f"{part('user')}.focus()")
    tab.press("Enter")
    assert tab.wait_for(active) == "Account"
    assert tab.eval(f"{part('user')}.getAttribute('aria-expanded')") == "true"
    tab.press("ArrowDown")
    assert tab.eval(active) == "Sign out"
    tab.press("ArrowDown")
    assert tab.eval(active) == "Account"  # wraps
    tab.press("End")
    assert tab.eval(active) == "Sign out"
    tab.press("Escape")
    assert tab.eval(f"{part('user')}.getAttribute('aria-expanded')") == "false"
    assert tab.eval(f"{SHADOW}.activeElement.getAttribute('part')") == "user"
    tab.press("ArrowUp")  # opens on the last item
    assert tab.wait_for(active) == "Sign out"


def test_firefox_strict_csp_page_gets_the_styled_bar_and_no_violation(tab: Tab, sites: Sites) -> None:
    tab.goto(sites.page_url(csp="1"))
    rendered(tab)
    assert tab.eval("document.querySelector('#status').textContent") == "Page script ran"
    assert tab.eval("getComputedStyle(document.querySelector('one-bar')).height") == "48px"
    assert tab.eval(f"getComputedStyle({part('signin')}).backgroundColor") == "rgb(9, 105, 218)"
    assert tab.eval("window.hostpage.violations") == []


def test_firefox_shows_an_html_name_as_text(tab: Tab, sites: Sites) -> None:
    sign_in(tab, sites, MALLORY[0], then=sites.page_url())
    assert tab.wait_for(f"{part('name')} && {part('name')}.textContent") == XSS_NAME
    assert tab.eval(f"{SHADOW}.querySelectorAll('img').length + document.querySelectorAll('img').length") == 0


def test_firefox_ready_and_state_when_the_service_is_unreachable(tab: Tab, sites: Sites) -> None:
    tab.goto(sites.page_url(api=sites.closed))
    assert tab.eval("window.onebar.ready") is None
    assert tab.eval("window.onebar.state") == "unavailable"
    assert tab.eval(f"{part('signin')}.textContent") == "Sign in"
    assert any("onebar:" in m for m in tab.warnings())
    # Firefox itself logs the refused connection as an error; that one is expected here.
    refused = [e for e in tab.firefox.log if e.context == tab.context and "CORS request did not succeed" in e.text]
    assert refused
    for entry in refused:
        tab.firefox.log.remove(entry)


def test_firefox_empties_a_page_rendered_for_someone_else(tab: Tab, sites: Sites) -> None:
    tab.goto(sites.page_url(user="u_somebody_else"))  # signed out, but the page says it was for someone
    tab.wait_for("performance.getEntriesByType('navigation')[0].type == 'reload' && document.readyState == 'complete'")
    tab.wait_for(part("signin"))
    assert tab.eval("[...document.body.children].map(e => e.localName)") == ["one-bar"]
    assert "Launch checklist" not in tab.eval("document.body.innerText")


# The cross-site hand-off. Firefox has no --host-resolver-rules; it needs none: it resolves every
# ``*.localhost`` name to the loopback address by itself, treats those http origins as secure
# contexts (``crypto.subtle`` for the hand-off's PKCE), and, ``localhost`` having no public-suffix
# entry, treats each NAME.localhost as a registrable domain of its own (as ``onebar demo
# --cross-site`` relies on). The service is ``id.localhost``; site A ``a.localhost`` embeds the
# bar; site B ``b.localhost`` serves the third-party cookie probe.


@dataclass
class CrossSite:
    service: Service
    id: str   # the service's public origin
    a: str    # a site on another registrable domain, embedding the bar
    b: str    # another one: the probe cookie's site

    def me(self, credential: str) -> dict:  # type: ignore[type-arg]
        """The service's /api/me asked server-side with a site credential (as a replaying attacker would)."""
        request = urllib.request.Request(self.service.url + "/api/me", headers={
            "Host": self.id.split("://")[1], "Origin": self.a, "Authorization": f"Bearer {credential}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def cross_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrossSite]:
    tmp = tmp_path_factory.mktemp("crosssite-firefox")
    port, pa, pb = (free_port() for _ in range(3))
    ident, a, b = f"http://id.localhost:{port}", f"http://a.localhost:{pa}", f"http://b.localhost:{pb}"
    with ExitStack() as stack:
        service = stack.enter_context(start_service(
            tmp / "service", port=port, apps=[("alpha", "Alpha", a + "/")], users=[(*ADA, PASSWORD)],
            env={**MANY_SIGN_INS, "ONEBAR_PUBLIC_URL": ident}))
        for name, p in (("a", pa), ("b", pb)):
            stack.enter_context(run_server([sys.executable, str(HOSTPAGE), str(p), ident], url=f"http://localhost:{p}",
                                           health="/healthz", log=tmp / f"site-{name}.log"))
        yield CrossSite(service=service, id=ident, a=a, b=b)


def test_firefox_cross_site_hand_off_with_third_party_cookies_blocked(tab: Tab, cross_site: CrossSite) -> None:
    # The profile blocks third-party cookies (PREFS["network.cookie.cookieBehavior"] = 1). The
    # probe proves it: a SameSite=None cookie of B goes along on B's own request, and not on A's.
    tab.goto(cross_site.b + "/probe/set")
    check = f"fetch({json.dumps(cross_site.b + '/probe/check')}, {{credentials: 'include'}}).then(r => r.json())"
    assert tab.eval(check) == {"cookie": True}  # (asked from B's own page: the probe works)
    tab.goto(cross_site.a + "/page")
    assert tab.eval(check) == {"cookie": False}

    # A (cross-site): the bar's "Sign in" leads to the service's form, then back, signed in.
    rendered(tab)
    assert tab.eval("window.onebar.state") == "signed-out"
    tab.click(part("signin"))
    tab.wait_for(f"location.href.startsWith({json.dumps(cross_site.id + '/login?')}) && "
                 "document.querySelector('input[name=email]')")
    tab.click("document.querySelector('input[name=email]')")
    tab.press(ADA[0])
    tab.click("document.querySelector('input[name=password]')")
    tab.press(PASSWORD)
    tab.click("document.querySelector('form button[type=submit]')")
    # Back on A, the hand-off module redeems the code (/api/token) before the bar shows the name.
    assert tab.wait_for(f"location.origin == {json.dumps(cross_site.a)} && {part('name')} && "
                        f"{part('name')}.textContent", timeout=20) == ADA[1]
    assert tab.eval("location.href") == cross_site.a + "/page"  # the code left the address bar
    assert tab.eval("window.onebar.state") == "signed-in"
    credential = tab.eval(f"localStorage[{json.dumps(cross_site.id + '/api/me')}]")
    assert credential and cross_site.me(credential)["user"]["name"] == ADA[1]
    # The service's own cookie never reaches A's requests: without the credential, A is nobody.
    assert tab.eval(f"fetch({json.dumps(cross_site.id + '/api/me')}, {{credentials: 'include'}})"
                    ".then(r => r.json()).then(d => d.user)") is None

    # Sign out from A's bar: the name goes, the service's session ends, the credential is refused.
    tab.click(part("user"))
    tab.click(f"[...{SHADOW}.querySelectorAll('[role=menuitem]')].find(a => a.textContent == 'Sign out')")
    tab.wait_for(f"location.origin == {json.dumps(cross_site.a)} && {part('signin')}", timeout=20)
    assert tab.eval(f"{part('name')}") is None
    assert tab.eval("window.onebar.state") == "signed-out"
    assert cross_site.me(credential)["user"] is None
    tab.goto(cross_site.id + "/login")  # first-party at the service: signed out there too
    assert tab.eval("fetch('/api/me', {credentials: 'include'}).then(r => r.json()).then(d => d.user)") is None
