"""The service's session cookie, as an app receives it: its name, its shape, its value.

The defaults are the service's own (:class:`onebar.settings.Settings`,
:mod:`onebar.sessions`), imported rather than restated.
"""

from __future__ import annotations

import re

from werkzeug.http import parse_cookie

from ..sessions import MAX_COOKIE_LENGTH, SIGNED_VALUE
from ..settings import Settings

__all__ = ["DEFAULT_COOKIE_NAME", "cookie_value", "is_cookie_name", "looks_like_session"]

#: The service's default cookie name (its ``cookie_name`` setting).
DEFAULT_COOKIE_NAME: str = Settings.cookie_name

# A cookie name is an RFC 9110 token.
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def cookie_value(header: str, name: str) -> str | None:
    """The first cookie called ``name`` in a ``Cookie`` header, or None."""
    return parse_cookie(header).get(name)


def is_cookie_name(name: object) -> bool:
    return isinstance(name, str) and _COOKIE_NAME.fullmatch(name) is not None


def looks_like_session(value: object) -> bool:
    """Shaped like a session cookie; anything else is never sent anywhere."""
    return isinstance(value, str) and len(value) <= MAX_COOKIE_LENGTH and SIGNED_VALUE.fullmatch(value) is not None
