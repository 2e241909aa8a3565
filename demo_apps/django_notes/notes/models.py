import logging
from typing import Any

from django.conf import settings
from django.db import models


class Note(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notes")
    title = models.CharField(max_length=120)
    body = models.TextField(blank=True, max_length=10_000)
    pinned = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-pinned", "-updated_at", "-id"]

    def __str__(self) -> str:
        return self.title


WELCOME_NOTES = (
    ("Welcome to Notes", True,
     "You signed in once, at Onebar. This Django app knows you through request.user, "
     "set by Onebar's middleware and authentication backend, so @login_required just works."),
    ("Ideas for the team offsite", False,
     "A walk along the river\nThe pizza place near the station\nAsk Grace about a keynote"),
    ("Reading list", False,
     "Notes on the Analytical Engine\nThe Mythical Man-Month\nDesigning Data-Intensive Applications"),
)


def welcome(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """A member's first visit: a few notes to start from."""
    if created and not kwargs.get("raw"):
        Note.objects.bulk_create(
            Note(owner=instance, title=title, pinned=pinned, body=body) for title, pinned, body in WELCOME_NOTES
        )


def signed_out(sender: Any, user_id: str, session_id: str | None, **kwargs: Any) -> None:
    """The service's back-channel says a session of ``user_id`` ended (onebar's
    ``user_signed_out``). Notes keeps nothing per session, so it says so in its log."""
    logging.getLogger("notes").info("onebar: user %s signed out (session %s)", user_id, (session_id or "all")[:12])
