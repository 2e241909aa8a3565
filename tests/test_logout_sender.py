"""The logout sender: follows a real store's event log and POSTs to real loopback servers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from onebar.backchannel import InvalidLogoutToken, LogoutTokens, logout_sid
from onebar.logout_sender import LogoutSender
from onebar.store import App
from onebar.store.sql import SQLStore
from onebar.store.sql import session_key

from .conftest import BACKENDS, open_test_store

SECRETS = {"tasks": "tasks-secret-0123456789abcdef0123456789", "notes": "notes-secret-0123456789abcdef0123456789"}


@dataclass
class Receiver:
    """A loopback app server's back-channel: answers ``statuses`` in turn (then 200), records tokens."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    location: str = ""
    tokens: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[tuple[ThreadingHTTPServer, threading.Thread]] = []
    found: list[Receiver] = []

    def make() -> Receiver:
        state = Receiver()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                state.paths.append(self.path)
                state.tokens.extend(parse_qs(body.decode())["logout_token"])
                status = state.statuses.pop(0) if state.statuses else 200
                self.send_response(status)
                if state.location:
                    self.send_header("Location", state.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("localhost", 0), Handler)
        server.daemon_threads = True
        state.url = f"http://localhost:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        thread.start()
        made.append((server, thread))
        found.append(state)
        return state

    make()
    make()
    try:
        yield found
    finally:
        for server, thread in made:
            server.shutdown()
            server.server_close()
            thread.join(5)


@pytest.fixture(params=BACKENDS)
def store(request, settings):  # type: ignore[no-untyped-def]
    """The service's store on each backend (the events table and the apps' back-channels)."""
    s = open_test_store(request.param, settings, request)
    yield s
    s.close()


def register(store: SQLStore, app_id: str, receiver: Receiver) -> None:
    store.add_app(App(app_id, app_id.title(), receiver.url + "/"))
    store.set_backchannel(app_id, receiver.url + "/.onebar/backchannel", SECRETS[app_id])


def run_until(sender: LogoutSender, done, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the sender did not get there in time"
        sender.step()
        time.sleep(0.01)


def fast(sender: LogoutSender) -> LogoutSender:
    sender.first_retry = 0.02
    sender.max_retry = 0.05
    return sender


def test_each_app_gets_a_token_for_each_ended_session_signed_with_its_own_secret(store, receivers) -> None:  # type: ignore[no-untyped-def]
    tasks, notes = receivers
    register(store, "tasks", tasks)
    register(store, "notes", notes)
    user = store.create_user("ada@example.com", "Ada", "x")
    sid = store.create_session(user.id, expires_at=int(time.time()) + 60)
    sender = LogoutSender(store, "http://localhost:8000")
    sender.step()  # caught up with the log: nothing has ended yet
    assert tasks.tokens == notes.tokens == []
    assert store.revoke_session(sid)
    run_until(sender, lambda: tasks.tokens and notes.tokens and not sender.busy())
    (token,) = tasks.tokens
    claims = LogoutTokens(SECRETS["tasks"]).read(token, tasks.url)
    assert (claims.sub, claims.sid, claims.iss) == (user.id, logout_sid(session_key(sid)), "http://localhost:8000")
    assert tasks.paths == ["/.onebar/backchannel"]
    with pytest.raises(InvalidLogoutToken):  # no key shared between apps
        LogoutTokens(SECRETS["notes"]).read(token, tasks.url)
    with pytest.raises(InvalidLogoutToken, match="another app"):
        LogoutTokens(SECRETS["notes"]).read(notes.tokens[0], tasks.url)


def test_every_session_a_disable_ends_is_announced(store, receivers) -> None:  # type: ignore[no-untyped-def]
    tasks = receivers[0]
    register(store, "tasks", tasks)
    user = store.create_user("ada@example.com", "Ada", "x")
    sids = [store.create_session(user.id, expires_at=int(time.time()) + 60) for _ in range(3)]
    sender = LogoutSender(store, "http://localhost:8000")
    sender.step()
    store.set_disabled(user.id, True)
    run_until(sender, lambda: len(tasks.tokens) == 3 and not sender.busy())
    read = LogoutTokens(SECRETS["tasks"])
    assert {read.read(t, tasks.url).sid for t in tasks.tokens} == {logout_sid(session_key(s)) for s in sids}


def test_a_failing_app_is_retried_with_a_fresh_token_until_it_answers(store, receivers) -> None:  # type: ignore[no-untyped-def]
    tasks = receivers[0]
    tasks.statuses = [500, 503]
    register(store, "tasks", tasks)
    user = store.create_user("ada@example.com", "Ada", "x")
    sid = store.create_session(user.id, expires_at=int(time.time()) + 60)
    sender = fast(LogoutSender(store, "http://localhost:8000"))
    sender.step()
    store.revoke_session(sid)
    run_until(sender, lambda: sender.delivered == 1)
    assert len(tasks.tokens) == 3 and len(set(tasks.tokens)) == 3  # each attempt its own jti
    assert not sender.busy()


def test_a_redirect_is_never_followed_and_the_sender_gives_up_in_bounded_time(store, receivers, caplog) -> None:  # type: ignore[no-untyped-def]
    tasks, elsewhere = receivers
    tasks.statuses = [307] * 1000
    tasks.location = elsewhere.url + "/steal"
    register(store, "tasks", tasks)
    user = store.create_user("ada@example.com", "Ada", "x")
    sid = store.create_session(user.id, expires_at=int(time.time()) + 60)
    sender = fast(LogoutSender(store, "http://localhost:8000"))
    sender.give_up_after = 0.3
    sender.step()
    store.revoke_session(sid)
    with caplog.at_level(logging.ERROR, logger="onebar.logout_sender"):
        run_until(sender, lambda: not sender.busy() and tasks.tokens)
    assert elsewhere.tokens == []
    assert sender.delivered == 0
    assert "gave up telling tasks" in caplog.text and "HTTP 307" in caplog.text
    assert not any(t in caplog.text for t in tasks.tokens) and SECRETS["tasks"] not in caplog.text


def test_an_app_that_is_down_is_given_up_on_in_bounded_time(store, receivers, caplog) -> None:  # type: ignore[no-untyped-def]
    from tests.live import free_port

    store.add_app(App("tasks", "Tasks", f"http://localhost:{free_port()}/"))
    url = store.list_apps()[0].url.rstrip("/")
    store.set_backchannel("tasks", url + "/.onebar/backchannel", SECRETS["tasks"])
    user = store.create_user("ada@example.com", "Ada", "x")
    sid = store.create_session(user.id, expires_at=int(time.time()) + 60)
    sender = fast(LogoutSender(store, "http://localhost:8000"))
    sender.give_up_after = 0.3
    sender.step()
    store.revoke_session(sid)
    with caplog.at_level(logging.WARNING, logger="onebar.logout_sender"):
        run_until(sender, lambda: "gave up" in caplog.text)
    assert "ConnectionRefusedError" in caplog.text
    assert not sender.busy()


def test_a_restarted_sender_repeats_the_last_minute_and_nothing_older(store, receivers) -> None:  # type: ignore[no-untyped-def]
    tasks = receivers[0]
    register(store, "tasks", tasks)
    user = store.create_user("ada@example.com", "Ada", "x")
    old, recent = (store.create_session(user.id, expires_at=int(time.time()) + 600) for _ in range(2))
    store.revoke_session(old)
    with store._db(write=True) as db:  # that sign-out was ten minutes ago
        db.execute("UPDATE events SET at = at - 600")
    store.revoke_session(recent)   # ...and this one while no sender ran
    sender = LogoutSender(store, "http://localhost:8000")
    run_until(sender, lambda: tasks.tokens and not sender.busy())
    (token,) = tasks.tokens
    assert LogoutTokens(SECRETS["tasks"]).read(token, tasks.url).sid == logout_sid(session_key(recent))


def test_onebar_serve_with_two_workers_sends_each_notice_once(tmp_path: Path, receivers) -> None:  # type: ignore[no-untyped-def]
    """One sender per node, not one per worker: each ended session reaches the app once."""
    from tests.live import start_service

    tasks = receivers[0]
    ada = ("ada@example.com", "Ada Lovelace", "lovelace1815")
    with start_service(tmp_path / "svc", users=[ada], workers=2, apps=[("tasks", "Tasks", tasks.url + "/")]) as svc:
        added = svc.cli("app", "backchannel", "tasks", "--url", tasks.url + "/.onebar/backchannel")
        secret = added.stdout.strip()
        from tests.httpclient import Browserish

        browser = Browserish(svc.url)
        assert browser.login(ada[0], ada[2]).status == 303
        svc.cli("user", "revoke", ada[0])
        deadline = time.monotonic() + 15
        while not tasks.tokens:
            assert time.monotonic() < deadline, "the service never notified the app"
            time.sleep(0.05)
        time.sleep(1.0)  # five more polls of the log by any sender there might be
    assert len(tasks.tokens) == 1
    claims = LogoutTokens(secret).read(tasks.tokens[0], tasks.url)
    assert claims.iss == svc.url


def test_an_app_that_answers_a_byte_at_a_time_holds_a_post_no_longer_than_the_timeout(store) -> None:  # type: ignore[no-untyped-def]
    import socket

    listener = socket.create_server(("localhost", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def trickle() -> None:  # reads the request, then "answers" one byte every 0.3 s, for ever
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                if stop.wait(0.3):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        store.add_app(App("tasks", "Tasks", f"http://localhost:{port}/"))
        store.set_backchannel("tasks", f"http://localhost:{port}/.onebar/backchannel", SECRETS["tasks"])
        sender = LogoutSender(store, "http://localhost:8000")
        sender.timeout = 1.0
        (app,) = store.list_backchannels()
        from onebar.logout_sender import Delivery

        started = time.monotonic()
        error = sender._post(Delivery(app=app, user_id="u_ada", sid=None, first_at=started, due_at=started))
        took = time.monotonic() - started
        # Each read gets a byte within 0.3 s, so only a deadline for the whole POST stops it.
        assert error == "no answer within 1s"
        assert took < 5, f"a trickling app held the sender {took:.1f}s"
    finally:
        stop.set()
        listener.close()
        thread.join(5)
