"""Onebar for Flask: ``current_user()``, ``@login_required`` and the bar's tag.

A thin adapter over :mod:`onebar.integrations.wsgi`: the same :class:`Identity`
verifies the cookie (remote by default, local with ``ONEBAR_SECRET_KEYS``),
at most once per request and only when a view or template asks.

Example::

    from flask import Flask, render_template_string
    from markupsafe import escape
    from onebar.integrations.flask import Onebar, current_user, login_required

    app = Flask(__name__)
    app.config["ONEBAR_SERVICE_URL"] = "http://localhost:8000"
    Onebar(app)            # or: onebar = Onebar(); onebar.init_app(app) in a factory

    @app.get("/")
    def index():
        user = current_user()          # an OnebarUser, or None
        return f"Hello, {escape(user.name)}!" if user else "Hello, guest."  # names are user input: escape

    @app.get("/mine")
    @login_required                    # signed out: the sign-in page and back (a script: 401 JSON)
    def mine():
        return render_template_string(  # templates escape; data-user: see "Pages that forget" below
            '<script src="{{ onebar.script_url }}" data-app="tasks" data-user="{{ onebar_user_id }}"></script>'
            "<p>Only for {{ onebar_user.name }}</p>")

Pages that forget: a page that shows private data puts ``data-user="{{
onebar_user_id }}"`` (the user's id, empty when signed out) on the bar's tag.
When the bar learns that someone else is signed in now (a sign-out from any
bar, another account), it empties the page and reloads it.

Settings, from ``app.config`` with the ``ONEBAR_`` prefix or as keyword
arguments without it (lower case): ``SERVICE_URL`` (required),
``PUBLIC_URL``, ``SITE_URL`` (this app's origin, for an app on another
registrable domain: sign-in through ``/.onebar/login``), ``COOKIE_NAME``,
``TIMEOUT``, ``CACHE_TTL``, ``CACHE_SIZE``;
for local verification ``SECRET_KEYS`` plus ``DATABASE`` or ``STORE`` (see
:class:`onebar.integrations.wsgi.LocalVerifier` for what holding the keys means).
``BACKCHANNEL_SECRET`` (and optionally ``BACKCHANNEL_FILE``) to hear sign-outs at
once from the service, and :data:`user_signed_out` with them.

Behind a reverse proxy, wrap the app in werkzeug's ``ProxyFix`` so
``request.url`` (the ``next=`` of the sign-in redirect) is the public address.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from blinker import Namespace
from flask import Flask, Response, current_app, has_request_context, jsonify, redirect, request

from .wsgi import Identity, OnebarUser, SignedOut, wants_json

__all__ = ["Onebar", "current_user", "identity", "login_required", "login_url", "user_signed_out"]

_signals = Namespace()

#: Sent (sender: the Flask app) when the service's back-channel says a user's
#: session ended, after the middleware forgot the user's cached answers, with
#: ``user_id`` (their Onebar id) and ``session_id`` (the ended session's
#: ``Identity.session_id``, or None for all of them). Connect to drop the
#: app's own caches or close the user's websockets::
#:
#:     @user_signed_out.connect_via(app)
#:     def forget(sender, user_id, session_id, **extra):
#:         my_cache.pop(user_id, None)
#:
#: Needs ``ONEBAR_BACKCHANNEL_SECRET`` (see docs/integrations.md).
user_signed_out = _signals.signal("onebar-user-signed-out")

F = TypeVar("F", bound=Callable[..., Any])

EXTENSION_KEY = "onebar"


class Onebar:
    """The Flask extension. Keeps no app: ``init_app`` may be called for several."""

    def __init__(self, app: Flask | None = None, **options: Any) -> None:
        self._options = {k.upper(): v for k, v in options.items()}
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        config = {k.removeprefix("ONEBAR_"): v for k, v in app.config.items() if k.startswith("ONEBAR_")}
        config.update(self._options)
        app.extensions[EXTENSION_KEY] = Identity.from_config(config, spell=lambda key: f"app.config['ONEBAR_{key}']")
        app.context_processor(_template_context)
        app.before_request(_handoff_paths)
        identity = app.extensions[EXTENSION_KEY]
        if identity.backchannel is not None:
            # First of all before_request functions: the service's POST carries
            # no CSRF token and no user, and other hooks must not turn it away.
            app.before_request_funcs.setdefault(None, []).insert(0, _backchannel)
            identity.on_signed_out.append(_send_signal)


def identity() -> Identity:
    """The current app's :class:`Identity` (raises if ``Onebar(app)`` was not called)."""
    try:
        return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]
    except KeyError:
        raise RuntimeError("Onebar is not set up on this app: call Onebar(app) or onebar.init_app(app)") from None


def current_user() -> OnebarUser | None:
    """The signed-in Onebar user of this request, or None."""
    return identity().user(request.environ)


def login_url(next_url: str | None = None) -> str:
    """The service's sign-in page, coming back to ``next_url`` (default: this page)."""
    return identity().login_url(next_url or request.url)


def login_required(view: F) -> F:
    """Let only signed-in users in; send the others to sign in and back here.

    A script (``fetch()``, or ``Accept`` naming JSON and not HTML) gets ``401``
    with ``{"error": ..., "login_url": ...}`` instead of a redirect to a page.
    """

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            if wants_json(request.environ):
                return jsonify(error="sign in required", login_url=login_url()), 401
            return redirect(login_url(), 302)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _handoff_paths() -> Response | None:
    """``/.onebar/login`` and ``/.onebar/callback``: sign-in for an app on another
    registrable domain (``ONEBAR_SITE_URL``; :mod:`onebar.integrations.handoff`)."""
    answer = identity().handoff.answer(request.environ)
    if answer is None:
        return None
    status, headers, body = answer
    return Response(body, status=int(status.split()[0]), headers=headers)


def _backchannel() -> Response | None:
    """``/.onebar/backchannel``: the service says a session ended (:mod:`onebar.integrations.backchannel`)."""
    backchannel = identity().backchannel
    answer = backchannel.answer(request.environ) if backchannel is not None else None
    if answer is None:
        return None
    status, headers, body = answer
    return Response(body, status=int(status.split()[0]), headers=headers)


def _send_signal(event: SignedOut) -> None:
    user_signed_out.send(current_app._get_current_object(),  # type: ignore[attr-defined]
                         user_id=event.user_id, session_id=event.session_id)


def _template_context() -> dict[str, Any]:
    if not has_request_context():
        return {"onebar": identity()}
    user = current_user()
    return {"onebar": identity(), "onebar_user": user, "onebar_user_id": user.id if user else ""}
