"""Every form needs its CSRF token; a cross-site request cannot sign anyone out."""

import pytest

from .conftest import PASSWORD, csrf_token


@pytest.mark.parametrize("token", [None, "", "wrong", "IjAwMCI.AAAAAA.forged"], ids=["missing", "empty", "wrong", "forged"])
def test_login_post_without_a_valid_csrf_token_is_refused(client, auth, token):
    auth.signup()
    auth.logout()
    data = {"email": "ada@example.com", "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/login", data=data)
    assert response.status_code == 400
    assert "form has expired or was sent from another site" in response.get_data(as_text=True)
    assert auth.me()["user"] is None


def test_csrf_token_of_another_browser_is_refused(app, client, auth):
    auth.signup()
    auth.logout()
    other = app.test_client()
    stolen = csrf_token(other)
    response = client.post("/login", data={"csrf_token": stolen, "email": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert auth.me()["user"] is None


@pytest.mark.parametrize(
    "path,data",
    [
        ("/signup", {"name": "Eve", "email": "eve@example.com", "password": "password123", "confirm": "password123"}),
        ("/logout", {}),
        ("/account/profile", {"name": "Hacked"}),
        ("/account/password", {"current": PASSWORD, "password": "hacked-password", "confirm": "hacked-password"}),
        ("/account/sessions/revoke-all", {}),
    ],
)
def test_every_form_refuses_a_post_without_token(client, auth, path, data):
    auth.signup()
    response = client.post(path, data=data)
    assert response.status_code == 400
    me = auth.me()["user"]
    assert me is not None and me["name"] == "Ada Lovelace", "nothing changed, still signed in"


def test_get_logout_only_asks_and_does_not_sign_out(client, auth):
    auth.signup()
    page = client.get("/logout?next=http://localhost:5001/")
    assert page.status_code == 200
    assert "Sign out?" in page.get_data(as_text=True)
    assert auth.me()["user"] is not None


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {},
        {"Origin": "http://localhost:5001.evil.example"},
    ],
    ids=["evil", "null", "no-origin", "look-alike"],
)
def test_api_logout_refuses_other_origins(client, auth, headers):
    auth.signup()
    response = client.post("/api/logout", json={}, headers=headers)
    assert response.status_code == 403
    assert auth.me()["user"] is not None


def test_api_logout_refuses_a_form_post_even_from_a_registered_origin(client, auth):
    auth.signup()
    response = client.post("/api/logout", data={"x": "1"}, headers={"Origin": "http://localhost:5001"})
    assert response.status_code == 415
    assert auth.me()["user"] is not None


def test_api_logout_from_a_registered_origin_signs_out_server_side(client, auth):
    copied = (auth.signup(), auth.cookie())[1]
    response = client.post("/api/logout", json={}, headers={"Origin": "http://localhost:5001"})
    assert response.status_code == 200
    assert response.get_json()["user"] is None
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:5001"
    client.set_cookie("onebar_session", copied, domain="localhost")
    assert auth.me()["user"] is None


def test_secure_and_domain_cookie_attributes_when_configured(tmp_path, store, settings):
    from onebar.web import create_app

    from .conftest import AuthActions

    app = create_app(settings.replace(cookie_secure=True, cookie_domain="example.com"), store)
    app.config["SERVER_NAME"] = "localhost:5000"
    auth = AuthActions(app.test_client(), app)
    response = auth.signup()
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("onebar_session="))
    assert "Secure" in cookie and "Domain=example.com" in cookie
