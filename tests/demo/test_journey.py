"""Single sign-on across the three demo sites, in a real Chromium against real servers."""

from __future__ import annotations

import base64
import os
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from onebar.integrations.wsgi import LocalVerifier, RemoteVerifier
from onebar.store import SQLiteStore

from ..live import ROOT, TEST_SECRET_KEYS
from .conftest import ADA, Demo, look_again

pytestmark = pytest.mark.browser

README_IMAGE = ROOT / "docs" / "img" / "demo.png"


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1100, "height": 700})
    errors: list[str] = []
    context.on("page", lambda page: page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}")))
    yield context
    context.close()
    assert errors == []


def user_button(page: Page) -> Locator:
    return page.locator("one-bar [part~=user]")


def sign_in_link(page: Page) -> Locator:
    return page.locator("one-bar [part~=signin]")


def open_page(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    page.goto(url)
    return page


def until_the_bar_shows_signed_out(page: Page, within: float = 10.0) -> None:
    """Come back to the tab until the bar has re-checked and shows "Sign in"."""
    deadline = time.monotonic() + within
    while not sign_in_link(page).count():
        assert time.monotonic() < deadline, (
            f"the bar on {page.url} still shows {user_button(page).all_inner_texts()!r}")
        look_again(page)
        page.wait_for_timeout(250)


def _eventually(condition: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def server_sees(url: str, cookie: str) -> str:
    req = urllib.request.Request(url, headers={"Cookie": f"onebar_session={cookie}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read().decode()


def test_single_sign_on_journey(context: BrowserContext, demo: Demo) -> None:
    store = SQLiteStore(demo.service.data_dir / "onebar.sqlite3")
    remote = RemoteVerifier(demo.service.url, cache_ttl=0)
    local = LocalVerifier(list(TEST_SECRET_KEYS), store=store, cache_ttl=0)
    try:
        # Signed out on the Flask site: the page greets a guest, the bar offers "Sign in".
        tasks = open_page(context, demo.tasks + "/")
        expect(tasks.locator("#greeting")).to_have_text("Small lists, done.")
        expect(sign_in_link(tasks)).to_have_text("Sign in")

        # "Sign in" in the bar goes to the service, which will send the browser back.
        sign_in_link(tasks).click()
        tasks.wait_for_url(demo.service.url + "/login?**")
        assert parse_qs(urlsplit(tasks.url).query)["next"] == [demo.tasks + "/"]
        tasks.get_by_label("Email").fill(ADA[0])
        tasks.get_by_label("Password").fill(ADA[2])
        tasks.get_by_role("button", name="Sign in").click()

        # Back on the Flask page: the server and the bar both know Ada.
        tasks.wait_for_url(demo.tasks + "/")
        expect(tasks.locator("#greeting")).to_have_text("Hello, Ada.")
        expect(user_button(tasks)).to_contain_text("Ada Lovelace")
        [cookie] = [c["value"] for c in context.cookies(demo.service.url) if c["name"] == "onebar_session"]
        assert remote.verify(cookie) is not None
        assert local.verify(cookie) is not None

        # The Django site: the bar shows Ada, and a protected page renders for her.
        notes = open_page(context, demo.notes + "/notes/")
        assert notes.url == demo.notes + "/notes/"
        expect(notes.get_by_role("heading", name="Ada’s notes")).to_be_visible()
        expect(user_button(notes)).to_contain_text("Ada Lovelace")

        # The static site: nothing but the script tag, and the bar shows Ada.
        handbook = open_page(context, demo.handbook + "/")
        expect(user_button(handbook)).to_contain_text("Ada Lovelace")

        # Sign out from the Django site's bar.
        notes.bring_to_front()
        user_button(notes).click()
        notes.get_by_role("menuitem", name="Sign out").click()
        expect(sign_in_link(notes)).to_be_visible()
        signed_out = time.monotonic()

        # The Flask and static bars follow once their tab is looked at again.
        for page in (tasks, handbook):
            page.bring_to_front()
            until_the_bar_shows_signed_out(page)

        # The Flask server no longer sees Ada: a guest page, and the members page asks to sign in.
        tasks.reload()
        expect(tasks.locator("#greeting")).to_have_text("Small lists, done.")
        tasks.goto(demo.tasks + "/tasks")
        tasks.wait_for_url(demo.service.url + "/login?**")

        # The cookie copied before signing out is worth nothing now: not to the
        # service, not to the middleware in either mode, and not to the Flask
        # server once its cache window (RemoteVerifier.cache_ttl) has passed.
        assert '"user":null' in server_sees(demo.service.url + "/api/me", cookie).replace(" ", "")
        assert remote.verify(cookie) is None
        assert local.verify(cookie) is None
        window = signed_out + RemoteVerifier.cache_ttl + 1 - time.monotonic()
        assert _eventually(lambda: "Small lists, done." in server_sees(demo.tasks + "/", cookie), window)
    finally:
        store.close()


def test_screenshot_of_the_three_sites(browser: Browser, demo: Demo, tmp_path: Path) -> None:
    """docs/img/demo.png: the three sites, signed in, the same bar on each.

    Taken on every run; written over the README's copy only with
    ONEBAR_UPDATE_SCREENSHOTS=1 (user ids, and so avatar colours, differ per run).
    """
    shots = browser.new_context(viewport={"width": 900, "height": 340}, device_scale_factor=1.5)
    try:
        page = shots.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{demo.service.url}/login?next={demo.tasks}/")
        page.get_by_label("Email").fill(ADA[0])
        page.get_by_label("Password").fill(ADA[2])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(demo.tasks + "/")
        page.goto(demo.tasks + "/tasks")  # Ada's first visit there: her welcome tasks
        images = []
        for url, menu, item in ((demo.tasks + "/", None, None), (demo.notes + "/", "user", "Sign out"),
                                (demo.handbook + "/", "apps", "Tasks")):
            page.goto(url)
            expect(user_button(page)).to_contain_text("Ada Lovelace")
            if menu:
                page.locator(f"one-bar [part~={menu}]").click()
                expect(page.get_by_role("menuitem", name=item)).to_be_visible()
            page.mouse.move(450, 335)  # no hover highlight
            images.append(base64.b64encode(page.screenshot(animations="disabled")).decode())
            page.keyboard.press("Escape")
        page.set_viewport_size({"width": 1000, "height": 1200})
        page.set_content(_collage(images, [
            ("localhost:8001", "Tasks", "Flask"), ("localhost:8002", "Notes", "Django"),
            ("localhost:8003", "Handbook", "plain HTML"),
        ]))
        page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth)")
        path = README_IMAGE if os.environ.get("ONEBAR_UPDATE_SCREENSHOTS") or not README_IMAGE.exists() else (
            tmp_path / "demo.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        page.locator("#collage").screenshot(path=path, animations="disabled")
        assert path.stat().st_size > 50_000
        assert errors == []
    finally:
        shots.close()


def _collage(images: list[str], labels: list[tuple[str, str, str]]) -> str:
    windows = "".join(
        f'<figure><div class="chrome"><i></i><i></i><i></i><span class="url">{address}</span>'
        f'<span class="kind">{name} · {kind}</span></div><img src="data:image/png;base64,{data}" alt=""></figure>'
        for data, (address, name, kind) in zip(images, labels, strict=True))
    return f"""<!doctype html><html><head><style>
      * {{ box-sizing: border-box; margin: 0; }}
      body {{ background: #fff; font: 13px/1 system-ui, sans-serif; }}
      #collage {{ width: 1000px; padding: 36px 50px 44px; display: grid; gap: 26px;
        background: linear-gradient(160deg, #e8edf7 0%, #f4f1fb 55%, #f6efe6 100%); }}
      figure {{ border-radius: 12px; overflow: hidden; background: #fff;
        box-shadow: 0 1px 2px #0f172a1f, 0 12px 32px -8px #0f172a33; }}
      .chrome {{ display: flex; align-items: center; gap: 7px; height: 34px; padding: 0 14px; background: #eceef2;
        border-bottom: 1px solid #dcdfe5; color: #4b5363; }}
      .chrome i {{ width: 11px; height: 11px; border-radius: 50%; background: #d3d6dc; }}
      .chrome i:first-child {{ background: #f2675e; }} .chrome i:nth-child(2) {{ background: #f6be4f; }}
      .chrome i:nth-child(3) {{ background: #5ec454; }}
      .url {{ margin-left: 14px; padding: 5px 14px; width: 420px; border-radius: 7px; background: #fff; color: #1f2328; }}
      .kind {{ margin-left: auto; font-weight: 600; color: #59606d; }}
      img {{ display: block; width: 900px; height: 340px; }}
    </style></head><body><div id="collage">{windows}</div></body></html>"""
