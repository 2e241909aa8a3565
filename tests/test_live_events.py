"""``GET /api/events`` over real HTTP: a real service (``onebar serve``, which starts
the stream process beside it), real sign-ins, and streams read as a browser reads them."""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .httpclient import Browserish
from .live import Service, free_port, onebar, start_service

APP = "http://localhost:5999"
PASSWORD = "correct horse battery"


_OPEN: list[EventStream] = []


@pytest.fixture(autouse=True)
def _close_streams() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


class EventStream:
    """One open ``/api/events`` response, read event by event (each read bounded; closed after each test)."""

    def __init__(self, svc: Service, *, cookie: str | None = None, origin: str | None = APP,
                 headers: dict[str, str] | None = None, path: str = "/api/events") -> None:
        self.conn = http.client.HTTPConnection("localhost", svc.events_port, timeout=10)
        _OPEN.append(self)
        hdrs = dict(headers or {})
        if cookie:
            hdrs["Cookie"] = f"onebar_session={cookie}"
        if origin:
            hdrs["Origin"] = origin
        self.conn.request("GET", path, headers=hdrs)
        self.response = self.conn.getresponse()
        self.status = self.response.status

    def next(self, timeout: float = 5.0) -> dict[str, str] | None:
        """The next event (``{"event", "id", "data"}``), skipping heartbeats; None when the stream ended."""
        self.conn.sock.settimeout(timeout)
        fields: dict[str, str] = {}
        while True:
            line = self.response.readline()
            if not line:
                return None
            text = line.decode().rstrip("\n")
            if text == "":
                if "event" in fields:
                    return fields
                fields = {}
                continue
            name, _, value = text.partition(": ")
            if name in ("event", "id", "data"):
                fields[name] = value

    def close(self) -> None:
        self.response.close()
        self.conn.close()


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    users = [(f"{n}@example.com", n.title(), PASSWORD) for n in ("ada", "bob", "cy", "dee", "eve", "fay")]
    with start_service(tmp_path_factory.mktemp("live") / "svc", apps=[("notes", "Notes", APP + "/")],
                       users=users) as service:
        yield service


def signed_in(svc: Service, email: str) -> Browserish:
    browser = Browserish(svc.url)
    assert browser.login(email, PASSWORD).status == 303
    return browser


def opened(svc: Service, browser: Browserish, **kw: object) -> EventStream:
    stream = EventStream(svc, cookie=browser.cookie("onebar_session"), **kw)  # type: ignore[arg-type]
    assert stream.status == 200
    assert stream.next()["event"] == "ready"
    return stream


def test_me_tells_the_bar_where_the_stream_is(svc: Service) -> None:
    answer = json.loads(Browserish(svc.url).get("/api/me").body)
    assert answer["events"] == svc.events_url


def test_the_stream_answers_only_registered_origins_with_cors(svc: Service) -> None:
    browser = signed_in(svc, "ada@example.com")
    stream = opened(svc, browser)
    headers = stream.response.headers
    assert headers["Content-Type"] == "text/event-stream"
    assert headers["Access-Control-Allow-Origin"] == APP and headers["Access-Control-Allow-Credentials"] == "true"
    assert headers["Cache-Control"] == "no-store" and "Origin" in headers["Vary"]
    stream.close()
    evil = EventStream(svc, cookie=browser.cookie("onebar_session"), origin="http://evil.localhost:5999")
    assert evil.status == 403 and evil.response.getheader("Access-Control-Allow-Origin") is None
    evil.close()


@pytest.mark.parametrize("cookie", [None, "forged.value.here"], ids=["no-cookie", "forged-cookie"])
def test_no_session_no_stream(svc: Service, cookie: str | None) -> None:
    stream = EventStream(svc, cookie=cookie)
    assert stream.status == 401
    stream.close()


def test_a_preflight_from_a_registered_origin_allows_the_site_credential(svc: Service) -> None:
    conn = http.client.HTTPConnection("localhost", svc.events_port, timeout=10)
    conn.request("OPTIONS", "/api/events", headers={"Origin": APP, "Access-Control-Request-Method": "GET",
                                                    "Access-Control-Request-Headers": "authorization"})
    reply = conn.getresponse()
    assert reply.status == 204 and reply.getheader("Access-Control-Allow-Origin") == APP
    assert "Authorization" in reply.getheader("Access-Control-Allow-Headers")
    conn.close()


def test_signing_out_ends_this_browsers_stream_and_no_other(svc: Service) -> None:
    ada, ada_elsewhere = signed_in(svc, "bob@example.com"), signed_in(svc, "bob@example.com")
    mine, other = opened(svc, ada), opened(svc, ada_elsewhere)
    assert ada.post("/api/logout", json_body=b"{}", headers={"Origin": APP}).status == 200
    assert mine.next()["event"] == "session_ended"
    assert mine.next() is None  # the stream ends with the session
    with pytest.raises(TimeoutError):
        other.next(timeout=1.0)  # the other browser's session lives on
    other.close()


@pytest.mark.parametrize("how", ["revoke-all", "disable"])
def test_sign_out_everywhere_and_disabling_end_every_stream_of_the_user(svc: Service, how: str) -> None:
    email = "cy@example.com" if how == "revoke-all" else "dee@example.com"
    browsers = [signed_in(svc, email) for _ in range(2)]
    streams = [opened(svc, b) for b in browsers]
    if how == "revoke-all":
        token = browsers[0].csrf("/account")
        assert browsers[0].post("/account/sessions/revoke-all", data={"csrf_token": token}).status in (302, 303)
    else:
        svc.cli("user", "disable", email)
    for stream in streams:
        assert stream.next()["event"] == "session_ended"
        assert stream.next() is None


def test_a_name_change_reaches_every_stream_of_the_user_and_a_reconnect_replays_it(svc: Service) -> None:
    browser, phone = signed_in(svc, "eve@example.com"), signed_in(svc, "eve@example.com")
    stream = opened(svc, browser)
    asleep = opened(svc, phone)
    asleep.close()  # the phone's tab is hidden: it closes its stream
    token = browser.csrf("/account")
    assert browser.post("/account/profile", data={"csrf_token": token, "name": "Eve Renamed",
                                                  "avatar_url": ""}).status == 303
    event = stream.next()
    assert event["event"] == "profile_changed" and json.loads(event["data"]) == {}  # no user data on the stream
    # The phone comes back with the id it saw last: it is told what it missed.
    again = EventStream(svc, cookie=phone.cookie("onebar_session"), headers={"Last-Event-ID": str(int(event["id"]) - 1)})
    assert again.next()["event"] == "ready"
    assert again.next() == event
    again.close()
    # From the start of the log: only what concerns this browser (the app list,
    # this user's profile), never other users' sign-outs (earlier tests made some).
    everything = EventStream(svc, cookie=phone.cookie("onebar_session"), headers={"Last-Event-ID": "0"})
    assert everything.next()["event"] == "ready"
    replayed = [everything.next(timeout=1.0) for _ in range(2)]
    assert [e["event"] for e in replayed] == ["apps_changed", "profile_changed"]
    with pytest.raises(TimeoutError):
        everything.next(timeout=0.5)


def test_a_session_holds_a_bounded_number_of_streams(svc: Service) -> None:
    browser = signed_in(svc, "fay@example.com")
    streams = [opened(svc, browser) for _ in range(9)]  # one more than a session may hold
    assert streams[0].next() is None  # the oldest was closed for the newest
    for stream in streams[1:]:
        with pytest.raises(TimeoutError):
            stream.next(timeout=0.2)
        stream.close()
    assert json.loads(browser.get("/api/me").body)["user"]["name"] == "Fay"


def test_the_stream_process_stops_with_the_service(tmp_path: Path) -> None:
    with start_service(tmp_path / "svc") as service:
        port = service.events_port
    conn = http.client.HTTPConnection("localhost", port, timeout=2)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
            time.sleep(0.1)
        except OSError:
            return
    pytest.fail("the live stream process outlived onebar serve")


def test_with_redis_an_event_on_one_node_reaches_a_stream_held_by_another_at_once(
        tmp_path: Path, redis_server) -> None:  # type: ignore[no-untyped-def]
    # Two nodes on one store, each with its own stream process; both read the
    # event log only every 60 s, so only a Redis wake-up can deliver in time.
    slow = {"ONEBAR_EVENTS_POLL_MS": "60000", "ONEBAR_REDIS_URL": redis_server.url}
    users = [("ada@example.com", "Ada", PASSWORD)]
    with start_service(tmp_path / "svc", apps=[("notes", "Notes", APP + "/")], users=users, env=slow) as a, \
            start_service(tmp_path / "svc", env=slow) as b:
        browser = signed_in(a, "ada@example.com")
        on_b = opened(b, browser)
        token = browser.csrf("/account")
        assert browser.post("/account/profile", data={"csrf_token": token, "name": "Ada B",
                                                      "avatar_url": ""}).status == 303  # on node A
        assert on_b.next(timeout=5.0)["event"] == "profile_changed"
        onebar(b.data_dir, "user", "disable", "ada@example.com", env=slow)  # the CLI publishes too
        assert on_b.next(timeout=5.0)["event"] == "session_ended"


def test_without_a_wake_up_a_slow_poll_is_what_delivers(tmp_path: Path) -> None:
    # The control for the test above: no Redis, the same 60 s poll, nothing arrives within 5 s.
    users = [("ada@example.com", "Ada", PASSWORD)]
    with start_service(tmp_path / "svc", apps=[("notes", "Notes", APP + "/")], users=users,
                       env={"ONEBAR_EVENTS_POLL_MS": "60000"}) as a:
        browser = signed_in(a, "ada@example.com")
        stream = opened(a, browser)
        token = browser.csrf("/account")
        assert browser.post("/account/profile", data={"csrf_token": token, "name": "Ada B",
                                                      "avatar_url": ""}).status == 303
        with pytest.raises(TimeoutError):
            stream.next(timeout=5.0)


def test_hundreds_of_open_streams_leave_api_me_and_sign_in_answering(svc: Service) -> None:
    from onebar.sessions import SessionCodec
    from onebar.store import SQLiteStore

    from .live import TEST_SECRET_KEYS

    store = SQLiteStore(svc.data_dir / "onebar.sqlite3")
    user = store.get_user_by_email("ada@example.com")
    codec = SessionCodec(TEST_SECRET_KEYS, 3600)
    cookies = [codec.encode(store.create_session(user.id, expires_at=int(time.time()) + 3600), user.id)
               for _ in range(40)]
    store.close()
    sockets = []
    try:
        for i in range(320):  # 8 per session, the most a session may hold
            sock = socket.create_connection(("localhost", svc.events_port), timeout=10)
            sockets.append(sock)
            sock.sendall(f"GET /api/events HTTP/1.1\r\nHost: localhost\r\nCookie: onebar_session={cookies[i // 8]}\r\n\r\n"
                         .encode())
        for sock in sockets:
            seen = b""
            while b"event: ready" not in seen:
                chunk = sock.recv(4096)
                assert chunk, "a stream closed before it was ready"
                seen += chunk
        browser = Browserish(svc.url)
        browser.jar.set_cookie(_cookie("onebar_session", cookies[0]))
        for _ in range(20):
            answer = json.loads(browser.get("/api/me").body)
            assert answer["user"]["email"] == "ada@example.com"
        assert Browserish(svc.url).get("/login").status == 200
        assert signed_in(svc, "ada@example.com").cookie("onebar_session")
    finally:
        for sock in sockets:
            sock.close()


def _cookie(name: str, value: str):  # type: ignore[no-untyped-def]
    import http.cookiejar

    return http.cookiejar.Cookie(0, name, value, None, False, "localhost.local", False, False, "/", True, False,
                                 None, True, None, None, {})


def test_a_closed_stream_is_let_go(tmp_path: Path) -> None:
    with start_service(tmp_path / "svc", apps=[("notes", "Notes", APP + "/")],
                       users=[("ada@example.com", "Ada", PASSWORD)]) as own:
        def held() -> int:
            with urllib.request.urlopen(f"http://localhost:{own.events_port}/healthz", timeout=5) as reply:
                return int(json.load(reply)["streams"])

        browser = signed_in(own, "ada@example.com")
        streams = [opened(own, browser) for _ in range(5)]
        assert held() == 5
        for stream in streams:
            stream.close()  # the tab went away without a word
        deadline = time.monotonic() + 10
        while held() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert held() == 0


def _store_cookie(svc: Service, email: str, expires_in: int) -> str:
    """A session made in the service's own store, as a sign-in makes it, expiring in ``expires_in`` s."""
    from onebar.sessions import SessionCodec
    from onebar.store import SQLiteStore

    from .live import TEST_SECRET_KEYS

    store = SQLiteStore(svc.data_dir / "onebar.sqlite3")
    try:
        user = store.get_user_by_email(email)
        return SessionCodec(TEST_SECRET_KEYS, 3600).encode(
            store.create_session(user.id, expires_at=int(time.time()) + expires_in), user.id)
    finally:
        store.close()


@pytest.mark.parametrize("bad", ["%C2%B2", "-1", "1e3", "9" * 30])
def test_a_last_event_id_that_is_not_plain_digits_is_ignored(svc: Service, bad: str) -> None:
    # "²".isdigit() is true, and int("²") raises: such an id must mean "none", never a 500.
    stream = EventStream(svc, cookie=_store_cookie(svc, "ada@example.com", 600),
                         path=f"/api/events?last_event_id={bad}")
    assert stream.status == 200
    assert stream.next()["event"] == "ready"


def test_a_stream_ends_when_its_session_expires_and_is_refused_after(svc: Service) -> None:
    # Expiry is not an event: the stream ends at the session's expiry time by itself.
    cookie = _store_cookie(svc, "ada@example.com", 3)
    stream = EventStream(svc, cookie=cookie)
    assert stream.status == 200 and stream.next()["event"] == "ready"
    assert stream.next(timeout=10.0) is None
    again = EventStream(svc, cookie=cookie)
    assert again.status == 401  # the bar's reconnect is refused: it asks /api/me and shows signed out


def test_a_reconnect_too_far_behind_is_told_to_start_over_not_replayed(svc: Service) -> None:
    from onebar.store import SQLiteStore

    store = SQLiteStore(svc.data_dir / "onebar.sqlite3")
    user = store.get_user_by_email("ada@example.com")
    first = store.last_event_id() + 1
    for i in range(600):  # more than the stream replays (its hub's page, 500)
        store.update_user(user.id, name=f"Ada {i}")
    target = store.last_event_id()
    store.close()
    cookie = _store_cookie(svc, "ada@example.com", 600)
    deadline = time.monotonic() + 10
    while True:  # until the stream process has read the log that far
        probe = EventStream(svc, cookie=cookie)
        ready = probe.next()
        probe.close()
        if int(ready["id"]) >= target:
            break
        assert time.monotonic() < deadline, "the stream process did not catch up with the log"
        time.sleep(0.2)
    behind = EventStream(svc, cookie=cookie, headers={"Last-Event-ID": str(first)})
    assert behind.next()["event"] == "ready"
    assert behind.next(timeout=2.0)["event"] == "reset"  # ask /api/me, instead of 599 replayed changes


def test_a_redis_that_never_answers_costs_a_write_nothing() -> None:
    # The store calls the publisher in the request's thread after each commit
    # that recorded events; each PUBLISH to this Redis would wait 1 s for its answer.
    from onebar.live import publisher

    listener = socket.create_server(("localhost", 0))  # accepts, never answers
    try:
        publish = publisher(f"redis://localhost:{listener.getsockname()[1]}/0")
        started = time.monotonic()
        for _ in range(5):
            publish()
        assert time.monotonic() - started < 0.5
    finally:
        listener.close()


def test_with_a_public_url_the_stream_answers_only_the_services_own_host_names(tmp_path: Path) -> None:
    # As the service's HostAllowlist: a rebound name (evil.example pointed at
    # the stream's address) gets 400; the stream's own name and port, and
    # /healthz for load balancers, still answer.
    from .live import free_port

    port = free_port()
    with start_service(tmp_path / "svc", port=port, env={"ONEBAR_PUBLIC_URL": f"http://localhost:{port}"}) as svc:

        def ask(path: str, host: str) -> tuple[int, bytes]:
            conn = http.client.HTTPConnection("localhost", svc.events_port, timeout=5)
            try:
                conn.request("GET", path, headers={"Host": host})
                response = conn.getresponse()
                return response.status, response.read()
            finally:
                conn.close()

        assert ask("/api/events", "evil.example") == (400, b"This service does not answer to that host name.\n")
        assert ask("/api/events", f"evil.example:{svc.events_port}")[0] == 400
        own_status, _ = ask("/api/events", f"localhost:{svc.events_port}")
        assert own_status == 401  # its own name gets as far as asking who is there
        assert ask("/healthz", "evil.example")[0] == 200


def test_the_stream_process_logs_lines_as_the_service_does(tmp_path: Path) -> None:
    # Time, logger, level, message (onebar.logs.FORMAT): what an operator greps and the drills
    # count (" ERROR "). A Redis that is not there makes the stream process warn at once.
    nowhere = f"redis://127.0.0.1:{free_port('127.0.0.1')}/0"
    with start_service(tmp_path / "svc", env={"ONEBAR_REDIS_URL": nowhere}) as svc:
        log = svc.data_dir / "service.log"
        deadline = time.monotonic() + 15
        while "Redis wake-ups unavailable" not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.1)
    warned = [line for line in log.read_text(errors="replace").splitlines() if "Redis wake-ups unavailable" in line]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} onebar\.live WARNING Redis wake-ups unavailable, "
                        r"polling the event log meanwhile: .*", warned[0]), warned[0]
