"""The JSON API the bar and other apps call: ``/api/me``, ``/api/logout``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from .openapi import document
from .state import current_session, end_session, onebar

bp = Blueprint("api", __name__, url_prefix="/api")


def me_document() -> dict[str, Any]:
    """Everything the bar needs, in one answer (see DESIGN.md, `GET /api/me`)."""
    ob = onebar()
    active = current_session()
    base = ob.own_origin()
    user = None
    if active is not None:
        u = active.user
        user = {"id": u.id, "name": u.name, "email": u.email, "initials": u.initials, "avatar_url": u.avatar_url}
    return {
        "user": user,
        "apps": [{"id": a.id, "name": a.name, "url": a.url} for a in ob.apps],
        "links": {"login": f"{base}/login", "logout": f"{base}/logout", "account": f"{base}/account"},
    }


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message), status


@bp.get("/me")
def me() -> Response:
    return jsonify(me_document())


@bp.post("/logout")
def logout() -> Response | tuple[Response, int]:
    ob = onebar()
    origin = request.headers.get("Origin")
    # A cross-site form cannot send JSON without a CORS preflight, and the
    # preflight only passes for registered origins; the Origin check below
    # refuses the rest outright.
    if origin is None or (origin not in ob.app_origins and origin != ob.own_origin()):
        return _error(403, "sign out from this origin is not allowed")
    if not request.is_json:
        return _error(415, "send Content-Type: application/json")
    end_session()
    return jsonify(me_document())


@bp.get("/openapi.json")
def openapi() -> Response:
    response = jsonify(document(onebar().own_origin()))
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response
