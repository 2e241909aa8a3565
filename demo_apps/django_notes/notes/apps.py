from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "notes"
    verbose_name = "Notes"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_save

        from onebar.integrations.django import user_signed_out

        from .models import signed_out, welcome

        # A user row appears on a member's first visit (Onebar's backend creates it).
        post_save.connect(welcome, sender=settings.AUTH_USER_MODEL, dispatch_uid="notes.welcome")
        # The service says a session ended: where an app drops what it keeps per user.
        user_signed_out.connect(signed_out, dispatch_uid="notes.signed_out")
