"""The store interface and the records it returns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from .. import text
from ..exc import ValidationError


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    name: str
    avatar_url: str | None
    created_at: int
    #: The user proved they read mail at ``email`` (a link they were sent).
    email_verified: bool = False
    #: Seconds since the epoch when an operator disabled the account, else None.
    disabled_at: int | None = None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def initials(self) -> str:
        words = [w for w in re.split(r"[\s\-_.@]+", self.name) if w and w[0].isalnum()]
        if not words:
            return self.email[:1].upper()
        letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
        return letters.upper()


@dataclass(frozen=True, slots=True)
class Session:
    #: A public handle (a hash of the secret session id), safe to show and to
    #: post back from the account page; it cannot be turned into a cookie.
    key: str
    user_id: str
    created_at: int
    last_seen_at: int
    expires_at: int
    user_agent: str
    ip: str


@dataclass(frozen=True, slots=True)
class ActiveSession:
    session: Session
    user: User


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One line of the audit log: who, what, when, from which address and app.

    Never holds a password, a cookie or a token: ``detail`` is a short plain
    note ("by operator", "3 sessions").
    """

    event: str
    at: int
    user_id: str | None = None
    email: str = ""
    address: str = ""
    app: str = ""
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"at": self.at, "event": self.event, "user_id": self.user_id, "email": self.email,
                "address": self.address, "app": self.app, "detail": self.detail}


#: The kinds of :class:`Event`.
SESSION_ENDED = "session_ended"
PROFILE_CHANGED = "profile_changed"
APPS_CHANGED = "apps_changed"


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the event log that open bars and app servers follow (:mod:`onebar.live`).

    The store writes it itself, in the transaction that made the change, so no
    caller can forget it:

    - ``session_ended``: one row per session that actually ended (sign-out,
      revocation, "sign out everywhere", a password change or reset, an
      account disabled or deleted), with ``user_id`` and ``session_key`` (the
      sessions table's ``key``, the hash of the secret id). Ending every
      session of a user writes one row per session it ended, never a
      "all of them" row, so a reader matches on ``session_key`` alone.
    - ``profile_changed``: ``user_id`` whose name, avatar or email changed;
      ``session_key`` is None.
    - ``apps_changed``: the list of registered apps changed; no user.

    ``id`` only grows and is given in commit order, so "everything after the
    last id I saw" misses nothing. ``data`` holds nothing secret and nothing
    ``/api/me`` does not already tell (it is ``{}`` today). Events older than
    an hour are purged with the dead sessions (:meth:`Store.purge_sessions`).
    """

    id: int
    at: int
    kind: str
    user_id: str | None = None
    session_key: str | None = None
    data: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HandoffCode:
    """A one-time hand-off code as issued (onebar.handoff): whose session, which site, which PKCE challenge."""

    session_key: str
    origin: str
    challenge: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class App:
    id: str
    name: str
    url: str

    @property
    def origin(self) -> str:
        return normalize_origin(self.url)


@dataclass(frozen=True, slots=True)
class Backchannel:
    """Where an app's server hears that sessions ended (:mod:`onebar.backchannel`).

    ``secret`` signs that app's logout tokens and no other app's; it never
    leaves the service except to the operator who registers it.
    """

    app_id: str
    #: The app's registered origin (``App.origin``): the token's audience.
    origin: str
    url: str
    secret: str = field(repr=False)


def check_backchannel_url(url: str, origin: str) -> str:
    """``url`` if it is an http(s) URL on ``origin`` (the app's registered origin)
    with no query or fragment; else :class:`ValidationError`."""
    if normalize_origin(url) != origin:
        raise ValidationError(f"a back-channel URL must be on the app's own origin {origin}, not {url!r}")
    parts = urlsplit(url)
    if parts.query or parts.fragment or "#" in url or not parts.path.startswith("/"):
        raise ValidationError(f"a back-channel URL is a path on the app, such as {origin}/.onebar/backchannel")
    return url


_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
APP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def clean_email(email: str) -> str:
    """The email as it is stored and shown (NFKC, trimmed; see :mod:`onebar.text`).

    Raises :class:`ValidationError` for anything that is not one plain address.
    """
    email = text.clean_email(email)
    if not _EMAIL.match(email) or "." not in email.rpartition("@")[2]:
        raise ValidationError("Enter an email address such as ada@example.com.")
    return email


def normalize_email(email: str) -> str:
    """The form an email is compared and stored in for uniqueness."""
    return text.email_key(clean_email(email))


def normalize_origin(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) URL, lower-cased, default port dropped.

    Raises :class:`ValidationError` for anything that is not a plain http(s)
    URL (userinfo, no host, control characters, another scheme).
    """
    if not isinstance(url, str) or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url) or "\\" in url:
        raise ValidationError(f"not a plain http(s) URL: {url!r}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationError(f"not a valid URL: {url!r}") from None
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host or "@" in parts.netloc:
        raise ValidationError(f"not a plain http(s) URL: {url!r}")
    # Host names and IPv4 only: an IPv6 literal's brackets would read as a
    # regular expression to flask-cors, and the allowlist must stay literal.
    if not re.fullmatch(r"[a-z0-9.-]+", host):
        raise ValidationError(f"use a host name (such as localhost) or IPv4 address, not {host!r}")
    if port == 0:  # a port of its own to a browser, not "no port"
        raise ValidationError(f"not a usable port: {url!r}")
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


class Store(Protocol):
    """Everything the service keeps. Methods raise :class:`onebar.exc.StoreError` subclasses."""

    # users
    #: With ``invite`` (a nonce from :meth:`create_invite`), the invitation is used up in the same
    #: transaction; :class:`onebar.exc.NotFound` if it is not pending for ``email``.
    def create_user(self, email: str, name: str, password_hash: str, *, invite: str | None = None) -> User: ...
    def get_user(self, user_id: str) -> User | None: ...
    def get_credentials(self, email: str) -> tuple[User, str] | None: ...
    def list_users(self) -> list[User]: ...
    def update_user(
        self, user_id: str, *, name: str | None = None, avatar_url: str | None = None
    ) -> User: ...
    def set_password(self, user_id: str, password_hash: str) -> None: ...
    def get_user_by_email(self, email: str) -> User | None: ...
    #: A counter bumped by every password or email change; signed links carry
    #: it, so a reset link works once and dies when the email changes.
    def get_token_version(self, user_id: str) -> int | None: ...
    def set_email(self, user_id: str, email: str) -> User: ...
    def mark_email_verified(self, user_id: str, email: str) -> bool: ...
    def set_disabled(self, user_id: str, disabled: bool) -> bool: ...
    def delete_user(self, user_id: str) -> bool: ...

    # invitations (onebar user invite): one pending nonce per address, used up by the sign-up
    def create_invite(self, email: str) -> str: ...
    def invite_pending(self, email: str, nonce: str) -> bool: ...

    # sessions
    def create_session(self, user_id: str, *, expires_at: int, user_agent: str = "", ip: str = "",
                       keep: int | None = None) -> str:
        """A new live session; with ``keep``, the user's live sessions beyond the ``keep`` most
        recently used (this one included) end in the same transaction."""
        ...
    def get_active_session(self, sid: str, now: int) -> ActiveSession | None: ...
    def get_active_session_by_key(self, key: str, now: int) -> ActiveSession | None: ...
    def extend_session(self, sid: str, *, expires_at: int, now: int) -> None: ...
    def revoke_session(self, sid: str) -> bool: ...
    def revoke_session_key(self, user_id: str, key: str) -> bool: ...
    def revoke_user_sessions(self, user_id: str, *, except_sid: str | None = None) -> int: ...
    def list_sessions(self, user_id: str, now: int, limit: int = 50) -> list[Session]: ...
    #: also attempts, expired invitations and old events (see SQLStore.purge_sessions)
    def purge_sessions(self, before: int) -> int: ...

    # one-time hand-off codes (onebar.handoff), stored by hash; taking one deletes it
    def create_handoff_code(
        self, code_hash: str, *, session_key: str, origin: str, challenge: str, expires_at: int
    ) -> None: ...
    def take_handoff_code(self, code_hash: str, now: int) -> HandoffCode | None: ...

    # registered apps
    def add_app(self, app: App) -> App: ...
    def remove_app(self, app_id: str) -> bool: ...
    def list_apps(self) -> list[App]: ...
    #: Give an app a back-channel (``url`` on its origin, its own ``secret``), or none (``url=None``).
    def set_backchannel(self, app_id: str, url: str | None, secret: str | None = None) -> bool: ...
    def list_backchannels(self) -> list[Backchannel]: ...

    # the audit log
    def add_audit(self, event: AuditEvent) -> None: ...
    #: ``user_id`` and ``email`` together match a line with either.
    def list_audit(
        self, *, user_id: str | None = None, email: str | None = None, since: int | None = None, limit: int = 100
    ) -> list[AuditEvent]: ...

    # the event log (:class:`Event`), written by the methods above; read in id order
    def events_after(self, after_id: int, limit: int = 500) -> list[Event]: ...
    def last_event_id(self) -> int: ...

    # attempt windows: failed sign-ins counted where every worker sees them
    def acquire_attempt(self, key: str, limit: int, window: float, now: float, amount: int = 1) -> bool: ...
    def attempt_window(self, key: str, window: float, now: float) -> tuple[float, int]: ...
    def clear_attempts(self, key: str) -> None: ...

    # schema (onebar.store.schema): the version applied, and applying the rest
    def schema_version(self) -> int: ...
    def upgrade(self) -> tuple[int, int]: ...

    def ping(self) -> None: ...
    def close(self) -> None: ...
