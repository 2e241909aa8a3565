"""Ask the service's ``GET /api/me`` who a cookie belongs to."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..exc import ConfigError


class _Unavailable(Exception):
    """The service gave no usable answer (down, slow, an error, nonsense)."""


def _check_service_url(url: str) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment or "@" in parts.netloc:
        raise ConfigError(f"the Onebar service URL must be like https://id.example.com, not {url!r}")
    try:
        parts.port  # noqa: B018 - raises for a bad port
    except ValueError:
        raise ConfigError(f"the Onebar service URL has a bad port: {url!r}") from None
    return url.rstrip("/")
