"""The stream app (onebar.live.LiveApp) called in-process through ASGI, for what
takes too long to wait for over a real server: heartbeats (15 s apart in
production, a fraction here) and a client that stops reading."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

from onebar.live import LiveApp, Stream
from onebar.sessions import SessionCodec

from .conftest import APPS
from .live import TEST_SECRET_KEYS


def _cookie(store, settings) -> str:  # type: ignore[no-untyped-def]
    user = store.create_user("ada@example.com", "Ada", "h")
    sid = store.create_session(user.id, expires_at=int(time.time()) + 3600)
    return SessionCodec(TEST_SECRET_KEYS, settings.session_max_age).encode(sid, user.id)


def _run(main: Callable[[], Awaitable[None]]) -> None:
    """``asyncio.run(main())`` on a thread of its own: Playwright's sync API keeps
    an event loop running on the main thread once a browser test has run."""
    failed: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(main())  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - re-raised below, on the test's thread
            failed.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the ASGI call did not finish"
    if failed:
        raise failed[0]


def _scope(cookie: str) -> dict:  # type: ignore[type-arg]
    return {"type": "http", "method": "GET", "path": "/api/events", "query_string": b"",
            "headers": [(b"host", b"localhost:5000"),  # the test settings' public URL: its Host is served
                        (b"cookie", f"onebar_session={cookie}".encode()), (b"origin", APPS[0].origin.encode())]}


def test_an_idle_stream_gets_heartbeats_that_are_comments(store, settings) -> None:  # type: ignore[no-untyped-def]
    app = LiveApp(settings, store)
    app.heartbeat = 0.05
    cookie = _cookie(store, settings)
    sent: list[dict] = []  # type: ignore[type-arg]
    gone = asyncio.Event()

    async def receive() -> dict:  # type: ignore[type-arg]
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:  # type: ignore[type-arg]
        sent.append(message)
        if sum(m.get("body", b"") == b": \n\n" for m in sent) >= 2:
            gone.set()

    async def main() -> None:
        await asyncio.wait_for(app(_scope(cookie), receive, send), 5)

    _run(main)
    assert sent[0]["status"] == 200
    bodies = [m.get("body", b"") for m in sent[1:]]
    assert b"event: ready" in bodies[0]
    assert bodies.count(b": \n\n") >= 2  # an SSE comment: proxies see traffic, the bar sees no event


def test_a_client_that_stops_reading_is_let_go_before_its_frames_pile_up(store, settings) -> None:  # type: ignore[no-untyped-def]
    app = LiveApp(settings, store)
    app.heartbeat = 0.001
    cookie = _cookie(store, settings)
    stuck = asyncio.Event()
    streams: list[Stream] = []

    async def receive() -> dict:  # type: ignore[type-arg]
        await asyncio.Event().wait()  # never disconnects
        return {}

    async def send(message: dict) -> None:  # type: ignore[type-arg]
        if b"event: ready" in message.get("body", b""):
            streams.extend(app.hub.streams)
            stuck.set()
            await asyncio.Event().wait()  # the client reads nothing more: this write never completes

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(app(_scope(cookie), receive, send))
        await asyncio.wait_for(stuck.wait(), 5)
        (stream,) = streams
        deadline = time.monotonic() + 5  # 64 heartbeats' worth, with room for a loaded machine
        while not stream.ended and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert stream.ended, "a stream whose client does not read is ended"
        assert stream.queue.qsize() <= 1  # what waited was dropped; only the end is left
        task.cancel()

    _run(main)
