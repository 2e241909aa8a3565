"""The benchmark's raw-WSGI baseline answers /api/me exactly as the service does.

If it did less work (or other work), benchmark 1's ratio would mean nothing:
same status, same JSON bytes, same headers, for every kind of cookie.
"""

from __future__ import annotations

import time

import pytest
import time_machine
from werkzeug.test import EnvironBuilder

from onebar import settings as settings_mod
from onebar.sessions import SessionCodec
from onebar.web import create_app
from bench.baseline import from_data_dir
from bench.datagen import populate
from bench.me import APPS, ORIGIN

from ..live import TEST_SECRET_KEYS

HEADERS = ("Content-Type", "Content-Length", "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
           "X-Content-Type-Options", "Referrer-Policy", "Cache-Control", "Vary")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    data = tmp_path_factory.mktemp("baseline")
    pairs = populate(data / "onebar.sqlite3", 5, apps=APPS, sample=2)
    cfg = settings_mod.load(environ={}, data_dir=data, secret_keys=list(TEST_SECRET_KEYS))
    return create_app(cfg), from_data_dir(data, TEST_SECRET_KEYS), pairs


def call(app, cookie: str | None, origin: str | None = ORIGIN):
    headers = {"Host": "localhost:5000"}
    if origin:
        headers["Origin"] = origin
    if cookie is not None:
        headers["Cookie"] = f"onebar_session={cookie}"
    out = {}

    def start_response(status, headers, exc_info=None):
        out["status"], out["headers"] = status, headers

    body = b"".join(app(EnvironBuilder(path="/api/me", headers=headers).get_environ(), start_response))
    named = {}
    for k, v in out["headers"]:
        named.setdefault(k, []).append(v)
    return out["status"], body, named


def cookies(pairs):
    new = SessionCodec(TEST_SECRET_KEYS, 3600)
    old = SessionCodec(TEST_SECRET_KEYS[:1], 3600)
    return {
        "signed in": new.encode(*pairs[0]),
        "signed out": None,
        "tampered": new.encode(*pairs[0])[:-2] + "xx",
        "garbage": "not-a-cookie",
        "unknown session": new.encode("no-such-sid", pairs[0][1]),
        "another user's id": new.encode(pairs[0][0], pairs[1][1]),
        "old key (re-issued)": old.encode(*pairs[1]),
    }


@pytest.mark.parametrize("kind", ["signed in", "signed out", "tampered", "garbage", "unknown session",
                                  "another user's id", "old key (re-issued)"])
def test_same_answer_as_the_service(pair, kind):
    app, base, pairs = pair
    cookie = cookies(pairs)[kind]
    with time_machine.travel(time.time(), tick=False):
        s_status, s_body, s_headers = call(app, cookie)
        b_status, b_body, b_headers = call(base, cookie)
    assert (b_status, b_body) == (s_status, s_body)
    for name in HEADERS:
        assert b_headers.get(name) == s_headers.get(name), name
    assert [c.split(";")[0][:15] for c in b_headers.get("Set-Cookie", [])] == \
        [c.split(";")[0][:15] for c in s_headers.get("Set-Cookie", [])]
    if kind == "signed in":
        assert b'"user":{' in s_body


def test_a_day_old_cookie_is_renewed_by_both(pair):
    app, base, pairs = pair
    issued = time.time() - 2 * 24 * 3600
    with time_machine.travel(issued, tick=False):
        cookie = SessionCodec(TEST_SECRET_KEYS, 3600 * 24 * 14).encode(*pairs[1])
    for server in (app, base):
        status, body, headers = call(server, cookie)
        assert status.startswith("200") and b'"user":{' in body
        renewed = [c for c in headers.get("Set-Cookie", []) if c.startswith("onebar_session=")]
        assert len(renewed) == 1 and "Max-Age=1209600" in renewed[0]
