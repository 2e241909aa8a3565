"""A small bounded cache of verified answers, keyed by a hash of the cookie."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .user import OnebarUser


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
