"""What the web layer shares per app: the collaborators and the current session.

:class:`Service` is built once by :func:`onebar.web.create_app` and kept in
``app.extensions[EXTENSION_KEY]`` (``"onebar.service"``: the client-side
Flask extension of :mod:`onebar.integrations.flask` keeps its own ``"onebar"``).
The helpers below resolve the browser's session
at most once per request and let the response re-issue or clear the cookie.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from flask import Flask, Response, current_app, g, request

from ..exc import StoreBusy, StoreError
from ..mail import Mailer
from ..handoff import SiteCredentials
from ..passwords import HashingPool
from ..ratelimit import Throttle
from ..sessions import SessionCodec
from ..settings import Settings
from ..store import ActiveSession, App, Store
from ..tokens import LinkSigner


#: Where the service keeps its :class:`Service` in ``app.extensions``.
EXTENSION_KEY = "onebar.service"


@dataclass(frozen=True)
class Service:
    """The service's collaborators, shared by every request of one app."""

    settings: Settings
    store: Store
    codec: SessionCodec
    throttle: Throttle
    #: Registered apps, read once at start-up: the app switcher, the CORS
    #: allowlist and the ``next=`` allowlist all come from this one list.
    apps: tuple[App, ...]
    #: Sends mail (reset, verification and invitation links); a no-op when mail is off.
    mailer: Mailer
    #: Signs and checks the links sent by mail.
    links: LinkSigner
    #: Bounds the password hashes running at once in this process.
    hashing: HashingPool = field(default_factory=HashingPool)
    purger: SessionPurger | None = None
    #: Issues and reads the credentials of sites on other domains (onebar.handoff).
    site_credentials: SiteCredentials | None = None
    app_origins: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "app_origins", frozenset(a.origin for a in self.apps))

    def own_origin(self) -> str:
        return self.settings.public_url or f"{request.scheme}://{request.host}"

    def redirect_origins(self) -> frozenset[str]:
        return self.app_origins | {self.own_origin()}

    def mail_origin(self) -> str | None:
        """The origin of links sent by mail: public_url, else this request's
        origin only on loopback (a forged Host header must not send a reset
        link to someone else's server)."""
        if self.settings.public_url:
            return self.settings.public_url
        return self.own_origin() if request.host.rpartition(":")[0] in ("localhost", "127.0.0.1") else None

    def app_for(self, url: str | None) -> str:
        """The id of the registered app ``url`` belongs to, else ''."""
        if not url:
            return ""
        for a in self.apps:
            if url == a.origin or url.startswith(a.origin + "/"):
                return a.id
        return ""


class SessionPurger:
    """Deletes expired and revoked sessions while the service runs, not only at start-up.

    :meth:`maybe` is called after each sign-in and does the work at most once
    per ``interval`` seconds in this process (0: every time); a busy or
    unreachable store only postpones it.
    """

    def __init__(self, store: Store, interval: int) -> None:
        self.store = store
        self.interval = interval
        self._next = 0.0
        self._lock = threading.Lock()

    def maybe(self, now: float) -> int:
        with self._lock:
            if now < self._next:
                return 0
            self._next = now + self.interval
        try:
            return self.store.purge_sessions(before=int(now))
        except StoreError as exc:
            logging.getLogger("onebar").warning("purging dead sessions failed, will retry: %s", exc)
            with self._lock:
                self._next = 0.0
            return 0


def service() -> Service:
    """This app's :class:`Service`."""
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def current_session() -> ActiveSession | None:
    """The signed-in session of this request's browser, or None."""
    if "onebar_active" not in g:
        g.onebar_active = _resolve()
    return g.onebar_active  # type: ignore[no-any-return]


def bearer_credential(authorization: str | None) -> str | None:
    """The value of an ``Authorization: Bearer <value>`` header, else None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def session_of_credential(svc: Service, authorization: str | None, origin: str | None, now: int) -> ActiveSession | None:
    """The live session a site credential names, when it is sent from the origin it
    was issued to and that origin is still registered; None for anything else."""
    if origin is None or origin not in svc.app_origins or svc.site_credentials is None:
        return None
    key = svc.site_credentials.read(bearer_credential(authorization), origin)
    return svc.store.get_active_session_by_key(key, now) if key else None


def _resolve() -> ActiveSession | None:
    svc = service()
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        # A site on another domain speaks with its credential (onebar.handoff);
        # the header decides alone, whatever cookie came along.
        g.onebar_via_credential = True
        return session_of_credential(svc, authorization, request.headers.get("Origin"), int(time.time()))
    raw = request.cookies.get(svc.settings.cookie_name)
    if raw is None:
        return None
    token = svc.codec.decode(raw)
    now = int(time.time())
    active = svc.store.get_active_session(token.sid, now) if token else None
    if token is None or active is None or active.user.id != token.uid:
        g.onebar_cookie = None  # clear the dead cookie on the way out
        return None
    if token.stale or token.age(now) >= svc.settings.session_renew_after:
        try:
            svc.store.extend_session(token.sid, expires_at=now + svc.settings.session_max_age, now=now)
        except StoreBusy:
            return active  # renewing can wait for a later request; knowing the user cannot
        g.onebar_cookie = svc.codec.encode(token.sid, token.uid)
    return active


def start_session(user_id: str) -> None:
    """Sign this browser in with a brand-new session (never reuse an old id)."""
    svc = service()
    old = current_session()
    if old is not None:
        svc.store.revoke_session_key(old.user.id, old.session.key)
    sid = svc.store.create_session(
        user_id,
        expires_at=int(time.time()) + svc.settings.session_max_age,
        user_agent=request.user_agent.string,
        ip=request.remote_addr or "",
        keep=svc.settings.max_sessions,
    )
    g.onebar_cookie = svc.codec.encode(sid, user_id)
    g.onebar_active = None  # the new session counts from the next request
    if svc.purger is not None:
        svc.purger.maybe(time.time())


def end_session() -> None:
    """Revoke this browser's session on the server and clear its cookie.

    From a site on another domain (a credential, no cookie), the session the
    credential came from is revoked: the service's own cookie for it and
    every other site's credential derived from it die with it.
    """
    svc = service()
    if "Authorization" in request.headers:
        active = current_session()
        if active is not None:
            svc.store.revoke_session_key(active.user.id, active.session.key)
        g.onebar_active = None
        return
    raw = request.cookies.get(svc.settings.cookie_name)
    token = svc.codec.decode(raw) if raw else None
    if token is not None:
        svc.store.revoke_session(token.sid)
    g.onebar_active = None
    g.onebar_cookie = None


def write_cookie(response: Response) -> Response:
    """after_request: apply what the request decided about the cookie."""
    if "onebar_cookie" not in g:
        return response
    s = service().settings
    # Secure when configured, and always on an https request (behind a
    # trusted proxy that says https, without public_url set).
    secure = bool(s.cookie_secure) or request.scheme == "https"
    if g.onebar_cookie is None:
        response.delete_cookie(
            s.cookie_name, path="/", domain=s.cookie_domain, secure=secure, httponly=True, samesite="Lax"
        )
    else:
        response.set_cookie(
            s.cookie_name,
            g.onebar_cookie,
            max_age=s.session_max_age,
            path="/",
            domain=s.cookie_domain,
            secure=secure,
            httponly=True,
            samesite="Lax",
        )
    response.vary.add("Cookie")
    return response


def init_app(app: Flask, state: Service) -> None:
    """Keep ``state`` for the app's requests; the app runs :func:`write_cookie` after each."""
    app.extensions[EXTENSION_KEY] = state
