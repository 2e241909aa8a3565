"""The JSON API the bar and other apps call: ``/api/me``, ``/api/logout``, ``/api/token``."""

from __future__ import annotations

import json
from urllib.parse import quote
from functools import lru_cache
from typing import Any

from flask import Blueprint, Response, jsonify, request

from .. import audit
from .handoff import token
from .openapi import document
from .state import current_session, end_session, service

bp = Blueprint("api", __name__, url_prefix="/api")
bp.add_url_rule("/token", view_func=token, methods=["POST"])


@lru_cache(maxsize=64)
def _tail(apps: tuple[Any, ...], base: str, cross_site: bool = False, events: str | None = None) -> str:
    """The JSON after ``"user"``: the same for every request to one origin."""
    doc: dict[str, Any] = {
        "apps": [{"id": a.id, "name": a.name, "url": a.url} for a in apps],
        "links": {"login": f"{base}/login", "logout": f"{base}/logout", "account": f"{base}/account"},
    }
    modules = []
    if cross_site:
        doc["cross_site"] = True
        modules.append("/onebar-handoff.js")
    if events:
        doc["events"] = events  # the live stream (onebar.live): the bar follows it while its tab is visible
        # The module reads the stream's URL from its own (a module has no other input).
        modules.append("/onebar-live.js?events=" + quote(events, safe=""))
    if modules:
        doc["modules"] = modules  # what the bar imports (onebar.js: one loop, whatever the module)
    return json.dumps(doc, separators=(",", ":"))[1:]


def _site(host: str) -> str:
    """A host's registrable domain, roughly: its last two labels (an IP address whole).

    Only the fallback for browsers that send no ``Sec-Fetch-Site``; it errs
    towards "cross-site" for hosts under a two-label suffix (``co.uk``), where
    the hand-off still works, only with one more redirect than needed.
    """
    if host.replace(".", "").isdigit():
        return host
    return ".".join(host.split(".")[-2:])


def is_cross_site(fetch_site: str | None, origin: str | None, own: str) -> bool:
    """Is the page asking on another registrable domain than the service (``own``)?

    The browser says so in ``Sec-Fetch-Site``; without it, the ``Origin``'s
    scheme and host are compared with the service's. The bar then signs in
    with the hand-off (onebar.handoff) instead of relying on the cookie.
    """
    if fetch_site is not None:
        return fetch_site == "cross-site"
    if not origin or origin == "null":
        return False
    o_scheme, _, o_rest = origin.partition("://")
    s_scheme, _, s_rest = own.partition("://")
    o_host, s_host = o_rest.split(":")[0].lower(), s_rest.split("/")[0].split(":")[0].lower()
    return o_scheme != s_scheme or _site(o_host) != _site(s_host)


def me_body(user: Any, apps: tuple[Any, ...], base: str, cross_site: bool = False, events: str | None = None) -> str:
    """The ``/api/me`` document for ``user`` (a store User or None), links under ``base``.

    Built from strings rather than one ``jsonify``: it is the request every
    page view of every app makes, and only ``user`` changes between them.
    ``onebar.web.fastpath`` answers with the same function.
    """
    doc = "null"
    if user is not None:
        doc = json.dumps({"id": user.id, "name": user.name, "email": user.email, "initials": user.initials,
                          "avatar_url": user.avatar_url, "email_verified": user.email_verified},
                         separators=(",", ":"))
    return f'{{"user":{doc},{_tail(apps, base, cross_site, events)}\n'


def me_response() -> Response:
    """Everything the bar needs, in one answer (DESIGN.md, ``GET /api/me``).

    ``"cross_site": true`` is added when the page asking is on another
    registrable domain: its bar signs in with the hand-off (onebar.handoff).
    ``"events"`` is the URL of the live stream (``onebar.live``) when one is
    configured (``events_url``).
    """
    svc = service()
    active = current_session()
    base = svc.own_origin()
    cross = is_cross_site(request.headers.get("Sec-Fetch-Site"), request.headers.get("Origin"), base)
    body = me_body(active.user if active is not None else None, svc.apps, base, cross, svc.settings.events_url)
    return Response(body, mimetype="application/json")


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message), status


@bp.get("/me")
def me() -> Response:
    return me_response()


@bp.post("/logout")
def logout() -> Response | tuple[Response, int]:
    svc = service()
    origin = request.headers.get("Origin")
    # A cross-site form cannot send JSON without a CORS preflight, and the
    # preflight only passes for registered origins; the Origin check below
    # refuses the rest outright.
    if origin is None or (origin not in svc.app_origins and origin != svc.own_origin()):
        return _error(403, "sign out from this origin is not allowed")
    if not request.is_json:
        return _error(415, "send Content-Type: application/json")
    active = current_session()
    end_session()
    if active is not None:
        audit.record(svc.store, "logout", user=active.user, address=request.remote_addr or "",
                     app=svc.app_for(origin))
    return me_response()


@bp.get("/openapi.json")
def openapi() -> Response:
    # The same document whatever the Host header says, so a shared cache can
    # keep it: the configured public URL, else "/" (relative to the document).
    settings = service().settings
    response = jsonify(document(settings.public_url or "/", settings.cookie_name))
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response
