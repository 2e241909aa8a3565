"""The Flask web layer: ``create_app(settings, store=None)``.

Example::

    from onebar import settings
    from onebar.web import create_app

    app = create_app(settings.load())      # a WSGI app; `onebar serve` serves it with granian
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from flask import Flask, Response, has_request_context, jsonify, render_template, request, send_from_directory
from flask.sessions import SecureCookieSessionInterface
from flask_cors import CORS
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from ..exc import ServiceBusy, StoreBusy, StoreError
from ..mail import mailer_for
from ..handoff import SiteCredentials
from ..hosts import HostAllowlist, hosts_of
from ..passwords import HashingPool
from ..ratelimit import Throttle, limits_storage
from ..sessions import SessionCodec
from ..settings import Settings
from ..store import Store, open_store
from ..tokens import LinkSigner
from . import handoff, jsonapi, pages
from .fastpath import API_VARY, MeHandler
from .gate import SignInGate
from .state import Service, SessionPurger, init_app, write_cookie

#: Seconds a client is told to wait when the store is busy.
RETRY_AFTER_BUSY = 1


def _static_dir() -> Path:
    """``static/`` of the checkout, or the copy a wheel installs as ``onebar/_static``."""
    packaged = Path(__file__).resolve().parent.parent / "_static"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "static"


#: Headers every response gets; HTML pages get a CSP too, the API a Vary.
_COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "strict-origin-when-cross-origin"}
_API_HEADERS = [*_COMMON_HEADERS.items(), ("Vary", API_VARY)]


def _after_request_in_order(app: Flask, *hooks: Callable[[Response], Response]) -> None:
    """Run ``hooks`` after each request in the order given.

    Flask runs ``after_request`` hooks last-registered first; registering them
    reversed here keeps the order readable where it matters.
    """
    for hook in reversed(hooks):
        app.after_request(hook)


class _CsrfCookie(SecureCookieSessionInterface):
    """Flask's session cookie, which carries only the CSRF token and flash
    messages: Secure when configured and on any https request (behind a
    trusted TLS proxy without ``public_url``, as the identity cookie is), and
    then named ``__Host-onebar_csrf`` (Secure, no Domain, Path=/), which a
    sibling subdomain cannot plant for the parent domain."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.scheme == "https")

    def get_cookie_name(self, app: Flask) -> str:
        return "__Host-onebar_csrf" if self.get_cookie_secure(app) else "onebar_csrf"


def create_app(settings: Settings, store: Store | None = None) -> Flask:
    store = store if store is not None else open_store(settings)
    app = Flask(__name__, static_folder="assets", static_url_path="/assets")
    app.config.update(
        # Flask's own session cookie carries only the CSRF token and flash
        # messages; the identity cookie is ours (settings.cookie_name).
        SECRET_KEY=settings.secret_keys[-1],
        SECRET_KEY_FALLBACKS=list(settings.secret_keys[:-1]),
        # Named and made Secure per request: see _CsrfCookie.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        WTF_CSRF_SSL_STRICT=settings.cookie_secure,
        MAX_CONTENT_LENGTH=64 * 1024,
        MAX_FORM_PARTS=50,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.session_interface = _CsrfCookie()
    state = Service(
        settings=settings,
        store=store,
        codec=SessionCodec(settings.secret_keys, settings.session_max_age),
        throttle=Throttle(limits_storage(settings, store), settings.login_rate_limit,  # type: ignore[arg-type]
                          settings.login_ip_rate_limit, settings.login_attempt_rate_limit,
                          settings.login_ip_attempt_rate_limit, settings.login_account_rate_limit),
        apps=tuple(store.list_apps()),
        mailer=mailer_for(settings),
        links=LinkSigner(settings.secret_keys),
        hashing=HashingPool(settings.hashing_threads, settings.hashing_wait),
        purger=SessionPurger(store, settings.session_purge_interval),
        site_credentials=SiteCredentials(settings.secret_keys, settings.session_max_age),
    )
    init_app(app, state)
    # GET /api/me, signed in or out, is answered without Flask (same answer,
    # tested on both paths); everything else goes to Flask.
    # Requests that hash a password: a few at a time, the rest 503 at once.
    app.wsgi_app = SignInGate(app.wsgi_app, places=2 * settings.hashing_threads)  # type: ignore[method-assign]
    app.wsgi_app = MeHandler(app.wsgi_app, state)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        # X-Forwarded-Host is not believed: set public_url for the public host.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    if settings.public_url:
        # Outermost: a request for a foreign host name reaches nothing else.
        app.wsgi_app = HostAllowlist(  # type: ignore[method-assign]
            app.wsgi_app, hosts_of(settings.public_url, settings.allowed_hosts))
    static_dir = _static_dir()

    @app.template_filter("isotime")
    def isotime(seconds: int, human: bool = False) -> str:
        moment = datetime.fromtimestamp(seconds, timezone.utc)
        return moment.strftime("%d %b %Y, %H:%M UTC") if human else moment.isoformat()

    page_csp = (
        "default-src 'self'; img-src 'self' https: data:; object-src 'none'; base-uri 'none'; "
        f"form-action 'self' {' '.join(sorted(state.app_origins))}; frame-ancestors 'none'"
    )

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
        for name, value in _COMMON_HEADERS.items():
            h.setdefault(name, value)  # a page may ask for less (the hand-off's no-referrer)
        if "Cache-Control" not in h:
            # Pages carry user data or CSRF tokens.
            h["Cache-Control"] = "no-store"
        if response.mimetype == "text/html":
            h.setdefault("Content-Security-Policy", page_csp)
            h.setdefault("X-Frame-Options", "DENY")
        return response

    # The fixed headers first: the cookie's Vary: Cookie joins the API's Vary
    # instead of standing beside it.
    _after_request_in_order(app, security_headers, write_cookie)

    # flask-cors gets the literal origins of registered apps only. Its hook
    # touches only Access-Control-* headers, so its place among the others
    # does not matter.
    CORS(
        app,
        resources={r"/api/*": {}},
        origins=sorted(state.app_origins),
        supports_credentials=True,
        methods=["GET", "POST", "OPTIONS"],
        # Authorization: a site on another domain sends its credential (onebar.handoff).
        allow_headers=["Content-Type", "Authorization"],
        max_age=600,
        # Without an Origin header there is nothing to allow; flask-cors would
        # otherwise list every registered origin.
        always_send=False,
        vary_header=False,  # the hook above always sends API_VARY on /api
    )
    csrf = CSRFProtect(app)
    csrf.exempt(jsonapi.bp)

    app.register_blueprint(pages.bp)
    app.register_blueprint(jsonapi.bp)
    app.register_blueprint(handoff.bp)

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
        # /onebar.js is the minified build (npm run build); ?debug the readable source.
        # Each has its own ETag (If-None-Match → 304) and Cache-Control: public, max-age=300.
        name = "onebar.js" if "debug" in request.args else "onebar.min.js"
        response = send_from_directory(static_dir, name, mimetype="text/javascript", max_age=300)
        response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        return response

    # The bar's lazy ES modules, which onebar.js imports when /api/me lists them:
    # the cross-site hand-off (pages of other registrable domains) and the live
    # stream's client. A cross-origin module import needs CORS; they are public
    # and sent without cookies, so any origin may load them. Served minified
    # (npm run build), as /onebar.js is; ?debug serves the readable source.
    def lazy_module(name: str) -> Response:
        if "debug" not in request.args:
            name = name.removesuffix(".js") + ".min.js"
        response = send_from_directory(static_dir, name, mimetype="text/javascript", max_age=300)
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        return response

    for name in ("onebar-handoff.js", "onebar-live.js"):
        app.add_url_rule(f"/{name}", f"module_{name.split('.')[0].replace('-', '_')}",
                         lambda name=name: lazy_module(name), methods=["GET"])

    @app.errorhandler(StoreError)
    def store_error(exc: StoreError) -> tuple[Response | str, int, dict[str, str]]:
        app.logger.warning("store error on %s %s: %s", request.method, request.path, exc)
        message = "The service is busy. Please try again in a moment." if isinstance(exc, StoreBusy) else (
            "The service cannot reach its data store right now.")
        headers = {"Retry-After": str(RETRY_AFTER_BUSY)}
        if request.path.startswith("/api/"):
            return jsonify(error=message), 503, headers
        return render_template("error.html", title="Try again shortly", message=message), 503, headers

    @app.errorhandler(ServiceBusy)
    def service_busy(exc: ServiceBusy) -> tuple[Response | str, int, dict[str, str]]:
        app.logger.warning("busy on %s %s: %s", request.method, request.path, exc)
        message = "The service is busy. Please try again in a moment."
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
