"""``/.onebar/backchannel``: the service tells this app's server that a session ended.

The service POSTs an OpenID Connect Back-Channel Logout-style token
(:mod:`onebar.backchannel`) here, form-encoded as ``logout_token=…``, when a
user signs out anywhere, is signed out everywhere, changes their password, or
is revoked, disabled or removed by an operator. The middleware then

1. checks the token: signed with this app's back-channel secret, issued for
   this app's origin, not expired, not seen before (its ``jti``);
2. forgets the user's cached answers at once, so their very next request asks
   the service again instead of trusting a cache entry for up to ``cache_ttl``;
3. calls the ``user_signed_out`` listeners (the Flask and Django signals sit on
   them), so the app can drop its own caches or close websockets;

and answers ``200``, or ``400`` with ``{"error": "invalid_request", ...}`` for a
token it refuses (OIDC's answers). Nothing here raises into the server.

Enabled by the ``BACKCHANNEL_SECRET`` setting (the secret ``onebar app add
--backchannel-url`` printed for this app); without it the path is the app's own.

SECURITY: the secret lets its holder do what the service does here: sign this
app's users out of its cache. It cannot sign anyone in. The origin the token
must be issued for is ``SITE_URL`` when set, else the origin the request was
addressed to (the service sends it to the registered back-channel URL only,
and the secret is this app's alone, so a token for another app fails its
signature first). Replays are refused per process; a replay into another
worker process within the token's two minutes only repeats a sign-out.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from ..backchannel import InvalidLogoutToken, LogoutToken, LogoutTokens

__all__ = ["BACKCHANNEL_PATH", "BackchannelReceiver", "SignedOut"]

log = logging.getLogger("onebar.integrations")

BACKCHANNEL_PATH = "/.onebar/backchannel"

#: (status, headers, body), as :mod:`onebar.integrations.handoff` answers.
Response = tuple[str, list[tuple[str, str]], bytes]


@dataclass(frozen=True, slots=True)
class SignedOut:
    """What ``user_signed_out`` listeners receive."""

    #: The user's Onebar id.
    user_id: str
    #: :func:`onebar.backchannel.logout_sid` of the session that ended
    #: (``Identity.session_id(environ)`` gives it for a request); None: all of them.
    session_id: str | None


class BackchannelReceiver:
    """Answers :data:`BACKCHANNEL_PATH`; see the module docstring.

    :param secret: this app's back-channel secret.
    :param audience: this app's origin as registered; None: the request's.
    :param forget: drops a user's cached answers.
    :param listeners: called with a :class:`SignedOut` after ``forget``; the
        list is read on each call, so listeners can be added later.
    :param clock: Unix seconds.
    """

    #: The form is one ~500-byte token; more is not the service.
    max_body = 8192
    #: Token ids remembered against replay (a token lives two minutes).
    seen_size = 10_000

    def __init__(self, secret: str, *, audience: str | None, origin: Callable[[Mapping[str, Any]], str],
                 forget: Callable[[str], None], listeners: list[Callable[[SignedOut], None]],
                 clock: Callable[[], float] = time.time) -> None:
        self._tokens = LogoutTokens(secret, clock=clock)
        self._audience = audience
        self._origin = origin
        self._forget = forget
        self._listeners = listeners
        self._clock = clock
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def answer(self, environ: Mapping[str, Any]) -> Response | None:
        """The response for :data:`BACKCHANNEL_PATH`, else None (the app answers)."""
        if environ.get("PATH_INFO") != BACKCHANNEL_PATH:
            return None
        if environ.get("REQUEST_METHOD") != "POST":
            return _reply("405 Method Not Allowed", {"error": "invalid_request",
                                                     "error_description": "POST a logout_token"}, [("Allow", "POST")])
        try:
            token = self._read(environ)
        except InvalidLogoutToken as exc:
            log.warning("onebar: refused a back-channel logout token: %s", exc)
            return _reply("400 Bad Request", {"error": "invalid_request", "error_description": str(exc)})
        self._forget(token.sub)
        event = SignedOut(user_id=token.sub, session_id=token.sid)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - one app's listener must not make the service retry forever
                log.exception("onebar: a user_signed_out listener failed")
        return _reply("200 OK", None)

    def _read(self, environ: Mapping[str, Any]) -> LogoutToken:
        if not str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
            raise InvalidLogoutToken("not a form (application/x-www-form-urlencoded)")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise InvalidLogoutToken("bad Content-Length") from None
        if not 0 < length <= self.max_body:
            raise InvalidLogoutToken("no body, or too large")
        try:
            body = environ["wsgi.input"].read(length)
            form = parse_qs(body.decode("ascii"), strict_parsing=True)
        except Exception:  # noqa: BLE001 - a broken body is a bad request, never a 500
            raise InvalidLogoutToken("not a form") from None
        values = form.get("logout_token") or []
        if len(values) != 1:
            raise InvalidLogoutToken("one logout_token is needed")
        audience = self._audience or self._origin(environ)
        token = self._tokens.read(values[0], audience)
        with self._lock:
            now = int(self._clock())
            while self._seen and (len(self._seen) >= self.seen_size or next(iter(self._seen.values())) < now - 300):
                self._seen.popitem(last=False)
            if token.jti in self._seen:
                raise InvalidLogoutToken("replayed (this jti was seen)")
            self._seen[token.jti] = token.exp
        return token


def _reply(status: str, doc: dict[str, str] | None, extra: list[tuple[str, str]] | None = None) -> Response:
    body = b"" if doc is None else json.dumps(doc).encode()
    headers = [("Cache-Control", "no-store"), ("Content-Type", "application/json")] + (extra or [])
    return status, headers, body
