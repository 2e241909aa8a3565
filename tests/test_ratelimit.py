"""Repeated failed sign-ins get 429 with Retry-After, and it recovers."""

import time

import time_machine

from .conftest import PASSWORD


def test_failed_sign_ins_are_rate_limited_then_recover(client, auth):
    auth.signup()
    auth.logout()
    with time_machine.travel(time.time(), tick=True) as clock:
        for _ in range(5):
            assert auth.login(password="wrong password").status_code == 401
        blocked = auth.login()  # even the right password waits now
        assert blocked.status_code == 429
        retry = int(blocked.headers["Retry-After"])
        assert 0 < retry <= 60
        assert "Too many attempts" in blocked.get_data(as_text=True)
        assert auth.me()["user"] is None

        clock.shift(retry + 1)
        assert auth.login().status_code == 303
        assert auth.me()["user"]["name"] == "Ada Lovelace"


def test_unknown_email_and_wrong_password_get_the_same_answer(client, auth):
    auth.signup()
    auth.logout()
    wrong_password = auth.login(password="not the password")
    unknown = auth.login(email="nobody@example.com")
    assert wrong_password.status_code == unknown.status_code == 401
    message = "That email and password do not match an account."
    assert message in wrong_password.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)


def test_limit_is_per_account_so_others_can_still_sign_in(app, client, auth):
    from .conftest import AuthActions

    auth.signup()
    auth.logout()
    auth.signup(email="grace@example.com", name="Grace Hopper")
    auth.logout()
    for _ in range(6):
        auth.login(password="wrong password")
    assert auth.login().status_code == 429
    assert auth.login(email="grace@example.com").status_code == 303


def test_sign_ups_from_one_address_are_rate_limited(client, auth):
    for n in range(5):
        assert auth.signup(email=f"bot{n}@example.com").status_code == 303
    blocked = auth.signup(email="bot-too-many@example.com")
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    auth.logout()
    assert auth.login(email="bot-too-many@example.com").status_code == 401, "the account was not created"


def test_unknown_email_still_spends_a_password_check(client, auth, monkeypatch):
    """The answer's timing must not tell whether an account exists."""
    from onebar import passwords

    checked = []
    real = passwords.check_password_hash
    monkeypatch.setattr(passwords, "check_password_hash", lambda h, p: checked.append(h) or real(h, p))
    assert auth.login(email="nobody@example.com").status_code == 401
    assert checked, "no password hash was checked for an unknown email"


def test_guessing_the_current_password_on_the_account_page_is_rate_limited(client, auth):
    from .conftest import csrf_token

    auth.signup()
    def change(current):
        return client.post("/account/password", data={
            "csrf_token": csrf_token(client, "/account"), "current": current,
            "password": "a brand new password", "confirm": "a brand new password"})

    for _ in range(5):
        assert change("a wrong guess").status_code == 400
    blocked = change(PASSWORD)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    auth.logout()
    assert auth.login().status_code == 303, "the password was not changed"
