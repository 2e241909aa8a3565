"""Where users, sessions and registered apps live.

:class:`Store` is the interface the web layer and the CLI use;
:class:`SQLiteStore` is the embedded default. Another engine (PostgreSQL)
implements the same methods and is passed to ``create_app(settings, store)``.
"""

from .base import ActiveSession, App, AuditEvent, Session, Store, User, normalize_email, normalize_origin
from .sqlite import SQLiteStore

__all__ = [
    "ActiveSession",
    "App",
    "AuditEvent",
    "SQLiteStore",
    "Session",
    "Store",
    "User",
    "normalize_email",
    "normalize_origin",
]
