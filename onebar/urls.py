"""Database and Redis URLs: which engine they name, and how they may be shown (password masked)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

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

    The query is dropped too, since libpq and redis-py accept ``?password=…``.
    """
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return "<an unreadable URL>"
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:***@{hostport}" if ":" in userinfo else f"{user}@{hostport}"
    # Written out rather than urlunsplit, which drops the empty host of sqlite:///path.
    return f"{parts.scheme}://{netloc}{parts.path}"
