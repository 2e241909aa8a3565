"""The cross-site hand-off, web side: ``GET /authorize`` and ``POST /api/token``.

See :mod:`onebar.handoff` for the design. ``/authorize`` is a top-level page
visit: the browser arrives with a PKCE challenge from the tab (or the app
server) that started the hand-off, the service knows it from its own
first-party cookie (or asks it to sign in first), and sends it back to the
registered site with a one-time code. ``/api/token`` takes that code and its
verifier, from the site's origin only, and answers a site credential.

Parameters of ``/authorize`` (all required unless marked):

``origin``           the site's origin, exactly as registered (``onebar app add``)
``return_to``        where to send the browser back: a URL on that origin
``state``            the starter's random value, echoed back unchanged
``code_challenge``   base64url(SHA-256(verifier)), 43 characters
``code_challenge_method``  ``S256`` (the only one)
``response_mode``    optional: ``fragment`` (the default: the code never reaches
                     the site's server or its logs) or ``query`` (for an app
                     server's own callback, which asked for it)
``prompt``           optional: ``none`` to come straight back with
                     ``onebar_error=login_required`` instead of showing the
                     sign-in form (the bar's ``data-auto-signin``)
"""

from __future__ import annotations

import time
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for

from .. import handoff
from ..exc import ValidationError
from ..store import normalize_origin
from .state import current_session, service

bp = Blueprint("handoff", __name__)

#: The longest ``return_to`` followed (as ``next=``'s limit).
MAX_RETURN_TO = 2048


def _bad_request(message: str) -> tuple[str, int]:
    return render_template("error.html", title="This sign-in link is not valid", message=message), 400


def _back(return_to: str, mode: str, params: dict[str, str]) -> Response:
    """Redirect to ``return_to`` with ``params`` in its fragment (or query)."""
    parts = urlsplit(return_to)
    if mode == "query":
        query = "&".join(filter(None, [parts.query, urlencode(params)]))
        target = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    else:
        target = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, urlencode(params)))
    response = redirect(target, 303)
    # The site's page must not learn this URL from a Referer, nor keep it cached.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/authorize")
def authorize() -> Response | tuple[str, int]:
    svc = service()
    args = request.args
    origin, return_to = args.get("origin", ""), args.get("return_to", "")
    if origin not in svc.app_origins or len(return_to) > MAX_RETURN_TO:
        return _bad_request("The site that sent you here is not registered with this service.")
    try:
        if normalize_origin(return_to) != origin:
            raise ValidationError("another origin")
    except ValidationError:
        return _bad_request("The address to return to is not on the site that sent you here.")
    mode = args.get("response_mode", "fragment")
    if (mode not in ("fragment", "query") or args.get("code_challenge_method") != "S256"
            or not handoff.is_challenge(args.get("code_challenge")) or not handoff.is_state(args.get("state"))):
        return _bad_request("The sign-in request is incomplete. Go back to the site and try again.")
    state = args["state"]
    active = current_session()
    if active is None:
        if args.get("prompt") == "none":
            return _back(return_to, mode, {"onebar_error": "login_required", "onebar_state": state})
        # Sign in (or up) here, then come back to this very request.
        return redirect(url_for("pages.login", next=request.full_path), 303)
    code = handoff.new_code()
    svc.store.create_handoff_code(
        handoff.code_key(code), session_key=active.session.key, origin=origin,
        challenge=args["code_challenge"], expires_at=int(time.time()) + handoff.CODE_LIFETIME)
    return _back(return_to, mode, {"onebar_code": code, "onebar_state": state})


def _token_error(status: int, error: str, description: str) -> tuple[Response, int]:
    return jsonify(error=error, error_description=description), status


def token() -> Response | tuple[Response, int]:
    """``POST /api/token``: exchange a code and its verifier for a site credential."""
    svc = service()
    origin = request.headers.get("Origin")
    if origin is None or origin not in svc.app_origins:
        return _token_error(403, "invalid_client", "this origin is not a registered app")
    body = request.get_json(silent=True)
    if not request.is_json or not isinstance(body, dict):
        return _token_error(415, "invalid_request", "send a JSON object with code and code_verifier")
    code, verifier = body.get("code"), body.get("code_verifier")
    if not handoff.is_code(code) or not handoff.is_verifier(verifier):
        return _token_error(400, "invalid_request", "code and code_verifier are required and well formed")
    now = int(time.time())
    # Taken (deleted) before any check: a code is good for one attempt, so a
    # wrong verifier cannot be retried against it.
    issued = svc.store.take_handoff_code(handoff.code_key(code), now)
    if issued is None:
        return _token_error(400, "invalid_grant", "the code is unknown, used or expired")
    if issued.origin != origin:
        return _token_error(400, "invalid_grant", "the code was issued to another site")
    if not handoff.verifier_matches(verifier, issued.challenge):
        return _token_error(400, "invalid_grant", "the code_verifier does not match the code's challenge")
    active = svc.store.get_active_session_by_key(issued.session_key, now)
    if active is None:
        return _token_error(400, "invalid_grant", "the session the code came from has ended")
    current_app.logger.info("hand-off: a credential for %s, user %s", origin, active.user.id)
    return jsonify(credential=svc.site_credentials.issue(issued.session_key, origin), token_type="Bearer",
                   expires_in=svc.site_credentials.max_age)
