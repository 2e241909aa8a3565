"""Password hashing, delegated to Werkzeug (scrypt, salted, self-describing).

``verify`` for an unknown account still spends the time of a real check, so
the answer's timing does not tell whether an email has an account.

Each hash costs about 100 ms of CPU and 32 MB. :class:`HashingPool` bounds how
many run at once in a process, so a storm of sign-ins (correct ones included)
cannot take every thread and core from ``/api/me``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.security import check_password_hash, generate_password_hash

from .exc import ServiceBusy

MIN_LENGTH = 8
MAX_LENGTH = 1024

_DUMMY = generate_password_hash("onebar-timing-equaliser")


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    if stored_hash is None:
        check_password_hash(_DUMMY, password)
        return False
    return check_password_hash(stored_hash, password)


class HashingPool:
    """At most ``threads`` password hashes at once in this process.

    A request waits up to ``wait`` seconds for a slot, then gets
    :class:`onebar.exc.ServiceBusy` (the web layer answers 503 with
    ``Retry-After``). How many requests may wait at all is bounded in front of
    the app (:class:`onebar.web.gate.SignInGate`), so sign-ins never hold more
    than a few of the server's threads. ::

        pool = HashingPool(threads=1, wait=2)
        with pool.slot():
            ok = verify(stored_hash, password)
    """

    def __init__(self, threads: int = 1, wait: float = 2.0) -> None:
        self.threads = threads
        self.wait = wait
        self._running = threading.BoundedSemaphore(threads)

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._running.acquire(timeout=self.wait):
            raise ServiceBusy("too many password checks at once")
        try:
            yield
        finally:
            self._running.release()
