"""The page's side of the bar: ``onebar.ready``, ``onebar.state``, late listeners,
pages that forget their user (``data-user``), and how the bar sits on a bare page."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import ADA, GRACE, Sites, Watched, bar, sign_in, wait_rendered

pytestmark = pytest.mark.browser


def _late_listener() -> str:
    """The copy-paste snippet of docs/bar.md ("A listener added late"), as a page
    script would run it, with its ``show`` recording whom it was asked to draw."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "bar.md").read_text()
    snippet = re.search(r"```js\n(.*?)```", doc[doc.index("**A listener added late.**"):], re.S)
    assert snippet, "docs/bar.md: the late-listener snippet is gone"
    code, drawn = re.subn(r"^function show\(user\) \{.*\}$", "function show(user) { seen.push(user && user.name); }",
                          snippet.group(1), flags=re.M)
    assert drawn == 1, "docs/bar.md: the late-listener snippet no longer defines show(user)"
    return "() => new Promise((done) => {\n  const seen = [];\n" + code + "  setTimeout(() => done(seen), 300);\n})"


LATE_LISTENER = _late_listener()


def test_ready_and_state_while_loading_then_signed_in(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page()
    w.page.goto(sites.page_url(api=sites.fake_api("slow-1500")))
    assert w.page.evaluate("window.onebar.state") == "loading"
    assert w.page.evaluate("window.onebar.user") is None  # not yet known, as state says
    user = w.page.evaluate("window.onebar.ready")
    assert user["name"] == "Ada Lovelace"
    assert w.page.evaluate("window.onebar.state") == "signed-in"


def test_ready_and_state_signed_out(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page()
    w.page.goto(sites.page_url())
    assert w.page.evaluate("window.onebar.ready") is None
    assert w.page.evaluate("window.onebar.state") == "signed-out"


def test_ready_and_state_when_the_service_is_unreachable(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page()
    w.page.goto(sites.page_url(api=sites.closed))
    assert w.page.evaluate("window.onebar.ready") is None
    assert w.page.evaluate("window.onebar.state") == "unavailable"
    expect(w.page.get_by_role("link", name="Sign in")).to_be_visible()


def test_a_listener_added_after_the_first_change_still_gets_the_user(
        open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page(as_user=ADA[0])
    w.page.goto(sites.page_url())
    expect(w.page.get_by_role("button", name=ADA[1])).to_be_visible()  # the first change has fired
    assert w.page.evaluate(LATE_LISTENER) == [ADA[1]]


def test_a_listener_added_after_a_sign_out_draws_nobody(open_page: Callable[..., Watched], sites: Sites) -> None:
    # The first answer was Ada; she signed out in another tab before the page's
    # late script ran. The snippet must draw nobody, not the first answer.
    w = open_page()
    sign_in(w.page, sites, ADA[0], then=sites.page_url())  # a session of its own: the test ends it
    expect(w.page.get_by_role("button", name=ADA[1])).to_be_visible()
    other = w.page.context.new_page()
    other.goto(sites.page_url())
    other.get_by_role("button", name=ADA[1]).click()
    other.get_by_role("menuitem", name="Sign out").click()
    expect(w.page.get_by_role("link", name="Sign in")).to_be_visible()  # told over BroadcastChannel
    assert w.page.evaluate("window.onebar.ready.then(u => u.name)") == ADA[1]  # ready keeps the first answer
    assert w.page.evaluate(LATE_LISTENER) == [None]


def test_a_page_rendered_for_its_user_stays(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page(as_user=ADA[0])
    w.page.goto(sites.page_url())
    ada_id = w.page.evaluate("window.onebar.ready.then(u => u.id)")
    w.page.goto(sites.page_url(user=ada_id))
    expect(w.page.get_by_role("button", name=ADA[1])).to_be_visible()
    w.page.wait_for_timeout(300)
    expect(w.page.locator("#title")).to_have_text("Your notes")
    assert w.page.evaluate("performance.getEntriesByType('navigation')[0].type") == "navigate"


def test_a_page_rendered_for_someone_else_empties_itself_and_reloads_once(
        open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page(as_user=GRACE[0])
    url = sites.page_url(user="u_somebody_else")  # as if the server still thought someone else was here
    with w.page.expect_event("load"):
        w.page.goto(url)
    w.page.wait_for_load_state()
    expect(w.page.get_by_role("button", name=GRACE[1])).to_be_visible()
    # It reloaded once; the server (here: a static page) still disagrees, so it stays empty.
    expect(w.page.locator("#title")).to_have_count(0)
    expect(w.page.locator("body")).not_to_contain_text("Launch checklist")
    assert w.page.evaluate("performance.getEntriesByType('navigation')[0].type") == "reload"
    assert any("rendered for another user" in m for m in w.warnings())


def test_signing_out_empties_a_page_rendered_for_the_user(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page()
    sign_in(w.page, sites, ADA[0], then=sites.page_url())  # its own session: this test ends it
    ada_id = w.page.evaluate("window.onebar.ready.then(u => u.id)")
    w.page.goto(sites.page_url(user=ada_id))
    expect(w.page.locator("#title")).to_have_text("Your notes")
    w.page.get_by_role("button", name=ADA[1]).click()
    w.page.get_by_role("menuitem", name="Sign out").click()
    expect(w.page.get_by_role("link", name="Sign in")).to_be_visible()
    expect(w.page.locator("body")).not_to_contain_text("Launch checklist")


def test_on_a_bare_page_the_bar_spans_the_body_margin(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page(viewport={"width": 800, "height": 600})
    w.page.goto(sites.page_url(bare="1"))
    wait_rendered(w.page)
    assert w.page.evaluate("getComputedStyle(document.body).marginTop") == "8px"  # the browser's default
    box = bar(w.page).bounding_box()
    assert box == {"x": 0, "y": 0, "width": 800, "height": 48}
    heading = w.page.locator("#title").bounding_box()
    assert heading and heading["y"] >= 48 + 8  # the page's own margin stays below the bar


@pytest.mark.parametrize(("page", "scheme", "background"), [
    pytest.param({"bare": "1"}, "dark", "rgb(255, 255, 255)", id="light-only-page-on-a-dark-system"),
    pytest.param({}, "dark", "rgb(13, 17, 23)", id="light-dark-page-on-a-dark-system"),
    pytest.param({}, "light", "rgb(255, 255, 255)", id="light-dark-page-on-a-light-system"),
])
def test_auto_theme_follows_the_pages_color_scheme(open_page: Callable[..., Watched], sites: Sites,
                                                   page: dict[str, str], scheme: str, background: str) -> None:
    w = open_page(color_scheme=scheme)
    w.page.goto(sites.page_url(**page))
    wait_rendered(w.page)
    assert bar(w.page).evaluate("e => getComputedStyle(e).backgroundColor") == background


def _members(declarations: str, interface: str) -> set[str]:
    body = re.search(r"interface " + interface + r" \{(.*?)\n\}", declarations, re.S)
    assert body, f"onebar.d.ts declares no {interface}"
    return set(re.findall(r"^\s+(?:readonly )?(\w+)\??[(:]", body.group(1), re.M))


def test_the_type_declarations_match_the_script(open_page: Callable[..., Watched], sites: Sites) -> None:
    declarations = (Path(__file__).resolve().parents[2] / "static" / "onebar.d.ts").read_text()
    w = open_page(as_user=ADA[0])
    w.page.goto(sites.page_url())
    user = w.page.evaluate("window.onebar.ready")
    assert _members(declarations, "Onebar") == set(w.page.evaluate("Object.getOwnPropertyNames(window.onebar)"))
    assert _members(declarations, "OnebarUser") == set(user)
    states = set(re.findall(r'"([a-z-]+)"', re.search(r"type OnebarState = (.*);", declarations).group(1)))  # type: ignore[union-attr]
    assert states == {"loading", "signed-in", "signed-out", "unavailable"}
    assert w.page.evaluate("window.onebar.state") in states
