"""Throttling of failed sign-ins, on the ``limits`` library.

Two moving windows count *failures*: one per (address, account) pair, which
stops guessing one account's password, and one per address, which stops
spraying many accounts. Storage is a ``limits`` URI: ``memory://`` on one
node, ``redis://host:6379`` when several nodes share the counts.
"""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


class LoginThrottle:
    def __init__(self, storage_uri: str, per_account: str, per_address: str) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self._per_account = parse(per_account)
        self._per_address = parse(per_address)

    def _checks(self, address: str, account: str):  # type: ignore[no-untyped-def]
        return [(self._per_account, ("login", address, account.casefold())), (self._per_address, ("login", address))]

    def retry_after(self, address: str, account: str) -> int | None:
        """Seconds until another attempt is allowed, or None if it is now."""
        waits = [
            self._limiter.get_window_stats(limit, *keys).reset_time - time.time()
            for limit, keys in self._checks(address, account)
            if not self._limiter.test(limit, *keys)
        ]
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, address: str, account: str) -> None:
        for limit, keys in self._checks(address, account):
            self._limiter.hit(limit, *keys)

    def succeeded(self, address: str, account: str) -> None:
        limit, keys = self._checks(address, account)[0]
        self._limiter.clear(limit, *keys)
