"""Sign-in for app servers on another registrable domain than the service.

The service's cookie never reaches such an app (``SameSite=Lax``; third-party
cookies blocked), so the app's server learns the user the way its bar does,
through the service's hand-off (:mod:`onebar.handoff`), and keeps a
first-party credential of its own:

``/.onebar/login?next=/path``
    makes a PKCE verifier and a state, keeps them in a short-lived
    ``HttpOnly`` cookie (``onebar_handoff``, 5 minutes, this site only) and
    sends the browser to the service's ``/authorize`` with
    ``response_mode=query``: the service sends it back here with a one-time
    code (signed in already: no password; else its sign-in form first).
``/.onebar/callback?onebar_code=…&onebar_state=…``
    checks the state against that cookie (a code this browser did not ask for
    is refused: login CSRF), redeems the code server-to-server at
    ``POST /api/token`` with the verifier and this site's ``Origin``, keeps
    the site credential in an ``HttpOnly`` cookie (``onebar_site``) and sends
    the browser on to ``next``. The code is single-use and already spent when
    it reaches the app's access log.
``POST /.onebar/logout``
    forgets that credential here (clears the cookie; ``204``). The bar's
    hand-off module calls it when it learns of a sign-out, before it reloads a
    page the server rendered for the user, so the reload does not wait out the
    ``cache_ttl`` of the dead credential's last answer. Same-origin only
    (``Origin`` must be this site's): a page of another site cannot sign
    anybody out here.

Afterwards :class:`onebar.integrations.identity.Identity` verifies that cookie
by asking ``GET /api/me`` with ``Authorization: Bearer`` and this site's
``Origin`` (cached for ``cache_ttl`` seconds, as cookies are): a sign-out
anywhere, "sign out everywhere", a password change or the app's removal end it.

SECURITY: ``site_url`` is this app's public origin exactly as registered with
``onebar app add``; the credential is bound to it, so set it explicitly behind
a proxy rather than trusting the request's ``Host``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from werkzeug.http import dump_cookie

from .cookies import cookie_value
from .meclient import connect

__all__ = ["CALLBACK_PATH", "CREDENTIAL_COOKIE", "LOGIN_PATH", "LOGOUT_PATH", "HandoffPaths", "Response"]

log = logging.getLogger("onebar.integrations")

LOGIN_PATH = "/.onebar/login"
CALLBACK_PATH = "/.onebar/callback"
LOGOUT_PATH = "/.onebar/logout"
#: The site credential, first-party and HttpOnly.
CREDENTIAL_COOKIE = "onebar_site"
#: The verifier, state and next of a hand-off under way.
FLOW_COOKIE = "onebar_handoff"
FLOW_MAX_AGE = 300

#: (status, headers, body): what :meth:`HandoffPaths.answer` returns for its paths.
Response = tuple[str, list[tuple[str, str]], bytes]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _local_path(value: str | None) -> str:
    """``next`` only ever leads to a path on this site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value \
            or any(ord(c) < 0x21 for c in value):
        return "/"
    return value


class HandoffPaths:
    """The two paths an app on another domain serves (see the module docstring).

    :param service_url: the service as this app's server reaches it (for ``/api/token``).
    :param public_url: the service as browsers reach it (for ``/authorize``).
    :param site_url: this app's public origin, as registered; None: from the request.
    :param timeout: seconds the service has to redeem a code.
    """

    timeout = 2.0

    def __init__(self, service_url: str, public_url: str, site_url: str | None = None) -> None:
        self.service_url = service_url
        self.public_url = public_url
        self.site_url = site_url.rstrip("/") if site_url else None

    def origin(self, environ: Mapping[str, Any]) -> str:
        if self.site_url:
            return self.site_url
        scheme = environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        default = {"http": ":80", "https": ":443"}[scheme]
        return f"{scheme}://{host.lower().removesuffix(default)}"

    def answer(self, environ: Mapping[str, Any]) -> Response | None:
        """The response for a hand-off path, else None (the app answers)."""
        path = environ.get("PATH_INFO")
        if path == LOGIN_PATH:
            return self._start(environ)
        if path == CALLBACK_PATH:
            return self._finish(environ)
        if path == LOGOUT_PATH:
            return self._forget(environ)
        return None

    def _secure(self, environ: Mapping[str, Any]) -> bool:
        return self.origin(environ).startswith("https:")

    def _redirect(self, location: str, *cookies: str) -> Response:
        headers = [("Location", location), ("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"),
                   ("Content-Type", "text/plain; charset=utf-8")]
        headers += [("Set-Cookie", c) for c in cookies]
        return "303 See Other", headers, b"Continue to " + location.encode() + b"\n"

    def _start(self, environ: Mapping[str, Any]) -> Response:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        next_path = _local_path((query.get("next") or [""])[-1])
        verifier, state = _b64(secrets.token_bytes(48)), _b64(secrets.token_bytes(24))
        challenge = _b64(hashlib.sha256(verifier.encode()).digest())
        origin = self.origin(environ)
        flow = dump_cookie(FLOW_COOKIE, _b64(json.dumps([verifier, state, next_path]).encode()),
                           max_age=FLOW_MAX_AGE, path="/.onebar/", httponly=True, samesite="Lax",
                           secure=self._secure(environ))
        params = urlencode({"origin": origin, "return_to": origin + CALLBACK_PATH, "state": state,
                            "code_challenge": challenge, "code_challenge_method": "S256",
                            "response_mode": "query"})
        return self._redirect(f"{self.public_url}/authorize?{params}", flow)

    def _finish(self, environ: Mapping[str, Any]) -> Response:
        secure = self._secure(environ)
        done = dump_cookie(FLOW_COOKIE, "", max_age=0, expires=0, path="/.onebar/", httponly=True,
                           samesite="Lax", secure=secure)
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            verifier, state, next_path = json.loads(base64.urlsafe_b64decode(
                (cookie_value(environ.get("HTTP_COOKIE", ""), FLOW_COOKIE) or "") + "=="))
            if not all(isinstance(x, str) for x in (verifier, state, next_path)):
                raise ValueError("not a flow")
        except Exception:  # noqa: BLE001 - no flow, or not ours: nothing to finish
            return self._redirect("/", done)
        next_path = _local_path(next_path)
        if not hmac.compare_digest(query.get("onebar_state", "").encode(), state.encode()):
            log.warning("onebar: a sign-in came back that this browser did not start; ignored")
            return self._redirect(next_path, done)
        code = query.get("onebar_code")
        if not code:  # e.g. login_required
            return self._redirect(next_path, done)
        credential, max_age = self._redeem(code, verifier, self.origin(environ))
        if credential is None:
            return self._redirect(next_path, done)
        kept = dump_cookie(CREDENTIAL_COOKIE, credential, max_age=max_age, path="/", httponly=True,
                           samesite="Lax", secure=secure)
        return self._redirect(next_path, done, kept)

    def _forget(self, environ: Mapping[str, Any]) -> Response:
        headers = [("Cache-Control", "no-store"), ("Content-Type", "text/plain; charset=utf-8")]
        if environ.get("REQUEST_METHOD") != "POST":
            return "405 Method Not Allowed", headers + [("Allow", "POST")], b"POST only\n"
        if environ.get("HTTP_ORIGIN") != self.origin(environ):
            return "403 Forbidden", headers, b"only this site's own pages may do that\n"
        gone = dump_cookie(CREDENTIAL_COOKIE, "", max_age=0, expires=0, path="/", httponly=True, samesite="Lax",
                           secure=self._secure(environ))
        return "204 No Content", headers + [("Set-Cookie", gone)], b""

    def _redeem(self, code: str, verifier: str, origin: str) -> tuple[str | None, int]:
        parts = urlsplit(self.service_url)
        conn = connect(parts, self.timeout)
        try:
            body = json.dumps({"code": code, "code_verifier": verifier})
            conn.request("POST", (parts.path.rstrip("/") or "") + "/api/token", body=body, headers={
                "Content-Type": "application/json", "Origin": origin, "Accept": "application/json"})
            response = conn.getresponse()
            answer = json.loads(response.read(64 * 1024))
            status = response.status
        except (OSError, http.client.HTTPException, ValueError) as exc:
            log.warning("onebar: redeeming a sign-in code failed (%s)", type(exc).__name__)
            return None, 0
        finally:
            conn.close()
        if status != 200 or not isinstance(answer, dict) or not isinstance(answer.get("credential"), str):
            log.warning("onebar: the service refused a sign-in code: HTTP %s %s", status,
                        answer.get("error") if isinstance(answer, dict) else "")
            return None, 0
        return answer["credential"], int(answer.get("expires_in") or 0)
