"""Who is this browser, according to Onebar? A WSGI middleware that answers.

:class:`OnebarMiddleware` wraps any WSGI app and, before the app runs, puts the
signed-in Onebar user (an :class:`OnebarUser`) or ``None`` in
``environ["onebar.user"]``. It never answers a request itself and never fails
one: no cookie, a forged, expired or revoked one, or an identity service that
is down or slow all mean "signed out" for that request.

Example, runnable as it is (any WSGI server works the same way)::

    from wsgiref.simple_server import make_server

    from onebar.integrations.wsgi import OnebarMiddleware

    def hello(environ, start_response):
        user = environ["onebar.user"]
        text = f"Hello, {user.name}!" if user else "Hello! You are not signed in."
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        return [text.encode()]

    app = OnebarMiddleware(hello, service_url="http://localhost:8000")
    make_server("localhost", 8080, app).serve_forever()

Two ways to verify a cookie
---------------------------
*Remote* (the default, :class:`RemoteVerifier`): ask the service's
``GET /api/me`` with the visitor's Onebar cookie, and nothing else, forwarded.
The app holds no secret. Each answer is cached for ``cache_ttl`` seconds under
a hash of the cookie; a question the service does not answer within
``timeout`` means "signed out", and for ``retry_after`` seconds afterwards the
middleware does not ask again, so a dead service costs nobody a wait.

*Local* (:class:`LocalVerifier`), for apps run by the service's own operator:
check the cookie's signature here with the service's secret keys, then confirm
in the service's store (or by asking the service) that its session is still
active. Only valid signatures reach the store, so forged cookies cost nothing::

    from onebar.store import SQLiteStore
    from onebar.integrations.wsgi import LocalVerifier, OnebarMiddleware

    app = OnebarMiddleware(hello, service_url="http://localhost:8000", verifier=LocalVerifier(
        secret_keys=["...the service's keys, oldest first..."],
        store=SQLiteStore("/var/lib/onebar/onebar.sqlite3"),
    ))

In both modes a sign-out anywhere reaches the app within ``cache_ttl``
seconds (5 by default): the cache window is the price of not asking on every
request. Set it to 0 to ask every time, or give ``backchannel_secret=`` (the
secret ``onebar app add --backchannel-url`` printed): the service then POSTs a
signed logout token to ``/.onebar/backchannel``, and the middleware drops the
user from the cache of every worker process at once and calls
``identity.on_signed_out`` (:mod:`onebar.integrations.backchannel`)::

    app = OnebarMiddleware(hello, service_url="http://localhost:8000", backchannel_secret="...")
    app.identity.on_signed_out.append(lambda event: print("signed out:", event.user_id))

The cookie has to reach the app
-------------------------------
Browsers send the service's cookie (``onebar_session``, host-only by default)
to every port of the service's host, so apps on ``localhost:*`` next to a
service on ``localhost`` see it. Apps on sibling hosts see it once the
service sets ``ONEBAR_COOKIE_DOMAIN=.example.com`` for
``id.example.com``, ``notes.example.com``… An app on another registrable
domain never sees it: give it ``site_url=`` (its own public origin, as
registered) and it signs in through the service's hand-off on paths this
middleware serves, ``/.onebar/login?next=/path`` and ``/.onebar/callback``,
keeping a first-party ``HttpOnly`` credential of its own
(:mod:`onebar.integrations.handoff`)::

    app = OnebarMiddleware(hello, service_url="https://id.example.com", site_url="https://notes.example.org")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..exc import ConfigError
from .cookies import cookie_value
from .identity import ENVIRON_KEY, Identity
from .backchannel import SignedOut
from .user import OnebarUser
from .verifiers import LocalVerifier, RemoteVerifier, Verifier

__all__ = [
    "ENVIRON_KEY",
    "Identity",
    "LocalVerifier",
    "OnebarMiddleware",
    "OnebarUser",
    "RemoteVerifier",
    "SignedOut",
    "Verifier",
    "cookie_value",
    "wants_json",
]


def wants_json(environ: Mapping[str, Any]) -> bool:
    """Whether the client is a script, not a person at a page: ``fetch()`` or
    ``XMLHttpRequest`` (``Sec-Fetch-Dest: empty``), or an ``Accept`` header that
    names JSON and not HTML. Such a client gets a 401 with JSON where a person
    would be redirected to the sign-in page."""
    if environ.get("HTTP_SEC_FETCH_DEST") == "empty":
        return True
    accept = environ.get("HTTP_ACCEPT", "")
    return "json" in accept and "text/html" not in accept


class OnebarMiddleware:
    """Put the verified Onebar user, or None, in ``environ["onebar.user"]``.

    ``OnebarMiddleware(app, service_url=..., **options)`` builds an
    :class:`Identity` from the options (``public_url``, ``cookie_name``,
    ``verifier``); ``OnebarMiddleware(app, identity=identity)`` shares one.
    The identity is also at ``environ["onebar.identity"]`` for sign-in links.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], service_url: str | None = None, *,
                 identity: Identity | None = None, **options: Any) -> None:
        if identity is None:
            if not service_url:
                raise ConfigError("OnebarMiddleware needs service_url=, the identity service's URL")
            identity = Identity(service_url, **options)
        elif service_url or options:
            raise ConfigError("give OnebarMiddleware either identity= or service_url= and options, not both")
        self.app = app
        self.identity = identity

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ.pop(ENVIRON_KEY, None)  # only this middleware decides who the visitor is
        environ["onebar.identity"] = self.identity
        answer = self.identity.answer(environ)  # /.onebar/backchannel, /.onebar/login, /callback, /logout
        if answer is not None:
            status, headers, body = answer
            start_response(status, headers + [("Content-Length", str(len(body)))])
            return [body]
        self.identity.user(environ)
        return self.app(environ, start_response)
