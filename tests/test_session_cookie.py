"""The session cookie: bad input is "signed out", keys rotate, sessions are revocable."""

from __future__ import annotations

import time

import pytest
import time_machine
from itsdangerous import URLSafeTimedSerializer

from onebar.sessions import SessionCodec

from .conftest import PASSWORD
from .live import TEST_SECRET_KEYS

COOKIE = "onebar_session"


def signed_in_cookie(auth) -> str:
    assert auth.signup().status_code == 303
    value = auth.cookie()
    assert value and auth.me()["user"] is not None
    return value


def use_cookie(client, value: str) -> None:
    client.set_cookie(COOKIE, value, domain="localhost")


def clears_cookie(response) -> bool:
    return any(h.startswith(f"{COOKIE}=;") and "Max-Age=0" in h for h in response.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize(
    "mangle",
    [
        # signature changed; not its last character, whose low bits base64 ignores
        lambda v: v[:-5] + ("A" if v[-5] != "A" else "B") + v[-4:],
        lambda v: ("f" if v[0] != "f" else "g") + v[1:],  # payload changed
        lambda v: v[: len(v) // 2],  # truncated
        lambda v: v.replace(".", "", 1),  # a separator dropped
        lambda v: "garbage",
        lambda v: "",
        lambda v: "...",
        lambda v: "x" * 4000,
        lambda v: "eyJzIjoiYSIsInUiOiJiIn0.AAAAAA.invalid",
        lambda v: "%00%ff\\u0000",
    ],
    ids=["signature", "payload", "truncated", "separator", "garbage", "empty", "dots", "huge", "forged", "binary"],
)
def test_bad_cookie_means_signed_out_never_an_error(client, auth, mangle):
    good = signed_in_cookie(auth)
    use_cookie(client, mangle(good))
    response = client.get("/api/me")
    assert response.status_code == 200
    assert response.get_json()["user"] is None


def test_a_dead_cookie_is_cleared(client, auth):
    use_cookie(client, "garbage")
    assert clears_cookie(client.get("/api/me"))


def test_cookie_from_rotated_out_key_is_rejected(tmp_path, store):
    from onebar import keys, settings as settings_mod
    from onebar.web import create_app

    data = tmp_path / "rotating"
    data.mkdir()
    first = settings_mod.load({}, data_dir=data)  # keys from the key file, as in production
    user = store.create_user("bob@example.com", "Bob", "x")
    sid = store.create_session(user.id, expires_at=int(time.time()) + 3600)
    cookie = SessionCodec(first.secret_keys, 3600).encode(sid, user.id)

    def me_after_rotations() -> object:
        client = create_app(settings_mod.load({}, data_dir=data), store).test_client()
        client.set_cookie(COOKIE, cookie, domain="localhost")
        return client.get("/api/me").get_json()["user"]

    keys.rotate(data)
    assert me_after_rotations() is not None, "one rotation later the key still verifies"
    for _ in range(keys.KEEP - 1):
        keys.rotate(data)
    assert first.secret_keys[0] not in settings_mod.load({}, data_dir=data).secret_keys
    assert me_after_rotations() is None, "rotated out: rejected"


def test_cookie_signed_with_a_key_never_in_the_list_is_rejected(client, auth, store):
    user = store.create_user("bob@example.com", "Bob", "x")
    sid = store.create_session(user.id, expires_at=int(time.time()) + 3600)
    forged = SessionCodec(["a-key-nobody-has-0123456789abcdef"], max_age=3600).encode(sid, user.id)
    use_cookie(client, forged)
    assert auth.me()["user"] is None


def test_cookie_from_older_key_in_list_is_accepted_and_resigned_with_newest(client, auth, store):
    old_key, new_key = TEST_SECRET_KEYS
    user = store.create_user("bob@example.com", "Bob", "x")
    sid = store.create_session(user.id, expires_at=int(time.time()) + 3600)
    use_cookie(client, SessionCodec([old_key], max_age=3600).encode(sid, user.id))

    response = client.get("/api/me")
    assert response.get_json()["user"]["name"] == "Bob"
    renewed = auth.cookie()
    newest_only = SessionCodec([new_key], max_age=3600)
    assert newest_only.decode(renewed) is not None, "the cookie is re-issued under the newest key"
    assert newest_only.decode(renewed).sid == sid


@pytest.mark.parametrize("salt", ["wtf-csrf-token", "onebar.handoff", "itsdangerous"])
def test_value_signed_for_another_purpose_is_not_a_session(client, auth, store, salt):
    user = store.create_user("bob@example.com", "Bob", "x")
    sid = store.create_session(user.id, expires_at=int(time.time()) + 3600)
    other = URLSafeTimedSerializer(TEST_SECRET_KEYS[-1], salt=salt).dumps({"s": sid, "u": user.id})
    use_cookie(client, other)
    assert auth.me()["user"] is None


def test_expired_cookie_is_rejected(client, auth, store, settings):
    user = store.create_user("bob@example.com", "Bob", "x")
    sid = store.create_session(user.id, expires_at=int(time.time()) + 10 * settings.session_max_age)
    codec = SessionCodec(settings.secret_keys, settings.session_max_age)
    with time_machine.travel(time.time() - settings.session_max_age - 60, tick=False):
        old = codec.encode(sid, user.id)
    use_cookie(client, old)
    assert auth.me()["user"] is None


def test_future_dated_cookie_is_rejected(client, auth, store, settings):
    user = store.create_user("bob@example.com", "Bob", "x")
    sid = store.create_session(user.id, expires_at=int(time.time()) + 3600)
    codec = SessionCodec(settings.secret_keys, settings.session_max_age)
    with time_machine.travel(time.time() + 3600, tick=False):
        future = codec.encode(sid, user.id)
    use_cookie(client, future)
    assert auth.me()["user"] is None


def test_session_slides_a_day_old_cookie_is_renewed(client, auth, store, settings):
    user = store.create_user("bob@example.com", "Bob", "x")
    sid = store.create_session(user.id, expires_at=int(time.time()) + 3600)
    codec = SessionCodec(settings.secret_keys, settings.session_max_age)
    with time_machine.travel(time.time() - settings.session_renew_after - 60, tick=False):
        use_cookie(client, codec.encode(sid, user.id))
    assert auth.me()["user"]["name"] == "Bob"
    fresh = codec.decode(auth.cookie())
    assert fresh is not None and fresh.sid == sid and fresh.age() < 60
    session = store.get_active_session(sid, int(time.time()))
    assert session.session.expires_at >= time.time() + settings.session_max_age - 60, "server-side expiry extended"


def test_fresh_cookie_is_not_reissued_on_every_request(client, auth):
    signed_in_cookie(auth)
    response = client.get("/api/me")
    assert not response.headers.getlist("Set-Cookie")


def test_cookie_for_a_session_whose_server_row_expired_is_rejected(client, auth, store, settings):
    user = store.create_user("bob@example.com", "Bob", "x")
    sid = store.create_session(user.id, expires_at=int(time.time()) - 1)
    use_cookie(client, SessionCodec(settings.secret_keys, settings.session_max_age).encode(sid, user.id))
    assert auth.me()["user"] is None


def test_cookie_copied_before_sign_out_is_rejected_after_it(client, auth):
    copied = signed_in_cookie(auth)
    assert auth.logout().status_code == 303
    assert auth.me()["user"] is None
    use_cookie(client, copied)  # replay
    assert auth.me()["user"] is None


def test_sign_out_everywhere_kills_every_cookie(app, auth):
    copied = signed_in_cookie(auth)
    other = app.test_client()
    from .conftest import AuthActions

    other_auth = AuthActions(other, app)
    assert other_auth.login().status_code == 303
    other_cookie = other_auth.cookie()

    from .conftest import csrf_token

    r = auth._client.post("/account/sessions/revoke-all", data={"csrf_token": csrf_token(auth._client, "/account")})
    assert r.status_code == 303
    for value in (copied, other_cookie):
        fresh = app.test_client()
        fresh.set_cookie(COOKIE, value, domain="localhost")
        assert fresh.get("/api/me").get_json()["user"] is None
    assert other_auth.me()["user"] is None


def test_password_change_kills_older_cookies_but_keeps_this_browser(app, client, auth):
    from .conftest import AuthActions, csrf_token

    before = signed_in_cookie(auth)
    laptop = AuthActions(app.test_client(), app)
    laptop.login()
    assert laptop.me()["user"] is not None

    r = client.post("/account/password", data={
        "csrf_token": csrf_token(client, "/account"), "current": PASSWORD,
        "password": "a brand new password", "confirm": "a brand new password",
    })
    assert r.status_code == 303
    assert auth.me()["user"]["name"] == "Ada Lovelace", "the browser that changed it stays signed in"
    assert auth.cookie() != before
    assert laptop.me()["user"] is None
    replay = app.test_client()
    replay.set_cookie(COOKIE, before, domain="localhost")
    assert replay.get("/api/me").get_json()["user"] is None
    assert AuthActions(app.test_client(), app).login(password="a brand new password").status_code == 303


def test_signing_in_issues_a_fresh_session_id(client, auth, settings):
    codec = SessionCodec(settings.secret_keys, settings.session_max_age)
    first = signed_in_cookie(auth)
    assert auth.login().status_code == 303
    second = auth.cookie()
    assert codec.decode(first).sid != codec.decode(second).sid
    use_cookie(client, first)
    assert auth.me()["user"] is None, "the session the browser had before signing in is gone"


def test_a_planted_session_is_not_adopted_by_sign_in(app, client, auth, store, settings):
    attacker = store.create_user("mallory@example.com", "Mallory", "x")
    planted_sid = store.create_session(attacker.id, expires_at=int(time.time()) + 3600)
    codec = SessionCodec(settings.secret_keys, settings.session_max_age)
    store.create_user("ada@example.com", "Ada Lovelace", __import__("onebar.passwords").passwords.hash_password(PASSWORD))
    use_cookie(client, codec.encode(planted_sid, attacker.id))
    assert auth.login().status_code == 303
    token = codec.decode(auth.cookie())
    assert token.sid != planted_sid
    assert auth.me()["user"]["name"] == "Ada Lovelace"


def test_clearing_a_dead_cookie_on_the_api_keeps_one_vary_header(client):
    """The fixed API headers go first, so the cookie's Vary: Cookie joins them (one header, not two).

    A query string sends /api/me through Flask and its after-request hooks
    (a plain GET is answered by onebar.web.fastpath, which writes its headers
    itself and is compared with this path in tests/test_fastpath.py).
    """
    client.set_cookie("onebar_session", "forged.cookie.value", domain="localhost")
    response = client.get("/api/me?through=flask")
    assert response.get_json()["user"] is None
    assert "onebar_session=;" in response.headers["Set-Cookie"]
    assert response.headers.getlist("Vary") == ["Origin, Cookie, Authorization, Sec-Fetch-Site"]


def test_an_account_keeps_at_most_max_sessions_and_the_one_used_longest_ago_signs_out(settings, store):
    # Correct sign-ins are bounded per address, not across addresses: without a
    # cap, someone holding the password from many addresses could fill the
    # sessions table. The cap ends the least recently used session instead.
    from dataclasses import replace

    from onebar.passwords import hash_password
    from onebar.web import create_app

    from .conftest import AuthActions

    app = create_app(replace(settings, max_sessions=2), store)
    app.config["SERVER_NAME"] = "localhost:5000"
    store.create_user("ada@example.com", "Ada Lovelace", hash_password(PASSWORD))
    browsers = [app.test_client() for _ in range(3)]
    start = time.time() - 300  # in the past: a cookie signed in the future is refused
    for n, browser in enumerate(browsers):  # a minute apart (the store keeps times to the second)
        with time_machine.travel(start + 60 * n, tick=False):
            assert AuthActions(browser, app).login().status_code == 303
    assert [AuthActions(b, app).me()["user"] is not None for b in browsers] == [False, True, True]
    assert settings.max_sessions == 50  # the default
