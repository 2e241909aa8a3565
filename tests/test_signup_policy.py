"""ONEBAR_SIGNUP = open | closed | invite, and ONEBAR_SIGNUP_DOMAINS."""

from __future__ import annotations

import pytest

from onebar import settings as settings_mod
from onebar.exc import ConfigError
from onebar.web import create_app

from .conftest import PASSWORD, AuthActions, csrf_token


def service(settings, store, **changes):  # type: ignore[no-untyped-def]
    app = create_app(settings.replace(**changes), store)
    app.config["SERVER_NAME"] = "localhost:5000"  # the public URL's host, as browsers send it
    return AuthActions(app.test_client(), app)


def test_closed_sign_up_hides_the_link_and_refuses_the_post(settings, store):
    auth = service(settings, store, signup="closed")
    for path in ("/", "/login"):
        page = auth._client.get(path).get_data(as_text=True)
        assert "Create an account" not in page and 'href="/signup' not in page
    page = auth._client.get("/signup")
    assert page.status_code == 403 and "Sign-up is closed" in page.get_data(as_text=True)
    refused = auth._client.post("/signup", data={"csrf_token": csrf_token(auth._client), "name": "Eve",
                                                 "email": "eve@example.com", "password": PASSWORD, "confirm": PASSWORD})
    assert refused.status_code == 403
    assert store.list_users() == []


def test_invite_only_sign_up_needs_a_valid_invitation(settings, store):
    auth = service(settings, store, signup="invite")
    assert "Create an account" not in auth._client.get("/login").get_data(as_text=True)
    assert auth._client.get("/signup").status_code == 403
    forged = auth._client.get("/signup?invite=eyJlIjoiZXZlQGV4YW1wbGUuY29tIn0.forged.sig")
    assert forged.status_code == 403 and "invitation link does not work" in forged.get_data(as_text=True)
    from onebar import tokens

    # Signed, but from before invitations were single-use: no nonce to use up, so no sign-up.
    unspent = auth._app.extensions["onebar.service"].links.dumps(tokens.INVITE, {"e": "eve@example.com"})
    old = auth._client.get(f"/signup?invite={unspent}")
    assert old.status_code == 403 and "invitation link does not work" in old.get_data(as_text=True)


def test_open_sign_up_still_shows_the_link(client):
    assert 'href="/signup"' in client.get("/login").get_data(as_text=True)


def test_sign_up_domains_limit_who_can_create_an_account(settings, store):
    auth = service(settings, store, signup_domains="example.com, @corp.example")
    page = auth._client.get("/signup").get_data(as_text=True)
    assert "example.com, corp.example" in page
    outsider = auth.signup(email="stranger@evil.example")
    assert outsider.status_code == 403
    assert "Sign-up is open to addresses at example.com, corp.example only." in outsider.get_data(as_text=True)
    assert auth.me()["user"] is None
    assert auth.signup(email="ada@corp.example").status_code == 303


def test_an_allowed_domain_is_matched_as_emails_are_compared(settings, store):
    # Full-width letters and capitals name the same address once NFKC-normalised (onebar.text):
    # the policy compares that form, so it neither refuses the allowed domain nor lets a look-alike in.
    auth = service(settings, store, signup_domains="Example.com")
    assert auth.signup(email="ada@\uff45xample.COM").status_code == 303
    assert auth.me()["user"]["email"] == "ada@example.COM"
    auth.logout()
    assert auth.signup(email="bob@example.com.evil.example").status_code == 403


@pytest.mark.parametrize("env,words", [
    ({"ONEBAR_SIGNUP": "sometimes"}, "signup must be one of open, closed, invite"),
    ({"ONEBAR_SMTP_URL": "http://mail.example.com"}, "smtp_url must look like"),
], ids=["bad-policy", "bad-smtp-url"])
def test_bad_mail_and_sign_up_settings_are_clear_errors(tmp_path, env, words):
    with pytest.raises(ConfigError, match=words):
        settings_mod.load(environ=env, data_dir=tmp_path, secret_keys=["k" * 32])


def test_domains_come_from_toml_as_a_list(tmp_path):
    (tmp_path / "onebar.toml").write_text('signup = "invite"\nsignup_domains = ["example.com", "Corp.Example"]\n')
    loaded = settings_mod.load(environ={}, data_dir=tmp_path, secret_keys=["k" * 32])
    assert (loaded.signup, loaded.signup_domains) == ("invite", ("example.com", "corp.example"))


@pytest.mark.parametrize("path,data", [
    ("/password/forgot", {"email": "ada@example.com"}),
    ("/account/email", {"change-email": "eve@evil.example", "change-current": PASSWORD}),
    ("/account/delete", {"delete-current": PASSWORD}),
    ("/account/verify/resend", {}),
], ids=["forgot", "change-email", "delete", "resend"])
def test_every_new_form_refuses_a_post_without_its_csrf_token(client, auth, path, data):
    auth.signup()
    response = client.post(path, data=data)
    assert response.status_code == 400
    assert "form has expired or was sent from another site" in response.get_data(as_text=True)
    user = auth.me()["user"]
    assert user is not None and user["email"] == "ada@example.com", "nothing changed, still signed in"
