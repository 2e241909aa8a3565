"""Mail through a real SMTP server on loopback: email verification, forgotten
passwords, "mail is off"."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import time_machine

from .conftest import PASSWORD, AuthActions, csrf_token
from .live import free_port
from .mailbox import Mailbox

NEW_PASSWORD = "a brand new passphrase"


def path_of(link: str) -> str:
    parts = urlsplit(link)
    assert parts.scheme + "://" + parts.netloc == "http://localhost:5000", "links use the public URL"
    return parts.path


def follow_post(auth: AuthActions, link: str, **data: str):  # type: ignore[no-untyped-def]
    client = auth._client
    path = path_of(link)
    return client.post(path, data={"csrf_token": csrf_token(client, path), **data})


def request_reset(auth: AuthActions, email: str):  # type: ignore[no-untyped-def]
    client = auth._client
    return client.post("/password/forgot", data={
        "csrf_token": csrf_token(client, "/password/forgot"), "email": email})


def test_sign_up_sends_a_confirmation_link_and_me_says_when_it_was_opened(mail_auth, mailbox):
    mail_auth.signup()
    assert mail_auth.me()["user"]["email_verified"] is False
    message = mailbox.wait_for("ada@example.com")
    assert message["Subject"] == "Confirm your email for Onebar"
    assert message["From"] == "Onebar <onebar@localhost>"
    link = Mailbox.link(message)
    page = mail_auth._client.get(path_of(link))
    assert page.status_code == 200 and "Confirm my email" in page.get_data(as_text=True)
    assert mail_auth.me()["user"]["email_verified"] is False, "opening the link (a mail scanner) changes nothing"
    assert follow_post(mail_auth, link).status_code == 303
    assert mail_auth.me()["user"]["email_verified"] is True
    assert "confirmed" in mail_auth._client.get("/account").get_data(as_text=True)


def test_forgot_password_answers_the_same_for_unknown_addresses_and_mails_only_real_ones(mail_auth, mailbox):
    mail_auth.signup()
    mailbox.wait_for("ada@example.com")  # the confirmation
    known = request_reset(mail_auth, "ADA@example.com")
    unknown = request_reset(mail_auth, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True) == unknown.get_data(as_text=True)
    message = mailbox.wait_for("ada@example.com", count=2)
    assert message["Subject"] == "Reset your Onebar password"
    assert "/password/reset/" in Mailbox.link(message)
    time.sleep(0.3)
    assert mailbox.to("nobody@example.com") == []


def test_a_reset_link_sets_the_password_signs_out_every_device_and_works_once(mail_app, mail_auth, mailbox):
    mail_auth.signup()
    laptop = AuthActions(mail_app.test_client(), mail_app)
    laptop.login()
    assert laptop.me()["user"] is not None
    phone = AuthActions(mail_app.test_client(), mail_app)  # where the owner reads mail, signed out
    request_reset(phone, "ada@example.com")
    link = Mailbox.link(mailbox.wait_for("ada@example.com", count=2))

    page = phone._client.get(path_of(link)).get_data(as_text=True)
    assert "Choose a new password" in page and "ada@example.com" in page
    mismatch = follow_post(phone, link, password=NEW_PASSWORD, confirm="something else")
    assert mismatch.status_code == 400 and "The passwords do not match." in mismatch.get_data(as_text=True)
    done = follow_post(phone, link, password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert done.status_code == 303 and done.headers["Location"] == "/account"
    assert phone.me()["user"]["email"] == "ada@example.com", "the browser that reset is signed in"
    assert laptop.me()["user"] is None, "every other session is revoked"
    assert mail_auth.me()["user"] is None

    again = phone._client.get(path_of(link))
    assert again.status_code == 400 and "used already" in again.get_data(as_text=True)
    replay = phone._client.post(path_of(link), data={"csrf_token": csrf_token(phone._client), "password": "third pw!!",
                                                     "confirm": "third pw!!"})
    assert replay.status_code == 400
    assert laptop.login(password=PASSWORD).status_code == 401
    assert laptop.login(password=NEW_PASSWORD).status_code == 303


def test_a_reset_link_expires_after_thirty_minutes(mail_auth, mailbox):
    mail_auth.signup()
    request_reset(mail_auth, "ada@example.com")
    link = Mailbox.link(mailbox.wait_for("ada@example.com", count=2))
    with time_machine.travel(time.time() + 31 * 60):
        response = mail_auth._client.get(path_of(link))
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)


def test_a_confirmation_link_is_no_reset_link(mail_auth, mailbox):
    mail_auth.signup()
    verify = Mailbox.link(mailbox.wait_for("ada@example.com"))
    token = verify.rsplit("/", 1)[1]
    assert mail_auth._client.get(f"/password/reset/{token}").status_code == 400
    assert mail_auth._client.get("/password/reset/not-a-token").status_code == 400


def test_forgot_password_is_rate_limited(mail_auth, mailbox):
    statuses = [request_reset(mail_auth, "ada@example.com").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]


def test_sign_in_page_links_to_forgot_password(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/password/forgot"' in page and "Forgot your password?" in page


def test_changing_the_email_asks_to_confirm_the_new_one_and_tells_the_old_one(mail_auth, mailbox):
    mail_auth.signup()
    first = Mailbox.link(mailbox.wait_for("ada@example.com"))
    follow_post(mail_auth, first)
    assert mail_auth.me()["user"]["email_verified"] is True
    client = mail_auth._client
    wrong = client.post("/account/email", data={"csrf_token": csrf_token(client, "/account"),
                                                 "change-email": "ada@new.example", "change-current": "nope nope"})
    assert wrong.status_code == 400 and "not your current password" in wrong.get_data(as_text=True)
    moved = client.post("/account/email", data={"csrf_token": csrf_token(client, "/account"),
                                                 "change-email": "ada@new.example", "change-current": PASSWORD})
    assert moved.status_code == 303
    user = mail_auth.me()["user"]
    assert (user["email"], user["email_verified"]) == ("ada@new.example", False)
    notice = mailbox.wait_for("ada@example.com", count=2)
    assert "ada@new.example" in Mailbox.body(notice) and "http" not in Mailbox.body(notice)
    assert client.get(path_of(first)).status_code == 400, "the old address's link no longer confirms"
    follow_post(mail_auth, Mailbox.link(mailbox.wait_for("ada@new.example")))
    assert mail_auth.me()["user"]["email_verified"] is True


def test_with_mail_off_the_log_says_so_without_the_link(auth, client, caplog):
    auth.signup()
    with caplog.at_level(logging.WARNING, logger="onebar.mail"):
        request_reset(auth, "ada@example.com")
        deadline = time.monotonic() + 5
        while "mail is off" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "mail is off (set ONEBAR_SMTP_URL)" in caplog.text and "ada@example.com" in caplog.text
    assert "/password/reset/" not in caplog.text


def test_in_dev_mode_mail_off_logs_the_link(settings, store, caplog):
    from onebar.web import create_app

    app = create_app(settings.replace(dev_mode=True), store)
    app.config["SERVER_NAME"] = "localhost:5000"  # the public URL's host, as browsers send it
    auth = AuthActions(app.test_client(), app)
    with caplog.at_level(logging.WARNING, logger="onebar.mail"):
        auth.signup()
        deadline = time.monotonic() + 5
        while "/email/verify/" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "mail is off (dev mode)" in caplog.text and "http://localhost:5000/email/verify/" in caplog.text


def test_dev_mode_is_refused_in_production(tmp_path):
    import pytest

    from onebar import settings as settings_mod
    from onebar.exc import ConfigError

    with pytest.raises(ConfigError, match="dev_mode"):
        settings_mod.load(environ={"ONEBAR_DEV_MODE": "true", "ONEBAR_PUBLIC_URL": "https://id.example.com"},
                          data_dir=tmp_path, secret_keys=["k" * 32])


def test_a_mail_server_that_is_down_changes_nothing_the_visitor_sees_and_logs_no_link(settings, store, caplog):
    from onebar.web import create_app

    app = create_app(settings.replace(smtp_url=f"smtp://127.0.0.1:{free_port()}"), store)
    app.config["SERVER_NAME"] = "localhost:5000"  # the public URL's host, as browsers send it
    auth = AuthActions(app.test_client(), app)
    auth.signup()
    with caplog.at_level(logging.ERROR, logger="onebar.mail"):
        response = request_reset(auth, "ada@example.com")
        deadline = time.monotonic() + 10
        while "cannot send mail" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert response.status_code == 200 and "If an account uses that address" in response.get_data(as_text=True)
    assert "cannot send mail through 127.0.0.1" in caplog.text
    assert "/password/reset/" not in caplog.text and "/email/verify/" not in caplog.text


def test_openapi_documents_email_verified_and_me_matches_it(client, auth):
    import jsonschema

    auth.signup()
    doc = client.get("/api/openapi.json").get_json()
    field = doc["components"]["schemas"]["User"]["properties"]["email_verified"]
    assert field["type"] == "boolean" and "email changes" in field["description"]
    schema = {**doc["components"]["schemas"]["Me"], "components": doc["components"]}
    jsonschema.validate(auth.me(), schema)
    assert auth.me()["user"]["email_verified"] is False


def test_reset_and_confirm_posts_need_their_csrf_token(app, client, auth, store):
    from onebar import tokens

    auth.signup()
    user = store.get_user_by_email("ada@example.com")
    links = app.extensions["onebar.service"].links
    reset = links.dumps(tokens.RESET, {"u": user.id, "v": store.get_token_version(user.id)})
    verify = links.dumps(tokens.VERIFY, {"u": user.id, "e": user.email})
    assert client.post(f"/password/reset/{reset}", data={"password": "hijacked pw", "confirm": "hijacked pw"}
                       ).status_code == 400
    assert client.post(f"/email/verify/{verify}").status_code == 400
    assert auth.me()["user"]["email_verified"] is False
    auth.logout()
    assert auth.login().status_code == 303, "the password did not change"


def test_the_account_page_sends_the_confirmation_link_again(mail_auth, mailbox):
    mail_auth.signup()
    mailbox.wait_for("ada@example.com")
    client = mail_auth._client
    assert "Send the confirmation link again" in client.get("/account").get_data(as_text=True)
    sent = client.post("/account/verify/resend", data={"csrf_token": csrf_token(client, "/account")},
                       follow_redirects=True)
    assert "We sent a new link to ada@example.com." in sent.get_data(as_text=True)
    follow_post(mail_auth, Mailbox.link(mailbox.wait_for("ada@example.com", count=2)))
    page = client.get("/account").get_data(as_text=True)
    assert "Send the confirmation link again" not in page and "confirmed" in page


def test_a_disabled_account_gets_no_reset_link(mail_app, mail_auth, mailbox, store):
    mail_auth.signup()
    mailbox.wait_for("ada@example.com")
    store.set_disabled(store.get_user_by_email("ada@example.com").id, True)
    browser = AuthActions(mail_app.test_client(), mail_app)
    answer = request_reset(browser, "ada@example.com")
    assert answer.status_code == 200 and "If an account uses that address" in answer.get_data(as_text=True)
    time.sleep(0.5)
    assert len(mailbox.to("ada@example.com")) == 1, "only the confirmation, no reset link"
    assert browser.me()["user"] is None
