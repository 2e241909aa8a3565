"""Password hashing, delegated to Werkzeug (scrypt, salted, self-describing).

``verify`` for an unknown account still spends the time of a real check, so
the answer's timing does not tell whether an email has an account.
"""

from __future__ import annotations

from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 8
MAX_LENGTH = 1024

_DUMMY = generate_password_hash("onebar-timing-equaliser")


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    if stored_hash is None:
        check_password_hash(_DUMMY, password)
        return False
    return check_password_hash(stored_hash, password)
