"""Settings from a framework (Flask's ``ONEBAR_*``, Django's ``ONEBAR`` dict) → an :class:`Identity`'s arguments.

Every mistake is a :class:`~onebar.exc.ConfigError` naming the key the way the
framework's user writes it (``spell``), so the adapters can turn it into
their own start-up error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..exc import ConfigError
from .cookies import DEFAULT_COOKIE_NAME
from .verifiers import LocalVerifier, RemoteVerifier

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["CONFIG_KEYS", "identity_options"]

#: The keys :func:`identity_options` understands.
CONFIG_KEYS = ("SERVICE_URL", "PUBLIC_URL", "SITE_URL", "COOKIE_NAME", "SECRET_KEYS", "DATABASE", "STORE",
               "SESSION_MAX_AGE", "TIMEOUT", "CACHE_TTL", "CACHE_SIZE", "VERIFIER", "BACKCHANNEL_SECRET",
               "BACKCHANNEL_FILE")


def identity_options(config: Mapping[str, Any], *, spell: Callable[[str], str] = str) -> dict[str, Any]:
    """``Identity(**identity_options(config))``; see :meth:`Identity.from_config`."""
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ConfigError(f"unknown Onebar setting {spell(unknown[0])}; "
                          f"known: {', '.join(CONFIG_KEYS)}")
    service_url = config.get("SERVICE_URL")
    if not service_url:
        raise ConfigError(f"set {spell('SERVICE_URL')} to the identity service's URL, "
                          "such as 'https://id.example.com'")
    cookie_name = config.get("COOKIE_NAME") or DEFAULT_COOKIE_NAME
    verifier = config.get("VERIFIER")
    tuning: dict[str, Any] = {}
    for key, kind in (("TIMEOUT", float), ("CACHE_TTL", float), ("CACHE_SIZE", int)):
        if config.get(key) is not None:
            tuning[key.lower()] = _number(config[key], kind, spell(key))
    keys = config.get("SECRET_KEYS")
    if verifier is None and keys:
        if isinstance(keys, str):
            keys = [k.strip() for k in keys.split(",") if k.strip()]
        if not isinstance(keys, (list, tuple)) or not all(isinstance(k, (str, bytes)) and k for k in keys):
            raise ConfigError(f"{spell('SECRET_KEYS')} must be the service's keys, oldest first")
        store = config.get("STORE") or _open_store(config.get("DATABASE"), spell("DATABASE"))
        max_age = config.get("SESSION_MAX_AGE")
        verifier = LocalVerifier(
            keys, store=store, service_url=None if store is not None else service_url, cookie_name=cookie_name,
            max_age=None if max_age is None else _number(max_age, int, spell("SESSION_MAX_AGE")), **tuning)
    elif verifier is None:
        for key in ("DATABASE", "STORE", "SESSION_MAX_AGE"):
            if config.get(key):
                raise ConfigError(f"{spell(key)} is only used with {spell('SECRET_KEYS')} (local verification)")
        verifier = RemoteVerifier(service_url, cookie_name=cookie_name, **tuning)
    return {"service_url": service_url, "public_url": config.get("PUBLIC_URL") or None, "cookie_name": cookie_name,
        "verifier": verifier, "site_url": config.get("SITE_URL") or None,
        "backchannel_secret": _secret(config.get("BACKCHANNEL_SECRET"), spell("BACKCHANNEL_SECRET")),
        "backchannel_file": config.get("BACKCHANNEL_FILE") or None}


def _secret(value: object, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) < 32:
        raise ConfigError(f"{name} must be the secret 'onebar app add --backchannel-url' printed "
                          "(at least 32 characters)")
    return value


def _number(value: object, kind: type, name: str) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, not {value!r}") from None
    if number < 0:
        raise ConfigError(f"{name} must not be negative")
    return number


def _open_store(path: object, name: str) -> Store | None:
    if not path:
        return None
    from pathlib import Path

    from ..store import SQLiteStore, open_url
    from ..urls import is_postgres

    # Read-only use: the app never upgrades the service's schema (upgrade=False).
    if is_postgres(str(path)):
        return open_url(str(path), upgrade=False)
    if not Path(str(path)).is_file():
        raise ConfigError(f"{name} names no Onebar database: {path} does not exist")
    return SQLiteStore(str(path), upgrade=False)

