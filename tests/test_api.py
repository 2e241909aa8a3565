"""The JSON contract of /api/me and /api/logout, the OpenAPI document, health and the script."""

from __future__ import annotations

import json

import jsonschema
import pytest

from .conftest import csrf_token
from .live import ROOT


def validate(document: dict, component: str, instance: object) -> None:
    schema = {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
    jsonschema.Draft202012Validator(schema).validate(instance)


def test_me_signed_out_has_apps_and_links(client):
    body = client.get("/api/me").get_json()
    assert body == {
        "user": None,
        "apps": [
            {"id": "notes", "name": "Notes", "url": "http://localhost:5001/"},
            {"id": "tasks", "name": "Tasks", "url": "https://tasks.example.com/"},
        ],
        "links": {
            "login": "http://localhost:5000/login",
            "logout": "http://localhost:5000/logout",
            "account": "http://localhost:5000/account",
        },
    }


def test_me_signed_in_names_the_user(auth):
    auth.signup(email="Grace@Example.com", name="Grace Brewster Hopper")
    user = auth.me()["user"]
    assert user["name"] == "Grace Brewster Hopper"
    assert user["email"] == "Grace@Example.com"
    assert user["initials"] == "GH"
    assert user["avatar_url"] is None
    assert user["id"].startswith("u_")


def test_html_in_a_display_name_comes_back_as_plain_json_text(client, auth):
    name = '<img src=x onerror=alert(1)><script>alert("x")</script>'
    assert auth.signup(name=name).status_code == 303
    response = client.get("/api/me")
    assert response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_json()["user"]["name"] == name
    page = client.get("/account").get_data(as_text=True)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_openapi_document_describes_what_me_answers(client, auth):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    assert {"/api/me", "/api/logout", "/healthz"} <= set(doc["paths"])
    jsonschema.Draft202012Validator.check_schema(doc["components"]["schemas"]["Me"])
    validate(doc, "Me", client.get("/api/me").get_json())
    auth.signup(name="<b>Ada</b>")
    validate(doc, "Me", client.get("/api/me").get_json())
    signed_out = client.post("/api/logout", json={}, headers={"Origin": "http://localhost:5001"}).get_json()
    validate(doc, "Me", signed_out)
    with pytest.raises(jsonschema.ValidationError):
        validate(doc, "Me", {"user": {"id": 1}, "apps": [], "links": {}})



def test_without_a_public_url_the_openapi_servers_url_is_relative_whatever_the_host(settings, store):
    # Cached publicly for 5 minutes, so it must not carry a Host a client chose.
    from dataclasses import replace

    from onebar.web import create_app

    client = create_app(replace(settings, public_url=None), store).test_client()
    for host in ("localhost", "evil.example"):
        response = client.get("/api/openapi.json", headers={"Host": host})
        assert response.get_json()["servers"] == [{"url": "/"}]
        assert "public" in response.headers["Cache-Control"]


def test_openapi_names_the_session_cookie_the_service_sets(settings, store):
    from onebar.web import create_app

    for cfg, name in ((settings, "onebar_session"), (settings.replace(cookie_name="id_session"), "id_session")):
        client = create_app(cfg, store).test_client()
        doc = client.get("/api/openapi.json", base_url="http://localhost:5000").get_json()
        assert doc["components"]["securitySchemes"]["cookie"]["name"] == name


def test_health_answers_when_the_store_does(client, store):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    # A store that cannot open its file answers 503, not 500.
    store.close()
    store.path = store.path.parent / "missing-dir" / "db.sqlite3"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"error": "the store does not answer"}, "no paths or SQLite detail leak"


def test_the_script_is_served_with_an_etag_and_revalidates_to_304(client):
    with client.get("/onebar.js") as first:  # a file response: closed as a server closes it
        if first.status_code == 404:
            pytest.fail("static/onebar.js is missing")
        assert first.data == (ROOT / "static" / "onebar.min.js").read_bytes()  # the minified build
    assert first.mimetype == "text/javascript"
    assert first.headers["ETag"]
    assert "max-age" in first.headers["Cache-Control"]
    with client.get("/onebar.js", headers={"If-None-Match": first.headers["ETag"]}) as again:
        assert again.status_code == 304
        assert again.data == b""


def test_profile_update_shows_on_me(client, auth):
    auth.signup()
    response = client.post("/account/profile", data={
        "csrf_token": csrf_token(client, "/account"), "name": "Ada King", "avatar_url": "https://img.example/ada.png"})
    assert response.status_code == 303
    user = auth.me()["user"]
    assert (user["name"], user["initials"], user["avatar_url"]) == ("Ada King", "AK", "https://img.example/ada.png")


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("name", "", "Enter your name."),
        ("name", "x" * 81, "Keep the name under 80 characters."),
        ("avatar_url", "javascript:alert(1)", "Enter an http(s) address of an image"),
        ("avatar_url", "http://img.example/a.png", "Use an https:// address"),
    ],
)
def test_bad_profile_field_gets_a_message_and_changes_nothing(client, auth, field, value, message):
    auth.signup()
    data = {"csrf_token": csrf_token(client, "/account"), "name": "Ada King", "avatar_url": ""}
    data[field] = value
    response = client.post("/account/profile", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert auth.me()["user"]["name"] == "Ada Lovelace"


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"email": "not-an-email"}, "Enter an email address such as ada@example.com."),
        ({"password": "short", "confirm": "short"}, "Use at least 8 characters."),
        ({"confirm": "something else"}, "The passwords do not match."),
        ({"name": "   "}, "Enter your name."),
    ],
)
def test_bad_sign_up_field_gets_a_message_not_a_trace(client, auth, changes, message):
    data = {"csrf_token": csrf_token(client, "/signup"), "name": "Ada", "email": "ada@example.com",
            "password": "long enough password", "confirm": "long enough password", **changes}
    response = client.post("/signup", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert auth.me()["user"] is None


def test_sign_up_with_an_existing_email_in_another_case_is_refused(client, auth):
    auth.signup()
    auth.logout()
    response = auth.signup(email="ADA@example.COM", name="Impostor")
    assert response.status_code == 409
    assert "already exists" in response.get_data(as_text=True)


def test_account_lists_sessions_and_can_sign_out_one_device(app, client, auth):
    from .conftest import AuthActions

    auth.signup()
    phone = AuthActions(app.test_client(), app)
    phone._client.environ_base["HTTP_USER_AGENT"] = "PhoneBrowser/1.0"
    phone.login()
    page = client.get("/account").get_data(as_text=True)
    assert "PhoneBrowser/1.0" in page and "(this browser)" in page
    key = app.extensions["onebar.service"].store.list_sessions(auth.me()["user"]["id"], 0)
    phone_key = next(s.key for s in key if s.user_agent == "PhoneBrowser/1.0")
    response = client.post(f"/account/sessions/{phone_key}/revoke", data={"csrf_token": csrf_token(client, "/account")})
    assert response.status_code == 303
    assert phone.me()["user"] is None
    assert auth.me()["user"] is not None


def test_account_needs_sign_in_and_comes_back(client):
    response = client.get("/account")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/account"


def test_clearing_the_picture_gives_null_again(client, auth):
    auth.signup()
    for url in ("https://img.example/ada.png", ""):
        client.post("/account/profile", data={
            "csrf_token": csrf_token(client, "/account"), "name": "Ada", "avatar_url": url})
    assert auth.me()["user"]["avatar_url"] is None


def test_the_service_app_may_also_use_the_flask_client_extension(app, auth):
    """The service's own state and the client extension keep apart in app.extensions."""
    from onebar.integrations.flask import Onebar

    Onebar(app, service_url="http://localhost:5000")
    auth.signup()
    assert auth.me()["user"]["name"] == "Ada Lovelace"
    assert auth.logout().status_code == 303
    assert auth.me()["user"] is None


def test_the_api_contract_names_no_version_newer_than_the_package(client):
    # Fields added to the contract say since when ("Added in 0.2"); the
    # document's own version is the installed package's, written in one place.
    import importlib.metadata
    import re

    doc = client.get("/api/openapi.json").get_json()
    assert doc["info"]["version"] == importlib.metadata.version("onebar")
    current = tuple(int(n) for n in doc["info"]["version"].split(".")[:2])
    added = {tuple(int(n) for n in v.split(".")) for v in re.findall(r"Added in (\d+\.\d+)", json.dumps(doc))}
    assert added and max(added) <= current, f"the document cites {sorted(added)} but is {current}"
