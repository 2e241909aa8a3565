"""Where a ``next=`` parameter may send a browser after sign in or sign out.

Only two kinds of target are followed:

* a path on the service itself (``/account``), which must start with one
  ``/`` and hold no backslash, white space or control character;
* an absolute ``http(s)`` URL whose origin (scheme, host and port, exactly) is
  the service's own or a registered app's.

Everything else (``//evil``, ``/\\evil``, ``javascript:``, userinfo tricks,
look-alike hosts, an https→http downgrade, over-long values) yields the
default.
"""

from __future__ import annotations

from collections.abc import Container

from .exc import ValidationError
from .store.base import normalize_origin

MAX_LENGTH = 2048


def safe_next(target: object, allowed_origins: Container[str], default: str) -> str:
    if not isinstance(target, str) or not target or len(target) > MAX_LENGTH:
        return default
    if any(ord(c) <= 0x20 or 0x7F <= ord(c) <= 0x9F for c in target) or "\\" in target:
        return default
    if target.startswith("/"):
        return default if target.startswith("//") else target
    try:
        origin = normalize_origin(target)
    except ValidationError:
        return default
    return target if origin in allowed_origins else default
