"""Database and Redis URLs: which engine they name, and how they may be shown (password masked)."""

from __future__ import annotations

from pathlib import Path

POSTGRES_SCHEMES = ("postgresql", "postgres")


def is_postgres(url: str | None) -> bool:
    return bool(url) and url.partition(":")[0].lower() in POSTGRES_SCHEMES  # type: ignore[union-attr]


def sqlite_path(url: str) -> Path | None:
    """The file of ``sqlite:///absolute/path`` (``sqlite:////…`` too), else None."""
    if not url.lower().startswith("sqlite:///") or not url[len("sqlite:///"):].strip("/"):
        return None
    return Path("/" + url[len("sqlite:///"):].lstrip("/"))


def mask_password(url: str) -> str:
    """``scheme://user:***@host/…``: the URL with its password (and query) hidden, for messages and logs.

    Read as text, not with ``urlsplit``: a password with an unencoded ``/``
    would end urlsplit's host part early and be shown. Whatever comes before
    the last ``@`` is the user (up to its first ``:``) and the password. The
    query is dropped too, since libpq and redis-py accept ``?password=…``.

    When a ``?`` or ``#`` comes before the last ``@``, that ``@`` may be in
    the password (``u:p?w@host``) or in the query (``host/db?password=p@ss``):
    the text cannot tell, so nothing after the scheme is shown.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.partition("?")[0].partition("#")[0]
    userinfo, at, hostpart = rest.rpartition("@")
    if not at:
        return f"{scheme}://{hostpart.partition('?')[0].partition('#')[0]}"
    if "?" in userinfo or "#" in userinfo:
        return f"{scheme}://***"
    user, colon, _ = userinfo.partition(":")
    hostpart = hostpart.partition("?")[0].partition("#")[0]
    return f"{scheme}://{user}:***@{hostpart}" if colon else f"{scheme}://{user}@{hostpart}"
