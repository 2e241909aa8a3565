"""Which store a configuration means: :func:`open_store`, the one place that decides.

``database_url`` picks the engine: unset or ``sqlite:…`` is the embedded
SQLite file (``settings.database``); ``postgresql://…`` is
:class:`onebar.store.postgres.PostgresStore`, which needs the ``postgres``
extra (``pip install 'onebar[postgres]'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..exc import ConfigError
from ..urls import POSTGRES_SCHEMES, is_postgres, mask_password, sqlite_path
from .sqlite import SQLiteStore

if TYPE_CHECKING:
    from ..settings import Settings
    from .sql import SQLStore


def open_url(url: str, *, upgrade: bool = True) -> SQLStore:
    """The store at ``url``: ``postgresql://…`` or ``sqlite:///absolute/path``."""
    scheme = url.partition(":")[0].lower()
    if scheme in POSTGRES_SCHEMES:
        try:
            from .postgres import PostgresStore
        except ImportError:
            raise ConfigError("a postgresql:// database needs psycopg: pip install 'onebar[postgres]'") from None
        return PostgresStore(url, upgrade=upgrade)
    path = sqlite_path(url)
    if path is not None:
        return SQLiteStore(path, upgrade=upgrade)
    raise ConfigError(f"not a database URL Onebar knows: {mask_password(url)} "
                      "(use postgresql://user:password@host/dbname or sqlite:///path/to/file.sqlite3)")


def open_store(settings: Settings, *, upgrade: bool = True) -> SQLStore:
    """The store ``settings`` configure, its schema upgraded unless ``upgrade=False``.

    With ``redis_url`` set, every transaction that records events publishes a
    wake-up (:func:`onebar.live.publisher`), so every node's stream process
    reads the event log at once instead of at its next poll.
    """
    if is_postgres(settings.database_url):
        store = open_url(settings.database_url, upgrade=upgrade)  # type: ignore[arg-type]
    else:
        store = SQLiteStore(settings.database, upgrade=upgrade)  # type: ignore[arg-type]
    if settings.redis_url:
        from ..live import publisher

        store.on_events = publisher(settings.redis_url)
    return store
