"""Throttling of failed sign-ins and of sign-ups, on the ``limits`` library.

Two moving windows count attempts that matter (failed sign-ins, sign-ups):
one per (address, subject) pair, where the subject is the account tried, which
stops guessing one account's password; and one per address, which stops
spraying many accounts or creating them in bulk. Storage is a ``limits`` URI: ``memory://`` on one
node, ``redis://host:6379`` when several nodes share the counts.

Sign-ins add a third, per account from anywhere (``anywhere=True``), against
guessing from many addresses. None of the three applies to a browser that has
signed in to the account before (it shows a signed device cookie, as OWASP's
"device cookies" advise): that browser has its own per-account window, so a
wrong-password storm against an account, even from the owner's own address,
locks out the attacker and not the owner.
"""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


class Throttle:
    def __init__(self, storage_uri: str, per_account: str, per_address: str,
                 per_account_anywhere: str = "100/hour") -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self._per_account = parse(per_account)
        self._per_address = parse(per_address)
        self._anywhere = parse(per_account_anywhere)

    def _checks(self, address: str, subject: str, device: str | None = None, anywhere: bool = False):  # type: ignore[no-untyped-def]
        subject = subject.casefold()
        if device:
            return [(self._per_account, ("onebar-device", device, subject))]
        checks = [(self._per_account, ("onebar", address, subject)), (self._per_address, ("onebar", address))]
        if anywhere:
            checks.append((self._anywhere, ("onebar-account", subject)))
        return checks

    def retry_after(self, address: str, subject: str, *, device: str | None = None,
                    anywhere: bool = False) -> int | None:
        """Seconds until another attempt is allowed, or None if it is now.

        :param device: the id of a trusted browser of ``subject``: only its own window counts.
        """
        waits = [
            self._limiter.get_window_stats(limit, *keys).reset_time - time.time()
            for limit, keys in self._checks(address, subject, device, anywhere)
            if not self._limiter.test(limit, *keys)
        ]
        return max(1, math.ceil(max(waits))) if waits else None

    def count(self, address: str, subject: str, *, device: str | None = None, anywhere: bool = False) -> None:
        """Count one attempt (a failed sign-in, a sign-up) against every window that applies."""
        for limit, keys in self._checks(address, subject, device, anywhere):
            self._limiter.hit(limit, *keys)

    def reset(self, address: str, subject: str, *, device: str | None = None) -> None:
        """Forget the (address or device, subject) count, e.g. after a successful sign-in."""
        limit, keys = self._checks(address, subject, device)[0]
        self._limiter.clear(limit, *keys)
