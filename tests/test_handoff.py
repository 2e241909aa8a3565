"""The cross-site hand-off over HTTP (onebar.handoff): every security property of issue 10.

The service is at http://localhost:5000; ``https://tasks.example.com`` is a
registered site on another registrable domain, ``http://localhost:5001``
another registered one (tests/conftest.py APPS).
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import time_machine

from onebar import handoff
from onebar.web import create_app

from .conftest import csrf_token

TASKS, NOTES = "https://tasks.example.com", "http://localhost:5001"


def new_verifier() -> str:
    return secrets.token_urlsafe(48)


def authorize(client, verifier, origin=TASKS, return_to=None, state="s" * 22, **extra):
    params = {"origin": origin, "return_to": return_to or origin + "/page?x=1", "state": state,
              "code_challenge": handoff.challenge_of(verifier), "code_challenge_method": "S256", **extra}
    return client.get("/authorize?" + urlencode(params))


def returned(response) -> dict[str, str]:
    """What the redirect back to the site carries (fragment, else query)."""
    assert response.status_code == 303, response.get_data(as_text=True)
    parts = urlsplit(response.headers["Location"])
    found = parse_qs(parts.fragment) or parse_qs(parts.query)
    return {k: v[-1] for k, v in found.items()}


def redeem(client, code, verifier, origin=TASKS):
    return client.post("/api/token", json={"code": code, "code_verifier": verifier}, headers={"Origin": origin})


def credential_for(client, origin=TASKS) -> str:
    verifier = new_verifier()
    code = returned(authorize(client, verifier, origin=origin))["onebar_code"]
    answer = redeem(client, code, verifier, origin)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["credential"]


def me_as_site(app, credential, origin=TASKS):
    """/api/me as the site's bar asks it: its credential, its Origin, no service cookie."""
    response = app.test_client().get("/api/me", headers={"Authorization": f"Bearer {credential}", "Origin": origin})
    assert response.status_code == 200
    return response


@pytest.fixture
def signed_in(auth):
    auth.signup()
    return auth


def test_signed_in_browser_goes_back_with_a_code_in_the_fragment_and_the_site_gets_the_user(app, client, signed_in):
    verifier = new_verifier()
    response = authorize(client, verifier, state="tab-state-0123456789")
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path, location.query) == ("https", "tasks.example.com",
                                                                                 "/page", "x=1")
    back = returned(response)
    assert back["onebar_state"] == "tab-state-0123456789"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    answer = redeem(client, back["onebar_code"], verifier)
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == TASKS
    body = answer.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    me = me_as_site(app, body["credential"])
    assert me.get_json()["user"]["name"] == "Ada Lovelace"
    assert me.headers["Access-Control-Allow-Origin"] == TASKS
    assert "Authorization" in me.headers["Vary"]


def test_query_mode_is_for_an_app_servers_callback(client, signed_in):
    verifier = new_verifier()
    response = authorize(client, verifier, response_mode="query", return_to=TASKS + "/.onebar/callback")
    location = urlsplit(response.headers["Location"])
    assert location.path == "/.onebar/callback" and not location.fragment
    assert redeem(client, parse_qs(location.query)["onebar_code"][0], verifier).status_code == 200


def test_a_code_works_once(client, signed_in):
    verifier = new_verifier()
    code = returned(authorize(client, verifier))["onebar_code"]
    assert redeem(client, code, verifier).status_code == 200
    replay = redeem(client, code, verifier)
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    assert "credential" not in replay.get_json()


def test_a_code_works_only_for_the_origin_it_was_issued_to(client, signed_in):
    verifier = new_verifier()
    code = returned(authorize(client, verifier))["onebar_code"]
    answer = redeem(client, code, verifier, origin=NOTES)
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_grant"
    # and it is spent: the right origin cannot use it afterwards either
    assert redeem(client, code, verifier).status_code == 400


@pytest.mark.parametrize("origin", ["https://evil.example", None, "null"], ids=["unregistered", "none", "null"])
def test_only_registered_origins_may_redeem(client, signed_in, origin):
    verifier = new_verifier()
    code = returned(authorize(client, verifier))["onebar_code"]
    headers = {"Origin": origin} if origin else {}
    answer = client.post("/api/token", json={"code": code, "code_verifier": verifier}, headers=headers)
    assert answer.status_code == 403 and answer.get_json()["error"] == "invalid_client"
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_a_code_expires_within_sixty_seconds(client, signed_in):
    verifier = new_verifier()
    with time_machine.travel(time.time(), tick=False) as traveller:
        code = returned(authorize(client, verifier))["onebar_code"]
        traveller.shift(handoff.CODE_LIFETIME)
        answer = redeem(client, code, verifier)
    assert handoff.CODE_LIFETIME <= 60
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_grant"


@pytest.mark.parametrize("verifier", [None, "", "short", "w" * 64], ids=["missing", "empty", "malformed", "wrong"])
def test_a_code_needs_the_verifier_of_the_tab_that_started(client, signed_in, verifier):
    good = new_verifier()
    code = returned(authorize(client, good))["onebar_code"]
    body = {"code": code} if verifier is None else {"code": code, "code_verifier": verifier}
    answer = client.post("/api/token", json=body, headers={"Origin": TASKS})
    assert answer.status_code == 400
    assert answer.get_json()["error"] in ("invalid_request", "invalid_grant")
    assert answer.get_json()["error_description"]
    if verifier == "w" * 64:
        # a wrong guess spends the code: the right verifier cannot follow it
        assert redeem(client, code, good).status_code == 400


def test_a_code_of_a_session_that_ended_signs_nobody_in(client, signed_in):
    verifier = new_verifier()
    code = returned(authorize(client, verifier))["onebar_code"]
    signed_in.logout()
    answer = redeem(client, code, verifier)
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_grant"


def test_token_wants_json(client, signed_in):
    answer = client.post("/api/token", data="code=x", content_type="application/x-www-form-urlencoded",
                         headers={"Origin": TASKS})
    assert answer.status_code == 415 and answer.get_json()["error"] == "invalid_request"


@pytest.mark.parametrize("params", [
    {"origin": "https://evil.example", "return_to": "https://evil.example/"},
    {"return_to": "https://evil.example/"},
    {"return_to": "https://tasks.example.com.evil.example/"},
    {"return_to": "http://tasks.example.com/"},
    {"return_to": "//evil.example/"},
    {"return_to": "javascript:alert(1)"},
    {"code_challenge_method": "plain"},
    {"code_challenge": "too-short"},
    {"state": ""},
    {"response_mode": "form_post"},
], ids=["unregistered-origin", "foreign-return", "look-alike", "downgrade", "scheme-relative", "javascript",
        "plain-pkce", "bad-challenge", "no-state", "bad-mode"])
def test_authorize_redirects_only_to_registered_origins_with_a_whole_request(client, signed_in, params):
    verifier = new_verifier()
    response = authorize(client, verifier, **params)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "not valid" in response.get_data(as_text=True)


def test_signed_out_browser_signs_in_first_then_goes_back(client, auth):
    auth.signup()
    auth.logout()
    verifier = new_verifier()
    response = authorize(client, verifier)
    assert response.status_code == 303
    login = urlsplit(response.headers["Location"])
    assert login.path == "/login"
    next_url = parse_qs(login.query)["next"][0]
    assert next_url.startswith("/authorize?")
    after = auth.login(next=next_url)
    assert after.headers["Location"] == next_url
    back = returned(client.get(next_url))
    assert redeem(client, back["onebar_code"], verifier).status_code == 200


def test_prompt_none_comes_straight_back_when_signed_out(client):
    back = returned(authorize(client, new_verifier(), prompt="none"))
    assert back == {"onebar_error": "login_required", "onebar_state": "s" * 22}


def test_login_csrf_a_code_from_the_attackers_tab_is_useless_without_its_verifier(app, client, signed_in):
    # The attacker starts a hand-off in their own browser and plants the code
    # in a link for the victim: the victim's tab holds another verifier (and
    # state), so the exchange fails and the victim is signed in as nobody.
    attacker_verifier = new_verifier()
    planted = returned(authorize(client, attacker_verifier, state="attacker-state-0123"))["onebar_code"]
    victim_verifier = new_verifier()
    answer = redeem(app.test_client(), planted, victim_verifier)
    assert answer.status_code == 400 and "credential" not in answer.get_json()


# -- the site credential ------------------------------------------------------------

def test_a_credential_is_refused_from_another_origin(app, client, signed_in):
    credential = credential_for(client)
    assert me_as_site(app, credential, origin=NOTES).get_json()["user"] is None
    no_origin = app.test_client().get("/api/me", headers={"Authorization": f"Bearer {credential}"})
    assert no_origin.status_code == 200 and no_origin.get_json()["user"] is None


def test_sign_out_from_a_site_ends_the_service_session_and_every_credential(app, client, signed_in):
    tasks = credential_for(client)
    notes = credential_for(client, origin=NOTES)
    site = app.test_client()
    out = site.post("/api/logout", json={}, headers={"Authorization": f"Bearer {tasks}", "Origin": TASKS})
    assert out.status_code == 200 and out.get_json()["user"] is None
    assert me_as_site(app, tasks).get_json()["user"] is None
    assert me_as_site(app, notes, origin=NOTES).get_json()["user"] is None
    assert signed_in.me()["user"] is None  # the service's own cookie: signed out too


def test_sign_out_on_the_service_ends_the_credentials(app, client, signed_in):
    credential = credential_for(client)
    signed_in.logout()
    assert me_as_site(app, credential).get_json()["user"] is None


def test_sign_out_everywhere_ends_the_credentials(app, client, signed_in):
    credential = credential_for(client)
    client.post("/account/sessions/revoke-all", data={"csrf_token": csrf_token(client, "/account")})
    assert me_as_site(app, credential).get_json()["user"] is None


def test_a_password_change_ends_the_credentials(app, client, signed_in):
    credential = credential_for(client)
    assert me_as_site(app, credential).get_json()["user"] is not None
    changed = client.post("/account/password", data={
        "csrf_token": csrf_token(client, "/account"), "current": "correct horse battery",
        "password": "a brand new passphrase", "confirm": "a brand new passphrase"})
    assert changed.status_code == 303
    assert signed_in.me()["user"] is not None  # this browser carries on with a new session
    assert me_as_site(app, credential).get_json()["user"] is None


def test_removing_the_app_ends_its_credentials_after_a_restart(settings, store, app, client, signed_in):
    credential = credential_for(client)
    store.remove_app("tasks")
    restarted = create_app(settings, store)  # registered apps are read at start-up
    restarted.config.update(TESTING=True, SERVER_NAME="localhost:5000")
    answer = me_as_site(restarted, credential)
    assert answer.get_json()["user"] is None
    assert "Access-Control-Allow-Origin" not in answer.headers


@pytest.mark.parametrize("mangle", [
    # a payload character changed (a signature's last character may carry unused bits)
    lambda c: ("A" if c[5] != "A" else "B").join((c[:5], c[6:])),
    lambda c: c[: len(c) // 2],
    lambda c: "",
    lambda c: "x" * 5000,
    lambda c: c + "." + c,
    lambda c: "not a credential at all",
    lambda c: "\u00e9t\u00e9",
], ids=["tampered", "truncated", "empty", "huge", "doubled", "garbage", "non-ascii"])
def test_a_bad_credential_means_signed_out_never_an_error(app, client, signed_in, mangle):
    credential = credential_for(client)
    value = mangle(credential)
    response = app.test_client().get("/api/me", headers={"Authorization": f"Bearer {value}".encode().decode(
        "latin-1"), "Origin": TASKS})
    assert response.status_code == 200 and response.get_json()["user"] is None


@pytest.mark.parametrize("header", ["Basic YWRhOnB3", "Bearer", "bearer  ", "Token abc", ""],
                         ids=["basic", "bearer-alone", "blank", "other-scheme", "empty"])
def test_other_authorization_headers_mean_signed_out(app, header):
    response = app.test_client().get("/api/me", headers={"Authorization": header, "Origin": TASKS})
    assert response.status_code == 200 and response.get_json()["user"] is None


def test_foreign_credentials_are_refused(app, client, signed_in):
    from itsdangerous import URLSafeTimedSerializer

    from .live import TEST_SECRET_KEYS

    real = credential_for(client)
    key = handoff.SiteCredentials(list(TEST_SECRET_KEYS), 3600).read(real, TASKS)
    foreign = [
        URLSafeTimedSerializer("another-service-key", salt=handoff.CREDENTIAL_SALT).dumps({"k": key, "o": TASKS}),
        # signed with the service's key but for another purpose (the session cookie's salt)
        URLSafeTimedSerializer(TEST_SECRET_KEYS[-1], salt="onebar.session").dumps({"k": key, "o": TASKS}),
        signed_in.cookie(),  # the service's own session cookie is not a credential
    ]
    for value in foreign:
        assert me_as_site(app, value).get_json()["user"] is None


def test_a_credential_never_reaches_the_service_log(app, client, signed_in, caplog):
    caplog.set_level("DEBUG")
    verifier = new_verifier()
    code = returned(authorize(client, verifier))["onebar_code"]
    credential = redeem(client, code, verifier).get_json()["credential"]
    me_as_site(app, credential)
    text = caplog.text
    assert code not in text and credential not in text and verifier not in text


def test_cors_preflight_allows_the_authorization_header_for_registered_origins_only(client):
    ok = client.options("/api/me", headers={"Origin": TASKS, "Access-Control-Request-Method": "GET",
                                            "Access-Control-Request-Headers": "authorization"})
    assert ok.headers["Access-Control-Allow-Origin"] == TASKS
    assert "authorization" in ok.headers["Access-Control-Allow-Headers"].lower()
    bad = client.options("/api/token", headers={"Origin": "https://evil.example",
                                                 "Access-Control-Request-Method": "POST",
                                                 "Access-Control-Request-Headers": "content-type"})
    assert "Access-Control-Allow-Origin" not in bad.headers


@pytest.mark.parametrize("headers, cross", [
    ({"Origin": TASKS, "Sec-Fetch-Site": "cross-site"}, True),
    ({"Origin": NOTES, "Sec-Fetch-Site": "same-site"}, False),
    ({"Origin": TASKS}, True),   # no Sec-Fetch-Site: the origins' domains are compared
    ({"Origin": NOTES}, False),
    ({}, False),
], ids=["cross-site", "same-site", "fallback-cross", "fallback-same", "no-origin"])
def test_me_tells_a_cross_site_page_to_use_the_handoff(client, headers, cross):
    body = client.get("/api/me", headers=headers).get_json()
    assert body.get("cross_site", False) is cross
