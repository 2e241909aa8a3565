"""The host page is never harmed: layout, CSP, a down, slow or broken service, hostile data and CSS."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Dialog, Page, expect

from .conftest import ADA, MALLORY, TIMEOUT_MS, XSS_NAME, Sites, Watched, bar, wait_rendered

pytestmark = pytest.mark.browser

OBSERVE_LAYOUT_SHIFTS = """
window.layoutShifts = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (!e.hadRecentInput) window.layoutShifts.push(e.value);
}).observe({type: 'layout-shift', buffered: true});
"""


def css(locator, prop: str) -> str:  # type: ignore[no-untyped-def]
    return locator.evaluate("(e, p) => getComputedStyle(e).getPropertyValue(p)", prop)  # type: ignore[no-any-return]


def assert_page_intact(page: Page) -> None:
    expect(page.get_by_role("heading", name="Your notes")).to_be_visible()
    expect(page.locator("article.note")).to_have_count(4)
    expect(page.locator("#status")).to_have_text("Page script ran")


def onebar_warnings(w: Watched) -> list[str]:
    return [text for text in w.warnings() if text.startswith("onebar:")]


def test_no_layout_shift_while_the_answer_is_slow(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page()
    page = w.page
    page.add_init_script(OBSERVE_LAYOUT_SHIFTS)
    page.goto(sites.page_url(api=sites.fake_api("slow-1200")), wait_until="domcontentloaded")

    # Before the answer: the bar is already there, at its final height, on top.
    assert page.locator("one-bar [part~=user], one-bar [part~=signin]").count() == 0
    box = bar(page).bounding_box()
    assert box is not None and (box["y"], box["height"]) == (0, 48)
    heading_y = page.get_by_role("heading", name="Your notes").bounding_box()["y"]  # type: ignore[index]

    expect(page.get_by_role("button", name="Ada Lovelace")).to_be_visible(timeout=5000)
    page.wait_for_timeout(250)  # let the observer see the frames after the render
    assert page.evaluate("window.layoutShifts") == []
    assert page.get_by_role("heading", name="Your notes").bounding_box()["y"] == heading_y  # type: ignore[index]

    # The measurement can fail: content pushed down by a late element is a shift.
    page.evaluate("document.querySelector('main').before(Object.assign(document.createElement('div'), {textContent: 'late banner'}))")
    page.wait_for_timeout(250)
    assert sum(page.evaluate("window.layoutShifts")) > 0


def test_strict_csp_page_gets_the_styled_bar_and_no_violation(
        open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page(as_user=ADA[0])
    response = w.page.goto(sites.page_url(csp="1"))
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "style-src 'self'" in policy and "unsafe-inline" not in policy and "trusted-types 'none'" in policy

    user = w.page.get_by_role("button", name=ADA[1])
    expect(user).to_be_visible()
    assert_page_intact(w.page)
    # Styles from the bar's own (constructed) stylesheet apply.
    assert css(bar(w.page), "height") == "48px"
    assert css(bar(w.page), "background-color") == "rgb(255, 255, 255)"
    assert css(w.page.locator("one-bar nav"), "display") == "flex"
    assert css(user, "font-weight") == "500"
    avatar = user.locator("[part~=avatar]")
    assert css(avatar, "border-radius") == "50%"
    assert css(avatar, "background-color") not in ("rgba(0, 0, 0, 0)", "")  # the per-user colour, set via CSSOM
    user.click()
    expect(w.page.get_by_role("menuitem", name="Sign out")).to_be_visible()
    assert css(w.page.locator("one-bar [part~=menu]:visible"), "position") == "absolute"

    assert w.page.evaluate("window.hostpage.violations") == []
    assert not [m.text for m in w.console if "Content Security Policy" in m.text or "Trusted Type" in m.text]
    # The listener does catch violations: an inline style attribute is one.
    w.page.evaluate("document.querySelector('h1').setAttribute('style', 'color: red')")
    w.page.wait_for_function("window.hostpage.violations.length > 0")


@pytest.mark.parametrize("where", ["api", "script"])
def test_service_down_leaves_the_page_intact(open_page: Callable[..., Watched], sites: Sites, where: str) -> None:
    w = open_page()
    params = {"api": sites.closed} if where == "api" else {"src": f"{sites.closed}/onebar.js"}
    w.page.goto(sites.page_url(**params))
    assert_page_intact(w.page)
    if where == "api":
        link = w.page.get_by_role("link", name="Sign in")
        expect(link).to_have_attribute("href", f"{sites.closed}/login?next=" + w.page.evaluate("encodeURIComponent(location.href)"))
        assert css(link, "background-color") == "rgba(0, 0, 0, 0)"  # the quiet variant
        assert len(onebar_warnings(w)) == 1
        assert w.page.evaluate("window.hostpage.events") == [{"user": None, "bubbles": True, "composed": True}]
    else:
        expect(bar(w.page)).to_have_count(0)
    # No uncaught error: checked by the open_page fixture for every test.


def test_slow_service_falls_back_after_the_timeout(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page()
    started = time.monotonic()
    w.page.goto(sites.page_url(api=sites.fake_api("slow-15000")))
    assert_page_intact(w.page)  # the page does not wait for the bar
    link = w.page.get_by_role("link", name="Sign in")
    expect(link).to_be_visible(timeout=TIMEOUT_MS + 3000)
    assert time.monotonic() - started >= TIMEOUT_MS / 1000 - 0.5
    # the browser's own words for the time limit: "signal timed out" (Chromium), "The operation timed out." (Firefox)
    assert len(onebar_warnings(w)) == 1 and "timed out" in onebar_warnings(w)[0]
    box = bar(w.page).bounding_box()
    assert box is not None and box["height"] == 48


@pytest.mark.parametrize("mode", ["garbage", "shape", "error"])
def test_broken_answers_give_the_quiet_fallback(open_page: Callable[..., Watched], sites: Sites, mode: str) -> None:
    w = open_page()
    w.page.goto(sites.page_url(api=sites.fake_api(mode)))
    expect(w.page.get_by_role("link", name="Sign in")).to_be_visible()
    assert_page_intact(w.page)
    assert len(onebar_warnings(w)) == 1
    assert w.page.evaluate("window.onebar.user") is None


def test_a_name_full_of_html_is_shown_as_text(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page(as_user=MALLORY[0])
    dialogs: list[Dialog] = []
    w.page.on("dialog", lambda d: (dialogs.append(d), d.dismiss()))
    w.page.goto(sites.page_url())

    user = w.page.get_by_role("button", name=XSS_NAME)
    expect(user.locator("[part~=name]")).to_have_text(XSS_NAME)
    user.click()
    expect(w.page.locator("one-bar [part~=menu] b")).to_have_text(XSS_NAME)
    w.page.wait_for_timeout(200)
    assert w.page.evaluate("document.querySelector('one-bar').shadowRoot.querySelectorAll('img').length") == 0
    assert dialogs == []


def test_host_css_does_not_reach_inside_the_bar(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page()
    w.page.goto(sites.page_url(hostile="1"))
    heading = w.page.get_by_role("heading", name="Your notes")
    assert css(heading, "color") == "rgb(255, 0, 0)"  # the hostile sheet is live on the page
    link = w.page.get_by_role("link", name="Sign in")
    expect(link).to_be_visible()
    assert css(link, "color") == "rgb(255, 255, 255)"
    assert css(link, "background-color") == "rgb(9, 105, 218)"
    assert css(link, "letter-spacing") == "normal"
    assert css(link, "text-transform") == "none"
    assert "serif" not in css(link, "font-family").replace("sans-serif", "")
    box = bar(w.page).bounding_box()
    assert box is not None and box["height"] == 48
    wait_rendered(w.page)
