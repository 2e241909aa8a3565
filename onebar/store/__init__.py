"""Where users, sessions and registered apps live.

:class:`Store` is the interface the web layer and the CLI use;
:class:`SQLiteStore` is the embedded default and
:class:`onebar.store.postgres.PostgresStore` (the ``postgres`` extra) the one
for many nodes. :func:`open_store` picks one from the settings.
"""

from .base import (ActiveSession, App, AuditEvent, Backchannel, Event, HandoffCode, Session, Store, User,
                   normalize_email, normalize_origin)
from .factory import open_store, open_url
from .sqlite import SQLiteStore

__all__ = [
    "ActiveSession",
    "App",
    "AuditEvent",
    "Backchannel",
    "Event",
    "HandoffCode",
    "SQLiteStore",
    "Session",
    "Store",
    "User",
    "normalize_email",
    "normalize_origin",
    "open_store",
    "open_url",
]
