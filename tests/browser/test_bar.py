"""What a visitor sees and does: signed out, sign in, signed in, the menus, sign out."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from .conftest import ADA, GRACE, Sites, Watched, bar, sign_in, wait_rendered

pytestmark = pytest.mark.browser


def events(page: Page) -> list[dict]:  # type: ignore[type-arg]
    return page.evaluate("window.hostpage.events")  # type: ignore[no-any-return]


def me_from_page(page: Page, sites: Sites) -> dict:  # type: ignore[type-arg]
    """What the service now says about this browser, asked from the page itself."""
    return page.evaluate("url => fetch(url, {credentials: 'include'}).then(r => r.json())",  # type: ignore[no-any-return]
                         f"{sites.service.url}/api/me")


def test_signed_out_shows_the_app_switcher_and_a_sign_in_link_back_to_this_page(
        open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page()
    url = sites.page_url(app="notes")
    w.page.goto(url)

    sign_in_link = w.page.get_by_role("link", name="Sign in")
    expect(sign_in_link).to_have_attribute("href", f"{sites.service.url}/login?next={quote(url, safe='')}")
    switcher = w.page.get_by_role("button", name="Notes")
    expect(switcher).to_have_attribute("aria-expanded", "false")
    expect(w.page.get_by_role("menu")).to_be_hidden()

    switcher.click()
    expect(switcher).to_have_attribute("aria-expanded", "true")
    items = w.page.get_by_role("menuitem")
    expect(items).to_have_count(3)
    for i, name in enumerate(["Notes", "Tasks", "Wiki"]):
        expect(items.nth(i)).to_have_accessible_name(name)  # the letter tile is decoration
    expect(items.nth(0)).to_have_attribute("aria-current", "page")
    expect(items.nth(1)).not_to_have_attribute("aria-current", "page")
    expect(items.nth(1)).to_have_attribute("href", "http://localhost:9/tasks/")
    assert events(w.page) == [{"user": None, "bubbles": True, "composed": True}]


def test_sign_in_through_the_real_form_returns_to_the_page_signed_in(
        open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page()
    url = sites.page_url(app="notes")
    w.page.goto(url)
    w.page.get_by_role("link", name="Sign in").click()

    w.page.wait_for_url(f"{sites.service.url}/login?*")
    w.page.get_by_label("Email").fill(ADA[0])
    w.page.get_by_label("Password").fill("correct horse battery staple")
    w.page.get_by_role("button", name="Sign in").click()

    w.page.wait_for_url(url)
    expect(w.page.get_by_role("button", name=ADA[1])).to_be_visible()
    expect(w.page.get_by_role("link", name="Sign in")).to_have_count(0)


def test_signed_in_shows_name_and_initials_avatar(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page(as_user=ADA[0])
    w.page.goto(sites.page_url())

    user = w.page.get_by_role("button", name=ADA[1])
    expect(user).to_contain_text(ADA[1])
    avatar = user.locator("[part~=avatar]")
    expect(avatar).to_have_text("AL")
    colour = avatar.evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour not in ("rgba(0, 0, 0, 0)", "transparent")

    user.click()
    menu = w.page.get_by_role("menu", name="Account menu")
    expect(menu).to_be_visible()
    expect(w.page.locator("one-bar [part~=menu]").filter(has=menu)).to_contain_text(ADA[0])  # the email
    expect(menu.get_by_role("menuitem", name="Account")).to_have_attribute("href", f"{sites.service.url}/account")
    user_json = w.page.evaluate("window.onebar.user")
    assert (user_json["email"], user_json["name"], user_json["initials"]) == (*ADA, "AL")


def test_user_menu_works_by_keyboard(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page(as_user=ADA[0])
    page = w.page
    page.goto(sites.page_url())
    user = page.get_by_role("button", name=ADA[1])
    expect(user).to_be_visible()
    account = page.get_by_role("menuitem", name="Account")
    sign_out = page.get_by_role("menuitem", name="Sign out")

    page.keyboard.press("Tab")  # the app switcher
    page.keyboard.press("Tab")
    expect(user).to_be_focused()

    page.keyboard.press("Enter")
    expect(user).to_have_attribute("aria-expanded", "true")
    expect(account).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(sign_out).to_be_focused()
    page.keyboard.press("ArrowDown")  # wraps
    expect(account).to_be_focused()
    page.keyboard.press("ArrowUp")  # wraps back
    expect(sign_out).to_be_focused()
    page.keyboard.press("Home")
    expect(account).to_be_focused()
    page.keyboard.press("End")
    expect(sign_out).to_be_focused()

    page.keyboard.press("Escape")
    expect(account).to_be_hidden()
    expect(user).to_have_attribute("aria-expanded", "false")
    expect(user).to_be_focused()

    page.keyboard.press("Space")
    expect(account).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("ArrowUp")  # opens on the last item
    expect(sign_out).to_be_focused()
    page.keyboard.press("Tab")  # closes, and focus moves on
    expect(sign_out).to_be_hidden()
    expect(user).to_have_attribute("aria-expanded", "false")

    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")  # back on the app switcher
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("menuitem", name="Notes")).to_be_focused()
    page.mouse.click(600, 400)  # a click on the page closes it
    expect(page.get_by_role("menuitem", name="Notes")).to_be_hidden()


def test_sign_out_from_the_bar_rerenders_signed_out_without_a_page_load(
        open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page()
    url = sites.page_url()
    sign_in(w.page, sites, GRACE[0], then=url)
    expect(w.page.get_by_role("button", name=GRACE[1])).to_be_visible()
    w.page.evaluate("window.stillTheSamePage = true")

    w.page.get_by_role("button", name=GRACE[1]).click()
    with w.page.expect_request(lambda r: r.url.endswith("/api/logout") and r.method == "POST"):
        w.page.get_by_role("menuitem", name="Sign out").click()

    sign_in_link = w.page.get_by_role("link", name="Sign in")
    expect(sign_in_link).to_be_visible()
    expect(sign_in_link).to_be_focused()  # focus is not lost with the menu
    assert w.page.evaluate("window.stillTheSamePage") is True
    assert w.page.url == url
    assert [e["user"] and e["user"]["name"] for e in events(w.page)] == [GRACE[1], None]
    assert me_from_page(w.page, sites)["user"] is None  # the session is gone server-side

    w.page.reload()
    expect(w.page.get_by_role("link", name="Sign in")).to_be_visible()


def test_sign_out_in_one_tab_updates_the_other_tabs_of_the_site(
        open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page()
    sign_in(w.page, sites, GRACE[0], then=sites.page_url())
    other = w.page.context.new_page()
    other_me: list[str] = []
    other.on("request", lambda r: r.url.endswith("/api/me") and other_me.append(r.url))
    other.goto(sites.page_url(app="notes", theme="dark"))
    expect(other.get_by_role("button", name=GRACE[1])).to_be_visible()

    w.page.bring_to_front()  # the user goes back to the first tab
    w.page.get_by_role("button", name=GRACE[1]).click()
    w.page.get_by_role("menuitem", name="Sign out").click()

    expect(other.get_by_role("link", name="Sign in")).to_be_visible()
    assert len(other_me) == 1  # told over BroadcastChannel, not by asking again
    assert [e["user"] and e["user"]["name"] for e in events(other)] == [GRACE[1], None]


def test_rechecks_when_the_tab_becomes_visible_again_but_throttled(
        open_page: Callable[..., Watched], sites: Sites) -> None:
    # Real time, no fake clock: each step below is anchored to a check the bar
    # has just made.
    # The checks a bar falls back on without its live stream (tests/browser/test_live.py
    # tests the stream): data-live="off".
    w = open_page()
    page = w.page
    sign_in(page, sites, GRACE[0], then=sites.page_url(live="off"))
    expect(page.get_by_role("button", name=GRACE[1])).to_be_visible()
    w.me_requests.clear()

    # Focus and visibility within 2 s of the last check ask nothing more.
    page.evaluate("""async () => {
        await onebar.refresh();
        document.dispatchEvent(new Event('visibilitychange'));
        window.dispatchEvent(new Event('focus'));
    }""")
    assert len(w.me_requests) == 1, "throttled: only the refresh itself asked"

    # Signed out elsewhere, on the service's own page: no message reaches this tab.
    elsewhere = page.context.new_page()
    elsewhere.goto(f"{sites.service.url}/logout")
    with elsewhere.expect_navigation(wait_until="load"):
        elsewhere.get_by_role("button", name="Sign out").click()
    # Left open: closing a page while its navigation commits can hang
    # Chromium's Target.closeTarget forever (microsoft/playwright#42366).
    page.bring_to_front()
    expect(page.get_by_role("button", name=GRACE[1])).to_be_visible()

    page.wait_for_timeout(2100)  # past the throttle
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    assert len(w.me_requests) == 2


def test_one_request_per_load_and_refresh_on_demand(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page(as_user=ADA[0])
    w.page.goto(sites.page_url())
    expect(w.page.get_by_role("button", name=ADA[1])).to_be_visible()
    w.page.wait_for_timeout(300)
    assert len(w.me_requests) == 1

    user = w.page.evaluate("window.onebar.refresh()")
    assert user["email"] == ADA[0]
    assert len(w.me_requests) == 2
    assert [e["user"]["email"] for e in events(w.page)] == [ADA[0]]  # same user: no new event


def test_onebar_change_fires_on_document_with_the_user(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page(as_user=ADA[0])
    w.page.goto(sites.page_url())
    wait_rendered(w.page)
    expect(w.page.get_by_role("button", name=ADA[1])).to_be_visible()
    (event,) = events(w.page)
    assert event["bubbles"] and event["composed"]
    assert {k: event["user"][k] for k in ("name", "email", "initials")} == {
        "name": ADA[1], "email": ADA[0], "initials": "AL"}


def test_double_include_draws_one_bar_and_asks_once(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page(as_user=ADA[0])
    w.page.goto(sites.page_url(twice="1"))
    assert w.page.locator("script[src$='/onebar.js']").count() == 2
    expect(w.page.get_by_role("button", name=ADA[1])).to_be_visible()
    w.page.wait_for_timeout(300)
    expect(bar(w.page)).to_have_count(1)
    assert len(w.me_requests) == 1
    assert len(events(w.page)) == 1


@pytest.mark.parametrize(("params", "context_args", "sign_in_text"), [
    pytest.param({"lang": "de"}, {}, "Anmelden", id="data-lang"),
    pytest.param({"html_lang": "fr"}, {}, "Se connecter", id="html-lang"),
    pytest.param({"html_lang": ""}, {"locale": "de-DE"}, "Anmelden", id="browser-language"),
    pytest.param({"html_lang": "ja"}, {}, "Sign in", id="unknown-falls-back-to-english"),
])
def test_labels_follow_the_page_language(open_page: Callable[..., Watched], sites: Sites,
                                         params: dict[str, str], context_args: dict[str, str],
                                         sign_in_text: str) -> None:
    w = open_page(**context_args)
    w.page.goto(sites.page_url(**params))
    expect(w.page.locator("one-bar [part~=signin]")).to_have_text(sign_in_text)


def test_german_user_menu(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page(as_user=ADA[0])
    w.page.goto(sites.page_url(lang="de"))
    w.page.get_by_role("button", name=ADA[1]).click()
    expect(w.page.get_by_role("menu", name="Kontomenü").get_by_role("menuitem")).to_have_text(["Konto", "Abmelden"])


def test_data_mount_draws_into_the_given_element(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page()
    w.page.goto(sites.page_url(mount="#slot"))
    expect(w.page.locator("#slot > one-bar")).to_have_count(1)
    expect(w.page.get_by_role("link", name="Sign in (no JavaScript)")).to_have_count(0)
    expect(w.page.locator("one-bar [part~=signin]")).to_be_visible()


def test_avatar_image_and_its_fallback_to_initials(open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page()
    w.page.goto(sites.page_url(api=sites.fake_api("avatar")))
    image = w.page.locator("one-bar [part~=user] img[part~=avatar]")
    expect(image).to_have_attribute("src", f"{sites.host}/avatar.svg")
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("e => e.naturalWidth") > 0

    w.page.goto(sites.page_url(api=sites.fake_api("avatar-broken")))
    avatar = w.page.locator("one-bar [part~=user] [part~=avatar]")
    expect(avatar).to_have_text("AL")  # the broken image was replaced by initials
    expect(w.page.locator("one-bar img")).to_have_count(0)


def test_removed_bar_stops_listening_and_listens_again_when_put_back(
        open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page()
    page = w.page
    page.clock.install()
    page.goto(sites.page_url())
    wait_rendered(page)
    page.evaluate("window.removedBar = document.querySelector('one-bar'); removedBar.remove()")
    page.clock.fast_forward(3000)
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.wait_for_timeout(200)
    assert len(w.me_requests) == 1

    page.evaluate("document.body.prepend(window.removedBar)")
    with page.expect_request(lambda r: r.url.endswith("/api/me")):
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    assert len(w.me_requests) == 2


def test_sign_out_falls_back_to_the_services_page_when_the_post_fails(
        open_page: Callable[..., Watched], sites: Sites) -> None:
    w = open_page()
    url = sites.page_url(api=sites.fake_api("fixed"))  # signed in, but nothing answers POST /api/logout
    w.page.goto(url)
    w.page.get_by_role("button", name="Ada Lovelace").click()
    w.page.get_by_role("menuitem", name="Sign out").click()
    w.page.wait_for_url(f"{sites.service.url}/logout?next={quote(url, safe='')}")
    expect(w.page.get_by_role("heading", name="You are signed out")).to_be_visible()
