"""The WSGI middleware: who the visitor is, verified remotely or locally, never a hang or a 500."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from werkzeug.test import Client

from onebar.exc import ConfigError
from onebar.integrations.wsgi import (
    Identity,
    LocalVerifier,
    OnebarMiddleware,
    OnebarUser,
    RemoteVerifier,
    cookie_value,
)
from onebar.sessions import SessionCodec
from onebar.store import SQLiteStore

from ..live import TEST_SECRET_KEYS, free_port
from .conftest import ADA, ADA_ME, GRACE, FakeClock, StubService, database, me, sign_in, sign_out


def whoami(environ: dict, start_response) -> list[bytes]:  # type: ignore[no-untyped-def, type-arg]
    user = environ["onebar.user"]
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [(f"{user.name} <{user.email}> {user.initials}" if user else "signed out").encode()]


def visit(app: OnebarMiddleware, cookie: str | None = None, *, cookie_header: str | None = None) -> str:
    headers = {}
    if cookie_header is not None:
        headers["Cookie"] = cookie_header
    elif cookie is not None:
        headers["Cookie"] = f"theme=dark; onebar_session={cookie}; tasks_session=abc"
    response = Client(app, use_cookies=False).get("/", headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture
def store(service) -> Iterator[SQLiteStore]:  # type: ignore[no-untyped-def]
    s = SQLiteStore(database(service))
    yield s
    s.close()


# -- remote: asking the service -----------------------------------------------------

def test_remote_puts_the_signed_in_user_in_environ(service) -> None:  # type: ignore[no-untyped-def]
    app = OnebarMiddleware(whoami, service_url=service.url)
    assert visit(app, sign_in(service)) == "Ada Lovelace <ada@example.com> AL"
    assert visit(app, sign_in(service, GRACE)) == "Grace Hopper <grace@example.com> GH"


def test_no_cookie_means_signed_out_without_asking(stub: StubService) -> None:
    app = OnebarMiddleware(whoami, service_url=stub.url)
    assert visit(app) == "signed out"
    assert visit(app, cookie_header="tasks_session=abc") == "signed out"
    assert stub.requests == []


def test_only_the_onebar_cookie_is_forwarded(stub: StubService) -> None:
    app = OnebarMiddleware(whoami, service_url=stub.url)
    assert visit(app, "a1.b2.c3") == "Ada Lovelace <ada@example.com> AL"
    [sent] = stub.requests
    assert sent["path"] == "/api/me"
    assert sent["cookie"] == "onebar_session=a1.b2.c3"


def test_a_custom_cookie_name_is_read_and_forwarded(stub: StubService) -> None:
    app = OnebarMiddleware(whoami, service_url=stub.url, cookie_name="corp_id")
    assert visit(app, cookie_header="onebar_session=x.y.z") == "signed out"
    assert visit(app, cookie_header="corp_id=x.y.z") == "Ada Lovelace <ada@example.com> AL"
    assert [r["cookie"] for r in stub.requests] == ["corp_id=x.y.z"]


def test_answers_are_cached_for_the_ttl_then_asked_again(stub: StubService, clock: FakeClock) -> None:
    verifier = RemoteVerifier(stub.url, cache_ttl=5, clock=clock)
    for _ in range(3):
        assert verifier.verify("a.b.c") == OnebarUser.from_json(ADA_ME)
    assert len(stub.requests) == 1
    clock.advance(4.9)
    verifier.verify("a.b.c")
    assert len(stub.requests) == 1
    clock.advance(0.2)
    stub.answer(None)  # signed out elsewhere meanwhile
    assert verifier.verify("a.b.c") is None
    assert len(stub.requests) == 2


def test_the_cache_is_bounded(stub: StubService, clock: FakeClock) -> None:
    verifier = RemoteVerifier(stub.url, cache_ttl=60, cache_size=2, clock=clock)
    for value in ("a.a.a", "b.b.b", "c.c.c", "c.c.c", "b.b.b"):
        verifier.verify(value)
    assert len(stub.requests) == 3
    verifier.verify("a.a.a")  # the least recently used went first
    assert len(stub.requests) == 4
    assert len(verifier._cache) == 2


def test_revocation_reaches_the_app_within_the_cache_window(service, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    app = OnebarMiddleware(whoami, service_url=service.url, verifier=RemoteVerifier(
        service.url, cache_ttl=5, clock=clock))
    cookie = sign_in(service)
    assert visit(app, cookie).startswith("Ada Lovelace")
    sign_out(service, cookie)
    assert me(service, cookie)["user"] is None
    clock.advance(5.01)
    assert visit(app, cookie) == "signed out"


@pytest.mark.parametrize("value", [
    "", "garbage", "a.b", "a..b.c", "a.b.c.d.e", "x" * 1100 + ".b.c", "a.b.c;evil=1", "a.b\r\nHost: evil.c",
    "a.b.c\x00", "\u00e9.b.c",
], ids=["empty", "word", "two-parts", "empty-part", "five-parts", "too-long", "semicolon", "crlf", "nul",
        "non-ascii"])
def test_malformed_cookies_are_signed_out_and_never_sent(stub: StubService, value: str) -> None:
    verifier = RemoteVerifier(stub.url)
    assert verifier.verify(value) is None
    assert stub.requests == []


def test_a_forged_cookie_is_signed_out_by_the_service(service) -> None:  # type: ignore[no-untyped-def]
    forged = SessionCodec(["not-the-service-key-0123456789abcdef"], 3600).encode("sid", "u_someone")
    app = OnebarMiddleware(whoami, service_url=service.url)
    assert visit(app, forged) == "signed out"


def test_cookie_header_parsing() -> None:
    assert cookie_value('a=1; onebar_session="q.r.s"; b=2', "onebar_session") == "q.r.s"
    assert cookie_value("onebar_session=first; onebar_session=second", "onebar_session") == "first"
    assert cookie_value("xonebar_session=1; broken; =2", "onebar_session") is None


# -- remote: the service is down, slow or wrong -----------------------------------------

@pytest.fixture
def black_hole() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        s.listen(16)
        yield f"http://localhost:{s.getsockname()[1]}"


@pytest.mark.parametrize("kind", ["refused", "never-answers"])
def test_service_down_answers_within_a_second_as_signed_out(kind: str, black_hole: str) -> None:
    url = black_hole if kind == "never-answers" else f"http://localhost:{free_port()}"
    app = OnebarMiddleware(whoami, service_url=url)
    started = time.monotonic()
    assert visit(app, "a.b.c") == "signed out"
    assert time.monotonic() - started < 1.0
    # Others arriving meanwhile do not queue behind the dead service.
    started = time.monotonic()
    for n in range(20):
        assert visit(app, f"a.b.{n}") == "signed out"
    assert time.monotonic() - started < 1.0


def test_after_a_failure_the_service_is_asked_again_soon(stub: StubService, clock: FakeClock) -> None:
    stub.status = 503
    verifier = RemoteVerifier(stub.url, retry_after=1.0, clock=clock)
    assert verifier.verify("a.b.c") is None
    assert verifier.verify("a.b.c") is None
    assert len(stub.requests) == 1  # not hammered while it is in trouble
    stub.status = 200
    clock.advance(1.01)
    assert verifier.verify("a.b.c") == OnebarUser.from_json(ADA_ME)


@pytest.mark.parametrize("status, body", [
    (500, b"oops"),
    (200, b"<html>not json</html>"),
    (200, b'{"apps": []}'),
    (200, b'{"user": {"id": 7, "name": "x"}}'),
    (200, b'{"user": "Ada"}'),
    (302, b""),
], ids=["500", "html", "no-user", "bad-user", "string-user", "redirect"])
def test_a_wrong_answer_means_signed_out(stub: StubService, status: int, body: bytes) -> None:
    stub.status, stub.body = status, body
    assert visit(OnebarMiddleware(whoami, service_url=stub.url), "a.b.c") == "signed out"


def test_a_slow_answer_means_signed_out(stub: StubService) -> None:
    stub.delay = 0.8
    app = OnebarMiddleware(whoami, service_url=stub.url, verifier=RemoteVerifier(stub.url, timeout=0.3))
    started = time.monotonic()
    assert visit(app, "a.b.c") == "signed out"
    assert time.monotonic() - started < 0.7


def test_a_verifier_that_raises_never_becomes_a_500() -> None:
    class Broken:
        def verify(self, cookie: str) -> OnebarUser | None:
            raise RuntimeError("bug")

    app = OnebarMiddleware(whoami, service_url="http://localhost:9", verifier=Broken())
    assert visit(app, "a.b.c") == "signed out"


def test_a_client_cannot_choose_the_user(stub: StubService) -> None:
    stub.answer(None)
    app = OnebarMiddleware(whoami, service_url=stub.url)
    response = Client(app).get("/", headers={"Onebar-User": "Ada"}, environ_overrides={
        "onebar.user": OnebarUser.from_json(ADA_ME)})
    assert response.get_data(as_text=True) == "signed out"


# -- local: the shared keys and the store ---------------------------------------------------

def local(store: SQLiteStore, clock: FakeClock | None = None, **kw: object) -> LocalVerifier:
    return LocalVerifier(list(TEST_SECRET_KEYS), store=store, clock=clock or FakeClock(), **kw)  # type: ignore[arg-type]


def test_local_verifies_a_real_cookie(service, store: SQLiteStore) -> None:  # type: ignore[no-untyped-def]
    app = OnebarMiddleware(whoami, service_url=service.url, verifier=local(store))
    assert visit(app, sign_in(service)) == "Ada Lovelace <ada@example.com> AL"


def test_local_accepts_a_cookie_signed_with_an_older_key(service, store: SQLiteStore) -> None:  # type: ignore[no-untyped-def]
    ada = store.get_credentials(ADA[0])[0]  # type: ignore[index]
    sid = store.create_session(ada.id, expires_at=int(time.time()) + 3600)
    old = SessionCodec(TEST_SECRET_KEYS[:1], 3600).encode(sid, ada.id)
    assert local(store).verify(old) == OnebarUser.from_record(ada)


@pytest.mark.parametrize("case", ["other-key", "other-user", "unknown-session", "garbage", "csrf-salt"])
def test_local_rejects_what_the_service_did_not_issue(service, store: SQLiteStore, case: str) -> None:  # type: ignore[no-untyped-def]
    ada = store.get_credentials(ADA[0])[0]  # type: ignore[index]
    grace = store.get_credentials(GRACE[0])[0]  # type: ignore[index]
    sid = store.create_session(ada.id, expires_at=int(time.time()) + 3600)
    codec = SessionCodec(list(TEST_SECRET_KEYS), 3600)
    cookie = {
        "other-key": SessionCodec(["another-service-key-0123456789abcdef"], 3600).encode(sid, ada.id),
        "other-user": codec.encode(sid, grace.id),  # Ada's session claimed for Grace
        "unknown-session": codec.encode("made-up-session-id", ada.id),
        "garbage": "garbage",
        "csrf-salt": _signed_with_salt("flask-wtf.csrf", {"s": sid, "u": ada.id}),
    }[case]
    assert local(store).verify(cookie) is None


def _signed_with_salt(salt: str, payload: object) -> str:
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(TEST_SECRET_KEYS[-1], salt=salt).dumps(payload)


def test_local_honours_revocation_within_the_cache_window(service, store: SQLiteStore, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    verifier = local(store, clock, cache_ttl=5)
    cookie = sign_in(service)
    assert verifier.verify(cookie) is not None
    sign_out(service, cookie)
    clock.advance(4)
    assert verifier.verify(cookie) is not None  # the documented window
    clock.advance(1.01)
    assert verifier.verify(cookie) is None


def test_local_never_looks_up_a_forged_cookie(service) -> None:  # type: ignore[no-untyped-def]
    class CountingStore:
        calls = 0

        def get_active_session(self, sid: str, now: int) -> None:
            CountingStore.calls += 1

    verifier = LocalVerifier(list(TEST_SECRET_KEYS), store=CountingStore())  # type: ignore[arg-type]
    forged = SessionCodec(["another-service-key-0123456789abcdef"], 3600).encode("s", "u")
    assert verifier.verify(forged) is None
    assert CountingStore.calls == 0


def test_local_with_a_failing_store_means_signed_out() -> None:
    class DeadStore:
        def get_active_session(self, sid: str, now: int) -> None:
            raise OSError("disk gone")

    cookie = SessionCodec(list(TEST_SECRET_KEYS), 3600).encode("s", "u")
    assert LocalVerifier(list(TEST_SECRET_KEYS), store=DeadStore()).verify(cookie) is None  # type: ignore[arg-type]


def test_local_asking_the_service_sends_only_valid_signatures(stub: StubService) -> None:
    verifier = LocalVerifier(list(TEST_SECRET_KEYS), service_url=stub.url)
    forged = SessionCodec(["another-service-key-0123456789abcdef"], 3600).encode("s", "u")
    genuine = SessionCodec(list(TEST_SECRET_KEYS), 3600).encode("s", "u")
    assert verifier.verify(forged) is None
    assert stub.requests == []
    assert verifier.verify(genuine) == OnebarUser.from_json(ADA_ME)
    assert len(stub.requests) == 1


def test_local_needs_keys_and_a_way_to_see_revocation(store: SQLiteStore) -> None:
    with pytest.raises(ConfigError, match="store= .* or service_url="):
        LocalVerifier(list(TEST_SECRET_KEYS))
    with pytest.raises(ConfigError, match="secret keys"):
        LocalVerifier("one-key-as-a-string", store=store)


# -- configuration and links ---------------------------------------------------------------

def test_from_config_local_mode_with_the_service_database(service) -> None:  # type: ignore[no-untyped-def]
    identity = Identity.from_config({"SERVICE_URL": service.url, "SECRET_KEYS": ",".join(TEST_SECRET_KEYS),
                                     "DATABASE": str(database(service))})
    assert isinstance(identity.verifier, LocalVerifier)
    assert identity.user({"HTTP_COOKIE": f"onebar_session={sign_in(service)}"}) is not None


@pytest.mark.parametrize("config, message", [
    ({}, "set SERVICE_URL to the identity service's URL"),
    ({"SERVICE_URL": "localhost:8000"}, "must be like https://id.example.com"),
    ({"SERVICE_URL": "http://localhost:8000", "SERVCE_URL": "x"}, "unknown Onebar setting SERVCE_URL"),
    ({"SERVICE_URL": "http://localhost:8000", "SECRET_KEYS": "k", "DATABASE": "/nonexistent/onebar.sqlite3"},
     "DATABASE names no Onebar database: /nonexistent/onebar.sqlite3 does not exist"),
    ({"SERVICE_URL": "http://localhost:8000", "DATABASE": "/x.sqlite3"}, "DATABASE is only used with SECRET_KEYS"),
    ({"SERVICE_URL": "http://localhost:8000", "TIMEOUT": "soon"}, "TIMEOUT must be a number"),
], ids=["no-url", "not-a-url", "typo", "no-database", "database-without-keys", "bad-timeout"])
def test_from_config_names_what_is_wrong(config: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Identity.from_config(config)
    assert message in str(info.value)


def test_links_point_browsers_at_the_public_url() -> None:
    identity = Identity("http://onebar.internal:8000", public_url="https://id.example.com/")
    assert identity.login_url("https://notes.example.com/notes/?a=1") == (
        "https://id.example.com/login?next=https%3A%2F%2Fnotes.example.com%2Fnotes%2F%3Fa%3D1")
    assert identity.script_url == "https://id.example.com/onebar.js"
    assert identity.account_url == "https://id.example.com/account"
    assert identity.verifier.service_url == "http://onebar.internal:8000"  # type: ignore[attr-defined]
