"""Security review fixes, against `onebar serve` over real HTTP on localhost:
the Host allowlist, cross-origin form posts (login CSRF) and the OpenAPI
document that no longer depends on the Host header."""

from __future__ import annotations

import http.client
import json
import re
from pathlib import Path

import pytest

from .httpclient import Browserish
from .live import free_port, start_service

EMAIL, PASSWORD = "ada@example.com", "correct horse battery"
ATTACKER = ("mallory@example.com", "Mallory", "mallory's own password")


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    port = free_port()
    data = Path(tmp_path_factory.mktemp("review"))
    with start_service(data, port=port, users=[(EMAIL, "Ada Lovelace", PASSWORD), ATTACKER],
                       apps=[("notes", "Notes", "http://localhost:5001/")],
                       env={"ONEBAR_PUBLIC_URL": f"http://localhost:{port}",
                            "ONEBAR_ALLOWED_HOSTS": "onebar-internal:8000"}) as svc:
        yield svc


def raw(service, method: str, path: str, host: str, body: str | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("localhost", service.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True)
        conn.putheader("Host", host)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        data = body.encode() if body is not None else None
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
    finally:
        conn.close()


# -- 7. Host allowlist ------------------------------------------------------------

@pytest.mark.parametrize("path", ["/signup", "/login", "/api/me", "/onebar.js", "/api/openapi.json"])
@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:80", "localhost", "127.0.0.1",
                                  "localhost:1", "localhost.attacker.example"])
def test_a_foreign_host_gets_400_and_nothing_of_the_service(service, path, host):
    status, headers, body = raw(service, "GET", path, host)
    assert status == 400
    assert "csrf_token" not in body and '"links"' not in body and "onebar" not in body.lower()
    assert "set-cookie" not in headers


def test_a_sign_up_through_a_rebound_name_creates_nothing(service):
    status, _, _ = raw(service, "POST", "/signup", "attacker.example",
                       body="name=X&email=rebind%40example.com&password=password123&confirm=password123",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400
    assert "rebind@example.com" not in service.cli("user", "list").stdout


def test_the_public_host_and_configured_internal_names_are_served(service):
    assert raw(service, "GET", "/api/me", f"localhost:{service.port}")[0] == 200
    assert raw(service, "GET", "/api/me", f"LOCALHOST:{service.port}")[0] == 200
    assert raw(service, "GET", "/api/me", "onebar-internal:8000")[0] == 200


def test_health_checks_answer_whatever_the_host(service):
    status, _, body = raw(service, "GET", "/healthz", "10.0.0.7:8000")
    assert status == 200 and json.loads(body) == {"status": "ok"}


# -- 9. the OpenAPI document ------------------------------------------------------

def test_openapi_names_the_public_url_whatever_the_host(service):
    own = raw(service, "GET", "/api/openapi.json", f"localhost:{service.port}")
    internal = raw(service, "GET", "/api/openapi.json", "onebar-internal:8000")
    assert own[2] == internal[2], "a shared cache may keep it: the body does not depend on Host"
    assert json.loads(own[2])["servers"] == [{"url": service.url}]


# -- 3. login CSRF: form posts only from the service's own origin -----------------

def _attacker_form(service) -> dict[str, str]:
    """What an attacker's page can get: a CSRF cookie and token of their own."""
    b = Browserish(service.url)
    token = b.csrf("/login")
    return {"cookie": f"onebar_csrf={b.cookie('onebar_csrf')}", "token": token}


CROSS_ORIGIN = [
    pytest.param({"Origin": "http://evil.localhost:8080"}, id="origin-sibling"),
    pytest.param({"Origin": "null"}, id="origin-null"),
    pytest.param({"Sec-Fetch-Site": "same-site"}, id="fetch-site-same-site"),
    pytest.param({"Sec-Fetch-Site": "cross-site"}, id="fetch-site-cross-site"),
    pytest.param({"Referer": "http://evil.localhost:8080/auto-submit.html"}, id="referer-only"),
]


@pytest.mark.parametrize("headers", CROSS_ORIGIN)
def test_a_cross_origin_sign_in_post_is_refused_even_with_a_valid_token(service, headers):
    form = _attacker_form(service)
    body = f"csrf_token={form['token']}&email=mallory%40example.com&password=mallory%27s+own+password"
    status, got, page = raw(service, "POST", "/login", f"localhost:{service.port}", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": form["cookie"], **headers})
    assert status == 403
    assert "onebar_session=" not in got.get("set-cookie", ""), "the victim is not signed in as the attacker"
    assert "sent from another site" in page


@pytest.mark.parametrize("headers", [
    pytest.param({"Origin": "http://localhost:{port}"}, id="origin"),
    pytest.param({"Sec-Fetch-Site": "same-origin"}, id="fetch-site"),
    pytest.param({"Referer": "http://localhost:{port}/login"}, id="referer"),
    pytest.param({}, id="no-headers"),
])
def test_a_same_origin_sign_in_post_works(service, headers):
    form = _attacker_form(service)
    body = f"csrf_token={form['token']}&email=ada%40example.com&password=correct+horse+battery"
    headers = {k: v.format(port=service.port) for k, v in headers.items()}
    status, got, _ = raw(service, "POST", "/login", f"localhost:{service.port}", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": form["cookie"], **headers})
    assert status == 303
    assert re.search(r"onebar_session=[^;]+", got.get("set-cookie", ""))


def test_the_csrf_cookie_gets_the_host_prefix_when_secure(tmp_path):
    from onebar import settings as settings_mod
    from onebar.web import create_app

    from .live import TEST_SECRET_KEYS

    cfg = settings_mod.load(environ={}, data_dir=tmp_path, secret_keys=list(TEST_SECRET_KEYS),
                            public_url="https://id.example.com")
    app = create_app(cfg)
    response = app.test_client().get("/login", base_url="https://id.example.com")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-onebar_csrf=") and "Secure" in cookie and "Domain" not in cookie
    assert "Path=/" in cookie


@pytest.mark.parametrize("headers", CROSS_ORIGIN)
def test_a_cross_origin_sign_up_post_is_refused_and_creates_nothing(service, headers, request):
    form = _attacker_form(service)
    email = f"planted-{request.node.callspec.id}@example.com"
    body = (f"csrf_token={form['token']}&name=Planted&email={email.replace('@', '%40')}"
            "&password=planted+password&confirm=planted+password")
    status, got, page = raw(service, "POST", "/signup", f"localhost:{service.port}", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": form["cookie"], **headers})
    assert status == 403 and "sent from another site" in page
    assert "onebar_session=" not in got.get("set-cookie", "")
    assert email not in service.cli("user", "list").stdout


@pytest.fixture(scope="module")
def signed_in_victim(service):
    """Ada's browser, signed in; a page on another site makes it post (so her cookies go along)."""
    ada = Browserish(service.url)
    assert ada.login(EMAIL, PASSWORD).status == 303
    return ada


@pytest.mark.parametrize("headers", CROSS_ORIGIN)
def test_a_cross_origin_email_change_is_refused_even_with_the_victims_cookies_and_token(
        service, signed_in_victim, headers):
    ada = signed_in_victim
    match = re.search(r'name="change-csrf_token" type="hidden" value="([^"]+)"', ada.get("/account").text)
    assert match, "the account page has the email form"
    reply = ada.post("/account/email", data={"change-csrf_token": match.group(1),
                                             "change-email": "mallory+ada@example.com",
                                             "change-current": PASSWORD}, headers=headers)
    assert reply.status == 403 and "sent from another site" in reply.text
    assert json.loads(ada.get("/api/me").body)["user"]["email"] == EMAIL, "the email did not change"


def test_on_https_with_secure_cookies_a_form_post_without_a_referer_is_refused(tmp_path):
    """What the README says of a POST with none of Origin, Sec-Fetch-Site and Referer."""
    from onebar import settings as settings_mod
    from onebar.web import create_app

    from .live import TEST_SECRET_KEYS

    for public, without_referer in (("https://id.example.com", 400), ("http://id.example.com", 401)):
        cfg = settings_mod.load(environ={}, data_dir=tmp_path / public.split(":")[0], public_url=public,
                                secret_keys=list(TEST_SECRET_KEYS))
        client = create_app(cfg).test_client()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                          client.get("/login", base_url=public).get_data(as_text=True)).group(1)  # type: ignore[union-attr]
        form = {"csrf_token": token, "email": EMAIL, "password": "not the password"}
        assert client.post("/login", base_url=public, data=form).status_code == without_referer, public
        assert client.post("/login", base_url=public, data=form,
                           headers={"Referer": f"{public}/login"}).status_code == 401, "with a same-host Referer it reaches the password check"
