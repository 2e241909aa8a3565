"""GET /api/me without Flask answers exactly what the Flask path answers.

Each case calls both paths with the same request: the app as served
(``MeHandler`` in front) and the Flask app behind it. Status, every header
(in order, Set-Cookie included) and the body must be the same, for every kind
of cookie, origin, host and proxy header.
"""

from __future__ import annotations

import time

import pytest
import time_machine
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import EnvironBuilder

from onebar import settings as settings_mod
from onebar.sessions import SessionCodec
from onebar.store import SQLiteStore
from onebar.web import create_app
from onebar.web.fastpath import MeHandler
from onebar.hosts import HostAllowlist

from .conftest import APPS
from .live import TEST_SECRET_KEYS

NOTES, TASKS = "http://localhost:5001", "https://tasks.example.com"
OLD_KEY, NEW_KEY = TEST_SECRET_KEYS


def both_paths(app):
    """(as served, Flask only) WSGI callables of one app, inside its Host allowlist."""
    outer = app.wsgi_app
    if isinstance(outer, HostAllowlist):
        outer = outer.app
    if isinstance(outer, ProxyFix):
        handler = outer.app
        return outer, ProxyFix(handler.app, x_for=outer.x_for, x_proto=outer.x_proto)
    assert isinstance(outer, MeHandler)
    return outer, outer.app


def call(wsgi, headers=None, path="/api/me", method="GET", query=""):
    out = {}

    def start_response(status, hdrs, exc_info=None):
        out["status"], out["headers"] = status, list(hdrs)

    environ = EnvironBuilder(path=path, method=method, query_string=query, headers=headers or {}).get_environ()
    body = b"".join(wsgi(environ, start_response))
    return out["status"], out["headers"], body


def assert_same(app, headers=None, **kw):
    fast, flask = both_paths(app)
    a = call(fast, headers, **kw)
    b = call(flask, headers, **kw)
    assert a == b
    return a


@pytest.fixture
def ada(store):
    user = store.create_user("ada@example.com", "Ada Lovelace", "x")
    return user


def session_cookie(store, user, key=NEW_KEY):
    sid = store.create_session(user.id, expires_at=int(time.time()) + 3600)
    return SessionCodec([key], 3600).encode(sid, user.id), sid


ORIGINS = [NOTES, NOTES.upper(), TASKS, "https://evil.example", "http://localhostX5001", None]


@pytest.mark.parametrize("origin", ORIGINS, ids=["notes", "notes-upper", "tasks", "evil", "dot-not-regex", "none"])
@time_machine.travel("2026-11-23 12:00:00", tick=False)
def test_signed_in_answer_is_identical_for_each_origin(app, store, ada, origin):
    cookie, _ = session_cookie(store, ada)
    headers = {"Cookie": f"other=1; onebar_session={cookie}; x=2"}
    if origin:
        headers["Origin"] = origin
    status, hdrs, body = assert_same(app, headers)
    assert status == "200 OK" and b'"name":"Ada Lovelace"' in body
    acao = dict(hdrs).get("Access-Control-Allow-Origin")
    assert acao == (origin if origin in (NOTES, NOTES.upper(), TASKS) else None)
    assert not any(k == "Set-Cookie" for k, _ in hdrs), "a fresh cookie is not re-issued"


@pytest.mark.parametrize("origin", ORIGINS, ids=["notes", "notes-upper", "tasks", "evil", "dot-not-regex", "none"])
def test_signed_out_answer_is_identical_for_each_origin(app, origin):
    status, hdrs, body = assert_same(app, {"Origin": origin} if origin else {})
    assert body.startswith(b'{"user":null')
    assert ("Vary", "Origin, Cookie, Authorization, Sec-Fetch-Site") in hdrs and ("Cache-Control", "no-store") in hdrs


@time_machine.travel("2026-11-23 12:00:00", tick=False)
def test_a_cookie_signed_with_an_older_key_is_renewed_on_both_paths(app, store, ada):
    cookie, _ = session_cookie(store, ada, key=OLD_KEY)
    _, hdrs, _ = assert_same(app, {"Cookie": f"onebar_session={cookie}", "Origin": NOTES})
    renewed = [v for k, v in hdrs if k == "Set-Cookie"]
    assert len(renewed) == 1 and renewed[0].startswith("onebar_session=") and "Max-Age=1209600" in renewed[0]


def test_a_day_old_cookie_is_renewed_on_both_paths(app, store, ada):
    # Signed a day and an hour ago, on whatever day the suite runs (a fixed date
    # turned the cookie older than its max age once the calendar passed it).
    with time_machine.travel(time.time() - 25 * 3600, tick=False) as traveller:
        cookie, sid = session_cookie(store, ada)
        # A row that outlives the day (session_cookie's lasts an hour).
        store.extend_session(sid, expires_at=int(time.time()) + 14 * 86400, now=int(time.time()))
        traveller.shift(25 * 3600)
        _, hdrs, body = assert_same(app, {"Cookie": f"onebar_session={cookie}"})
    assert b"Ada Lovelace" in body
    assert any(k == "Set-Cookie" and v.startswith("onebar_session=ey") for k, v in hdrs)


@pytest.mark.parametrize("value", ["forged", "", "a.b.c", '"quoted"', "x" * 2000], ids=str.__len__)
def test_a_bad_cookie_is_cleared_identically(app, value):
    _, hdrs, body = assert_same(app, {"Cookie": f"onebar_session={value}", "Origin": NOTES})
    assert body.startswith(b'{"user":null')
    assert [v for k, v in hdrs if k == "Set-Cookie"] == [
        "onebar_session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Path=/; SameSite=Lax"]


def test_a_revoked_session_is_refused_at_once_on_both_paths(app, store, ada):
    cookie, sid = session_cookie(store, ada)
    assert b"Ada" in assert_same(app, {"Cookie": f"onebar_session={cookie}"})[2]
    store.revoke_session(sid)
    _, hdrs, body = assert_same(app, {"Cookie": f"onebar_session={cookie}"})
    assert body.startswith(b'{"user":null') and any(k == "Set-Cookie" for k, _ in hdrs)


def test_two_session_cookies_and_other_requests_go_to_flask_and_agree(app, store, ada):
    cookie, _ = session_cookie(store, ada)
    assert_same(app, {"Cookie": f"onebar_session={cookie}; onebar_session=forged"})
    assert_same(app, {"Cookie": f"onebar_session={cookie}"}, query="x=1")
    assert_same(app, {"Cookie": f"onebar_session={cookie}"}, method="HEAD")
    assert assert_same(app, {"Origin": NOTES}, path="/api/me", method="POST")[0].startswith("405")


@pytest.fixture
def proxied_app(tmp_path):
    """No public_url: links come from Host and the forwarded scheme, behind one proxy."""
    cfg = settings_mod.load(environ={}, data_dir=tmp_path / "p", secret_keys=list(TEST_SECRET_KEYS),
                            trusted_proxies=1)
    s = SQLiteStore(cfg.database)
    for a in APPS:
        s.add_app(a)
    yield create_app(cfg, s), s
    s.close()


@pytest.mark.parametrize("headers", [
    {"Host": "id.example.com"},
    {"Host": "id.example.com:80"},
    {"Host": "id.example.com", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
    {"Host": "id.example.com:443", "X-Forwarded-Proto": "https"},
], ids=["host", "default-port", "forwarded-https", "https-default-port"])
@time_machine.travel("2026-11-23 12:00:00", tick=False)  # both paths re-issue the cookie in the same second
def test_links_and_cookie_follow_host_and_forwarded_scheme_on_both_paths(proxied_app, headers):
    app, store = proxied_app
    user = store.create_user("grace@example.com", "Grace Hopper", "x")
    cookie, _ = session_cookie(store, user, key=OLD_KEY)  # re-issued: shows the cookie's flags
    _, hdrs, body = assert_same(app, {**headers, "Cookie": f"onebar_session={cookie}"})
    scheme = "https" if headers.get("X-Forwarded-Proto") else "http"
    assert f'"login":"{scheme}://id.example.com/login"'.encode() in body
    renewed = [v for k, v in hdrs if k == "Set-Cookie"]
    assert len(renewed) == 1 and ("; Secure;" in renewed[0]) == (scheme == "https")
    _, hdrs, _ = assert_same(app, {**headers, "Cookie": "onebar_session=forged"})
    assert ("; Secure;" in dict(hdrs)["Set-Cookie"]) == (scheme == "https")


def counting_flask(app):
    """The fast path (inside the Host allowlist, which would refuse the test's Host first)
    and the list of paths that reached Flask behind it."""
    handler, _ = both_paths(app)
    calls = []
    inner = handler.app

    def counting(environ, start_response):
        calls.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    handler.app = counting
    return handler, calls


def test_signed_in_me_does_not_reach_flask(app, store, ada):
    cookie, _ = session_cookie(store, ada)
    handler, calls = counting_flask(app)
    assert b"Ada Lovelace" in call(handler, {"Cookie": f"onebar_session={cookie}", "Origin": NOTES})[2]
    assert call(handler, {"Origin": NOTES})[2].startswith(b'{"user":null')
    call(handler, path="/healthz")
    assert calls == ["/healthz"]


def site_credential(store, user, origin):
    from onebar.handoff import SiteCredentials

    sid = store.create_session(user.id, expires_at=int(time.time()) + 3600)
    key = store.get_active_session(sid, int(time.time())).session.key
    return SiteCredentials([OLD_KEY, NEW_KEY], 3600).issue(key, origin), sid


@pytest.mark.parametrize("fetch_site", ["cross-site", "same-site", "same-origin", None])
@pytest.mark.parametrize("origin", [TASKS, NOTES, "https://evil.example", None], ids=["tasks", "notes", "evil", "none"])
def test_cross_site_pages_are_told_so_identically(app, origin, fetch_site):
    headers = {k: v for k, v in {"Origin": origin, "Sec-Fetch-Site": fetch_site}.items() if v}
    _, _, body = assert_same(app, headers)
    cross = fetch_site == "cross-site" or (fetch_site is None and origin in (TASKS, "https://evil.example"))
    assert (b'"cross_site":true' in body) is cross


@pytest.mark.parametrize("sent_from", [TASKS, NOTES, None], ids=["own-origin", "other-origin", "no-origin"])
def test_a_site_credential_is_answered_identically_on_both_paths(app, store, ada, sent_from):
    credential, sid = site_credential(store, ada, TASKS)
    headers = {"Authorization": f"Bearer {credential}", "Sec-Fetch-Site": "cross-site"}
    if sent_from:
        headers["Origin"] = sent_from
    _, hdrs, body = assert_same(app, headers)
    assert (b"Ada Lovelace" in body) is (sent_from == TASKS)
    assert "Authorization" in dict(hdrs)["Vary"]
    store.revoke_session(sid)
    assert assert_same(app, headers)[2].startswith(b'{"user":null')


@pytest.mark.parametrize("authorization", ["Basic YWRhOng=", "Bearer ", "Bearer forged.value.x", "bearer x", ""],
                         ids=["basic", "empty-bearer", "forged", "lower-case-scheme", "empty"])
def test_a_bad_authorization_header_is_answered_identically_and_the_cookie_is_not_read(app, store, ada,
                                                                                        authorization):
    cookie, _ = session_cookie(store, ada)  # a live cookie: the header decides alone, on both paths
    status, hdrs, body = assert_same(app, {"Authorization": authorization, "Origin": TASKS,
                                           "Cookie": f"onebar_session={cookie}", "Sec-Fetch-Site": "cross-site"})
    assert status == "200 OK" and body.startswith(b'{"user":null')
    assert not any(k == "Set-Cookie" for k, _ in hdrs)  # nor cleared
    assert dict(hdrs)["Access-Control-Allow-Origin"] == TASKS


def test_a_credential_of_an_origin_no_longer_registered_is_refused_identically(app, store, ada):
    # `onebar app remove`: the credential was issued to that origin, which is no longer an app.
    credential, _ = site_credential(store, ada, "https://removed.example")
    _, hdrs, body = assert_same(app, {"Authorization": f"Bearer {credential}", "Origin": "https://removed.example"})
    assert body.startswith(b'{"user":null') and "Access-Control-Allow-Origin" not in dict(hdrs)


@time_machine.travel("2026-11-23 12:00:00", tick=False)
def test_a_signed_in_credential_is_answered_with_every_api_header_on_both_paths(app, store, ada):
    credential, _ = site_credential(store, ada, TASKS)
    status, hdrs, body = assert_same(app, {"Authorization": f"Bearer {credential}", "Origin": TASKS,
                                           "Sec-Fetch-Site": "cross-site", "Cookie": "onebar_session=forged"})
    assert status == "200 OK" and b'"name":"Ada Lovelace"' in body and b'"cross_site":true' in body
    h = dict(hdrs)
    assert h["Vary"] == "Origin, Cookie, Authorization, Sec-Fetch-Site" and h["Cache-Control"] == "no-store"
    assert h["Access-Control-Allow-Origin"] == TASKS and h["Access-Control-Allow-Credentials"] == "true"
    assert not any(k == "Set-Cookie" for k, _ in hdrs)  # the forged cookie is not even cleared


def test_a_site_credential_does_not_reach_flask(app, store, ada):
    credential, _ = site_credential(store, ada, TASKS)
    handler, calls = counting_flask(app)
    _, _, body = call(handler, {"Authorization": f"Bearer {credential}", "Origin": TASKS})
    assert b"Ada Lovelace" in body and calls == []
