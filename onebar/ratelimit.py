"""Throttling of failed sign-ins and of sign-ups, on the ``limits`` library.

Two moving windows count attempts that matter (failed sign-ins, sign-ups):
one per (address, subject) pair, where the subject is the account tried, which
stops guessing one account's password; and one per address, which stops
spraying many accounts or creating them in bulk.

Sign-ins add a third, per account from anywhere (``anywhere=True``), against
guessing from many addresses. It may be layered (``"20/hour;100/day"``, the
default): each window counts, so a long guessing campaign waits longer and
longer, up to a day. None of the three applies to a browser that has
signed in to the account before (it shows a signed device cookie, as OWASP's
"device cookies" advise): that browser has its own per-account window, so a
wrong-password storm against an account, even from the owner's own address,
locks out the attacker and not the owner. The same goes for the limits on
every attempt (:meth:`Throttle.attempt`): a trusted browser counts in a
window of its own, not in its address's.

Where the counts live (:func:`limits_storage`), so that every process that
answers sign-ins sees the same counts:

- ``redis_url`` set: in Redis (``limits``' Redis storage), shared by every
  node and worker;
- else ``rate_limit_storage`` set: that ``limits`` URI (``memory://`` counts
  per process, for tests and one-process setups);
- else: in the store (:class:`StoreWindows`, the ``attempts`` table), which
  every worker of a node already shares: the SQLite file, or PostgreSQL for
  every node.

If the storage fails (Redis stopped, the database busy), the throttle
**fails open**: sign-ins and sign-ups go on without a limit, and a warning is
logged (at most once a minute). Passwords are still checked, and scrypt keeps
each guess slow; refusing every sign-in because a counter is away would turn
a Redis outage into a service outage.
"""

from __future__ import annotations

import logging
import math
import time
import unicodedata
from typing import TYPE_CHECKING

from limits import parse, parse_many
from limits.errors import ConfigurationError, StorageError
from limits.storage import MovingWindowSupport, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from .exc import ConfigError, StoreError
from .urls import mask_password

if TYPE_CHECKING:
    from .settings import Settings
    from .store.sql import SQLStore

log = logging.getLogger("onebar.ratelimit")


def subject_key(subject: str) -> str:
    """The form a limited subject (an email, ``forgot:`` + an email) is counted under.

    As emails are compared (:func:`onebar.text.email_key`: NFKC, case-folded),
    so that every spelling the store takes for one account (``ＡDA@example.com``,
    ``ada@example.com``) counts in one window; without validation, since a
    subject that is not a valid email must still be counted.
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", subject).strip().casefold())


class StoreWindows(Storage, MovingWindowSupport):
    """A ``limits`` moving-window storage on the store's ``attempts`` table.

    Only the moving-window strategy's methods are real; the fixed-window
    counters (``incr``, ``get``) are not used by :class:`Throttle`.
    """

    STORAGE_SCHEME = None

    def __init__(self, store: SQLStore) -> None:
        super().__init__(wrap_exceptions=True)
        self._store = store

    @property
    def base_exceptions(self) -> type[Exception]:
        return StoreError

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        return self._store.acquire_attempt(key, limit, expiry, time.time(), amount)

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        return self._store.attempt_window(key, expiry, time.time())

    def clear(self, key: str) -> None:
        self._store.clear_attempts(key)

    def check(self) -> bool:
        try:
            self._store.ping()
        except StoreError:
            return False
        return True

    def reset(self) -> int | None:
        raise NotImplementedError("the store's attempt windows are purged with expired sessions")

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("StoreWindows serves the moving-window strategy only")

    def get(self, key: str) -> int:
        raise NotImplementedError("StoreWindows serves the moving-window strategy only")

    def get_expiry(self, key: str) -> float:
        raise NotImplementedError("StoreWindows serves the moving-window strategy only")


#: Seconds Redis may take to connect or answer before the throttle gives up (fails open).
REDIS_TIMEOUT = 0.5


def limits_storage(settings: Settings, store: SQLStore) -> Storage:
    """Where the counts live, from the settings (see the module's docstring)."""
    try:
        if settings.redis_url:
            return storage_from_string(settings.redis_url, wrap_exceptions=True, socket_timeout=REDIS_TIMEOUT,
                                       socket_connect_timeout=REDIS_TIMEOUT)
        if settings.rate_limit_storage:
            return storage_from_string(settings.rate_limit_storage, wrap_exceptions=True)
    except ConfigurationError:
        uri = mask_password(settings.redis_url or settings.rate_limit_storage or "")
        hint = " (pip install 'onebar[redis]')" if "redis" in uri else ""
        # limits' own message repeats the URI, password and all: not shown.
        raise ConfigError(f"cannot count sign-ins in {uri}: not a storage the limits library can use here"
                          f"{hint}") from None
    return StoreWindows(store)


def describe(storage: Storage) -> str:
    """Where the counts live, for a log line (passwords masked)."""
    if isinstance(storage, StoreWindows):
        return "the store"
    return mask_password(getattr(storage, "storage_uri", "") or type(storage).__name__)


class Throttle:
    """:param storage: a ``limits`` storage or storage URI (see :func:`limits_storage`).
    :param per_account, per_address: limits on failures (``retry_after``/``count``).
    :param attempts_per_account, attempts_per_address: limits on every sign-in
        attempt, whatever its outcome (``attempt``): each costs a password
        hash, so correct ones must be bounded too.
    :param per_account_anywhere: the limits on failures against one account
        from any address (``anywhere=True``); several, separated by ``;``,
        all apply (``"20/hour;100/day"``).
    """

    #: Seconds between two warnings about a failing storage.
    warn_every = 60.0

    def __init__(self, storage: Storage | str, per_account: str, per_address: str,
                 attempts_per_account: str = "10/minute", attempts_per_address: str = "60/minute",
                 per_account_anywhere: str = "20/hour;100/day") -> None:
        if isinstance(storage, str):
            storage = storage_from_string(storage, wrap_exceptions=True)
        self._limiter = MovingWindowRateLimiter(storage)
        self._per_account = parse(per_account)
        self._per_address = parse(per_address)
        self._attempts = [(parse(attempts_per_account), True), (parse(attempts_per_address), False)]
        self._anywhere = parse_many(per_account_anywhere)
        self._warned_at = -math.inf

    def attempt(self, address: str, subject: str, *, device: str | None = None) -> int | None:
        """Count one attempt of any outcome; seconds to wait if it is one too many (then not counted).

        :param device: the id of a trusted browser of ``subject``: only its own
            per-account window counts, not its address's.

        A failing storage lets the attempt through (fail open, as the other checks do).
        """
        waits = []
        subject = subject_key(subject)
        if device:
            checks = [(self._attempts[0][0], ("onebar-attempt-device", device, subject))]
        else:
            checks = [(limit, ("onebar-attempt", address, subject) if per_subject else ("onebar-attempt", address))
                      for limit, per_subject in self._attempts]
        try:
            for limit, keys in checks:
                if not self._limiter.hit(limit, *keys):
                    waits.append(self._limiter.get_window_stats(limit, *keys).reset_time - time.time())
        except (StorageError, StoreError) as exc:
            self._failed(exc)
            return None
        return max(1, math.ceil(max(waits))) if waits else None

    def _checks(self, address: str, subject: str, device: str | None = None, anywhere: bool = False):  # type: ignore[no-untyped-def]
        subject = subject_key(subject)
        if device:
            return [(self._per_account, ("onebar-device", device, subject))]
        checks = [(self._per_account, ("onebar", address, subject)), (self._per_address, ("onebar", address))]
        if anywhere:
            checks += [(limit, ("onebar-account", subject)) for limit in self._anywhere]
        return checks

    def _failed(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= self.warn_every:
            self._warned_at = now
            log.warning("sign-in limits are not enforced: their storage fails (%s)", exc)

    def retry_after(self, address: str, subject: str, *, device: str | None = None,
                    anywhere: bool = False) -> int | None:
        """Seconds until another attempt is allowed, or None if it is now (or the storage fails).

        :param device: the id of a trusted browser of ``subject``: only its own window counts.
        """
        try:
            waits = [
                self._limiter.get_window_stats(limit, *keys).reset_time - time.time()
                for limit, keys in self._checks(address, subject, device, anywhere)
                if not self._limiter.test(limit, *keys)
            ]
        except (StorageError, StoreError) as exc:
            self._failed(exc)
            return None
        return max(1, math.ceil(max(waits))) if waits else None

    def count(self, address: str, subject: str, *, device: str | None = None, anywhere: bool = False) -> None:
        """Count one attempt (a failed sign-in, a sign-up) against every window that applies."""
        try:
            for limit, keys in self._checks(address, subject, device, anywhere):
                self._limiter.hit(limit, *keys)
        except (StorageError, StoreError) as exc:
            self._failed(exc)

    def reset(self, address: str, subject: str, *, device: str | None = None) -> None:
        """Forget the (address or device, subject) count, e.g. after a successful sign-in."""
        limit, keys = self._checks(address, subject, device)[0]
        try:
            self._limiter.clear(limit, *keys)
        except (StorageError, StoreError) as exc:
            self._failed(exc)

    def __repr__(self) -> str:
        return f"Throttle({describe(self._limiter.storage)})"


__all__ = ["StoreWindows", "Throttle", "limits_storage"]
