"""Forgotten passwords, email confirmation and the account page in a real
Chromium, against the service as `onebar serve` runs it, with mail going
through a real SMTP server on loopback. Every page: with and without
JavaScript where it matters, and no axe-core violations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from ..live import free_port, start_service
from ..mailbox import Mailbox
from .test_pages_in_chromium import assert_accessible, sign_in

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
CHROME_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
ODD_AGENT = "AVeryLongUserAgentWithoutAnySpacesAtAllSoItCannotBreakNicely/1.0"


@pytest.fixture(scope="module")
def mailbox():
    with Mailbox() as box:
        yield box


@pytest.fixture(scope="module")
def service(tmp_path_factory, mailbox):
    data = Path(tmp_path_factory.mktemp("lifecycle"))
    port = free_port()
    # Every page here signs up from one address, more often than the 5 a minute a person gets
    # (tests/test_ratelimit.py tests that limit).
    env = {"ONEBAR_SMTP_URL": mailbox.url, "ONEBAR_PUBLIC_URL": f"http://localhost:{port}",
           "ONEBAR_LOGIN_RATE_LIMIT": "100/minute"}
    with start_service(data, port=port, users=[("ada@example.com", "Ada Lovelace", PASSWORD)], env=env) as svc:
        yield svc


def sign_up(page: Page, base: str, email: str, name: str = "Grace Hopper") -> None:
    page.goto(f"{base}/signup")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(f"{base}/account")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_forgot_password_by_mail_from_the_sign_in_page(browser: Browser, service, mailbox, javascript):
    def check(page: Page) -> None:  # axe runs as a script: only where scripts run
        if javascript:
            assert_accessible(page)

    email = f"reset-{javascript}@example.com"
    service.cli("user", "add", email, "--name", "Reset Me", "--password-stdin", input=PASSWORD + "\n")
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.goto(f"{service.url}/login")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    check(page)
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    check(page)

    link = Mailbox.link(mailbox.wait_for(email))
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    check(page)
    page.get_by_label("New password", exact=True).fill("a new long password")
    page.get_by_label("Repeat new password").fill("a different one")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_text("The passwords do not match.")).to_be_visible()
    check(page)
    page.get_by_label("New password", exact=True).fill("a new long password")
    page.get_by_label("Repeat new password").fill("a new long password")
    page.get_by_role("button", name="Save the new password").click()
    expect(page).to_have_url(f"{service.url}/account")
    expect(page.get_by_role("status").first).to_contain_text("Your password is changed")

    page.goto(link)
    expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
    context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_sign_up_mail_confirms_the_address(browser: Browser, service, mailbox, javascript):
    email = f"confirm-{javascript}@example.com"
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    sign_up(page, service.url, email)
    expect(page.get_by_text("not confirmed yet")).to_be_visible()
    link = Mailbox.link(mailbox.wait_for(email))
    page.goto(link)
    expect(page.get_by_role("heading", name="Confirm your email")).to_be_visible()
    if javascript:  # axe runs as a script: only where scripts run
        assert_accessible(page)
    page.get_by_role("button", name="Confirm my email").click()
    expect(page).to_have_url(f"{service.url}/account")
    expect(page.get_by_text("confirmed", exact=True)).to_be_visible()
    listed = json.loads(service.cli("user", "list", "--json").stdout)
    assert [u["email_verified"] for u in listed if u["email"] == email] == [True]
    context.close()


def test_account_page_names_devices_and_its_buttons_never_wrap(browser: Browser, service):
    odd = browser.new_context(user_agent=ODD_AGENT)
    sign_in(odd.new_page(), service.url)
    context = browser.new_context(user_agent=CHROME_LINUX, viewport={"width": 320, "height": 800})
    page = context.new_page()
    sign_in(page, service.url)
    page.goto(f"{service.url}/account")
    sessions = page.locator("ul.sessions")
    expect(sessions.get_by_text("Chrome on Linux").first).to_be_visible()
    expect(sessions).not_to_contain_text("Mozilla/5.0")
    expect(sessions.get_by_text(ODD_AGENT.split("/")[0][:40])).to_be_visible()
    lines = page.evaluate("""() => [...document.querySelectorAll('button')].filter(b => b.offsetParent).map(b => {
        const s = getComputedStyle(b);
        const inner = b.clientHeight - parseFloat(s.paddingTop) - parseFloat(s.paddingBottom);
        return [b.textContent.trim(), inner / parseFloat(s.lineHeight), b.scrollWidth <= b.clientWidth,
                !!b.closest('.sessions')];
    })""")
    assert lines, "the page has buttons"
    for text, n, fits, in_sessions in lines:
        # A session's "Sign out" stays on one line beside the device; other
        # buttons may wrap between words, never inside one.
        assert fits and n < (1.5 if in_sessions else len(text.split()) + 0.5), (text, n)
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > innerWidth + 1).map(e => e.tagName + '.' + e.className)""")
    assert wide == [], "nothing sticks out sideways at 320px"
    expect(page.get_by_role("heading", name="Recent security activity")).to_be_visible()
    expect(page.locator("ul.events").get_by_text("Signed in").first).to_be_visible()
    assert_accessible(page)
    odd.close()
    context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_change_email_then_delete_the_account(browser: Browser, service, mailbox, javascript):
    def check(page: Page) -> None:
        if javascript:
            assert_accessible(page)

    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    email, new = f"move-{javascript}@example.com", f"moved-{javascript}@example.com"
    sign_up(page, service.url, email)
    page.get_by_label("New email").fill(new)
    page.get_by_label("Confirm with your password").fill("not my password")
    page.get_by_role("button", name="Change email").click()
    expect(page.get_by_text("That is not your current password.")).to_be_visible()
    check(page)
    page.get_by_label("New email").fill(new)
    page.get_by_label("Confirm with your password").fill(PASSWORD)
    page.get_by_role("button", name="Change email").click()
    expect(page.get_by_role("status").first).to_contain_text(f"Your email is now {new}")
    expect(page.get_by_text("not confirmed yet")).to_be_visible()
    mailbox.wait_for(new)

    page.get_by_label("Your password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Delete my account").click()
    expect(page).to_have_url(f"{service.url}/")
    expect(page.get_by_role("status").first).to_contain_text("Your account is deleted")
    sign_in(page, service.url, email=new)
    expect(page.get_by_role("alert")).to_have_text("That email and password do not match an account.")
    context.close()


def test_closed_pages_and_errors_are_accessible(page: Page, service):
    page.goto(f"{service.url}/password/reset/not-a-real-token")
    expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
    assert_accessible(page)


@pytest.mark.parametrize("policy,heading", [("closed", "Sign-up is closed"), ("invite", "Sign-up is by invitation")])
def test_a_sign_up_that_is_closed_or_by_invitation_says_so_accessibly(page: Page, tmp_path, policy, heading):
    with start_service(tmp_path / "svc", env={"ONEBAR_SIGNUP": policy}) as svc:
        reply = page.goto(f"{svc.url}/signup")
        assert reply is not None and reply.status == 403
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        assert_accessible(page)
        page.goto(f"{svc.url}/login")
        expect(page.get_by_role("link", name="Create an account")).to_have_count(0)  # no link to a page that refuses


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_an_invitation_from_the_cli_opens_a_sign_up_page_for_that_address(browser: Browser, service, mailbox,
                                                                          javascript):
    from ..live import onebar

    email = f"invited-{javascript}@example.com"
    onebar(service.data_dir, "user", "invite", email,
           env={"ONEBAR_SMTP_URL": mailbox.url, "ONEBAR_PUBLIC_URL": service.url})
    message = mailbox.wait_for(email)
    assert message["Subject"] == "You are invited to Onebar"
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.goto(Mailbox.link(message))
    expect(page.get_by_label("Email")).to_have_value(email)
    expect(page.get_by_label("Email")).not_to_be_editable()
    if javascript:
        assert_accessible(page)
    page.get_by_label("Name").fill("Invited Person")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(f"{service.url}/account")
    expect(page.get_by_text("confirmed", exact=True)).to_be_visible()

    reply = page.goto(Mailbox.link(message))  # the same link again: it worked once
    assert reply is not None and reply.status == 403
    expect(page.get_by_role("heading", name="This invitation has been used")).to_be_visible()
    if javascript:
        assert_accessible(page)
    context.close()
