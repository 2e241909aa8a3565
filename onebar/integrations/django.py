"""Onebar for Django: ``request.user`` is the Onebar user, ``@login_required`` just works.

A middleware sets ``request.user`` lazily (Django's own
``AuthenticationMiddleware`` does the same with a ``SimpleLazyObject``) from
the Onebar cookie, verified by :mod:`onebar.integrations.wsgi`; an authentication
backend maps the Onebar user to a row of the project's user model (created on
first visit, the Onebar id as its username, name and email kept in step), so
foreign keys, ``{{ user }}`` in templates, permissions and the admin work as
usual. No Django session is needed: the Onebar cookie is the session.

settings.py::

    INSTALLED_APPS = [..., "django.contrib.auth", "django.contrib.contenttypes", ...]
    MIDDLEWARE = [
        ...,
        "django.contrib.auth.middleware.AuthenticationMiddleware",  # optional (the admin wants it)
        "onebar.integrations.django.OnebarMiddleware",                 # after it: it sets request.user
        ...,
    ]
    AUTHENTICATION_BACKENDS = ["onebar.integrations.django.OnebarBackend"]
    ONEBAR = {"SERVICE_URL": "http://localhost:8000"}
    # @login_required sends signed-out visitors here with ?next=<the page's
    # absolute URL> (Django keeps it absolute because the host differs); the
    # service follows it back when the page's origin is a registered app.
    LOGIN_URL = "http://localhost:8000/login"
    # {{ onebar.script_url }}, {{ onebar.login_url }} and {{ onebar_user_id }} in templates:
    TEMPLATES[0]["OPTIONS"]["context_processors"].append("onebar.integrations.django.onebar")

Pages that forget: a page that shows private data puts ``data-user="{{
onebar_user_id }}"`` (the Onebar id, empty when signed out) on the bar's tag::

    <script src="{{ onebar.script_url }}" data-app="notes" data-user="{{ onebar_user_id }}"></script>

When the bar learns that someone else is signed in now (a sign-out from any
bar, another account), it empties the page and reloads it.

``@login_required`` redirects a person to ``LOGIN_URL``; the middleware turns
that redirect into ``401`` with ``{"error": ..., "login_url": ...}`` for a
script (``fetch()``, or ``Accept`` naming JSON and not HTML).

``ONEBAR`` takes the keys of :meth:`onebar.integrations.wsgi.Identity.from_config`:
``SERVICE_URL`` (required), ``PUBLIC_URL``, ``SITE_URL``, ``COOKIE_NAME``,
``TIMEOUT``, ``CACHE_TTL``, ``CACHE_SIZE``; ``SECRET_KEYS`` with ``DATABASE``
for local verification; ``BACKCHANNEL_SECRET`` to hear sign-outs at once (and
:data:`user_signed_out` with them). ``SITE_URL`` is this project's own origin when it is on
another registrable domain than the service: the middleware then serves
``/.onebar/login``, ``/.onebar/callback`` and ``/.onebar/logout``
(:mod:`onebar.integrations.handoff`); set ``LOGIN_URL = "/.onebar/login"``
(the demo's Notes does, given ``--site-url``). A missing or wrong piece raises ``ImproperlyConfigured`` at
start-up, naming the fix.

In a view or template the Onebar record (initials, avatar) is
``request.user.onebar``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth import authenticate, get_backends, get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.functional import SimpleLazyObject

from ..exc import ConfigError
from .wsgi import Identity, OnebarUser, SignedOut, wants_json

__all__ = ["OnebarBackend", "OnebarMiddleware", "get_user", "onebar", "user_signed_out"]

#: Sent (sender: :class:`OnebarMiddleware`) when the service's back-channel
#: says a user's session ended, after the middleware forgot the user's cached
#: answers, with ``user_id`` (their Onebar id, the username of their row) and
#: ``session_id`` (the ended session's ``Identity.session_id``, or None for all
#: of them). Needs ``ONEBAR["BACKCHANNEL_SECRET"]``::
#:
#:     from django.dispatch import receiver
#:     from onebar.integrations.django import user_signed_out
#:
#:     @receiver(user_signed_out)
#:     def forget(sender, user_id, session_id, **kwargs):
#:         cache.delete(f"dashboard:{user_id}")
user_signed_out = Signal()

_AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


class OnebarBackend(ModelBackend):
    """Map a verified :class:`OnebarUser` to the project's user model.

    Only :class:`OnebarMiddleware` calls it, with a user the service vouched
    for; it has no password path, so it cannot be used to guess passwords.
    Permissions, groups, ``is_active``, ``is_staff`` and ``is_superuser`` are
    Django's own: it is a :class:`~django.contrib.auth.backends.ModelBackend`
    (as Django's ``RemoteUserBackend`` is) whose ``authenticate`` takes an
    Onebar user instead of a username and password.
    """

    #: Create a user row on a user's first visit. Set False (in a subclass) to
    #: let in only users that an administrator created, with the Onebar id as
    #: their username.
    create_unknown_user = True

    def authenticate(self, request: HttpRequest | None, onebar_user: OnebarUser | None = None,
                     **kwargs: Any) -> Any:
        if not isinstance(onebar_user, OnebarUser):
            return None
        model = get_user_model()
        manager = model._default_manager
        lookup = {model.USERNAME_FIELD: onebar_user.id}
        if self.create_unknown_user:
            user, created = manager.get_or_create(**lookup)
        else:
            try:
                user, created = manager.get(**lookup), False
            except model.DoesNotExist:
                return None
        user = self.configure_user(request, user, onebar_user, created=created)
        if not self.user_can_authenticate(user):
            return None
        user.onebar = onebar_user
        return user

    def configure_user(self, request: HttpRequest | None, user: Any, onebar_user: OnebarUser, *,
                       created: bool) -> Any:
        """Keep the row's name and email as Onebar has them; override to copy more."""
        first, _, last = onebar_user.name.partition(" ")
        wanted = {"email": onebar_user.email, "first_name": first[:150], "last_name": last[:150]}
        changed = [f for f, v in wanted.items() if hasattr(user, f) and getattr(user, f) != v]
        for field in changed:
            setattr(user, field, wanted[field])
        if created:
            user.set_unusable_password()  # Onebar holds the password, not this app
            changed.append("password")
        if changed:
            user.save(update_fields=changed)
        return user

    async def aauthenticate(self, request: HttpRequest | None, onebar_user: OnebarUser | None = None,
                            **kwargs: Any) -> Any:
        # ModelBackend's own would check a username and password: there is no password path here.
        return await sync_to_async(self.authenticate)(request, onebar_user=onebar_user, **kwargs)


def get_user(request: HttpRequest, identity: Identity) -> Any:
    """The Django user of this request's Onebar cookie, or ``AnonymousUser``."""
    if not hasattr(request, "_onebar_cached_user"):
        onebar_user = identity.user(request.META)  # WSGIRequest.META is the WSGI environ
        user = authenticate(request, onebar_user=onebar_user) if onebar_user is not None else None
        request._onebar_cached_user = user or AnonymousUser()  # type: ignore[attr-defined]
    return request._onebar_cached_user  # type: ignore[attr-defined]


class OnebarMiddleware:
    """Set ``request.user`` (lazily) and ``request.onebar`` (the :class:`Identity`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.identity = self._identity_from_settings()
        self.identity.on_signed_out.append(_send_signal)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        identity = self.identity
        answer = identity.answer(request.META)  # /.onebar/backchannel, /.onebar/login, /callback, /logout
        if answer is not None:
            return _handoff_response(*answer)
        request.onebar = identity  # type: ignore[attr-defined]
        request.user = SimpleLazyObject(lambda: get_user(request, identity))  # type: ignore[assignment]

        async def auser() -> Any:
            return await sync_to_async(get_user)(request, identity)

        request.auser = auser  # type: ignore[attr-defined]
        response = self.get_response(request)
        login = getattr(settings, "LOGIN_URL", None)
        if (response.status_code == 302 and isinstance(login, str) and login
                and response.get("Location", "").startswith(login) and wants_json(request.META)):
            return JsonResponse({"error": "sign in required", "login_url": response["Location"]}, status=401)
        return response

    def _identity_from_settings(self) -> Identity:
        me = f"{type(self).__module__}.{type(self).__qualname__}"
        config = getattr(settings, "ONEBAR", None)
        if not isinstance(config, dict) or not config.get("SERVICE_URL"):
            raise ImproperlyConfigured(
                'Onebar needs the identity service\'s URL: add ONEBAR = {"SERVICE_URL": "https://id.example.com"} '
                "to your settings.")
        try:
            identity = Identity.from_config(config, spell=lambda key: f'ONEBAR["{key}"]')
        except ConfigError as exc:
            raise ImproperlyConfigured(f"Onebar settings: {exc}.") from None
        if not django_apps.is_installed("django.contrib.auth"):
            raise ImproperlyConfigured(
                "Onebar users are Django users: add 'django.contrib.auth' and 'django.contrib.contenttypes' "
                "to INSTALLED_APPS.")
        if not any(isinstance(b, OnebarBackend) for b in get_backends()):
            raise ImproperlyConfigured(
                "Onebar needs its authentication backend: add 'onebar.integrations.django.OnebarBackend' "
                "to AUTHENTICATION_BACKENDS in your settings.")
        middleware = list(settings.MIDDLEWARE)
        if _AUTH_MIDDLEWARE in middleware and me in middleware and middleware.index(_AUTH_MIDDLEWARE) > middleware.index(me):
            raise ImproperlyConfigured(
                f"'{_AUTH_MIDDLEWARE}' would replace the Onebar user: put '{me}' after it in MIDDLEWARE.")
        return identity


def _send_signal(event: SignedOut) -> None:
    user_signed_out.send(sender=OnebarMiddleware, user_id=event.user_id, session_id=event.session_id)


def _handoff_response(status: str, headers: list[tuple[str, str]], body: bytes) -> HttpResponse:
    response = HttpResponse(body, status=int(status.split()[0]))
    for name, value in headers:
        if name == "Set-Cookie":
            response.cookies.load(value)
        else:
            response[name] = value
    return response


def onebar(request: HttpRequest) -> dict[str, Any]:
    """Template context processor: ``{{ onebar.script_url }}``, ``{{ onebar.login_url }}``,
    and ``{{ onebar_user_id }}`` (the Onebar id of the signed-in user, else empty) for ``data-user``."""
    identity = getattr(request, "onebar", None)
    if not isinstance(identity, Identity):
        return {}

    def user_id() -> str:  # templates call it, and only if they use it
        user = identity.user(request.META)
        return user.id if user is not None else ""

    return {"onebar": identity, "onebar_user_id": user_id}
