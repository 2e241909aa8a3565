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


def test_correct_sign_ins_are_limited_too(client, auth):
    """Each sign-in costs a password hash: correct ones count against their own limit."""
    auth.signup()
    auth.logout()
    answers = [auth.login().status_code for _ in range(11)]
    assert answers[:10] == [303] * 10
    assert answers[10] == 429


def test_all_sign_in_attempts_from_one_address_are_capped(settings, store):
    from onebar import passwords
    from onebar.web import create_app

    from .conftest import AuthActions

    app = create_app(settings.replace(login_ip_attempt_rate_limit="5/minute"), store)
    app.config["SERVER_NAME"] = "localhost:5000"  # the public URL's host, as browsers send it
    auth = AuthActions(app.test_client(), app)
    for n in range(7):
        store.create_user(f"u{n}@example.com", f"User {n}", passwords.hash_password(PASSWORD))
    answers = [auth.login(email=f"u{n}@example.com").status_code for n in range(7)]
    assert answers == [303] * 5 + [429, 429]


def test_dead_sessions_are_purged_while_running(tmp_path):
    from onebar import passwords
    from onebar import settings as settings_mod
    from onebar.store import SQLiteStore
    from onebar.web import create_app

    from .conftest import AuthActions
    from .live import TEST_SECRET_KEYS

    cfg = settings_mod.load(environ={}, data_dir=tmp_path / "d", secret_keys=list(TEST_SECRET_KEYS),
                            session_purge_interval=0)
    store = SQLiteStore(cfg.database)
    try:
        user = store.create_user("ada@example.com", "Ada Lovelace", passwords.hash_password(PASSWORD))
        now = int(time.time())
        expired = store.create_session(user.id, expires_at=now - 10)
        revoked = store.create_session(user.id, expires_at=now + 3600)
        store.revoke_session(revoked)
        app = create_app(cfg, store)
        client = app.test_client()
        time.sleep(1.1)  # revoked a second ago: "before now"
        assert AuthActions(client, app).login().status_code == 303
        import sqlite3

        with sqlite3.connect(cfg.database) as db:
            rows = db.execute("SELECT count(*) FROM sessions").fetchone()[0]
        db.close()
        assert rows == 1, "only the new session is left"
        assert store.get_active_session(expired, now) is None
    finally:
        store.close()


def test_the_hashing_pool_runs_one_hash_at_a_time_and_refuses_after_its_wait():
    import threading

    import pytest

    from onebar.exc import ServiceBusy
    from onebar.passwords import HashingPool

    pool = HashingPool(threads=1, wait=0.2)
    inside, release = threading.Event(), threading.Event()

    def hold():
        with pool.slot():
            inside.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(5)
    started = time.monotonic()
    with pytest.raises(ServiceBusy):
        with pool.slot():
            pass
    assert 0.15 < time.monotonic() - started < 2
    release.set()
    holder.join(5)
    with pool.slot():
        pass


def test_hashing_requests_past_the_gate_get_503_at_once():
    """Two places: a third concurrent sign-in is refused without reaching Flask."""
    import threading

    from werkzeug.test import EnvironBuilder

    from onebar.web.gate import SignInGate

    inside, release = threading.Event(), threading.Event()
    entered = []

    def slow_app(environ, start_response):
        entered.append(1)
        inside.set()
        release.wait(5)
        start_response("200 OK", [])
        return [b"ok"]

    gate = SignInGate(slow_app, places=2)
    post = EnvironBuilder(path="/login", method="POST", data={"email": "x"}).get_environ
    out = []

    def call():
        status = []
        body = b"".join(gate(post(), lambda s, h, e=None: status.append(s)))
        out.append((status[0], body))

    holders = [threading.Thread(target=call) for _ in range(2)]
    for t in holders:
        t.start()
    deadline = time.monotonic() + 5
    while len(entered) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    call()
    assert out[0][0].startswith("503") and b"busy" in out[0][1]
    release.set()
    for t in holders:
        t.join(5)
    assert [s for s, _ in out[1:]] == ["200 OK", "200 OK"]
    assert len(entered) == 2, "the refused request never reached the app"
