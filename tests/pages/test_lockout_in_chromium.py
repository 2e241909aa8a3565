"""A wrong-password storm locks out the attacker, not the owner, in a real
Chromium against the service as `onebar serve` runs it: the owner's browser
keeps its device cookie (HttpOnly, SameSite=Lax, Path=/login) across a
sign-out, and the service honours it after the storm."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from ..live import start_service
from .test_pages_in_chromium import assert_accessible, sign_in

pytestmark = pytest.mark.browser
EMAIL, PASSWORD = "ada@example.com", "correct horse battery"


@pytest.fixture
def service(tmp_path: Path):
    with start_service(tmp_path / "data", users=[(EMAIL, "Ada Lovelace", PASSWORD)]) as svc:
        yield svc


def test_a_storm_from_another_browser_gets_the_429_page_and_the_owner_still_signs_in(browser: Browser, service):
    owner = browser.new_context().new_page()
    sign_in(owner, service.url)
    expect(owner).to_have_url(f"{service.url}/account")
    owner.goto(f"{service.url}/logout")
    owner.get_by_role("button", name="Sign out").click()
    owner.goto(f"{service.url}/account")
    expect(owner).to_have_url(f"{service.url}/login?next=/account")

    # The attacker: another browser, on the same address (one NAT, one office).
    attacker = browser.new_context().new_page()
    for i in range(5):
        sign_in(attacker, service.url, password=f"guess number {i}")
        expect(attacker.get_by_role("alert")).to_have_text("That email and password do not match an account.")
    sign_in(attacker, service.url, password="guess number 5")
    alert = attacker.get_by_role("alert")
    expect(alert).to_contain_text("Too many attempts. Try again in")
    expect(alert).to_contain_text("“Forgot your password?” below emails you a link")
    assert_accessible(attacker)
    sign_in(attacker, service.url)  # even the right password: this browser waits
    expect(attacker.get_by_role("alert")).to_contain_text("Too many attempts")
    attacker.goto(f"{service.url}/account")
    expect(attacker).to_have_url(f"{service.url}/login?next=/account")

    sign_in(owner, service.url)
    expect(owner).to_have_url(f"{service.url}/account")
    expect(owner.get_by_role("heading", name="Your account")).to_be_visible()
    expect(owner.get_by_text(EMAIL).first).to_be_visible()
