"""``GET /api/me`` answered without Flask, in front of the Flask app.

Every page view of every app asks ``/api/me``, so it is the one request whose
cost sets the fleet's size. Through Flask it paid the framework's floor
(request context, routing, hooks, flask-cors' per-request option handling)
several times over the work itself. :class:`MeHandler` does the same work by
hand, with the same collaborators (:class:`onebar.web.state.Service`: codec,
store, settings, registered apps) and the same JSON (``jsonapi``'s builder):

- the session cookie is checked exactly as ``state.current_session`` does
  (signature, max age, the store's active-session lookup, the user id);
  a dead cookie is cleared, a stale or day-old one re-issued (renewal that
  meets a busy store waits for a later request, as there);
- CORS as flask-cors is configured: ``Access-Control-Allow-Origin`` (the
  request's ``Origin``, matched case-insensitively against the literal
  allowlist) and ``-Allow-Credentials: true``, nothing for other origins;
- the API's fixed headers: nosniff, Referrer-Policy, ``Vary`` (:data:`API_VARY`),
  ``Cache-Control: no-store``.

- a site credential (``Authorization: Bearer``, from a page on another
  registrable domain: :mod:`onebar.handoff`) is read with the very function
  the Flask path uses, ``state.session_of_credential``: bound to the
  ``Origin`` it was issued to, that origin still registered, its service
  session alive. As there, the header decides alone: any cookie that came
  along is neither read nor cleared.

``tests/test_fastpath.py`` checks status, headers and body are identical to
the Flask path's for every kind of request. Anything unusual goes to the Flask
app untouched, so the answer is never wrong, only sometimes slower: another
path or method, a query string, no ``Host`` header, a session cookie that is
not one plain ``name=value`` pair, and any store error (Flask answers 503).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.http import dump_cookie
from werkzeug.sansio.utils import get_host

from ..exc import StoreBusy, StoreError
from .jsonapi import is_cross_site, me_body
from .state import session_of_credential

if TYPE_CHECKING:
    from .state import Service

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

#: The characters of a value itsdangerous signs (URL-safe base64 and dots).
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_\-.]*\Z")

#: What an /api answer depends on: CORS, the cookie, a site credential
#: (onebar.handoff) and whether the page asking is cross-site.
API_VARY = "Origin, Cookie, Authorization, Sec-Fetch-Site"

#: Headers every /api answer carries (onebar.web's security-headers hook).
API_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Vary", API_VARY),
    ("Cache-Control", "no-store"),
]


class MeHandler:
    """WSGI middleware around the service: see the module docstring.

    :param app: the service's Flask WSGI app, for everything else. Put this
        inside any ``ProxyFix``, so scheme and client are the ones Flask sees.
    :param state: the app's collaborators, as ``create_app`` built them.
    """

    path = "/api/me"

    def __init__(self, app: WSGIApp, state: Service) -> None:
        self.app = app
        self.state = state
        s = state.settings
        self.cookie_name = s.cookie_name
        self._prefix = s.cookie_name + "="
        self._origins = {o.casefold() for o in state.app_origins}
        self._secure = bool(s.cookie_secure)
        self._cookie_args = dict(path="/", domain=s.cookie_domain, httponly=True, samesite="Lax")
        # Secure when configured, and always on an https request (state.write_cookie).
        self._clear = {secure: ("Set-Cookie", dump_cookie(s.cookie_name, "", expires=0, max_age=0, secure=secure,
                                                          **self._cookie_args)) for secure in (False, True)}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO") != self.path
            or environ.get("REQUEST_METHOD") != "GET"
            or environ.get("QUERY_STRING")
        ):
            return self.app(environ, start_response)
        authorization = environ.get("HTTP_AUTHORIZATION")
        header = "" if authorization is not None else environ.get("HTTP_COOKIE", "")
        raw: str | None = None
        if self.cookie_name in header:
            found = [p for p in (part.strip() for part in header.split(";")) if p.startswith(self._prefix)]
            if len(found) != 1 or header.count(self.cookie_name) != 1:
                return self.app(environ, start_response)
            raw = found[0][len(self._prefix):]
            if not _PLAIN_VALUE.match(raw):
                return self.app(environ, start_response)
        scheme = environ.get("wsgi.url_scheme", "http")
        base = self.state.settings.public_url
        if base is None:
            host = environ.get("HTTP_HOST")
            if not host:
                return self.app(environ, start_response)
            base = f"{scheme}://{get_host(scheme, host)}"
        try:
            if authorization is not None:
                active = session_of_credential(self.state, authorization, environ.get("HTTP_ORIGIN"),
                                               int(time.time()))
                user, cookie = (active.user if active is not None else None), None
            else:
                user, cookie = self._user(raw, self._secure or scheme == "https")
        except StoreError:
            return self.app(environ, start_response)  # Flask answers it: 503 with Retry-After
        cross = is_cross_site(environ.get("HTTP_SEC_FETCH_SITE"), environ.get("HTTP_ORIGIN"), base)
        body = me_body(user, self.state.apps, base, cross, self.state.settings.events_url).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        origin = environ.get("HTTP_ORIGIN")
        if origin and origin.casefold() in self._origins:
            headers += [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Credentials", "true")]
        headers += API_HEADERS
        if cookie is not None:
            headers.append(cookie)
        start_response("200 OK", headers)
        return [body]

    def _user(self, raw: str | None, secure: bool) -> tuple[Any, tuple[str, str] | None]:
        """The signed-in user (or None) and a Set-Cookie header to send (or None)."""
        if raw is None:
            return None, None
        svc = self.state
        token = svc.codec.decode(raw)
        now = int(time.time())
        active = svc.store.get_active_session(token.sid, now) if token else None
        if token is None or active is None or active.user.id != token.uid:
            return None, self._clear[secure]
        if token.stale or token.age(now) >= svc.settings.session_renew_after:
            max_age = svc.settings.session_max_age
            try:
                svc.store.extend_session(token.sid, expires_at=now + max_age, now=now)
            except StoreBusy:
                return active.user, None
            value = svc.codec.encode(token.sid, token.uid)
            return active.user, ("Set-Cookie", dump_cookie(self.cookie_name, value, max_age=max_age, secure=secure,
                                                           **self._cookie_args))
        return active.user, None
