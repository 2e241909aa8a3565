"""The service's own pages in a real Chromium: they work without JavaScript and
axe-core finds no accessibility violations on them."""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from ..live import start_service

pytestmark = pytest.mark.browser
EMAIL, PASSWORD = "ada@example.com", "correct horse battery"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    data = Path(tmp_path_factory.mktemp("pages"))
    with start_service(data, apps=[("notes", "Notes", "http://localhost:5001/")],
                       users=[(EMAIL, "Ada Lovelace", PASSWORD)]) as svc:
        yield svc


def assert_accessible(page: Page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def sign_in(page: Page, base: str, email: str = EMAIL, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_sign_up_account_and_sign_out_work_with_and_without_javascript(browser: Browser, service, javascript):
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.goto(f"{service.url}/signup")
    email = f"grace-{javascript}@example.com"
    page.get_by_label("Name").fill("Grace Hopper")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill("a long password")
    page.get_by_label("Repeat password").fill("a long password")
    page.get_by_role("button", name="Create account").click()

    expect(page).to_have_url(f"{service.url}/account")
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.get_by_text("(this browser)")).to_be_visible()

    page.goto(f"{service.url}/logout")
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{service.url}/account")
    expect(page).to_have_url(f"{service.url}/login?next=/account")
    context.close()


def test_a_wrong_password_shows_a_message_next_to_the_form(page: Page, service):
    sign_in(page, service.url, password="not my password")
    expect(page.get_by_role("alert")).to_have_text("That email and password do not match an account.")
    expect(page.get_by_label("Email")).to_have_value(EMAIL)


def test_signed_out_pages_have_no_accessibility_violations(page: Page, service):
    for path in ("/", "/login", "/signup", "/logout"):
        page.goto(service.url + path)
        assert_accessible(page)
    page.goto(service.url + "/signup")
    page.get_by_role("button", name="Create account").click()  # every field invalid
    expect(page.get_by_text("Enter your name.")).to_be_visible()
    assert_accessible(page)


def test_account_page_has_no_accessibility_violations(page: Page, service):
    sign_in(page, service.url)
    page.goto(service.url + "/account")
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    assert_accessible(page)
