"""The HTML, JavaScript, CSS and CSP blocks of README.md and docs/*.md, run in Chromium as written.

Only the service's example address is replaced by the live one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from ..snippets import Snippet, params, snippets
from .conftest import ADA, Sites, Watched, bar, sign_in, wait_rendered

pytestmark = pytest.mark.browser

EXAMPLE = "https://id.example.com"


def snippet_url(sites: Sites, html: str, policy: str = "") -> str:
    query = {"html": html.replace(EXAMPLE, sites.service.url), **({"policy": policy} if policy else {})}
    return f"{sites.host}/snippet?{urlencode(query)}"


@pytest.mark.parametrize("snippet", params("html"))
def test_html_snippets_draw_the_bar(open_page: Callable[..., Watched], sites: Sites, snippet: Snippet) -> None:
    w = open_page()
    w.page.goto(snippet_url(sites, snippet.code))
    wait_rendered(w.page)
    expect(w.page.get_by_role("link", name="Sign in")).to_be_visible()
    expect(w.page.get_by_role("button", name="Notes")).to_be_visible()  # data-app="notes" is ticked
    if "data-user=" in snippet.code:
        # Rendered for a user, seen by nobody: the page empties itself (after one reload) but for the bar.
        expect(w.page.locator("body > *")).to_have_count(1)
        assert any("rendered for another user" in m for m in w.warnings())


@pytest.mark.parametrize("snippet", params("js"))
def test_js_snippets_run_in_a_page_with_the_bar(open_page: Callable[..., Watched], sites: Sites,
                                                snippet: Snippet) -> None:
    w = open_page()
    sign_in(w.page, sites, ADA[0], then=sites.page_url())  # its own session: the test signs out
    wait_rendered(w.page)
    code = snippet.code.replace("/* draw the page for user, or for nobody */", "window.shown = user;")
    w.page.evaluate(f"async () => {{\n{code}\n}}")
    if "window.shown" in code:
        w.page.wait_for_function("window.shown && window.shown.name")
        assert w.page.evaluate("window.shown.name") == ADA[1]
    if "addEventListener" in code:  # the snippet's listener hears the next change: a sign-out
        w.page.get_by_role("button", name=ADA[1]).click()
        w.page.get_by_role("menuitem", name="Sign out").click()
        expect(w.page.get_by_role("link", name="Sign in")).to_be_visible()
        if "window.shown" in code:
            w.page.wait_for_function("window.shown === null")
    if "console.log" in code:
        w.page.wait_for_timeout(100)
        assert [m.text for m in w.console if m.type == "log"], f"{snippet.id} logged nothing"


@pytest.mark.parametrize("snippet", params("css"))
def test_css_snippets_restyle_the_bar(open_page: Callable[..., Watched], sites: Sites, snippet: Snippet) -> None:
    w = open_page(color_scheme="dark")
    w.page.goto(sites.page_url(theme="dark"))
    wait_rendered(w.page)
    assert bar(w.page).evaluate("e => getComputedStyle(e).backgroundColor") != "rgb(255, 255, 255)"
    w.page.add_style_tag(content=snippet.code)
    assert bar(w.page).evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 255, 255)"
    assert w.page.locator("one-bar [part~=signin]").evaluate("e => getComputedStyle(e).borderRadius") == "999px"


def test_the_csp_snippet_is_enough_for_the_bar(open_page: Callable[..., Watched], sites: Sites) -> None:
    [block] = [s for s in snippets("") if s.doc == "docs/bar.md"]
    policy = " ".join(re.sub(r"\(.*?\)", "", line).strip() for line in block.code.splitlines())
    policy = policy.replace(EXAMPLE, sites.service.url)
    # The test service runs its live stream on a port of its own, not behind a
    # proxy on the service's origin: the doc says to add that origin then.
    policy = policy.replace("connect-src ", f"connect-src http://localhost:{sites.service.events_port} ")
    [embed] = [s for s in snippets("html") if s.doc == "docs/bar.md" and "data-user" not in s.code]
    w = open_page(as_user=ADA[0])
    w.page.goto(snippet_url(sites, embed.code, policy))
    expect(w.page.get_by_role("button", name=ADA[1])).to_be_visible()
    assert bar(w.page).evaluate("e => getComputedStyle(e).height") == "48px"
    assert w.page.evaluate("window.hostpage.violations") == []
