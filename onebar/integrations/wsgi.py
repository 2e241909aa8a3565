"""Who is this browser, according to Onebar? A WSGI middleware that answers.

:class:`OnebarMiddleware` wraps any WSGI app and, before the app runs, puts the
signed-in Onebar user (an :class:`OnebarUser`) or ``None`` in
``environ["onebar.user"]``. It never answers a request itself and never fails
one: no cookie, a forged, expired or revoked one, or an identity service that
is down or slow all mean "signed out" for that request.

Example, runnable as it is (any WSGI server works the same way)::

    from wsgiref.simple_server import make_server

    from onebar.integrations.wsgi import OnebarMiddleware

    def hello(environ, start_response):
        user = environ["onebar.user"]
        text = f"Hello, {user.name}!" if user else "Hello! You are not signed in."
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        return [text.encode()]

    app = OnebarMiddleware(hello, service_url="http://localhost:8000")
    make_server("localhost", 8080, app).serve_forever()

Two ways to verify a cookie
---------------------------
*Remote* (the default, :class:`RemoteVerifier`): ask the service's
``GET /api/me`` with the visitor's Onebar cookie, and nothing else, forwarded.
The app holds no secret. Each answer is cached for ``cache_ttl`` seconds under
a hash of the cookie; a question the service does not answer within
``timeout`` means "signed out", and for ``retry_after`` seconds afterwards the
middleware does not ask again, so a dead service costs nobody a wait.

*Local* (:class:`LocalVerifier`), for apps run by the service's own operator:
check the cookie's signature here with the service's secret keys, then confirm
in the service's store (or by asking the service) that its session is still
active. Only valid signatures reach the store, so forged cookies cost nothing::

    from onebar.store import SQLiteStore
    from onebar.integrations.wsgi import LocalVerifier, OnebarMiddleware

    app = OnebarMiddleware(hello, service_url="http://localhost:8000", verifier=LocalVerifier(
        secret_keys=["...the service's keys, oldest first..."],
        store=SQLiteStore("/var/lib/onebar/onebar.sqlite3"),
    ))

In both modes a sign-out anywhere reaches the app within ``cache_ttl``
seconds (5 by default): the cache window is the price of not asking on every
request. Set it to 0 to ask every time.

The cookie has to reach the app
-------------------------------
Browsers send the service's cookie (``onebar_session``, host-only by default)
to every port of the service's host, so apps on ``localhost:*`` next to a
service on ``localhost`` see it. Apps on sibling hosts see it once the
service sets ``ONEBAR_COOKIE_DOMAIN=.example.com`` for
``id.example.com``, ``notes.example.com``… An app on another registrable
domain never sees it: it gets ``None`` here and relies on the bar.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import re
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode, urlsplit

from ..exc import ConfigError
from ..sessions import MAX_COOKIE_LENGTH, SessionCodec

if TYPE_CHECKING:
    from ..store import Store

__all__ = [
    "ENVIRON_KEY",
    "Identity",
    "LocalVerifier",
    "OnebarMiddleware",
    "OnebarUser",
    "RemoteVerifier",
    "Verifier",
    "cookie_value",
    "wants_json",
]

#: Where the middleware puts the user (or None) in the WSGI environ.
ENVIRON_KEY = "onebar.user"

#: The service's default cookie name (its ``cookie_name`` setting).
DEFAULT_COOKIE_NAME = "onebar_session"

log = logging.getLogger("onebar.integrations")

# What an itsdangerous URL-safe signed value looks like: payload.timestamp.signature
# in base64url, the payload prefixed with "." when compressed. Anything else is
# not a session cookie, and is never sent anywhere.
_SIGNED_VALUE = re.compile(r"\.?[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@dataclass(frozen=True, slots=True)
class OnebarUser:
    """The signed-in user, as ``GET /api/me`` describes them."""

    id: str
    name: str
    email: str
    initials: str
    avatar_url: str | None = None

    @classmethod
    def from_json(cls, data: object) -> OnebarUser | None:
        """The user of an ``/api/me`` document's ``user`` member; None if malformed."""
        if not isinstance(data, dict):
            return None
        fields = [data.get(k) for k in ("id", "name", "email")]
        if not all(isinstance(v, str) and v for v in fields):
            return None
        initials, avatar = data.get("initials"), data.get("avatar_url")
        return cls(
            id=data["id"],
            name=data["name"],
            email=data["email"],
            initials=initials if isinstance(initials, str) and initials else data["name"][:1].upper(),
            avatar_url=avatar if isinstance(avatar, str) and avatar else None,
        )

    @classmethod
    def from_record(cls, user: Any) -> OnebarUser:
        """From the store's :class:`onebar.store.User`."""
        return cls(id=user.id, name=user.name, email=user.email, initials=user.initials,
                   avatar_url=user.avatar_url or None)


class Verifier(Protocol):
    """Turns a cookie value into the user it belongs to, or None. Never raises."""

    def verify(self, cookie: str) -> OnebarUser | None: ...


def cookie_value(header: str, name: str) -> str | None:
    """The first cookie called ``name`` in a ``Cookie`` header, or None."""
    for part in header.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value
    return None


def wants_json(environ: Mapping[str, Any]) -> bool:
    """Whether the client is a script, not a person at a page: ``fetch()`` or
    ``XMLHttpRequest`` (``Sec-Fetch-Dest: empty``), or an ``Accept`` header that
    names JSON and not HTML. Such a client gets a 401 with JSON where a person
    would be redirected to the sign-in page."""
    if environ.get("HTTP_SEC_FETCH_DEST") == "empty":
        return True
    accept = environ.get("HTTP_ACCEPT", "")
    return "json" in accept and "text/html" not in accept


def _cache_key(cookie: str) -> bytes:
    # The cache never holds a cookie itself: a memory dump gives no session away.
    return hashlib.sha256(cookie.encode("utf-8", "surrogateescape")).digest()


_MISS = object()


class _TTLCache:
    """A bounded map whose entries expire; least recently used go first when full."""

    def __init__(self, ttl: float, max_entries: int, clock: Callable[[], float]) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._data: OrderedDict[bytes, tuple[float, OnebarUser | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> Any:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return _MISS
            if entry[0] <= self._clock():
                del self._data[key]
                return _MISS
            self._data.move_to_end(key)
            return entry[1]

    def put(self, key: bytes, value: OnebarUser | None) -> None:
        if self.ttl <= 0 or self.max_entries <= 0:
            return
        with self._lock:
            self._data[key] = (self._clock() + self.ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class _Unavailable(Exception):
    """The service gave no usable answer (down, slow, an error, nonsense)."""


def _check_service_url(url: str) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment or "@" in parts.netloc:
        raise ConfigError(f"the Onebar service URL must be like https://id.example.com, not {url!r}")
    try:
        parts.port  # noqa: B018 - raises for a bad port
    except ValueError:
        raise ConfigError(f"the Onebar service URL has a bad port: {url!r}") from None
    return url.rstrip("/")


class RemoteVerifier:
    """Verify a cookie by asking the service's ``GET /api/me``.

    :param service_url: the service as this app reaches it, e.g.
        ``https://id.example.com`` or an internal ``http://onebar:8000``. The
        visitor's Onebar cookie is sent there and nowhere else: redirects are
        not followed and proxy variables are ignored. Use ``https://`` for a
        service on another machine, or the cookie crosses the network in clear.
    :param cookie_name: the service's ``cookie_name`` setting. Only this cookie
        is forwarded; the app's own cookies never leave it.
    :param timeout: seconds the service has to answer. Past it the visitor is
        signed out for this request (a page must not hang on identity).
    :param cache_ttl: seconds an answer is reused for the same cookie. It is
        also how long a sign-out elsewhere can take to reach this app.
    :param cache_size: answers kept at most; the least recently used go first.
    :param retry_after: seconds the service is not asked again after it failed
        to answer; visitors without a cached answer are signed out meanwhile.
    :param clock: monotonic seconds (tests pass a fake one).
    """

    timeout = 0.5
    cache_ttl = 5.0
    cache_size = 4096
    retry_after = 1.0
    #: The /api/me document is a few hundred bytes; more is not the service.
    max_body = 64 * 1024

    def __init__(
        self,
        service_url: str,
        *,
        cookie_name: str = DEFAULT_COOKIE_NAME,
        timeout: float | None = None,
        cache_ttl: float | None = None,
        cache_size: int | None = None,
        retry_after: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service_url = _check_service_url(service_url)
        if not _COOKIE_NAME.fullmatch(cookie_name):
            raise ConfigError(f"not a cookie name: {cookie_name!r}")
        self.cookie_name = cookie_name
        if timeout is not None:
            self.timeout = timeout
        if retry_after is not None:
            self.retry_after = retry_after
        self._clock = clock
        self._cache = _TTLCache(self.cache_ttl if cache_ttl is None else cache_ttl,
                                self.cache_size if cache_size is None else cache_size, clock)
        parts = urlsplit(self.service_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._path = (parts.path.rstrip("/") or "") + "/api/me"
        self._down_until = 0.0
        self._ssl = ssl.create_default_context() if self._https else None

    def verify(self, cookie: str) -> OnebarUser | None:
        if not isinstance(cookie, str) or len(cookie) > MAX_COOKIE_LENGTH or not _SIGNED_VALUE.fullmatch(cookie):
            return None
        key = _cache_key(cookie)
        cached = self._cache.get(key)
        if cached is not _MISS:
            return cached  # type: ignore[no-any-return]
        if self._clock() < self._down_until:
            return None
        try:
            user = self._ask(cookie)
        except _Unavailable as exc:
            self._down_until = self._clock() + self.retry_after
            log.warning("onebar: no usable answer from %s (%s); treating visitors as signed out for %.1fs",
                        self.service_url, exc, self.retry_after)
            return None
        self._cache.put(key, user)
        return user

    def _ask(self, cookie: str) -> OnebarUser | None:
        deadline = self._clock() + self.timeout
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout, context=self._ssl)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        try:
            conn.request("GET", self._path, headers={
                "Cookie": f"{self.cookie_name}={cookie}",
                "Accept": "application/json",
                "User-Agent": "onebar-integrations",
            })
            if conn.sock is not None:
                conn.sock.settimeout(max(deadline - self._clock(), 0.001))
            response = conn.getresponse()
            body = response.read(self.max_body + 1)
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            raise _Unavailable(str(exc) or type(exc).__name__) from None
        finally:
            conn.close()
        if self._clock() > deadline:
            raise _Unavailable(f"answered after more than {self.timeout}s")
        if status != 200:
            raise _Unavailable(f"HTTP {status}")
        if len(body) > self.max_body:
            raise _Unavailable("the answer is too large")
        try:
            doc = json.loads(body)
        except ValueError:
            raise _Unavailable("the answer is not JSON") from None
        if not isinstance(doc, dict) or "user" not in doc:
            raise _Unavailable("the answer has no 'user'")
        if doc["user"] is None:
            return None
        user = OnebarUser.from_json(doc["user"])
        if user is None:
            raise _Unavailable("the answer's 'user' is malformed")
        return user


class LocalVerifier:
    """Verify a cookie's signature here, then check its session is still active.

    :param secret_keys: the service's keys, oldest first (``ONEBAR_SECRET_KEYS``
        or its data directory's ``secret_keys.json``). SECURITY: they are as
        powerful here as in the service: whoever reads them can mint a cookie
        for any user of every app. Give them only to apps run by the service's
        operator, keep them out of the app's repository, and rotate them on the
        service (``onebar keys rotate``) when an app that held them is retired.
    :param store: the service's store (``SQLiteStore(".../onebar.sqlite3")`` on
        the same machine, or the same PostgreSQL the service uses); revoked and
        expired sessions are seen there. Read-only use: the app writes nothing.
    :param service_url: instead of ``store``: ask the service (as
        :class:`RemoteVerifier` does) about cookies whose signature checks out.
    :param max_age: the service's ``session_max_age`` (14 days by default).
    :param cache_ttl: seconds a confirmed session is trusted without looking
        again: a sign-out elsewhere reaches this app within this window.
    :param cache_size: answers kept at most.
    :param clock: monotonic seconds (tests pass a fake one).
    """

    max_age = 14 * 24 * 3600
    cache_ttl = 5.0
    cache_size = 4096

    def __init__(
        self,
        secret_keys: Sequence[str | bytes],
        *,
        store: Store | None = None,
        service_url: str | None = None,
        cookie_name: str = DEFAULT_COOKIE_NAME,
        max_age: int | None = None,
        cache_ttl: float | None = None,
        cache_size: int | None = None,
        timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(secret_keys, (str, bytes)) or not secret_keys or not all(secret_keys):
            raise ConfigError("LocalVerifier needs the service's secret keys as a list, oldest first")
        if (store is None) == (service_url is None):
            raise ConfigError("LocalVerifier needs exactly one of store= (the service's store) or service_url= "
                              "to see revoked sessions")
        if max_age is not None:
            self.max_age = max_age
        ttl = self.cache_ttl if cache_ttl is None else cache_ttl
        size = self.cache_size if cache_size is None else cache_size
        self._codec = SessionCodec(list(secret_keys), self.max_age)
        self._store = store
        self._remote = None if service_url is None else RemoteVerifier(
            service_url, cookie_name=cookie_name, timeout=timeout, cache_ttl=ttl, cache_size=size, clock=clock)
        self._cache = _TTLCache(ttl, size, clock)

    def verify(self, cookie: str) -> OnebarUser | None:
        if self._remote is None and isinstance(cookie, str):
            # Only values whose signature verified are ever cached, so a hit
            # needs no second HMAC: it is this exact string, seen < cache_ttl ago.
            cached = self._cache.get(_cache_key(cookie))
            if cached is not _MISS:
                return cached  # type: ignore[no-any-return]
        token = self._codec.decode(cookie)
        if token is None:
            return None
        if self._remote is not None:
            return self._remote.verify(cookie)
        key = _cache_key(cookie)
        try:
            active = self._store.get_active_session(token.sid, int(time.time()))  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - a store that fails means "signed out", never a 500
            log.warning("onebar: cannot read the session store (%s); treating the visitor as signed out", exc)
            return None
        user = OnebarUser.from_record(active.user) if active is not None and active.user.id == token.uid else None
        self._cache.put(key, user)
        return user


class Identity:
    """Everything an adapter needs: which cookie, how to verify it, the service's links.

    :param service_url: the service as this app reaches it (see :class:`RemoteVerifier`).
    :param public_url: the service as browsers reach it, for sign-in links and
        the script tag; defaults to ``service_url``.
    :param cookie_name: the service's ``cookie_name`` setting.
    :param verifier: how a cookie is verified; a :class:`RemoteVerifier` on
        ``service_url`` unless given.
    """

    def __init__(
        self,
        service_url: str,
        *,
        public_url: str | None = None,
        cookie_name: str = DEFAULT_COOKIE_NAME,
        verifier: Verifier | None = None,
    ) -> None:
        self.service_url = _check_service_url(service_url)
        self.public_url = _check_service_url(public_url) if public_url else self.service_url
        self.cookie_name = cookie_name
        self.verifier: Verifier = verifier if verifier is not None else RemoteVerifier(
            self.service_url, cookie_name=cookie_name)

    # -- who -----------------------------------------------------------------

    def user(self, environ: dict[str, Any]) -> OnebarUser | None:
        """The user of this request, worked out once and kept in ``environ["onebar.user"]``."""
        if ENVIRON_KEY in environ:
            return environ[ENVIRON_KEY]  # type: ignore[no-any-return]
        user = None
        value = cookie_value(environ.get("HTTP_COOKIE", ""), self.cookie_name)
        if value:
            try:
                user = self.verifier.verify(value)
            except Exception:  # noqa: BLE001 - identity must never turn a page into a 500
                log.exception("onebar: verifying a cookie failed; treating the visitor as signed out")
        environ[ENVIRON_KEY] = user
        return user

    # -- links to the service ---------------------------------------------------

    def login_url(self, next_url: str | None = None) -> str:
        """The sign-in page; after signing in the service sends the browser to
        ``next_url`` if its origin is a registered app (so make it absolute)."""
        return self._link("/login", next_url)

    def logout_url(self, next_url: str | None = None) -> str:
        return self._link("/logout", next_url)

    @property
    def account_url(self) -> str:
        return self.public_url + "/account"

    @property
    def script_url(self) -> str:
        """For ``<script src="{script_url}" data-app="ID"></script>``."""
        return self.public_url + "/onebar.js"

    def _link(self, path: str, next_url: str | None) -> str:
        return self.public_url + path + (f"?{urlencode({'next': next_url})}" if next_url else "")

    # -- from a framework's settings ----------------------------------------------

    #: The keys :meth:`from_config` understands.
    CONFIG_KEYS = ("SERVICE_URL", "PUBLIC_URL", "COOKIE_NAME", "SECRET_KEYS", "DATABASE", "STORE",
                   "SESSION_MAX_AGE", "TIMEOUT", "CACHE_TTL", "CACHE_SIZE", "VERIFIER")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, spell: Callable[[str], str] = str) -> Identity:
        """Build from upper-case settings (Flask's ``ONEBAR_*``, Django's ``ONEBAR`` dict).

        ``SERVICE_URL`` is required. ``SECRET_KEYS`` switches to local
        verification, with ``DATABASE`` (the service's SQLite file) or
        ``STORE`` for revocation, else asking ``SERVICE_URL``. ``spell`` names a
        key the way the framework's user writes it, for error messages.
        """
        unknown = sorted(set(config) - set(cls.CONFIG_KEYS))
        if unknown:
            raise ConfigError(f"unknown Onebar setting {spell(unknown[0])}; "
                              f"known: {', '.join(cls.CONFIG_KEYS)}")
        service_url = config.get("SERVICE_URL")
        if not service_url:
            raise ConfigError(f"set {spell('SERVICE_URL')} to the identity service's URL, "
                              "such as 'https://id.example.com'")
        cookie_name = config.get("COOKIE_NAME") or DEFAULT_COOKIE_NAME
        verifier = config.get("VERIFIER")
        tuning: dict[str, Any] = {}
        for key, kind in (("TIMEOUT", float), ("CACHE_TTL", float), ("CACHE_SIZE", int)):
            if config.get(key) is not None:
                tuning[key.lower()] = _number(config[key], kind, spell(key))
        keys = config.get("SECRET_KEYS")
        if verifier is None and keys:
            if isinstance(keys, str):
                keys = [k.strip() for k in keys.split(",") if k.strip()]
            if not isinstance(keys, (list, tuple)) or not all(isinstance(k, (str, bytes)) and k for k in keys):
                raise ConfigError(f"{spell('SECRET_KEYS')} must be the service's keys, oldest first")
            store = config.get("STORE") or _open_store(config.get("DATABASE"), spell("DATABASE"))
            max_age = config.get("SESSION_MAX_AGE")
            verifier = LocalVerifier(
                keys, store=store, service_url=None if store is not None else service_url, cookie_name=cookie_name,
                max_age=None if max_age is None else _number(max_age, int, spell("SESSION_MAX_AGE")), **tuning)
        elif verifier is None:
            for key in ("DATABASE", "STORE", "SESSION_MAX_AGE"):
                if config.get(key):
                    raise ConfigError(f"{spell(key)} is only used with {spell('SECRET_KEYS')} (local verification)")
            verifier = RemoteVerifier(service_url, cookie_name=cookie_name, **tuning)
        return cls(service_url, public_url=config.get("PUBLIC_URL") or None, cookie_name=cookie_name,
                   verifier=verifier)


def _number(value: object, kind: type, name: str) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, not {value!r}") from None
    if number < 0:
        raise ConfigError(f"{name} must not be negative")
    return number


def _open_store(path: object, name: str) -> Store | None:
    if not path:
        return None
    from pathlib import Path

    from ..store import SQLiteStore

    if not Path(str(path)).is_file():
        raise ConfigError(f"{name} names no Onebar database: {path} does not exist")
    return SQLiteStore(str(path))


class OnebarMiddleware:
    """Put the verified Onebar user, or None, in ``environ["onebar.user"]``.

    ``OnebarMiddleware(app, service_url=..., **options)`` builds an
    :class:`Identity` from the options (``public_url``, ``cookie_name``,
    ``verifier``); ``OnebarMiddleware(app, identity=identity)`` shares one.
    The identity is also at ``environ["onebar.identity"]`` for sign-in links.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], service_url: str | None = None, *,
                 identity: Identity | None = None, **options: Any) -> None:
        if identity is None:
            if not service_url:
                raise ConfigError("OnebarMiddleware needs service_url=, the identity service's URL")
            identity = Identity(service_url, **options)
        elif service_url or options:
            raise ConfigError("give OnebarMiddleware either identity= or service_url= and options, not both")
        self.app = app
        self.identity = identity

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ.pop(ENVIRON_KEY, None)  # only this middleware decides who the visitor is
        environ["onebar.identity"] = self.identity
        self.identity.user(environ)
        return self.app(environ, start_response)
