"""Signed, timestamped links sent by mail: reset a password, verify an email,
accept an invitation.

Each purpose has its own salt (a verification link is useless as a reset
link) and its own maximum age. A reset link carries the account's token
version, which every password or email change bumps: it works once, and dies
when the email changes. Keys rotate like the session cookie's: the newest
signs, all verify. Bad input decodes to ``None``; nothing here raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer

RESET = ("onebar.password-reset", 30 * 60)
VERIFY = ("onebar.email-verify", 3 * 24 * 3600)
INVITE = ("onebar.invite", 7 * 24 * 3600)

MAX_TOKEN_LENGTH = 512


class LinkSigner:
    def __init__(self, secret_keys: Sequence[str]) -> None:
        self._keys = list(secret_keys)  # itsdangerous: the last key signs, all verify

    def _serializer(self, purpose: tuple[str, int]) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._keys, salt=purpose[0])

    def dumps(self, purpose: tuple[str, int], payload: dict[str, Any]) -> str:
        return self._serializer(purpose).dumps(payload)

    def loads(self, purpose: tuple[str, int], token: object) -> dict[str, Any] | None:
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        try:
            payload = self._serializer(purpose).loads(token, max_age=purpose[1])
        except BadData:
            return None
        except Exception:  # noqa: BLE001 - a link must never crash a request
            return None
        return payload if isinstance(payload, dict) else None
