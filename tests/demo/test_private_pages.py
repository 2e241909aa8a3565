"""Demo pages forget their user, show no console errors, and never run a name as HTML.

In a real Chromium against the live demo (the service and the three sites).
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect
from playwright.sync_api import Error as PlaywrightError

from .conftest import GRACE, Demo, look_again

pytestmark = pytest.mark.browser

# The demo pages greet a member by the first word of her name, so the payload
# has no space: left unescaped anywhere, its first word alone runs.
HTML_NAME = "<svg/onload=window.pwned=1>Mallory"

# Two private Notes pages whose URL is not fixed: one of the member's own notes
# (the team-offsite note every member starts with) and every member's notes,
# which Django shows only to those granted "Can view note".
NOTE, EVERYONE = "/notes/<id>/", "/notes/everyone/"
SHARED_NOTE = "Ideas for the team offsite"


def sign_in(page: Page, demo: Demo, email: str, password: str, then: str) -> None:
    page.goto(f"{demo.service.url}/login?next={quote(then, safe='')}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(then)


def page_text(page: Page) -> str:
    """Everything on screen outside the bar (whose shadow root innerText does not include)."""
    return page.evaluate("document.body.innerText")  # type: ignore[no-any-return]


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context()
    yield context
    context.close()


@pytest.fixture
def grant(demo: Demo) -> Iterator[Callable[[str], None]]:
    """``grant(email)``: Django's "Can view note" for that member, as its admin
    writes it (she must have visited Notes once); taken back after the test."""
    db_path = (demo.base / "notes" / "notes.sqlite3").as_posix()

    def grant(email: str) -> None:
        with sqlite3.connect(db_path) as db:
            added = db.execute(
                "INSERT OR IGNORE INTO auth_user_user_permissions (user_id, permission_id) "
                "SELECT u.id, p.id FROM auth_user u, auth_permission p "
                "JOIN django_content_type t ON t.id = p.content_type_id "
                "WHERE u.email = ? AND t.app_label = 'notes' AND p.codename = 'view_note'", (email,)).rowcount
            assert added or db.execute("SELECT 1 FROM auth_user WHERE email = ?", (email,)).fetchone(), email

    yield grant
    with sqlite3.connect(db_path) as db:
        db.execute("DELETE FROM auth_user_user_permissions")


def url_of(page: Page, demo: Demo, site: str, path: str, email: str | None, grant: Callable[[str], None]) -> str:
    """The page's URL; for NOTE and EVERYONE, as the signed-in member ``email``
    finds it (the note's link on her list; the permission granted first)."""
    if path == NOTE:
        if not email:
            return demo.notes + "/notes/1/"  # any note: a guest is sent to sign in
        page.goto(demo.notes + "/notes/")
        href = page.get_by_role("link", name=re.compile(SHARED_NOTE)).get_attribute("href")
        assert href, f"no {SHARED_NOTE!r} on the notes list"
        return demo.notes + href
    if path == EVERYONE and email:
        grant(email)
    return getattr(demo, site) + path


def open_as_grace(page: Page, demo: Demo, site: str, path: str, grant: Callable[[str], None]) -> str:
    """Sign Grace in and open the page; return its URL."""
    if path in (NOTE, EVERYONE):
        sign_in(page, demo, GRACE[0], GRACE[2], then=demo.notes + "/notes/")  # Notes knows her from here on
        url = url_of(page, demo, site, path, GRACE[0], grant)
        page.goto(url)
    else:
        url = getattr(demo, site) + path
        sign_in(page, demo, GRACE[0], GRACE[2], then=url)
    return url


# The page, and private text the server renders on it for Grace.
PRIVATE_PAGES = [
    pytest.param("tasks", "/", "Hello, Grace.", id="tasks-home"),
    pytest.param("tasks", "/tasks", "Sign in once with Onebar", id="tasks-list"),
    pytest.param("notes", "/", "Welcome back, Grace.", id="notes-home"),
    pytest.param("notes", "/notes/", "Grace’s notes", id="notes-list"),
    pytest.param("notes", NOTE, "The pizza place near the station", id="notes-detail"),  # in its editor
    pytest.param("notes", EVERYONE, "The pizza place near the station", id="notes-everyone"),
]


@pytest.mark.parametrize(("site", "path", "private"), PRIVATE_PAGES)
def test_after_sign_out_from_the_bar_no_private_text_stays_on_screen(
        context: BrowserContext, demo: Demo, grant: Callable[[str], None], site: str, path: str, private: str) -> None:
    page = context.new_page()
    open_as_grace(page, demo, site, path, grant)
    expect(page.locator("body")).to_contain_text(private)

    page.locator("one-bar [part~=user]").click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page.locator("body")).not_to_contain_text(private)
    expect(page.locator("body")).not_to_contain_text("Grace")
    page.wait_for_load_state()
    assert "Grace" not in page_text(page)


@pytest.mark.parametrize(("site", "path", "private"), PRIVATE_PAGES)
def test_a_sign_out_in_another_app_clears_this_page_when_it_is_looked_at(
        context: BrowserContext, demo: Demo, grant: Callable[[str], None], site: str, path: str, private: str) -> None:
    page = context.new_page()
    url = open_as_grace(page, demo, site, path, grant)
    expect(page.locator("body")).to_contain_text(private)

    elsewhere = context.new_page()
    elsewhere.goto(demo.handbook + "/")
    elsewhere.locator("one-bar [part~=user]").click()
    elsewhere.get_by_role("menuitem", name="Sign out").click()
    expect(elsewhere.locator("one-bar [part~=signin]")).to_be_visible()

    page.bring_to_front()  # the bar asks again when its tab is looked at (at most every 2 s)
    deadline = time.monotonic() + 10
    while True:
        try:
            if private not in page_text(page):
                break
        except PlaywrightError as exc:  # the page reloaded itself meanwhile (its live stream told it)
            if "context was destroyed" not in exc.message:
                raise
        assert time.monotonic() < deadline, f"{url} still shows {private!r}"
        look_again(page)
        page.wait_for_timeout(250)
    page.wait_for_load_state()
    expect(page.locator("body")).not_to_contain_text(private)
    expect(page.locator("body")).not_to_contain_text("Grace")


# Every demo page, and where it shows the signed-in member's name (None: nowhere).
DEMO_PAGES = [
    ("tasks", "/", "#greeting"), ("tasks", "/tasks", "h1"),
    ("notes", "/", "#greeting"), ("notes", "/notes/", "h1"), ("notes", NOTE, None), ("notes", EVERYONE, ".note small"),
    ("handbook", "/", None),
]


def watch(page: Page) -> list[str]:
    """Console errors, uncaught exceptions and failed loads (a missing favicon among them)."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    # net::ERR_ABORTED is the browser cancelling a request because the page
    # navigated on (the test's next goto, or a page that reloads itself after
    # a sign-out): nothing a visitor sees. Every other failure counts.
    page.on("requestfailed", lambda r: r.failure != "net::ERR_ABORTED" and problems.append(
        f"failed: {r.url} ({r.failure}, while on {page.url})"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status}: {r.url}"))
    return problems


@pytest.mark.parametrize("signed_in", [False, True], ids=["signed-out", "signed-in"])
def test_no_demo_page_logs_an_error_or_misses_a_file(
        context: BrowserContext, demo: Demo, grant: Callable[[str], None], signed_in: bool) -> None:
    page = context.new_page()
    if signed_in:
        sign_in(page, demo, GRACE[0], GRACE[2], then=demo.handbook + "/")
    problems = watch(page)
    finished: list[str] = []
    page.on("requestfinished", lambda r: finished.append(r.url))
    page.on("requestfailed", lambda r: finished.append(r.url))
    for site, path, _ in DEMO_PAGES:
        page.goto(url_of(page, demo, site, path, GRACE[0] if signed_in else None, grant))
        expect(page.locator("one-bar [part~=user], one-bar [part~=signin]")).to_have_count(1)
        icons = page.evaluate("[...document.querySelectorAll('link[rel~=icon]')].map(l => l.href)")
        assert len(icons) == 1, f"{site}{path}"
        page.evaluate("window.onebar.ready")
        # The favicon is fetched after load. Not "networkidle": a signed-in bar
        # keeps its live stream open while the tab is visible.
        deadline = time.monotonic() + 10
        while icons[0].startswith("http") and icons[0] not in finished:
            assert time.monotonic() < deadline, f"{icons[0]} never finished loading"
            page.wait_for_timeout(100)
    assert problems == []


def test_an_html_name_runs_nowhere(context: BrowserContext, demo: Demo, grant: Callable[[str], None]) -> None:
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    # A new account, through the service's own sign-up form, named with HTML.
    page.goto(f"{demo.service.url}/signup?next={quote(demo.handbook + '/', safe='')}")
    page.get_by_label("Name").fill(HTML_NAME)
    page.get_by_label("Email").fill("mallory@example.com")
    page.get_by_label("Password", exact=True).fill("correct horse battery staple")
    page.get_by_label("Repeat password").fill("correct horse battery staple")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(demo.handbook + "/")
    for site, path, where in DEMO_PAGES:
        page.goto(url_of(page, demo, site, path, "mallory@example.com", grant))
        expect(page.locator("one-bar [part~=name]")).to_have_text(HTML_NAME)  # the bar: as text
        if where:  # the page's own server-rendered name: as text too
            expect(page.locator(where).filter(has_text=HTML_NAME)).not_to_have_count(0)
        page.wait_for_timeout(200)
        assert page.evaluate("window.pwned") is None, f"{site}{path} ran the name"
        assert page.locator("svg[onload]").count() == 0, f"{site}{path} made an element of the name"
    assert dialogs == []


def test_signing_out_twice_on_the_same_page_reloads_it_both_times(context: BrowserContext, demo: Demo) -> None:
    page = context.new_page()
    url = demo.tasks + "/"
    for _ in range(2):
        sign_in(page, demo, GRACE[0], GRACE[2], then=url)
        expect(page.locator("#greeting")).to_have_text("Hello, Grace.")
        page.locator("one-bar [part~=user]").click()
        page.get_by_role("menuitem", name="Sign out").click()
        # Reloaded, and rendered for a guest: not an empty page.
        expect(page.locator("#greeting")).to_have_text("Small lists, done.")
        expect(page.locator("one-bar [part~=signin]")).to_be_visible()
