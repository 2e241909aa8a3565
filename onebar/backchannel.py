"""Logout tokens: how the service tells an app's *server* that a session ended.

The bar learns about a sign-out in the browser; an app's server, which caches
who a cookie belongs to (:mod:`onebar.integrations`), learns it from a
back-channel modelled on OpenID Connect Back-Channel Logout 1.0: the service
POSTs ``logout_token=…`` (form-encoded) to the app's registered back-channel
URL (``onebar app add --backchannel-url``, a path on the app's own origin; the
middleware serves ``/.onebar/backchannel``) and the app answers 200, or 400
for a token it refuses.

A logout token is an itsdangerous signature (HMAC-SHA256, salt
:data:`LOGOUT_SALT`, a salt of its own so no other signed value passes as one)
over a JSON object with the members OIDC names:

``iss``   the service's public URL
``aud``   the app's registered origin: a token for one app is refused by another
``sub``   the user's Onebar id
``sid``   :func:`logout_sid` of the session that ended, or absent: every session
          of the user ended (disabled, removed, "sign out everywhere")
``iat``, ``exp``  issued at / expires at, Unix seconds (:data:`TOKEN_LIFETIME` apart)
``jti``   a random id: the receiver refuses a token it has seen (replay)
``events`` ``{"http://schemas.openid.net/event/backchannel-logout": {}}``

SECURITY: each app has its own random back-channel secret (made by ``onebar app
add --backchannel-url``, kept in the service's store and in the app's
settings), so no key is shared between apps and an app can never forge a token
for another. The token says only "this session (or every session of this user)
ended"; the worst a stolen token can do is sign a user out of one app's cache
within its lifetime (an app then asks the service again). It never signs anyone
in.

Example::

    >>> tokens = LogoutTokens("per-app-secret")
    >>> value = tokens.issue(issuer="https://id.example.com", audience="https://notes.example.org",
    ...                      user_id="u_ada", sid=None)
    >>> tokens.read(value, "https://notes.example.org").sub
    'u_ada'
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeSerializer

__all__ = ["EVENT", "LOGOUT_SALT", "TOKEN_LIFETIME", "InvalidLogoutToken", "LogoutToken", "LogoutTokens",
           "logout_sid", "new_secret"]

LOGOUT_SALT = "onebar.backchannel-logout"
#: OIDC Back-Channel Logout's event type; a token without it is not a logout token.
EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: Seconds a token is accepted after it was issued (OIDC recommends "about two minutes").
TOKEN_LIFETIME = 120
#: Seconds of clock difference tolerated between the service's and the app's machines.
LEEWAY = 30
#: A token is ~400 bytes; anything much longer is not one.
MAX_TOKEN_LENGTH = 4096


def logout_sid(session_key: str) -> str:
    """The session identifier a logout token carries: a hash of the session's
    stored key (itself a hash of the secret id in the cookie), so the token
    holds nothing that names the session anywhere else."""
    return hashlib.sha256(b"onebar.logout-sid\0" + session_key.encode()).hexdigest()


def new_secret() -> str:
    """A per-app back-channel secret: 256 random bits."""
    return secrets.token_urlsafe(32)


class InvalidLogoutToken(Exception):
    """A token the receiver refuses; the message says why (never the token)."""


@dataclass(frozen=True, slots=True)
class LogoutToken:
    """What a valid token says."""

    sub: str
    #: :func:`logout_sid` of the ended session; None: every session of ``sub``.
    sid: str | None
    jti: str
    iat: int
    exp: int
    iss: str
    aud: str


class LogoutTokens:
    """Issue and read logout tokens signed with one app's back-channel secret.

    :param secret: the app's back-channel secret (:func:`new_secret`). SECURITY:
        whoever holds it can sign that app's users out of its cache, nothing more.
    :param lifetime: seconds a token is good for.
    :param clock: Unix seconds (tests pass a fake one).
    """

    salt = LOGOUT_SALT
    lifetime = TOKEN_LIFETIME
    leeway = LEEWAY

    def __init__(self, secret: str | bytes, *, lifetime: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if not secret:
            raise ValueError("a back-channel secret is needed")
        if lifetime is not None:
            self.lifetime = lifetime
        self._clock = clock
        self._serializer = URLSafeSerializer(secret, salt=self.salt)

    def issue(self, *, issuer: str, audience: str, user_id: str, sid: str | None) -> str:
        now = int(self._clock())
        claims: dict[str, object] = {"iss": issuer, "aud": audience, "sub": user_id, "iat": now,
                                     "exp": now + self.lifetime, "jti": secrets.token_urlsafe(16),
                                     "events": {EVENT: {}}}
        if sid is not None:
            claims["sid"] = sid
        return self._serializer.dumps(claims)

    def read(self, value: object, audience: str) -> LogoutToken:
        """The token's claims if it is genuine, current and for ``audience``;
        else :class:`InvalidLogoutToken`. Nothing else is raised."""
        if not isinstance(value, str) or not value or len(value) > MAX_TOKEN_LENGTH:
            raise InvalidLogoutToken("no logout token")
        try:
            claims = self._serializer.loads(value)
        except BadData:
            raise InvalidLogoutToken("bad signature") from None
        except Exception:  # noqa: BLE001 - a token must never crash the receiver
            raise InvalidLogoutToken("not a logout token") from None
        if not isinstance(claims, dict) or not isinstance(claims.get("events"), dict) \
                or EVENT not in claims["events"]:
            raise InvalidLogoutToken("not a logout token")
        sub, sid, jti, iss, aud = (claims.get(k) for k in ("sub", "sid", "jti", "iss", "aud"))
        iat, exp = claims.get("iat"), claims.get("exp")
        if not (isinstance(sub, str) and sub and isinstance(jti, str) and jti and isinstance(iss, str)
                and isinstance(aud, str) and type(iat) is int and type(exp) is int
                and (sid is None or (isinstance(sid, str) and sid))):
            raise InvalidLogoutToken("malformed claims")
        if "nonce" in claims:  # OIDC: a logout token never has one (it is not an ID token)
            raise InvalidLogoutToken("a nonce in a logout token")
        if aud != audience:
            raise InvalidLogoutToken("issued for another app")
        now = self._clock()
        if now > exp + self.leeway or exp - iat > self.lifetime:
            raise InvalidLogoutToken("expired")
        if iat > now + self.leeway:
            raise InvalidLogoutToken("issued in the future")
        return LogoutToken(sub=sub, sid=sid, jti=jti, iat=iat, exp=exp, iss=iss, aud=aud)
