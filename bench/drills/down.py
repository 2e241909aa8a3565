"""3. down: the demo sites with the service killed answer fast, signed out; then know the user again."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from onebar import passwords
from onebar.store import App, SQLiteStore

from .. import procs
from ..clients import DOWN, Visitor
from ..datagen import PASSWORD
from .common import Fixture, Outcome, clean_env, make_fixture


@dataclass
class Site:
    id: str
    name: str
    module: str
    health: str
    knows_users: bool  # the page greets a signed-in user by name (a static page knows nobody)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://{procs.HOST}:{self.port}"


#: The first name the demo sites greet the drill's user with; never on a guest's page.
NAME = "Ada"


def demo_sites() -> list[Site]:
    return [
        Site("tasks", "Tasks", "demo_apps.flask_tasks", "/healthz", True),
        Site("notes", "Notes", "demo_apps.django_notes", "/healthz", True),
        Site("handbook", "Handbook", "demo_apps.static_site", "/", False),
    ]


@dataclass
class DownResult:
    slowest_ms: float  # slowest page answer while the service was down
    problems: list[str]
    pickup_s: dict[str, float]
    bar_fallback: str  # what the bar showed with the service down ("" if not checked)
    bar_back: str


def _page(site: Site, cookie: str | None, timeout: float = 10) -> tuple[int, str, float]:
    started = time.perf_counter()
    headers = {"Cookie": f"onebar_session={cookie}"} if cookie else {}
    answer = Visitor(site.port, timeout=timeout).request("GET", "/", headers=headers)
    return answer.status, answer.body.decode(errors="replace"), (time.perf_counter() - started) * 1000


def _named_user(fx: Fixture) -> tuple[str, str]:
    """Ada, with two sessions: one the sites will have seen (cached), one they will not."""
    store = SQLiteStore(fx.database)
    try:
        user = store.create_user("ada@example.com", "Ada Lovelace", passwords.hash_password(PASSWORD))
        expires = int(time.time()) + 3600
        seen = fx.cookie(store.create_session(user.id, expires_at=expires), user.id)
        fresh = fx.cookie(store.create_session(user.id, expires_at=expires), user.id)
    finally:
        store.close()
    return seen, fresh


@contextmanager
def _chromium() -> Iterator[object | None]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        yield None
        return
    if chromium is None:
        yield None
        return
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            yield browser
        finally:
            browser.close()


def _bar_text(page: object, url: str) -> str:
    """Load ``url``; what the bar shows once drawn: the user's name, 'fallback: <link>' or 'no bar'."""
    page.goto(url, wait_until="load")  # type: ignore[attr-defined]
    if not page.locator("one-bar").count():  # type: ignore[attr-defined]
        return "no bar"
    drawn = page.locator("one-bar [part~=name], one-bar [part~=signin]")  # type: ignore[attr-defined]
    drawn.first.wait_for(timeout=10_000)
    name = page.locator("one-bar [part~=name]")  # type: ignore[attr-defined]
    if name.count():
        return name.first.text_content() or ""
    return f"fallback: {page.locator('one-bar [part~=signin]').first.text_content()}"  # type: ignore[attr-defined]


def _signed_in_page(browser: object, cookie: str) -> object:
    context = browser.new_context()  # type: ignore[attr-defined]
    context.add_cookies([{"name": "onebar_session", "value": cookie, "domain": "localhost", "path": "/",
                          "httpOnly": True, "sameSite": "Lax"}])
    return context.new_page()


def run_down(work: Path, *, browser: bool = True) -> DownResult:
    sites = demo_sites()
    for site in sites:
        site.port = procs.free_port()
    fx = make_fixture(work, "down", users=10, apps=[App(s.id, s.name, f"http://localhost:{s.port}/") for s in sites])
    seen, fresh = _named_user(fx)
    port = procs.free_port()
    service = fx.service(port)
    problems: list[str] = []
    pickup: dict[str, float] = {}
    fallback = back = ""
    with ExitStack() as stack:
        stack.enter_context(service)
        for site in sites:
            own_dir = str(fx.data / site.id)
            where = ["--out", own_dir] if site.id == "handbook" else ["--data-dir", own_dir]
            argv = [sys.executable, "-m", site.module, "--host", procs.HOST, "--port", str(site.port),
                    "--service-url", service.url, *where]
            stack.enter_context(procs.server(site.name, argv, site.port, fx.data / f"{site.id}.log",
                                             clean_env({}), health=site.health))
        chromium = stack.enter_context(_chromium()) if browser else None
        for site in sites:
            status, text, _ = _page(site, seen)
            if status != 200 or (site.knows_users and NAME not in text):
                problems.append(f"{site.name} did not greet {NAME} with the service up (HTTP {status})")
        tab = None
        if chromium is not None:  # a returning visitor: the bar's script is in the browser's cache
            tab = _signed_in_page(chromium, seen)
            shown = _bar_text(tab, sites[0].url + "/")
            if shown != "Ada Lovelace":
                problems.append(f"with the service up the bar showed {shown!r}")

        service.kill9()  # the service is gone, without a goodbye
        slowest = 0.0
        for site in sites:
            for cookie, label in ((seen, "a visitor it had seen"), (fresh, "a visitor it had not seen")):
                try:
                    status, text, took = _page(site, cookie)
                except DOWN as exc:
                    problems.append(f"{site.name} failed with the service down: {exc}")
                    continue
                slowest = max(slowest, took)
                if status != 200:
                    problems.append(f"{site.name} answered {status} with the service down")
                if took > 1000:
                    problems.append(f"{site.name} took {took:.0f} ms for {label} with the service down")
                if label.endswith("not seen") and site.knows_users and NAME in text:
                    problems.append(f"{site.name} did not show {label} as signed out")
        if tab is not None:
            fallback = _bar_text(tab, sites[0].url + "/")
            if not fallback.startswith("fallback:"):
                problems.append(f"with the service down the bar showed {fallback!r}, not its fallback")
            if tab.locator("#greeting").count() != 1:  # type: ignore[attr-defined]
                problems.append("with the service down the Tasks page lost its content in the browser")

        restarted = time.monotonic()
        service.start()
        for site in sites:
            if not site.knows_users:
                continue
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                status, text, _ = _page(site, fresh)
                if status == 200 and NAME in text:
                    pickup[site.name] = time.monotonic() - restarted
                    break
                time.sleep(0.05)
            else:
                problems.append(f"{site.name} did not know {NAME} again within 15 s of the service's return")
        if tab is not None:
            back = _bar_text(tab, sites[0].url + "/")
            if back != "Ada Lovelace":
                problems.append(f"after the service returned the bar showed {back!r}")
    return DownResult(slowest, problems, pickup, fallback, back)


def drill_down(work: Path, *, browser: bool = True) -> Outcome:
    r = run_down(work, browser=browser)
    pick = ", ".join(f"{name} {s:.1f} s" for name, s in r.pickup_s.items())
    figures = (f"Tasks (Flask), Notes (Django), Handbook (static) with the service killed: slowest page "
               f"{r.slowest_ms:.0f} ms (limit 1 000), unseen visitors signed out"
               + (f", the bar showed its fallback ({r.bar_fallback.removeprefix('fallback: ')!r})" if r.bar_fallback
                  else ", bar not checked (no Chromium)")
               + f"; after restart the user is back in {pick}"
               + (f" and the bar shows {r.bar_back!r}" if r.bar_back else ""))
    return Outcome("down", not r.problems, figures, r.problems)
