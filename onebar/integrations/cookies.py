"""The service's session cookie, as an app receives it: its name, its shape, its value."""

from __future__ import annotations

import re

__all__ = ["DEFAULT_COOKIE_NAME", "cookie_value"]

#: The service's default cookie name (its ``cookie_name`` setting).
DEFAULT_COOKIE_NAME = "onebar_session"

# What an itsdangerous URL-safe signed value looks like: payload.timestamp.signature
# in base64url, the payload prefixed with "." when compressed. Anything else is
# not a session cookie, and is never sent anywhere.
_SIGNED_VALUE = re.compile(r"\.?[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def cookie_value(header: str, name: str) -> str | None:
    """The first cookie called ``name`` in a ``Cookie`` header, or None."""
    for part in header.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value
    return None
