"""Throttling of failed sign-ins and of sign-ups, on the ``limits`` library.

Two moving windows count attempts that matter (failed sign-ins, sign-ups):
one per (address, subject) pair, where the subject is the account tried, which
stops guessing one account's password; and one per address, which stops
spraying many accounts or creating them in bulk. Storage is a ``limits`` URI: ``memory://`` on one
node, ``redis://host:6379`` when several nodes share the counts.
"""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


class Throttle:
    """:param per_account, per_address: limits on failures (``retry_after``/``count``).
    :param attempts_per_account, attempts_per_address: limits on every sign-in
        attempt, whatever its outcome (``attempt``): each costs a password
        hash, so correct ones must be bounded too.
    """

    def __init__(self, storage_uri: str, per_account: str, per_address: str,
                 attempts_per_account: str = "10/minute", attempts_per_address: str = "60/minute") -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self._per_account = parse(per_account)
        self._per_address = parse(per_address)
        self._attempts = [(parse(attempts_per_account), True), (parse(attempts_per_address), False)]

    def attempt(self, address: str, subject: str) -> int | None:
        """Count one attempt of any outcome; seconds to wait if it is one too many (then not counted)."""
        waits = []
        for limit, per_subject in self._attempts:
            keys = ("onebar-attempt", address, subject.casefold()) if per_subject else ("onebar-attempt", address)
            if not self._limiter.hit(limit, *keys):
                waits.append(self._limiter.get_window_stats(limit, *keys).reset_time - time.time())
        return max(1, math.ceil(max(waits))) if waits else None

    def _checks(self, address: str, subject: str):  # type: ignore[no-untyped-def]
        return [(self._per_account, ("onebar", address, subject.casefold())), (self._per_address, ("onebar", address))]

    def retry_after(self, address: str, subject: str) -> int | None:
        """Seconds until another attempt is allowed, or None if it is now."""
        waits = [
            self._limiter.get_window_stats(limit, *keys).reset_time - time.time()
            for limit, keys in self._checks(address, subject)
            if not self._limiter.test(limit, *keys)
        ]
        return max(1, math.ceil(max(waits))) if waits else None

    def count(self, address: str, subject: str) -> None:
        """Count one attempt (a failed sign-in, a sign-up) against both windows."""
        for limit, keys in self._checks(address, subject):
            self._limiter.hit(limit, *keys)

    def reset(self, address: str, subject: str) -> None:
        """Forget the (address, subject) count, e.g. after a successful sign-in."""
        limit, keys = self._checks(address, subject)[0]
        self._limiter.clear(limit, *keys)
