"""The sign-out board: how every worker process of an app hears a back-channel notice that reached one.

The service POSTs a logout token to the app's URL; with N worker processes
(gunicorn ``-w 4``, granian ``--workers 4``) it lands in one of them, while
every worker keeps its own cache of answers. So the worker that received it
also writes the user's id on this board: a small file that every worker maps
into memory (``mmap``, shared), a ring of the last :attr:`SignOutBoard.slots`
user ids behind a counter. Before each request a worker compares the counter
with the last one it saw (one 8-byte read from shared memory, ~0.2 µs) and,
when it moved, drops those users from its own cache. So the very next request
to *any* worker is verified afresh.

Fewer than ``slots`` notices between two requests of a worker are read one by
one; more, and the worker simply empties its cache (every user is asked again
once). Writers take an ``flock`` on the file; readers take no lock and read
the counter again after the ids, so a ring that wrapped under them also means
"empty the cache".

The file: ``BACKCHANNEL_FILE`` when set, else
``$XDG_RUNTIME_DIR`` (or the temporary directory) ``/onebar-backchannel-<hash
of the back-channel secret>``: the processes of one app on one machine find the
same file without configuration, and no other app (other secret) shares it.
SECURITY: created ``0600`` without following a symlink, and refused unless
this user owns it and nobody else may write it. It holds Onebar user ids,
nothing secret; whoever can write it can only make the app ask the service
again. Processes on other machines never share it: each machine's app needs its
own notice (register each machine's URL as its own app, or put the back-channel
behind a load balancer that reaches one process per machine and set ``CACHE_TTL``
knowing the others keep theirs).
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import stat
import struct
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["SignOutBoard", "default_path"]

_COUNTER = struct.Struct("<Q")
#: What :meth:`SignOutBoard.news` returns when too much happened to list: forget everyone.
EVERYONE = None


def default_path(secret: str) -> Path:
    """Where the workers of the app holding ``secret`` meet (see the module docstring)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    name = hashlib.sha256(b"onebar.backchannel-board\0" + secret.encode()).hexdigest()[:32]
    return Path(base) / f"onebar-backchannel-{name}"


class SignOutBoard:
    """A ring of signed-out user ids in a shared file; see the module docstring.

    :param path: the file; created if missing.
    """

    slots = 128
    #: Bytes per id: a 1-byte length, then the id (Onebar ids are ~18 bytes).
    slot_size = 64

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        size = _COUNTER.size + self.slots * self.slot_size
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0),
                     0o600)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
                raise PermissionError(f"{self.path} is not a file of this user's that only it may write")
            with _locked(fd):
                if os.fstat(fd).st_size < size:
                    os.ftruncate(fd, size)
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)  # the mapping keeps the file; flock needs a descriptor: reopened to write
        self._lock = threading.Lock()
        self._seen = self._counter()

    def _counter(self) -> int:
        return int(_COUNTER.unpack_from(self._map, 0)[0])

    def post(self, user_id: str) -> None:
        """Tell every process: ``user_id`` signed out."""
        data = user_id.encode("utf-8")
        if len(data) >= self.slot_size:
            data = b""  # not an Onebar id: an empty slot makes every reader forget everyone
        fd = os.open(self.path, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            with _locked(fd):
                n = self._counter()
                at = _COUNTER.size + (n % self.slots) * self.slot_size
                self._map[at:at + 1 + len(data)] = bytes([len(data)]) + data
                _COUNTER.pack_into(self._map, 0, n + 1)  # after the slot: a reader never sees it half written
        finally:
            os.close(fd)

    def news(self) -> list[str] | None:
        """User ids posted since the last call ([] most of the time); None: forget everyone."""
        if self._counter() == self._seen:  # the fast path: one read from shared memory
            return []
        with self._lock:
            n = self._counter()
            seen, self._seen = self._seen, n
            if n - seen >= self.slots or n < seen:  # at == slots, the oldest is the slot a writer fills next
                return EVERYONE
            ids = []
            for i in range(seen, n):
                at = _COUNTER.size + (i % self.slots) * self.slot_size
                length = self._map[at]
                if length == 0:
                    return EVERYONE
                ids.append(self._map[at + 1:at + 1 + length].decode("utf-8", "replace"))
            if self._counter() - seen >= self.slots:  # the ring wrapped while we read it
                return EVERYONE
            return ids


@contextmanager
def _locked(fd: int) -> Iterator[None]:
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
