"""The signed-in user, as the identity service describes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["OnebarUser"]


@dataclass(frozen=True, slots=True)
class OnebarUser:
    """The signed-in user, as ``GET /api/me`` describes them."""

    id: str
    name: str
    email: str
    initials: str
    avatar_url: str | None = None

    @classmethod
    def from_json(cls, data: object) -> OnebarUser | None:
        """The user of an ``/api/me`` document's ``user`` member; None if malformed."""
        if not isinstance(data, dict):
            return None
        fields = [data.get(k) for k in ("id", "name", "email")]
        if not all(isinstance(v, str) and v for v in fields):
            return None
        initials, avatar = data.get("initials"), data.get("avatar_url")
        return cls(
            id=data["id"],
            name=data["name"],
            email=data["email"],
            initials=initials if isinstance(initials, str) and initials else data["name"][:1].upper(),
            avatar_url=avatar if isinstance(avatar, str) and avatar else None,
        )

    @classmethod
    def from_record(cls, user: Any) -> OnebarUser:
        """From the store's :class:`onebar.store.User`."""
        return cls(id=user.id, name=user.name, email=user.email, initials=user.initials,
                   avatar_url=user.avatar_url or None)
