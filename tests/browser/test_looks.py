"""Themes, accessibility (axe-core), the README screenshots, and how the script is delivered."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from .conftest import ADA, Sites, Watched, bar, wait_rendered

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
LIGHT_BG, DARK_BG = "rgb(255, 255, 255)", "rgb(13, 17, 23)"


def colours(page: Page) -> tuple[str, str]:
    """The bar's background and the colour of its text."""
    return (bar(page).evaluate("e => getComputedStyle(e).backgroundColor"),
            page.locator("one-bar nav").evaluate("e => getComputedStyle(e).color"))


@pytest.mark.parametrize(("theme", "scheme", "background"), [
    pytest.param("light", "dark", LIGHT_BG, id="light-on-a-dark-system"),
    pytest.param("dark", "light", DARK_BG, id="dark-on-a-light-system"),
    pytest.param("auto", "light", LIGHT_BG, id="auto-light"),
    pytest.param("auto", "dark", DARK_BG, id="auto-dark"),
])
def test_theme(open_page: Callable[..., Watched], sites: Sites, theme: str, scheme: str, background: str) -> None:
    w = open_page(color_scheme=scheme)
    w.page.goto(sites.page_url(theme=theme))
    wait_rendered(w.page)
    bg, fg = colours(w.page)
    assert bg == background
    assert fg == ("rgb(31, 35, 40)" if background == LIGHT_BG else "rgb(230, 237, 243)")


def test_auto_theme_follows_the_system_live_and_the_theme_attribute(
        open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page(color_scheme="light")
    w.page.goto(sites.page_url())
    wait_rendered(w.page)
    light = colours(w.page)
    w.page.emulate_media(color_scheme="dark")
    dark = colours(w.page)
    assert light[0] == LIGHT_BG and dark[0] == DARK_BG and light[1] != dark[1]
    bar(w.page).evaluate("e => e.setAttribute('theme', 'light')")  # a host's own theme switch
    assert colours(w.page) == light


def test_host_restyles_through_custom_properties_and_parts(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page()
    w.page.goto(sites.page_url())
    wait_rendered(w.page)
    w.page.add_style_tag(content="one-bar { --onebar-bg: rgb(1, 2, 3); --onebar-accent: rgb(200, 0, 100); }"
                                 " one-bar::part(signin) { border-radius: 999px; }")
    link = w.page.get_by_role("link", name="Sign in")
    assert bar(w.page).evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(1, 2, 3)"
    assert link.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(200, 0, 100)"
    assert link.evaluate("e => getComputedStyle(e).borderRadius") == "999px"


def axe_violations(page: Page) -> list[str]:
    """One line per failing node (axe-playwright-python's own report cannot print shadow-DOM targets)."""
    # The menu fades in over 120 ms: axe would measure contrast half-way through.
    page.wait_for_function("document.querySelector('one-bar').shadowRoot.getAnimations().length == 0")
    results = Axe().run(page, context="one-bar", options={"resultTypes": ["violations"]})
    passed = {v["id"] for v in results.response["passes"]}
    assert {"button-name", "color-contrast", "aria-allowed-attr"} <= passed  # it did look inside the shadow root
    return [f"{v['id']}: {node['target']}: {node['failureSummary']}"
            for v in results.response["violations"] for node in v["nodes"]]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_in_either_state(open_page: Callable[..., Watched], sites: Sites, scheme: str) -> None:
    signed_out = open_page(color_scheme=scheme)
    signed_out.page.goto(sites.page_url())
    signed_out.page.get_by_role("button", name="Notes").click()  # with the app switcher open
    expect(signed_out.page.get_by_role("menuitem", name="Wiki")).to_be_visible()
    assert axe_violations(signed_out.page) == []

    signed_in = open_page(as_user=ADA[0], color_scheme=scheme)
    signed_in.page.goto(sites.page_url())
    expect(signed_in.page.get_by_role("button", name=ADA[1])).to_be_visible()
    assert axe_violations(signed_in.page) == []
    signed_in.page.get_by_role("button", name=ADA[1]).click()  # with the user menu open
    expect(signed_in.page.get_by_role("menuitem", name="Sign out")).to_be_visible()
    assert axe_violations(signed_in.page) == []


@pytest.mark.parametrize(("scheme", "menu", "item"), [
    pytest.param("light", "Ada Lovelace", "Sign out", id="light-user-menu"),
    pytest.param("dark", "Notes", "Wiki", id="dark-app-switcher"),
])
def test_screenshot_for_the_readme(open_page: Callable[..., Watched], sites: Sites, scheme: str, menu: str,
                                   item: str) -> None:
    """docs/img/bar-<scheme>.png: signed in, a menu open (fixed data, so the image is reproducible)."""
    w = open_page(color_scheme=scheme, viewport={"width": 960, "height": 420}, device_scale_factor=2)
    w.page.goto(sites.page_url(api=sites.fake_api("fixed")))
    expect(w.page.get_by_role("button", name="Ada Lovelace")).to_contain_text("Ada Lovelace")
    w.page.get_by_role("button", name=menu).click()
    expect(w.page.get_by_role("menuitem", name=item)).to_be_visible()
    w.page.mouse.move(0, 300)  # no hover highlight in the picture
    path = ROOT / "docs" / "img" / f"bar-{scheme}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    w.page.screenshot(path=path, clip={"x": 0, "y": 0, "width": 960, "height": 260}, animations="disabled")
    assert path.stat().st_size > 10_000


def test_script_is_served_with_an_etag_and_revalidates_to_304(sites: Sites) -> None:
    url = f"{sites.service.url}/onebar.js"
    with urllib.request.urlopen(url) as first:
        body, etag = first.read(), first.headers["ETag"]
        assert first.headers["Content-Type"].startswith("text/javascript")
        assert "max-age" in first.headers["Cache-Control"]
    assert body == (ROOT / "static" / "onebar.min.js").read_bytes()  # the minified build
    assert etag
    with urllib.request.urlopen(url + "?debug") as readable:  # the source, for people debugging
        assert readable.read() == (ROOT / "static" / "onebar.js").read_bytes()
        assert readable.headers["ETag"] not in ("", etag)
    request = urllib.request.Request(url, headers={"If-None-Match": etag})
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request)
    assert answer.value.code == 304
    answer.value.close()
