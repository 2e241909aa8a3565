"""The service's side of back-channel logout: follow the event log, POST logout tokens to app servers.

Every way a session ends (sign-out, revoke, "sign out everywhere", a password
change or reset, ``onebar user disable/remove/revoke/passwd``) writes a
``session_ended`` event in the same transaction (:meth:`Store.events_after`).
:class:`LogoutSender` reads that log and, for each ended session and each app
registered with a back-channel (``onebar app add --backchannel-url``), POSTs
``logout_token=…`` (:mod:`onebar.backchannel`, signed with that app's own
secret, ``aud`` = its origin) to the app's back-channel URL.

One sender per node: ``onebar serve`` starts it as one child process beside
the granian workers (``python -m onebar.logout_sender``), never one per worker.
With several nodes each node's sender sends every event: an app gets a token
per node, which is harmless (each token has its own ``jti``, and dropping a
user from a cache twice is the same as once). Nothing is lost while a sender
runs; at start it reads the last :attr:`replay` seconds of the log again, so a
restart loses no notice an app's cache could still need (an app's cache keeps
an answer for 5 seconds; events themselves are kept an hour).

Sending: a fresh token per attempt (two minutes' lifetime), ``timeout`` seconds
per POST, redirects never followed, no proxy, and only to a URL on the app's
registered origin (checked when it is registered and again before each POST).
Anything but a 2xx is retried with doubling back-off (0.5 s … 30 s) for up to
``give_up_after`` seconds, then logged as given up. Tokens and secrets are
never logged.

Run by hand (``onebar serve`` does it for you)::

    ONEBAR_DATA_DIR=/var/lib/onebar python -m onebar.logout_sender
"""

from __future__ import annotations

import http.client
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from .backchannel import LogoutTokens, logout_sid
from .integrations.meclient import connect
from .store.base import SESSION_ENDED, Backchannel, Store, normalize_origin

__all__ = ["LogoutSender", "main"]

log = logging.getLogger("onebar.logout_sender")


@dataclass
class Delivery:
    """One logout token still to deliver to one app."""

    app: Backchannel
    user_id: str
    sid: str | None
    first_at: float
    due_at: float
    attempts: int = 0
    last_error: str = field(default="")


class LogoutSender:
    """Follow the event log and notify app servers; see the module docstring.

    :param store: the service's store (read only: :meth:`Store.events_after`,
        :meth:`Store.list_backchannels`).
    :param issuer: the service's public URL (the tokens' ``iss``).
    :param clock: Unix seconds.
    """

    poll_interval = 0.2
    timeout = 2.0
    give_up_after = 300.0
    first_retry = 0.5
    max_retry = 30.0
    #: Seconds of the log read again at start (a restart loses nothing recent).
    replay = 60
    #: Deliveries waiting at most; past it the oldest are dropped (and logged).
    max_pending = 10_000
    workers = 4
    user_agent = "onebar-backchannel"

    def __init__(self, store: Store, issuer: str, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self.issuer = issuer
        self._clock = clock
        self._cursor: int | None = None
        self._pending: list[Delivery] = []
        self._inflight: dict[Future[str | None], Delivery] = {}
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="onebar-backchannel")
        #: Deliveries that were answered 2xx (tests and logs read it).
        self.delivered = 0

    # -- the loop ---------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Poll and send until ``stop`` is set; a failing store is logged and retried."""
        while not stop.is_set():
            try:
                self.step()
            except Exception:  # noqa: BLE001 - the sender must outlive a store that blinks
                log.exception("onebar: reading the event log failed; trying again")
                stop.wait(1.0)
            stop.wait(self.poll_interval)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def step(self) -> None:
        """Harvest finished POSTs, read new events, send what is due."""
        self._harvest()
        self._read_log()
        self._send_due()

    def busy(self) -> bool:
        return bool(self._pending or self._inflight)

    # -- reading the log ------------------------------------------------------------

    def _start_cursor(self) -> int:
        last = self._store.last_event_id()
        # Ids grow in commit order and about one per ended session; look back
        # far enough to cover the replay window, then skip by time.
        return max(0, last - 2000)

    def _read_log(self) -> None:
        if self._cursor is None:
            self._cursor = self._start_cursor()
            oldest = self._clock() - self.replay
        else:
            oldest = None
        while True:
            events = self._store.events_after(self._cursor, 500)
            if not events:
                return
            ended = [e for e in events if e.kind == SESSION_ENDED and e.user_id
                     and (oldest is None or e.at >= oldest)]
            apps = self._store.list_backchannels() if ended else []
            now = self._clock()
            for event in ended:
                sid = logout_sid(event.session_key) if event.session_key else None
                for app in apps:
                    self._queue(Delivery(app, event.user_id or "", sid, first_at=now, due_at=now))
            self._cursor = events[-1].id
            if len(events) < 500:
                return

    def _queue(self, delivery: Delivery) -> None:
        if len(self._pending) >= self.max_pending:
            dropped = self._pending.pop(0)
            log.error("onebar: too many back-channel deliveries waiting; gave up one for %s (%s)",
                      dropped.app.app_id, dropped.app.url)
        self._pending.append(delivery)

    # -- sending ------------------------------------------------------------------------

    def _send_due(self) -> None:
        now = self._clock()
        due = [d for d in self._pending if d.due_at <= now]
        if not due:
            return
        self._pending = [d for d in self._pending if d.due_at > now]
        for delivery in due:
            delivery.attempts += 1
            self._inflight[self._pool.submit(self._post, delivery)] = delivery

    def _harvest(self) -> None:
        for future in [f for f in self._inflight if f.done()]:
            delivery = self._inflight.pop(future)
            error = future.result() if future.exception() is None else repr(future.exception())
            if error is None:
                self.delivered += 1
                continue
            delivery.last_error = error
            now = self._clock()
            if now - delivery.first_at >= self.give_up_after:
                log.error("onebar: gave up telling %s (%s) that a session of user %s ended, after %d tries "
                          "over %.0fs; last: %s", delivery.app.app_id, delivery.app.url, delivery.user_id,
                          delivery.attempts, now - delivery.first_at, error)
                continue
            if delivery.attempts == 1:
                log.warning("onebar: the back-channel of %s (%s) failed (%s); retrying", delivery.app.app_id,
                            delivery.app.url, error)
            delivery.due_at = now + min(self.first_retry * 2 ** (delivery.attempts - 1), self.max_retry)
            self._queue(delivery)

    def _post(self, delivery: Delivery) -> str | None:
        """POST one fresh token; None when the app answered 2xx, else what went wrong."""
        app = delivery.app
        parts = urlsplit(app.url)
        try:
            if normalize_origin(app.url) != app.origin:
                return "not on the app's registered origin: not sent"
        except Exception:  # noqa: BLE001 - a bad URL in the store is refused, never followed
            return "not a usable URL: not sent"
        token = LogoutTokens(app.secret, clock=self._clock).issue(
            issuer=self.issuer, audience=app.origin, user_id=delivery.user_id, sid=delivery.sid)
        body = urlencode({"logout_token": token}).encode()
        conn = connect(parts, self.timeout)
        # The socket's timeout bounds each read; this bounds the whole POST, so
        # an app that answers a byte at a time cannot hold a sender thread.
        cut = threading.Event()
        watchdog = threading.Timer(self.timeout, _cut, (conn, cut))
        watchdog.daemon = True
        watchdog.start()
        try:
            conn.request("POST", parts.path or "/", body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
                "User-Agent": self.user_agent, "Cache-Control": "no-store"})
            response = conn.getresponse()
            response.read(4096)
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            if cut.is_set():
                return f"no answer within {self.timeout:g}s"
            return f"{type(exc).__name__}: {exc}"
        finally:
            watchdog.cancel()
            conn.close()
        return None if 200 <= status < 300 else f"HTTP {status}"  # a 3xx is never followed


def _cut(conn: http.client.HTTPConnection, cut: threading.Event) -> None:
    """End a POST that ran out of time: its next read ends at once."""
    cut.set()
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed


def _die_with_parent() -> None:
    """Linux: stop when ``onebar serve`` dies, even by SIGKILL (as its workers do)."""
    if not sys.platform.startswith("linux") or os.getppid() == 1:
        return
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def main() -> None:
    """``python -m onebar.logout_sender``: the node's sender, configured like ``onebar serve`` (``ONEBAR_*``)."""
    from . import logs
    from . import settings as settings_mod
    from .store import open_store

    if os.environ.get("ONEBAR_SENDER_PARENT") == str(os.getppid()):
        _die_with_parent()
    logging.basicConfig(level=logging.INFO, format=logs.FORMAT)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())  # Ctrl-C reaches the whole group: stop with it
    settings = settings_mod.load()
    os.environ.pop("ONEBAR_SECRET_KEYS", None)  # not needed here: each app's secret is in the store
    store = open_store(settings, upgrade=False)
    issuer = settings.public_url or os.environ.get("ONEBAR_SENDER_ISSUER", "")
    try:
        LogoutSender(store, issuer).run(stop)
    finally:
        store.close()


if __name__ == "__main__":
    main()
