"""The back-channel in the middleware: a logout token drops the user at once; a bad one is a 400, never a 500."""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask import Flask
from werkzeug.test import Client

from onebar.backchannel import EVENT, LogoutTokens, logout_sid
from onebar.integrations.backchannel import BACKCHANNEL_PATH
from onebar.integrations.flask import Onebar, current_user, user_signed_out
from onebar.integrations.wsgi import Identity, LocalVerifier, OnebarMiddleware, RemoteVerifier, SignedOut
from onebar.sessions import SessionCodec
from onebar.store import SQLiteStore
from onebar.store.sql import session_key

from ..live import TEST_SECRET_KEYS, free_port, run_server
from .conftest import ADA, GRACE, FakeClock, database, me, sign_in
from .test_wsgi import visit, whoami

SECRET = "tasks-backchannel-secret-0123456789abcdef"
OTHER_SECRET = "notes-backchannel-secret-0123456789abcdef"
AUDIENCE = "http://localhost"  # werkzeug's test client addresses http://localhost/


def post(app: object, token: str | None, *, body: bytes | None = None,
         content_type: str = "application/x-www-form-urlencoded", method: str = "POST") -> tuple[int, dict]:
    data = body if body is not None else urlencode({"logout_token": token or ""}).encode()
    response = Client(app, use_cookies=False).open(  # type: ignore[arg-type]
        BACKCHANNEL_PATH, method=method, data=data, headers={"Content-Type": content_type})
    assert response.status_code < 500
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    return response.status_code, (json.loads(text) if text else {})


def token_for(user_id: str, *, secret: str = SECRET, audience: str = AUDIENCE, sid: str | None = None,
              clock: FakeClock | None = None) -> str:
    tokens = LogoutTokens(secret, clock=clock) if clock else LogoutTokens(secret)
    return tokens.issue(issuer="http://localhost:8000", audience=audience, user_id=user_id, sid=sid)


@pytest.fixture(autouse=True)
def own_board_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's middleware shares sign-outs through a file in its own directory."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


@pytest.fixture
def store(service) -> Iterator[SQLiteStore]:  # type: ignore[no-untyped-def]
    s = SQLiteStore(database(service))
    yield s
    s.close()


def ada_id(service, cookie: str) -> str:  # type: ignore[no-untyped-def]
    return me(service, cookie)["user"]["id"]  # type: ignore[no-any-return]


# -- the token drops the user at once --------------------------------------------------

def test_a_logout_token_signs_the_user_out_on_the_very_next_request(service, store: SQLiteStore) -> None:  # type: ignore[no-untyped-def]
    heard: list[SignedOut] = []
    app = OnebarMiddleware(whoami, service_url=service.url, backchannel_secret=SECRET)
    app.identity.on_signed_out.append(heard.append)
    ada, grace = sign_in(service), sign_in(service, GRACE)
    assert visit(app, ada).startswith("Ada Lovelace")
    assert visit(app, grace).startswith("Grace Hopper")
    uid = ada_id(service, ada)
    store.revoke_user_sessions(uid)  # the service forgets Ada; the app's cache (5 s) does not, yet
    assert visit(app, ada).startswith("Ada Lovelace")

    status, _ = post(app, token_for(uid, sid=None))
    assert status == 200
    assert visit(app, ada) == "signed out"  # no wait for the cache window
    assert visit(app, grace).startswith("Grace Hopper")  # others keep their cached answers
    assert heard == [SignedOut(user_id=uid, session_id=None)]


def test_local_verification_hears_the_back_channel_too(service, store: SQLiteStore) -> None:  # type: ignore[no-untyped-def]
    verifier = LocalVerifier(list(TEST_SECRET_KEYS), store=SQLiteStore(database(service), upgrade=False))
    app = OnebarMiddleware(whoami, service_url=service.url, verifier=verifier, backchannel_secret=SECRET)
    ada = sign_in(service)
    assert visit(app, ada).startswith("Ada Lovelace")
    uid = ada_id(service, ada)
    store.revoke_user_sessions(uid)
    assert visit(app, ada).startswith("Ada Lovelace")  # cached: the store is not asked again for 5 s
    assert post(app, token_for(uid))[0] == 200
    assert visit(app, ada) == "signed out"


def test_an_answer_asked_for_before_the_sign_out_is_not_kept(clock: FakeClock) -> None:
    from onebar.integrations.cache import TTLCache
    from onebar.integrations.user import OnebarUser

    cache = TTLCache(5, 10, clock)
    ada = OnebarUser("u_ada", "Ada", "ada@example.com", "A")
    asked = clock()
    cache.drop_user("u_ada")  # the back-channel arrives while /api/me is in flight
    cache.put(b"k", ada, asked)
    assert cache.get(b"k") is not ada  # a MISS: the next request asks again
    clock.advance(1)
    cache.put(b"k", ada, clock())
    assert cache.get(b"k") is ada


# -- tokens it refuses: 400, and nobody is signed out ------------------------------------

def _with_claims(**changes: object) -> str:
    from itsdangerous import URLSafeSerializer

    import time as _time
    now = int(_time.time())
    claims = {"iss": "http://localhost:8000", "aud": AUDIENCE, "sub": "u_ada", "iat": now, "exp": now + 120,
              "jti": "j1", "events": {EVENT: {}}, **changes}
    claims = {k: v for k, v in claims.items() if v is not None}
    return URLSafeSerializer(SECRET, salt="onebar.backchannel-logout").dumps(claims)


@pytest.mark.parametrize(("make", "reason"), [
    (lambda c: _flip_signature(token_for("u_ada")), "bad signature"),
    (lambda c: _tamper_payload(token_for("u_ada")), "bad signature"),
    (lambda c: token_for("u_ada", secret=OTHER_SECRET), "bad signature"),
    (lambda c: token_for("u_ada", audience="http://localhost:8002"), "issued for another app"),
    (lambda c: token_for("u_ada", clock=_past(c)), "expired"),
    (lambda c: token_for("u_ada", clock=_future(c)), "issued in the future"),
    (lambda c: _with_claims(events={}), "not a logout token"),
    (lambda c: _with_claims(nonce="n"), "a nonce in a logout token"),
    (lambda c: _with_claims(sub=""), "malformed claims"),
    (lambda c: _with_claims(exp=10**10), "expired"),
    (lambda c: "", "one logout_token is needed"),
    (lambda c: "x" * 5000, "no logout token"),
], ids=["tampered-signature", "tampered-claims", "another-apps-secret", "wrong-audience", "expired",
        "from-the-future", "no-logout-event", "has-nonce", "no-subject", "lifetime-too-long", "empty", "huge"])
def test_a_bad_token_is_a_400_and_signs_nobody_out(stub, clock: FakeClock, make, reason: str) -> None:  # type: ignore[no-untyped-def]
    heard: list[SignedOut] = []
    app = OnebarMiddleware(whoami, service_url=stub.url, backchannel_secret=SECRET,
                           verifier=RemoteVerifier(stub.url, clock=clock))
    app.identity.on_signed_out.append(heard.append)
    cookie = "eyJzIjoiYSJ9.ZZ.sig"
    assert visit(app, cookie).startswith("Ada")
    token = make(clock)
    status, doc = post(app, token)
    assert status == 400
    assert doc["error"] == "invalid_request"
    assert doc["error_description"] == reason
    assert heard == []
    asked = len(stub.requests)
    assert visit(app, cookie).startswith("Ada")
    assert len(stub.requests) == asked  # still cached: a bad token drops nothing


def _flip_signature(token: str) -> str:
    # A middle character: the last one's low bits are ignored by base64.
    payload, sig = token.rsplit(".", 1)
    i = len(sig) // 2
    return f"{payload}.{sig[:i]}{'A' if sig[i] != 'A' else 'B'}{sig[i + 1:]}"


def _tamper_payload(token: str) -> str:
    from itsdangerous import URLSafeSerializer

    codec = URLSafeSerializer("any key: encoding needs none")
    payload, sig = token.rsplit(".", 1)
    claims = codec.load_payload(payload.encode())
    claims["sub"] = "u_grace"
    return f"{codec.dump_payload(claims).decode()}.{sig}"


def _past(clock: FakeClock) -> FakeClock:
    import time as _time
    past = FakeClock()
    past.now = _time.time() - 600
    return past


def _future(clock: FakeClock) -> FakeClock:
    import time as _time
    future = FakeClock()
    future.now = _time.time() + 600
    return future


def test_a_replayed_token_is_refused(stub) -> None:  # type: ignore[no-untyped-def]
    heard: list[SignedOut] = []
    app = OnebarMiddleware(whoami, service_url=stub.url, backchannel_secret=SECRET)
    app.identity.on_signed_out.append(heard.append)
    token = token_for("u_ada", sid=logout_sid("k1"))
    assert post(app, token)[0] == 200
    status, doc = post(app, token)
    assert (status, doc["error_description"]) == (400, "replayed (this jti was seen)")
    assert heard == [SignedOut("u_ada", logout_sid("k1"))]


@pytest.mark.parametrize(("kwargs", "status"), [
    ({"method": "GET"}, 405),
    ({"content_type": "application/json", "body": json.dumps({"logout_token": "x"}).encode()}, 400),
    ({"body": b"logout_token=a&logout_token=b"}, 400),
    ({"body": b"\xff\xfe=\x00"}, 400),
    ({"body": b"nothing=here"}, 400),
], ids=["get", "json", "two-tokens", "not-ascii", "no-token"])
def test_a_bad_request_is_refused_without_a_500(stub, kwargs: dict, status: int) -> None:  # type: ignore[no-untyped-def, type-arg]
    app = OnebarMiddleware(whoami, service_url=stub.url, backchannel_secret=SECRET)
    assert post(app, None, **kwargs)[0] == status


def test_without_a_secret_the_path_is_the_apps_own(stub) -> None:  # type: ignore[no-untyped-def]
    def own(environ, start_response):  # type: ignore[no-untyped-def]
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Cache-Control", "no-store")])
        return [b"the app's own 404"]

    response = Client(OnebarMiddleware(own, service_url=stub.url), use_cookies=False).post(
        BACKCHANNEL_PATH, data={"logout_token": token_for("u_ada")})
    assert response.get_data() == b"the app's own 404"


def test_a_listener_that_raises_does_not_turn_the_answer_into_a_500(stub) -> None:  # type: ignore[no-untyped-def]
    app = OnebarMiddleware(whoami, service_url=stub.url, backchannel_secret=SECRET)
    app.identity.on_signed_out.append(lambda event: 1 / 0)
    assert post(app, token_for("u_ada"))[0] == 200


def test_a_short_secret_is_a_config_error(stub) -> None:  # type: ignore[no-untyped-def]
    from onebar.exc import ConfigError

    with pytest.raises(ConfigError, match="BACKCHANNEL_SECRET"):
        Identity.from_config({"SERVICE_URL": stub.url, "BACKCHANNEL_SECRET": "short"})


# -- the Flask signal -------------------------------------------------------------------

def test_flask_sends_user_signed_out_even_before_csrf_and_login_hooks(stub) -> None:  # type: ignore[no-untyped-def]
    app = Flask(__name__)
    app.config.update(ONEBAR_SERVICE_URL=stub.url, ONEBAR_BACKCHANNEL_SECRET=SECRET, SERVER_NAME="localhost")

    @app.before_request
    def members_only():  # type: ignore[no-untyped-def]
        return ("members only", 403) if current_user() is None else None

    Onebar(app)
    heard: list[tuple[object, str, str | None]] = []

    def record(sender, user_id, session_id, **extra):  # type: ignore[no-untyped-def]
        heard.append((sender, user_id, session_id))

    user_signed_out.connect(record, app)
    try:
        status, _ = post(app, token_for("u_ada", sid=logout_sid("k1")))
    finally:
        user_signed_out.disconnect(record, app)
    assert status == 200
    assert heard == [(app, "u_ada", logout_sid("k1"))]


def test_session_id_names_the_session_the_back_channel_names(service, store: SQLiteStore) -> None:  # type: ignore[no-untyped-def]
    """An app that ties state to Identity.session_id(environ) recognises the
    ended session in a signal: the same hash the service sends."""
    identity = Identity(service.url)
    ada = sign_in(service)
    environ = {"HTTP_COOKIE": f"onebar_session={ada}"}
    sid = identity.session_id(environ)
    token = SessionCodec(list(TEST_SECRET_KEYS), 3600).decode(ada)
    assert token is not None
    assert sid == logout_sid(session_key(token.sid))
    assert store.get_active_session(token.sid, 0) is not None  # the session the service keeps
    assert identity.session_id({"HTTP_COOKIE": "onebar_session=eyJzIjoiYSJ9.ZZ.sig"}) is None
    assert identity.session_id({}) is None


# -- several worker processes ---------------------------------------------------------------

def test_a_notice_that_reaches_one_worker_process_reaches_them_all(service, store: SQLiteStore,  # type: ignore[no-untyped-def]
                                                                  tmp_path: Path) -> None:
    """granian with 2 worker processes, each with its own 600 s cache: the
    token lands in one, and no worker serves the signed-out user again."""
    port = free_port()
    url = f"http://localhost:{port}"
    argv = [sys.executable, "-c", "import sys; from onebar.serving import run; "
            f"run('tests.integrations.workers_app:make', host='localhost', port={port}, workers=2, threads=4)"]
    env = {"WORKERS_APP_SERVICE_URL": service.url, "WORKERS_APP_SECRET": SECRET,
           "WORKERS_APP_FILE": str(tmp_path / "board")}
    ada = sign_in(service)

    def ask(cookie: str) -> tuple[str, str]:
        req = urllib.request.Request(url + "/", headers={"Cookie": f"onebar_session={cookie}"})
        with urllib.request.urlopen(req, timeout=10) as resp:  # a new connection each time: any worker
            pid, _, who = resp.read().decode().partition(" ")
        return pid, who

    def until_every_worker_answered(cookie: str) -> set[str]:
        answers: dict[str, set[str]] = {}
        for asked in range(1, 401):
            pid, who = ask(cookie)
            answers.setdefault(pid, set()).add(who)
            if len(answers) == 2 and asked >= 20:
                break
        assert len(answers) == 2, f"only {len(answers)} worker(s) answered"
        return {who for whos in answers.values() for who in whos}

    with run_server(argv, url=url, health="/", log=tmp_path / "workers.log", env=env):
        assert until_every_worker_answered(ada) == {"Ada Lovelace"}  # both workers cached Ada
        uid = ada_id(service, ada)
        store.revoke_user_sessions(uid)
        response = urllib.request.urlopen(urllib.request.Request(  # one worker gets the notice
            url + BACKCHANNEL_PATH, data=urlencode({"logout_token": token_for(uid, audience=url)}).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"}), timeout=10)
        assert response.status == 200
        assert until_every_worker_answered(ada) == {"signed out"}  # and neither worker serves Ada again


def test_the_board_lists_news_once_and_more_than_it_holds_means_everyone(tmp_path: Path) -> None:
    from onebar.integrations.board import SignOutBoard

    writer, reader = SignOutBoard(tmp_path / "board"), SignOutBoard(tmp_path / "board")
    assert reader.news() == []
    writer.post("u_ada")
    writer.post("u_grace")
    assert reader.news() == ["u_ada", "u_grace"]
    assert reader.news() == []
    for i in range(reader.slots + 1):
        writer.post(f"u_{i}")
    assert reader.news() is None  # too many to list: forget everyone
    # Exactly as many as it holds: the oldest slot is the one the next writer
    # fills, so it may be half written while read; forget everyone then too.
    for i in range(reader.slots):
        writer.post(f"u_{i}")
    assert reader.news() is None
    for i in range(reader.slots - 1):
        writer.post(f"u_{i}")
    assert reader.news() == [f"u_{i}" for i in range(reader.slots - 1)]
    writer.post("x" * 200)  # not an Onebar id: forget everyone
    assert reader.news() is None


@pytest.mark.parametrize("case", ["group-writable", "symlink"])
def test_the_board_refuses_a_file_others_could_write(tmp_path: Path, case: str) -> None:
    import os

    from onebar.integrations.board import SignOutBoard

    path = tmp_path / "board"
    if case == "group-writable":
        path.write_bytes(b"")
        path.chmod(0o660)
    else:
        (tmp_path / "elsewhere").write_bytes(b"")
        os.symlink(tmp_path / "elsewhere", path)
    with pytest.raises(OSError):
        SignOutBoard(path)
