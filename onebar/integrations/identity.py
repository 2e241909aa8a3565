"""What an adapter needs: which cookie, how to verify it, the service's links."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ..exc import ConfigError
from .cookies import DEFAULT_COOKIE_NAME, cookie_value
from .meclient import _check_service_url
from .user import OnebarUser
from .verifiers import LocalVerifier, RemoteVerifier, Verifier

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["ENVIRON_KEY", "Identity"]

#: Where the middleware puts the user (or None) in the WSGI environ.
ENVIRON_KEY = "onebar.user"

log = logging.getLogger("onebar.integrations")


class Identity:
    """Everything an adapter needs: which cookie, how to verify it, the service's links.

    :param service_url: the service as this app reaches it (see :class:`RemoteVerifier`).
    :param public_url: the service as browsers reach it, for sign-in links and
        the script tag; defaults to ``service_url``.
    :param cookie_name: the service's ``cookie_name`` setting.
    :param verifier: how a cookie is verified; a :class:`RemoteVerifier` on
        ``service_url`` unless given.
    """

    def __init__(
        self,
        service_url: str,
        *,
        public_url: str | None = None,
        cookie_name: str = DEFAULT_COOKIE_NAME,
        verifier: Verifier | None = None,
    ) -> None:
        self.service_url = _check_service_url(service_url)
        self.public_url = _check_service_url(public_url) if public_url else self.service_url
        self.cookie_name = cookie_name
        self.verifier: Verifier = verifier if verifier is not None else RemoteVerifier(
            self.service_url, cookie_name=cookie_name)

    # -- who -----------------------------------------------------------------

    def user(self, environ: dict[str, Any]) -> OnebarUser | None:
        """The user of this request, worked out once and kept in ``environ["onebar.user"]``."""
        if ENVIRON_KEY in environ:
            return environ[ENVIRON_KEY]  # type: ignore[no-any-return]
        user = None
        value = cookie_value(environ.get("HTTP_COOKIE", ""), self.cookie_name)
        if value:
            try:
                user = self.verifier.verify(value)
            except Exception:  # noqa: BLE001 - identity must never turn a page into a 500
                log.exception("onebar: verifying a cookie failed; treating the visitor as signed out")
        environ[ENVIRON_KEY] = user
        return user

    # -- links to the service ---------------------------------------------------

    def login_url(self, next_url: str | None = None) -> str:
        """The sign-in page; after signing in the service sends the browser to
        ``next_url`` if its origin is a registered app (so make it absolute)."""
        return self._link("/login", next_url)

    def logout_url(self, next_url: str | None = None) -> str:
        return self._link("/logout", next_url)

    @property
    def account_url(self) -> str:
        return self.public_url + "/account"

    @property
    def script_url(self) -> str:
        """For ``<script src="{script_url}" data-app="ID"></script>``."""
        return self.public_url + "/onebar.js"

    def _link(self, path: str, next_url: str | None) -> str:
        return self.public_url + path + (f"?{urlencode({'next': next_url})}" if next_url else "")

    # -- from a framework's settings ----------------------------------------------

    #: The keys :meth:`from_config` understands.
    CONFIG_KEYS = ("SERVICE_URL", "PUBLIC_URL", "COOKIE_NAME", "SECRET_KEYS", "DATABASE", "STORE",
                   "SESSION_MAX_AGE", "TIMEOUT", "CACHE_TTL", "CACHE_SIZE", "VERIFIER")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, spell: Callable[[str], str] = str) -> Identity:
        """Build from upper-case settings (Flask's ``ONEBAR_*``, Django's ``ONEBAR`` dict).

        ``SERVICE_URL`` is required. ``SECRET_KEYS`` switches to local
        verification, with ``DATABASE`` (the service's SQLite file) or
        ``STORE`` for revocation, else asking ``SERVICE_URL``. ``spell`` names a
        key the way the framework's user writes it, for error messages.
        """
        unknown = sorted(set(config) - set(cls.CONFIG_KEYS))
        if unknown:
            raise ConfigError(f"unknown Onebar setting {spell(unknown[0])}; "
                              f"known: {', '.join(cls.CONFIG_KEYS)}")
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
        return cls(service_url, public_url=config.get("PUBLIC_URL") or None, cookie_name=cookie_name,
                   verifier=verifier)


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

    from ..store import SQLiteStore

    if not Path(str(path)).is_file():
        raise ConfigError(f"{name} names no Onebar database: {path} does not exist")
    return SQLiteStore(str(path))

