"""Two ways to turn a cookie into a user: ask the service, or check it here."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from ..exc import ConfigError
from ..sessions import SessionCodec
from ..settings import Settings
from .cache import MISS, TTLCache, cache_key
from .cookies import DEFAULT_COOKIE_NAME, is_cookie_name, looks_like_session
from .meclient import MeClient, Unavailable, check_service_url
from .user import OnebarUser

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["LocalVerifier", "RemoteVerifier", "Verifier"]

log = logging.getLogger("onebar.integrations")


class Verifier(Protocol):
    """Turns a cookie value into the user it belongs to, or None. Never raises."""

    def verify(self, cookie: str) -> OnebarUser | None: ...

    # Optional: verifiers that cache answers forget a user when the
    # back-channel says a session of theirs ended.
    # def forget_user(self, user_id: str) -> None: ...


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
        self.service_url = check_service_url(service_url)
        if not is_cookie_name(cookie_name):
            raise ConfigError(f"not a cookie name: {cookie_name!r}")
        self.cookie_name = cookie_name
        if timeout is not None:
            self.timeout = timeout
        if retry_after is not None:
            self.retry_after = retry_after
        self._clock = clock
        self._client = MeClient(self.service_url, cookie_name=cookie_name, timeout=self.timeout,
                                max_body=self.max_body, clock=clock)
        self._cache = TTLCache(self.cache_ttl if cache_ttl is None else cache_ttl,
                               self.cache_size if cache_size is None else cache_size, clock)
        self._down_until = 0.0

    def verify(self, cookie: str) -> OnebarUser | None:
        if not looks_like_session(cookie):
            return None
        return self._lookup(cache_key(cookie), lambda: self._client.ask(cookie))

    def verify_credential(self, credential: str, origin: str) -> OnebarUser | None:
        """The user of a site credential (:mod:`onebar.integrations.handoff`) sent from
        ``origin``, or None; cached like cookies, under a hash of both."""
        if not looks_like_session(credential):  # the same signed shape
            return None
        return self._lookup(cache_key(f"{origin} {credential}"),
                            lambda: self._client.ask(None, credential=credential, origin=origin))

    def _lookup(self, key: str, ask: Callable[[], OnebarUser | None]) -> OnebarUser | None:
        """The cached answer under ``key``, else ``ask()``'s (cached); None while the service is down."""
        cached = self._cache.get(key)
        if cached is not MISS:
            return cached  # type: ignore[no-any-return]
        if self._clock() < self._down_until:
            return None
        asked_at = self._clock()
        try:
            user = ask()
        except Unavailable as exc:
            self._down_until = self._clock() + self.retry_after
            log.warning("onebar: no usable answer from %s (%s); treating visitors as signed out for %.1fs",
                        self.service_url, exc, self.retry_after)
            return None
        self._cache.put(key, user, asked_at)
        return user

    def forget_user(self, user_id: str) -> None:
        """Drop every cached answer naming ``user_id`` (the back-channel says a
        session of theirs ended): their next request asks the service again."""
        self._cache.drop_user(user_id)

    def forget_all(self) -> None:
        self._cache.drop_all()


class LocalVerifier:
    """Verify a cookie's signature here, then check its session is still active.

    :param secret_keys: the service's keys, oldest first (``ONEBAR_SECRET_KEYS``
        or its data directory's ``secret_keys.json``). SECURITY: they are as
        powerful here as in the service: whoever reads them can mint a cookie
        for any user of every app. Give them only to apps run by the service's
        operator, keep them out of the app's repository, and rotate them on the
        service (``onebar keys rotate``) when an app that held them is retired.
    :param store: the service's store (``SQLiteStore(".../onebar.sqlite3")`` on
        the same machine, or ``open_url("postgresql://…")``, the PostgreSQL the service uses); revoked and
        expired sessions are seen there. Read-only use: the app writes nothing.
    :param service_url: instead of ``store``: ask the service (as
        :class:`RemoteVerifier` does) about cookies whose signature checks out.
    :param max_age: the service's ``session_max_age`` (14 days by default).
    :param cache_ttl: seconds a confirmed session is trusted without looking
        again: a sign-out elsewhere reaches this app within this window.
    :param cache_size: answers kept at most.
    :param clock: monotonic seconds (tests pass a fake one).
    """

    max_age: int = Settings.session_max_age
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
        self._cache = TTLCache(ttl, size, clock)
        self._clock = clock

    def verify(self, cookie: str) -> OnebarUser | None:
        if self._remote is None and isinstance(cookie, str):
            # Only values whose signature verified are ever cached, so a hit
            # needs no second HMAC: it is this exact string, seen < cache_ttl ago.
            cached = self._cache.get(cache_key(cookie))
            if cached is not MISS:
                return cached  # type: ignore[no-any-return]
        token = self._codec.decode(cookie)
        if token is None:
            return None
        if self._remote is not None:
            return self._remote.verify(cookie)
        key = cache_key(cookie)
        asked_at = self._clock()
        try:
            active = self._store.get_active_session(token.sid, int(time.time()))  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - a store that fails means "signed out", never a 500
            log.warning("onebar: cannot read the session store (%s); treating the visitor as signed out", exc)
            return None
        user = OnebarUser.from_record(active.user) if active is not None and active.user.id == token.uid else None
        self._cache.put(key, user, asked_at)
        return user

    def forget_user(self, user_id: str) -> None:
        """Drop every cached answer naming ``user_id`` (see :meth:`RemoteVerifier.forget_user`)."""
        self._cache.drop_user(user_id)
        if self._remote is not None:
            self._remote.forget_user(user_id)

    def forget_all(self) -> None:
        self._cache.drop_all()
        if self._remote is not None:
            self._remote.forget_all()
