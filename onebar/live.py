"""``GET /api/events``: server-sent events from the service to every open bar.

A small framework-free ASGI app, served by granian (``--interface asgi``) in a
process of its own that ``onebar serve`` starts beside the WSGI workers, on
its own port (``--events-port``). An open stream costs a coroutine and a
socket, not a worker thread, so one process holds thousands of idle tabs
(``python -m bench --only live``, BENCHMARKS.md).

What a stream tells, and nothing more (``/api/me`` already tells the rest):

- ``session_ended``: this browser's session ended (sign-out anywhere,
  revocation, "sign out everywhere", a password change, the account disabled
  or deleted); the stream then ends;
- ``profile_changed``: the user's name, avatar or email changed;
- ``apps_changed``: the list of registered apps changed;
- ``reset``: the stream cannot replay what a reconnecting bar missed (the gap
  is older than the event log): ask ``/api/me`` again.

Every event's ``data`` is ``{}``: the bar re-asks ``/api/me`` and redraws, so
the stream carries no user data at all. A comment line every
:attr:`LiveApp.heartbeat` seconds keeps proxies from closing an idle stream.

The bus is the store's event log (:class:`onebar.store.base.Event`), written
by the store in the transaction that made the change: :class:`Hub` asks
``store.events_after(last_id)`` once per process every :attr:`Hub.interval`
seconds (one query for all its streams) and fans out in process. With
``redis_url`` set, writers also publish a wake-up on :data:`CHANNEL`
(:func:`publisher`), and the hub reads at once instead of at its next tick,
so a change made on node A reaches a stream held by node B without waiting;
polling stays the fallback while Redis is down. ``Last-Event-ID`` (the
header, or ``?last_event_id=`` for a client that cannot set it) replays what
a reconnecting bar missed.

Authentication is ``/api/me``'s: the session cookie (same site), or a site
credential sent as ``Authorization: Bearer`` from the origin it was issued to
(another registrable domain, :mod:`onebar.handoff`; ``fetch`` can send that
header, ``EventSource`` could not). CORS is ``/api/me``'s too: the literal
origins of registered apps (and the service's own), with credentials;
another ``Origin`` gets 403. A dead session gets 401, so the bar re-asks
``/api/me`` and shows the user signed out. A session holds at most
:attr:`LiveApp.per_session` streams: one more closes its oldest (a tab gone
without a word holds one until then).

Run it alone (``onebar serve`` does this for you)::

    ONEBAR_DATA_DIR=/var/lib/onebar granian --interface asgi --factory \\
        --port 5001 onebar.live:live_app
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.http import parse_cookie

from . import logs
from .exc import StoreError
from .handoff import SiteCredentials
from .hosts import HostAllowlist, hosts_of
from .sessions import SessionCodec
from .settings import Settings
from .store import ActiveSession, Event, Store
from .store.base import APPS_CHANGED, PROFILE_CHANGED, SESSION_ENDED
from .store.sql import session_key

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: The Redis pub/sub channel writers publish a wake-up on (the payload is empty).
CHANNEL = "onebar:events"

PATH = "/api/events"

log = logging.getLogger("onebar.live")


def _frame(event: str, event_id: int | None = None, data: str = "{}") -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n".encode()


class Stream:
    """One open ``/api/events`` response: whose session, and what is still to send."""

    __slots__ = ("key", "user_id", "last_id", "queue", "ended")

    def __init__(self, key: str, user_id: str, last_id: int) -> None:
        self.key = key
        self.user_id = user_id
        #: The newest event id this stream has passed on (or skipped as not its own).
        self.last_id = last_id
        #: Frames to send; None ends the stream. Bounded: a client that stops
        #: reading while frames pile up is let go (:meth:`send`).
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(self.backlog + 1)
        self.ended = False

    #: Frames a stream may have waiting before its client counts as gone.
    backlog = 64

    def send(self, frame: bytes) -> None:
        if self.ended:
            return
        if self.queue.qsize() >= self.backlog:  # not reading: drop what waits and end it
            while not self.queue.empty():
                self.queue.get_nowait()
            self.close()
            return
        self.queue.put_nowait(frame)

    def push(self, event: Event) -> None:
        if event.id <= self.last_id or self.ended:
            return
        self.last_id = event.id
        self.send(_frame(event.kind, event.id))
        if event.kind == SESSION_ENDED:
            self.close()

    def close(self) -> None:
        if not self.ended:
            self.ended = True
            self.queue.put_nowait(None)  # the one slot kept free for it


class Hub:
    """Follows the store's event log for one process and hands each event to the streams it concerns.

    :param store: the service's store; read from a thread (its calls block).
    :param interval: seconds between two reads of the log when nothing wakes it.
    """

    interval = 0.25
    page = 500

    def __init__(self, store: Store, *, interval: float | None = None) -> None:
        self.store = store
        if interval is not None:
            self.interval = interval
        self.position = 0
        self.by_session: dict[str, OrderedDict[Stream, None]] = {}
        self.by_user: dict[str, set[Stream]] = {}
        self.streams: set[Stream] = set()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        """Start following the log from its current end (once; later calls do nothing)."""
        if self._task is not None:
            return
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())
        self.position = await asyncio.to_thread(self.store.last_event_id)
        self._ready.set()

    def wake(self) -> None:
        """Read the log now (a Redis wake-up; thread-safe through the loop)."""
        if self._wake is not None:
            self._wake.set()

    def add(self, stream: Stream, limit: int) -> None:
        mine = self.by_session.setdefault(stream.key, OrderedDict())
        while len(mine) >= limit:
            oldest = next(iter(mine))
            self.remove(oldest)
            oldest.close()
        mine[stream] = None
        self.by_user.setdefault(stream.user_id, set()).add(stream)
        self.streams.add(stream)

    def remove(self, stream: Stream) -> None:
        self.streams.discard(stream)
        mine = self.by_session.get(stream.key)
        if mine is not None:
            mine.pop(stream, None)
            if not mine:
                del self.by_session[stream.key]
        users = self.by_user.get(stream.user_id)
        if users is not None:
            users.discard(stream)
            if not users:
                del self.by_user[stream.user_id]

    def dispatch(self, event: Event) -> None:
        if event.kind == SESSION_ENDED:
            targets: Any = list(self.by_session.get(event.session_key or "", ()))
        elif event.kind == PROFILE_CHANGED:
            targets = list(self.by_user.get(event.user_id or "", ()))
        elif event.kind == APPS_CHANGED:
            targets = list(self.streams)
        else:
            return
        for stream in targets:
            stream.push(event)

    async def poll_once(self) -> None:
        while True:
            events = await asyncio.to_thread(self.store.events_after, self.position, self.page)
            for event in events:
                self.dispatch(event)
                self.position = event.id
            if len(events) < self.page:
                return

    async def _run(self) -> None:
        assert self._wake is not None
        await self._ready.wait()  # from the log's end, never from its start
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.poll_once()
            except StoreError as exc:
                log.warning("reading the event log failed, will retry: %s", exc)
                await asyncio.sleep(1.0)
            except Exception:  # noqa: BLE001 - the hub must outlive one bad read
                log.exception("reading the event log failed")
                await asyncio.sleep(1.0)


class LiveApp:
    """The ``/api/events`` ASGI app (see the module docstring).

    :param settings: the service's settings (keys, cookie name, public URL).
    :param store: the service's store, or one opened from the settings.
    """

    #: Seconds between two heartbeat comments on an idle stream.
    heartbeat = 15.0
    #: Streams one session may hold at once; one more closes its oldest.
    per_session = 8
    #: Streams this process holds at most; beyond, 503 (the bar falls back quietly).
    max_streams = 50_000
    #: What a browser waits before reconnecting a stream that dropped (SSE ``retry:``, ms).
    retry_ms = 3000
    #: Seconds a stream stays open at most, and never past its session's expiry:
    #: the bar then reconnects and is checked again, so a session that expired
    #: (not an event), a site credential past its age or a retired key cannot
    #: keep a stream.
    max_lifetime = 3600.0

    def __init__(self, settings: Settings, store: Store | None = None, *, hub: Hub | None = None) -> None:
        if store is None:
            from .store import open_store

            store = open_store(settings)
        self.settings = settings
        self.store = store
        self.hub = hub or Hub(store, interval=settings.events_poll_ms / 1000)
        self.codec = SessionCodec(settings.secret_keys, settings.session_max_age)
        self.credentials = SiteCredentials(settings.secret_keys, settings.session_max_age)
        self.app_origins = frozenset(a.origin for a in store.list_apps())
        self.origins = self.app_origins | ({settings.public_url} if settings.public_url else set())
        # As the service (onebar.web.hosts): with a public URL, only its names,
        # the stream's own URL's and ONEBAR_ALLOWED_HOSTS; /healthz for any.
        self.hosts: frozenset[str] | None = None
        if settings.public_url:
            self.hosts = hosts_of(settings.public_url, settings.allowed_hosts)
            if settings.events_url:
                self.hosts |= hosts_of(settings.events_url)
        self._starting: asyncio.Task[None] | None = None
        self._beat: asyncio.Task[None] | None = None
        self._redis: threading.Thread | None = None

    # -- ASGI -------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return
        await self._start()
        path, method = scope.get("path"), scope.get("method")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        if path == "/healthz" and method == "GET":
            body = json.dumps({"status": "ok", "streams": len(self.hub.streams)}).encode()
            return await _answer(send, 200, body, [("content-type", "application/json"), ("cache-control", "no-store")])
        if self.hosts is not None and headers.get("host", "").lower().rstrip(".") not in self.hosts:
            return await _answer(send, 400, HostAllowlist.body, [("content-type", "text/plain; charset=utf-8"),
                                                                 ("cache-control", "no-store")])
        if path != PATH:
            return await _answer(send, 404, b'{"error":"not found"}', [("content-type", "application/json")])
        origin = headers.get("origin")
        if origin is not None and origin not in self.origins:
            return await _answer(send, 403, b'{"error":"this origin may not follow events"}', _api_headers())
        cors = [("access-control-allow-origin", origin), ("access-control-allow-credentials", "true")] if origin else []
        if method == "OPTIONS":
            return await _answer(send, 204, b"", cors + _api_headers() + [
                ("access-control-allow-methods", "GET"), ("access-control-allow-headers", "Authorization, Last-Event-ID"),
                ("access-control-max-age", "600")])
        if method != "GET":
            return await _answer(send, 405, b'{"error":"GET only"}', cors + _api_headers() + [("allow", "GET, OPTIONS")])
        await self._follow(scope, receive, send, headers, cors)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _start(self) -> None:
        """Start the hub, the heartbeats and the Redis listener once; every caller waits for it."""
        if self._starting is None:
            self._starting = asyncio.get_running_loop().create_task(self._start_once())
        await asyncio.shield(self._starting)

    async def _start_once(self) -> None:
        await self.hub.start()
        self._beat = asyncio.get_running_loop().create_task(self._heartbeats())
        if self.settings.redis_url:
            self._redis = _listen_for_wakeups(self.settings.redis_url, self.hub, asyncio.get_running_loop())

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            for stream in list(self.hub.streams):
                stream.send(b": \n\n")

    # -- one stream -------------------------------------------------------------

    def _who(self, headers: dict[str, str]) -> tuple[str, str | None, Callable[[int], ActiveSession | None]] | None:
        """``(session key, user id or None, check)`` of the browser, without touching the store."""
        authorization = headers.get("authorization")
        if authorization is not None:
            scheme, _, value = authorization.partition(" ")
            origin = headers.get("origin")
            if scheme.lower() != "bearer" or origin not in self.app_origins:
                return None
            key = self.credentials.read(value.strip(), origin)
            if key is None:
                return None
            return key, None, lambda now: self.store.get_active_session_by_key(key, now)
        raw = parse_cookie(headers.get("cookie", "")).get(self.settings.cookie_name)
        token = self.codec.decode(raw) if raw else None
        if token is None:
            return None
        return session_key(token.sid), token.uid, lambda now: self.store.get_active_session(token.sid, now)

    async def _follow(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str],
                      cors: list[tuple[str, str]]) -> None:
        who = self._who(headers)
        if who is None:
            return await _answer(send, 401, b'{"error":"not signed in"}', cors + _api_headers())
        if len(self.hub.streams) >= self.max_streams:
            return await _answer(send, 503, b'{"error":"too many open streams"}',
                                 cors + _api_headers() + [("retry-after", "30")])
        key, uid, check = who
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        last = headers.get("last-event-id") or query.get("last_event_id") or ""
        after = int(last) if re.fullmatch(r"[0-9]{1,18}", last) else None  # ASCII digits only ("²".isdigit())
        # Join the hub first, then check the session: an end recorded after
        # the check reaches this stream, one recorded before fails the check.
        stream = Stream(key, uid or "", self.hub.position)
        self.hub.add(stream, self.per_session)
        watcher: asyncio.Task[None] | None = None
        try:
            try:
                active = await asyncio.to_thread(check, int(time.time()))
            except StoreError:
                return await _answer(send, 503, b'{"error":"the store does not answer"}',
                                     cors + _api_headers() + [("retry-after", "5")])
            if active is None or (uid is not None and active.user.id != uid):
                return await _answer(send, 401, b'{"error":"not signed in"}', cors + _api_headers())
            if uid is None:  # a site credential: the user is known now
                self.hub.remove(stream)
                stream.user_id = active.user.id
                self.hub.add(stream, self.per_session)
            await send({"type": "http.response.start", "status": 200, "headers": _encode(cors + _api_headers() + [
                ("content-type", "text/event-stream"), ("x-accel-buffering", "no")])})
            first = f"retry: {self.retry_ms}\n\n".encode() + _frame("ready", stream.last_id)
            if after is not None and after < stream.last_id:
                first += await self._replay(stream, after)
            await send({"type": "http.response.body", "body": first, "more_body": True})
            watcher = asyncio.get_running_loop().create_task(_until_disconnect(receive, stream))
            ends_at = min(time.time() + self.max_lifetime, active.session.expires_at)
            while True:
                try:
                    frame = await asyncio.wait_for(stream.queue.get(), max(ends_at - time.time(), 0))
                except asyncio.TimeoutError:
                    break  # expired, or open long enough: the bar reconnects and is checked again
                if frame is None:
                    break
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (OSError, RuntimeError, asyncio.CancelledError):
            pass  # the client went away mid-send
        finally:
            self.hub.remove(stream)
            if watcher is not None:
                watcher.cancel()

    async def _replay(self, stream: Stream, after: int) -> bytes:
        """What a reconnecting bar missed between ``after`` and the hub's position, or ``reset``."""
        upto = stream.last_id
        if upto - after > self.hub.page:  # too far behind to replay cheaply: never read a whole log for one tab
            return _frame("reset")
        try:
            events = await asyncio.to_thread(self.store.events_after, after, upto - after)
        except StoreError:
            events = []
        if not events or events[0].id != after + 1:
            return _frame("reset")  # purged, or not readable now: the bar asks /api/me
        out = b""
        for event in events:
            if event.id > upto:
                break
            mine = (event.kind == APPS_CHANGED or (event.kind == SESSION_ENDED and event.session_key == stream.key)
                    or (event.kind == PROFILE_CHANGED and event.user_id == stream.user_id))
            if mine:
                out += _frame(event.kind, event.id)
                if event.kind == SESSION_ENDED:
                    stream.close()
                    break
        return out


async def _until_disconnect(receive: Receive, stream: Stream) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            stream.close()
            return


def _api_headers() -> list[tuple[str, str]]:
    from .web.fastpath import API_HEADERS

    return [(k.lower(), v) for k, v in API_HEADERS]


def _encode(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": _encode(headers + [("content-length", str(len(body)))])})
    await send({"type": "http.response.body", "body": body})


# -- Redis: a wake-up from any node -------------------------------------------------


def _listen_for_wakeups(url: str, hub: Hub, loop: asyncio.AbstractEventLoop) -> threading.Thread:
    """Subscribe to :data:`CHANNEL` in a thread; each message wakes the hub. Reconnects while Redis is down."""
    import redis

    def run() -> None:
        while True:
            try:
                client = redis.Redis.from_url(url, socket_timeout=None, socket_connect_timeout=2)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                loop.call_soon_threadsafe(hub.wake)  # catch up on what passed while away
                for _ in pubsub.listen():
                    loop.call_soon_threadsafe(hub.wake)
            except Exception as exc:  # noqa: BLE001 - polling carries on meanwhile
                log.warning("Redis wake-ups unavailable, polling the event log meanwhile: %s", exc)
                time.sleep(1.0)

    thread = threading.Thread(target=run, name="onebar-live-redis", daemon=True)
    thread.start()
    return thread


def publisher(url: str) -> Callable[[], None]:
    """A function that asks for one wake-up on :data:`CHANNEL` and returns at once.

    The store calls it in the request's thread right after a commit, so it
    never talks to Redis itself: it sets a flag that one background thread per
    process turns into a ``PUBLISH`` (wake-ups asked for meanwhile become one).
    A Redis that is slow or gone costs that thread its timeouts, never a
    sign-out or a profile change its latency; errors are logged, never raised,
    and the hubs poll the log anyway.
    """
    import redis

    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    wanted = threading.Event()
    started: list[threading.Thread] = []
    lock = threading.Lock()

    sending = threading.Lock()

    def send() -> None:
        with sending:
            wanted.clear()
            try:
                client.publish(CHANNEL, b"")
            except Exception as exc:  # noqa: BLE001 - the hub polls anyway
                log.warning("publishing an event wake-up to Redis failed: %s", exc)

    def run() -> None:
        while True:
            wanted.wait()
            send()

    def flush() -> None:  # a short-lived process (the CLI) must not exit with a wake-up unsent or half sent
        with sending:
            pass  # one in flight finishes first
        if wanted.is_set():
            send()

    atexit.register(flush)

    def publish() -> None:
        wanted.set()
        if not (started and started[-1].is_alive()):  # here, in the process that writes (after any fork)
            with lock:
                if not (started and started[-1].is_alive()):
                    thread = threading.Thread(target=run, name="onebar-live-publish", daemon=True)
                    thread.start()
                    started.append(thread)

    return publish


def live_app() -> LiveApp:
    """The events app, built from the environment (a granian factory, like :func:`onebar.serving.service_app`)."""
    import os

    from . import settings as settings_mod
    from .serving import _die_with_parent

    _die_with_parent()
    settings = settings_mod.load()
    os.environ.pop("ONEBAR_SECRET_KEYS", None)
    return LiveApp(settings)


__all__ = ["CHANNEL", "Hub", "LiveApp", "Stream", "live_app", "publisher"]


def main(argv: list[str] | None = None) -> None:
    """``python -m onebar.live --host H --port P``: the events process ``onebar serve`` starts."""
    import argparse

    from .serving import _die_with_parent, run_events

    parser = argparse.ArgumentParser(prog="python -m onebar.live", description="Serve GET /api/events.")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=5001)
    args = parser.parse_args(argv)
    _die_with_parent(always=True)  # a kill -9 of `onebar serve` stops this too
    logging.basicConfig(level=logging.INFO, format=logs.FORMAT)
    run_events(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
