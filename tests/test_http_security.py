"""Against the service as `onebar serve` runs it, over real HTTP on localhost:
next= allowlist, CORS allowlist, cookie attributes and cache headers."""

from __future__ import annotations

from pathlib import Path

import pytest

from .httpclient import Browserish
from .live import MANY_SIGN_INS, start_service

NOTES = "http://localhost:5001"
TASKS = "https://tasks.example.com"
EMAIL, PASSWORD = "ada@example.com", "correct horse battery"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    data = Path(tmp_path_factory.mktemp("svc"))
    apps = [("notes", "Notes", NOTES + "/"), ("tasks", "Tasks", TASKS + "/")]
    with start_service(data, apps=apps, users=[(EMAIL, "Ada Lovelace", PASSWORD)], env=MANY_SIGN_INS) as svc:
        yield svc


HOSTILE_NEXT = [
    "//evil.example",
    "///evil.example",
    "////evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "\\/evil.example",
    "https://evil.example",
    "http://evil.example/http://localhost:5001/",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "http://localhost:5001.evil.example/",
    "https://tasks.example.com.evil.example/",
    "https://evil.example?https://tasks.example.com/",
    "https://evil.example#https://tasks.example.com/",
    "http://localhost:5001@evil.example/",
    "https://tasks.example.com@evil.example/",
    "https://user:pass@tasks.example.com/",
    "http://tasks.example.com/",  # https -> http downgrade
    "https://localhost:5001/",  # wrong scheme
    "http://localhost:5002/",  # wrong port
    "https://tasks.example.com:8443/",
    " //evil.example",
    "\t//evil.example",
    "/\t/evil.example",
    "//evil.example\r\nSet-Cookie: x=1",
    "http://evil.example%2F@localhost:5001",
    "https:evil.example",
    "https:/evil.example",
    "http:///evil.example",
    "evil.example",
    "ftp://localhost:5001/",
    "http://[::1]:5001/",
    "http://0x7f.0.0.1:5001/",
    "http://localhost:5001\\@evil.example",
    "http://ⅼocalhost:5001/",  # U+217C, looks like an l
    "https://tasks.example.com\u3002evil.example/",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_hostile_next_after_sign_in_lands_on_the_safe_default(service, target):
    browser = Browserish(service.url)
    reply = browser.login(EMAIL, PASSWORD, next=target)
    assert reply.status == 303
    assert reply.headers["Location"] == "/", f"{target!r} was followed"


@pytest.mark.parametrize(
    "target",
    ["http://localhost:5001/notes/7?tab=shared", "https://tasks.example.com/today", "/account"],
)
def test_registered_or_own_next_is_followed(service, target):
    reply = Browserish(service.url).login(EMAIL, PASSWORD, next=target)
    assert reply.headers["Location"] == target


@pytest.mark.parametrize("target", HOSTILE_NEXT[:12])
def test_hostile_next_after_sign_out_lands_on_the_safe_default(service, target):
    browser = Browserish(service.url)
    browser.login(EMAIL, PASSWORD)
    reply = browser.post("/logout", data={"csrf_token": browser.csrf("/logout"), "next": target})
    assert reply.status == 303
    assert reply.headers["Location"] == "/"


def cors(reply) -> tuple[str | None, str | None]:
    return reply.headers["Access-Control-Allow-Origin"], reply.headers["Access-Control-Allow-Credentials"]


@pytest.mark.parametrize("origin", [NOTES, TASKS])
def test_registered_origin_gets_cors_with_credentials(service, origin):
    reply = Browserish(service.url).get("/api/me", headers={"Origin": origin})
    assert cors(reply) == (origin, "true")


LOOK_ALIKES = [
    "http://localhost:50011",  # port prefix
    "http://localhost:500",
    "http://localhost:5002",  # wrong port
    "https://localhost:5001",  # wrong scheme
    "http://notes.localhost:5001",
    "http://localhost:5001.evil.example",  # suffix
    "http://evillocalhost:5001",
    "https://tasks.example.com.evil.example",
    "https://eviltasks.example.com",
    "https://evil-tasks.example.com",
    "https://tasks.example.co",
    "http://tasks.example.com",  # downgrade
    "https://tasks.example.com:8443",
    "null",
    "*",
    "",
]


@pytest.mark.parametrize("origin", LOOK_ALIKES)
def test_look_alike_origins_get_no_cors(service, origin):
    browser = Browserish(service.url)
    simple = browser.get("/api/me", headers={"Origin": origin})
    preflight = browser.request("OPTIONS", "/api/logout", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    for reply in (simple, preflight):
        assert cors(reply) == (None, None)
        assert reply.headers["Access-Control-Allow-Methods"] is None
    assert "Origin" in simple.headers["Vary"]


def test_preflight_for_sign_out_passes_for_a_registered_origin(service):
    reply = Browserish(service.url).request("OPTIONS", "/api/logout", headers={
        "Origin": NOTES, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert cors(reply) == (NOTES, "true")
    assert "POST" in reply.headers["Access-Control-Allow-Methods"]
    assert reply.headers["Access-Control-Allow-Headers"].lower() == "content-type"


def test_session_cookie_attributes(service):
    reply = Browserish(service.url).login(EMAIL, PASSWORD)
    cookie = next(h for h in reply.header_list("Set-Cookie") if h.startswith("onebar_session="))
    attrs = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")[1:]}
    assert "httponly" in attrs
    assert attrs["samesite"] == "SameSite=Lax"
    assert attrs["path"] == "Path=/"
    assert attrs["max-age"] == "Max-Age=1209600"
    assert "secure" not in attrs and "domain" not in attrs  # not configured: plain http, host-only


@pytest.mark.parametrize("signed_in", [False, True], ids=["signed-out", "signed-in"])
@pytest.mark.parametrize("origin", [None, NOTES, "https://evil.example"], ids=["no-origin", "app", "evil"])
def test_me_is_never_cached_and_varies_on_origin_and_cookie(service, signed_in, origin):
    browser = Browserish(service.url)
    if signed_in:
        browser.login(EMAIL, PASSWORD)
    reply = browser.get("/api/me", headers={"Origin": origin} if origin else {})
    assert reply.status == 200
    assert reply.headers["Cache-Control"] == "no-store"
    vary = {v.strip() for h in reply.header_list("Vary") for v in h.split(",")}
    assert {"Origin", "Cookie"} <= vary
    assert reply.headers["Content-Type"] == "application/json"


def test_pages_with_forms_are_not_cached_and_not_frameable(service):
    reply = Browserish(service.url).get("/login")
    assert reply.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]
    assert reply.headers["X-Frame-Options"] == "DENY"
