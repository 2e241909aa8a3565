"""The audit log: one structured line per security event, kept in the store.

:func:`record` writes the event to the store (``onebar audit`` and the
account page read it back) and logs the same line as JSON on the
``onebar.audit`` logger. An event names who, what, when, from which address
and app; never a password, a cookie or a token (callers pass none, and
``detail`` is a short plain note).

Events: ``login.success``, ``login.failure``, ``login.lockout``, ``logout``,
``session.revoke``, ``password.change``, ``password.reset``,
``password.reset-request``, ``email.change``, ``email.verify``, ``signup``,
``account.disable``, ``account.enable``, ``account.delete``, ``keys.rotate``,
``app.add``, ``app.remove``.
"""

from __future__ import annotations

import json
import logging
import time

from .exc import StoreError
from .store import AuditEvent, Store, User

log = logging.getLogger("onebar.audit")

#: Shown to users on their account page, in their words.
DESCRIPTIONS = {
    "login.success": "Signed in",
    "login.failure": "Wrong password",
    "login.lockout": "Sign-in paused after repeated wrong passwords",
    "logout": "Signed out",
    "session.revoke": "Signed out a device",
    "password.change": "Password changed",
    "password.reset": "Password reset by email link",
    "password.reset-request": "Password reset link requested",
    "email.change": "Email changed",
    "email.verify": "Email verified",
    "signup": "Account created",
    "account.disable": "Account disabled",
    "account.enable": "Account enabled",
    "account.delete": "Account deleted",
}


def record(store: Store, event: str, *, user: User | None = None, email: str = "", address: str = "",
           app: str = "", detail: str = "") -> AuditEvent:
    entry = AuditEvent(event=event, at=int(time.time()), user_id=user.id if user else None,
                       email=user.email if user else email, address=address, app=app, detail=detail)
    log.info("%s", json.dumps(entry.as_dict(), separators=(",", ":")))
    try:
        store.add_audit(entry)
    except StoreError as exc:  # the log line above still has it
        log.warning("audit event %s not stored: %s", event, exc)
    return entry
