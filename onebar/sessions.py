"""The signed session cookie.

The cookie names a *session* (a row in the store that can be revoked), not
only a user, and is signed with itsdangerous' :class:`URLSafeTimedSerializer`
under its own salt, so a value signed for another purpose (a CSRF token, a
hand-off token) never passes as a session.

Keys rotate the way Flask's ``SECRET_KEY_FALLBACKS`` do: the newest key signs,
every key in the list verifies. A cookie that verified only with an older key
is reported as ``stale`` so the caller re-issues it under the newest key.

Bad input (tampered, truncated, expired, future-dated, empty, not text)
decodes to ``None``: callers treat it as "signed out"; nothing here raises.

Example::

    >>> codec = SessionCodec(["old-key", "new-key"], max_age=3600)
    >>> value = codec.encode("sid-123", "user-1")
    >>> codec.decode(value).sid
    'sid-123'
    >>> codec.decode(value + "x") is None
    True
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeTimedSerializer

#: The salt that makes a session value useless for any other purpose.
SESSION_SALT = "onebar.session"

#: Cookies longer than this are not even looked at (a real one is ~120 bytes).
MAX_COOKIE_LENGTH = 1024

#: What a session value looks like (itsdangerous' URL-safe format):
#: payload.timestamp.signature in base64url, the payload prefixed with "." when
#: compressed. Anything else is not a session cookie.
SIGNED_VALUE = re.compile(r"\.?[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class SessionToken:
    """What a valid cookie says."""

    sid: str
    uid: str
    issued_at: int
    #: Verified with a key that is no longer the newest: re-issue it.
    stale: bool = False

    def age(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.issued_at


class SessionCodec:
    """Encode and verify session cookie values.

    :param secret_keys: oldest first; the last one signs. Keep them secret and
        at least 32 random bytes each: anyone holding one can mint sessions.
    :param max_age: seconds a cookie stays valid after it was (re-)issued.
    """

    salt = SESSION_SALT

    def __init__(self, secret_keys: Sequence[str | bytes], max_age: int) -> None:
        if not secret_keys:
            raise ValueError("at least one secret key is needed")
        self.max_age = max_age
        self._current = URLSafeTimedSerializer(secret_keys[-1], salt=self.salt)
        self._fallback = (
            URLSafeTimedSerializer(list(secret_keys[:-1]), salt=self.salt) if len(secret_keys) > 1 else None
        )

    def encode(self, sid: str, uid: str) -> str:
        return self._current.dumps({"s": sid, "u": uid})

    def decode(self, value: object) -> SessionToken | None:
        if not isinstance(value, str) or not value or len(value) > MAX_COOKIE_LENGTH:
            return None
        stale = False
        try:
            payload, issued = self._current.loads(value, max_age=self.max_age, return_timestamp=True)
        except BadData:
            if self._fallback is None:
                return None
            try:
                payload, issued = self._fallback.loads(value, max_age=self.max_age, return_timestamp=True)
            except BadData:
                return None
            stale = True
        except Exception:  # noqa: BLE001 - a cookie must never crash a request
            return None
        if not isinstance(payload, dict):
            return None
        sid, uid = payload.get("s"), payload.get("u")
        if not isinstance(sid, str) or not isinstance(uid, str) or not sid or not uid:
            return None
        return SessionToken(sid=sid, uid=uid, issued_at=int(issued.timestamp()), stale=stale)
