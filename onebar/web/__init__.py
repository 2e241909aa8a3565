"""The Flask web layer: ``create_app(settings, store=None)``.

Example::

    from onebar import settings
    from onebar.web import create_app

    app = create_app(settings.load())      # a WSGI app; serve it with waitress
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from flask import Flask, Request, Response, abort, jsonify, render_template, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_cors import CORS
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from ..exc import StoreBusy, StoreError
from ..ratelimit import Throttle
from ..sessions import SessionCodec
from ..settings import Settings
from ..store import SQLiteStore, Store
from . import jsonapi, pages
from .fastpath import SignedOutMeCache
from .state import Onebar, init_app

#: Seconds a client is told to wait when the store is busy.
RETRY_AFTER_BUSY = 1


def _static_dir() -> Path:
    """``static/`` of the checkout, or the copy a wheel installs as ``onebar/_static``."""
    packaged = Path(__file__).resolve().parent.parent / "_static"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "static"


@dataclass
class _Script:
    """onebar.js, read once and again only when the file changes."""

    path: Path
    stamp: tuple[int, int] | None = None
    body: bytes = b""
    etag: str = ""

    def load(self) -> "_Script":
        st = os.stat(self.path)
        if (st.st_mtime_ns, st.st_size) != self.stamp:
            body = self.path.read_bytes()
            self.body, self.etag, self.stamp = body, hashlib.sha256(body).hexdigest()[:20], (st.st_mtime_ns, st.st_size)
        return self


#: Paths that never use Flask's session (CSRF tokens, flash messages).
_SESSIONLESS = ("/api/", "/assets/", "/healthz", "/onebar.js")

#: Headers every response gets; HTML pages get a CSP too, the API a Vary.
_COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "strict-origin-when-cross-origin"}
_API_HEADERS = [*_COMMON_HEADERS.items(), ("Vary", "Origin, Cookie")]


class _PagesSession(SecureCookieSessionInterface):
    """Flask's cookie session, opened only for the HTML pages that use it.

    The JSON API, the script and health checks never read or write it, so they
    skip its cookie parsing and signature check.
    """

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if request.path.startswith(_SESSIONLESS):
            return None  # Flask substitutes a read-only null session
        return super().open_session(app, request)


def create_app(settings: Settings, store: Store | None = None) -> Flask:
    store = store if store is not None else SQLiteStore(settings.database)  # type: ignore[arg-type]
    app = Flask(__name__, static_folder="assets", static_url_path="/assets")
    app.session_interface = _PagesSession()
    app.config.update(
        # Flask's own session cookie carries only the CSRF token and flash
        # messages; the identity cookie is ours (settings.cookie_name).
        SECRET_KEY=settings.secret_keys[-1],
        SECRET_KEY_FALLBACKS=list(settings.secret_keys[:-1]),
        SESSION_COOKIE_NAME="onebar_csrf",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        WTF_CSRF_SSL_STRICT=settings.cookie_secure,
        MAX_CONTENT_LENGTH=64 * 1024,
        MAX_FORM_PARTS=50,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.wsgi_app = SignedOutMeCache(app.wsgi_app, settings.cookie_name)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        # X-Forwarded-Host is not believed: set public_url for the public host.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]

    state = Onebar(
        settings=settings,
        store=store,
        codec=SessionCodec(settings.secret_keys, settings.session_max_age),
        throttle=Throttle(settings.rate_limit_storage, settings.login_rate_limit, settings.login_ip_rate_limit),
        apps=tuple(store.list_apps()),
    )
    init_app(app, state)
    # /onebar.js is the minified build (npm run build); ?debug is the readable source.
    script, script_source = _Script(_static_dir() / "onebar.min.js"), _Script(_static_dir() / "onebar.js")

    @app.template_filter("isotime")
    def isotime(seconds: int, human: bool = False) -> str:
        moment = datetime.fromtimestamp(seconds, timezone.utc)
        return moment.strftime("%d %b %Y, %H:%M UTC") if human else moment.isoformat()

    page_csp = (
        "default-src 'self'; img-src 'self' https: data:; object-src 'none'; base-uri 'none'; "
        f"form-action 'self' {' '.join(sorted(state.app_origins))}; frame-ancestors 'none'"
    )

    @app.after_request
    def security_headers(response: Response) -> Response:
        h = response.headers
        if request.path.startswith("/api/"):
            # JSON: a fixed set, appended without scanning (nothing else sets
            # them; flask-cors is told not to add its own Vary). The answer
            # differs by Origin (CORS) and by Cookie (the user).
            h.extend(_API_HEADERS)
            if "Cache-Control" not in h:
                h["Cache-Control"] = "no-store"
            return response
        h.update(_COMMON_HEADERS)
        if "Cache-Control" not in h:
            # Pages carry user data or CSRF tokens.
            h["Cache-Control"] = "no-store"
        if response.mimetype == "text/html":
            h.setdefault("Content-Security-Policy", page_csp)
            h.setdefault("X-Frame-Options", "DENY")
        return response

    # flask-cors gets the literal origins of registered apps only. Its hook is
    # registered after the one above, so it runs before it (Flask runs
    # after_request hooks in reverse order).
    CORS(
        app,
        resources={r"/api/*": {}},
        origins=sorted(state.app_origins),
        supports_credentials=True,
        methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type"],
        max_age=600,
        # Without an Origin header there is nothing to allow; flask-cors would
        # otherwise list every registered origin.
        always_send=False,
        vary_header=False,  # the hook above always sends Vary: Origin, Cookie on /api
    )
    csrf = CSRFProtect(app)
    csrf.exempt(jsonapi.bp)

    app.register_blueprint(pages.bp)
    app.register_blueprint(jsonapi.bp)

    @app.get("/healthz")
    def healthz() -> Response | tuple[Response, int]:
        try:
            store.ping()
        except StoreError as exc:
            app.logger.warning("health check failed: %s", exc)  # the detail stays in the log
            return jsonify(error="the store does not answer"), 503
        return jsonify(status="ok")

    @app.get("/onebar.js")
    def onebar_js() -> Response:
        try:
            current = (script_source if "debug" in request.args else script).load()
        except FileNotFoundError:
            abort(404)
        response = Response(current.body, mimetype="text/javascript")
        response.set_etag(current.etag)
        response.cache_control.public = True
        response.cache_control.max_age = 300
        response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        return response.make_conditional(request)

    @app.errorhandler(StoreError)
    def store_error(exc: StoreError) -> tuple[Response | str, int, dict[str, str]]:
        app.logger.warning("store error on %s %s: %s", request.method, request.path, exc)
        message = "The service is busy. Please try again in a moment." if isinstance(exc, StoreBusy) else (
            "The service cannot reach its data store right now.")
        headers = {"Retry-After": str(RETRY_AFTER_BUSY)}
        if request.path.startswith("/api/"):
            return jsonify(error=message), 503, headers
        return render_template("error.html", title="Try again shortly", message=message), 503, headers

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[str, int]:
        return render_template(
            "error.html",
            title="Please try again",
            message="This form has expired or was sent from another site. Go back, reload the page and try again.",
        ), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | tuple[Response | str, int, list[tuple[str, str]]]:
        if exc.code is None or exc.code < 400:
            return exc.get_response()
        # Keep the headers the status needs (Allow on a 405), not the default HTML type.
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        if request.path.startswith("/api/"):
            return jsonify(error=exc.description), exc.code, headers
        return render_template("error.html", title=exc.name, message=exc.description), exc.code, headers

    return app
