"""The cross-site hand-off: one-time codes bound to a browser tab (PKCE) and
the per-site credentials they are exchanged for.

A site on another registrable domain never sees the service's cookie (third-
party cookies are blocked, or ``SameSite=Lax`` keeps them home). So the bar
there, or an app server's middleware, sends the browser to the service's
``/authorize`` with a PKCE challenge (RFC 7636, S256 only); the service, which
knows the browser from its own first-party cookie, sends it back to the site
with a one-time code; the site exchanges the code and the challenge's
verifier at ``POST /api/token`` for a *site credential*, kept first-party on
that site. It is the authorization-code-with-PKCE shape the OAuth 2.0
Security BCP (RFC 9700) prescribes for public clients, without the parts a
single first-party identity service does not need (client secrets, scopes,
consent, refresh tokens).

A site credential is an itsdangerous signature, under its own salt, over the
*service session* it came from (the session's public key, a hash) and the
site's origin. It holds no user data, and it is only as alive as that
session: sign out anywhere, "sign out everywhere", a password change or an
administrator's revoke ends the session and every credential derived from
it; ``onebar app remove`` ends the origin's. The service checks all of that on
each use, so nothing here needs a table of credentials.

Example::

    >>> creds = SiteCredentials(["a-key"], max_age=3600)
    >>> value = creds.issue("5f2a…", "https://notes.example.org")
    >>> creds.read(value, "https://notes.example.org")
    '5f2a…'
    >>> creds.read(value, "https://evil.example") is None
    True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence

from itsdangerous import BadData, URLSafeTimedSerializer

#: Seconds a code can be exchanged after it was issued (RFC 9700 advises short).
CODE_LIFETIME = 60

CREDENTIAL_SALT = "onebar.site-credential"

#: A credential is ~150 bytes; anything much longer is not one.
MAX_CREDENTIAL_LENGTH = 1024

_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")
_CODE = re.compile(r"[A-Za-z0-9\-_]{20,100}")
#: The tab's own random value, echoed back: bounded, URL-safe.
_STATE = re.compile(r"[A-Za-z0-9\-._~]{16,128}")


def challenge_of(verifier: str) -> str:
    """The S256 challenge of a verifier: base64url(SHA-256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def is_verifier(value: object) -> bool:
    return isinstance(value, str) and _VERIFIER.fullmatch(value) is not None


def is_challenge(value: object) -> bool:
    return isinstance(value, str) and _CHALLENGE.fullmatch(value) is not None


def is_code(value: object) -> bool:
    return isinstance(value, str) and _CODE.fullmatch(value) is not None


def is_state(value: object) -> bool:
    return isinstance(value, str) and _STATE.fullmatch(value) is not None


def verifier_matches(verifier: str, challenge: str) -> bool:
    """True when ``verifier`` is well formed and hashes to ``challenge`` (constant time)."""
    return is_verifier(verifier) and hmac.compare_digest(challenge_of(verifier), challenge)


def new_code() -> str:
    """A one-time code: 256 random bits. The store keeps only its hash."""
    return secrets.token_urlsafe(32)


def code_key(code: str) -> str:
    """The stored handle of a code: a copy of the database redeems nothing."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


class SiteCredentials:
    """Issue and read per-site credentials (see the module docstring).

    :param secret_keys: the service's keys, oldest first; the newest signs.
    :param max_age: seconds a credential is accepted after it was issued
        (the service's ``session_max_age``: never longer than the session).
    """

    salt = CREDENTIAL_SALT

    def __init__(self, secret_keys: Sequence[str | bytes], max_age: int) -> None:
        if not secret_keys:
            raise ValueError("at least one secret key is needed")
        self.max_age = max_age
        self._serializer = URLSafeTimedSerializer(list(secret_keys), salt=self.salt)

    def issue(self, session_key: str, origin: str) -> str:
        return self._serializer.dumps({"k": session_key, "o": origin})

    def read(self, value: object, origin: str | None) -> str | None:
        """The session key a credential names, if it is genuine, unexpired and
        was issued to ``origin``; else None. Never raises."""
        if not isinstance(value, str) or not value or len(value) > MAX_CREDENTIAL_LENGTH or not origin:
            return None
        try:
            payload = self._serializer.loads(value, max_age=self.max_age)
        except BadData:
            return None
        except Exception:  # noqa: BLE001 - a credential must never crash a request
            return None
        if not isinstance(payload, dict):
            return None
        key, bound = payload.get("k"), payload.get("o")
        if not isinstance(key, str) or not key or not isinstance(bound, str):
            return None
        return key if hmac.compare_digest(bound.encode(), origin.encode()) else None
