"""Tasks: a small to-do list in Flask that signs in with Onebar.

It knows one thing about Onebar, the service's URL, and uses it through
:mod:`onebar.integrations.flask`: pages greet the signed-in user server-side, the
task list is for members only (signed-out visitors go to the service's sign-in
page and come back), and every page embeds the bar. Its own data (tasks) lives
in its own SQLite file; its own cookie is ``tasks_session`` (CSRF tokens only).

Run it::

    python -m demo_apps.flask_tasks --port 8001 --service-url http://localhost:8000

On another registrable domain than the service (``onebar demo --cross-site``)
it also gets ``--public-url`` (the service as browsers reach it) and
``--site-url`` (its own origin, as registered): the service's cookie never
reaches it there, so it signs in through the middleware's hand-off paths
(``/.onebar/login``, ``/.onebar/callback``; docs/integrations.md).
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from flask import Flask, abort, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from onebar.integrations.flask import Onebar, current_user, identity, login_required, user_signed_out

SCHEMA = """
CREATE TABLE IF NOT EXISTS members (
    id         TEXT PRIMARY KEY,
    first_seen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   TEXT NOT NULL,
    title      TEXT NOT NULL,
    done       INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_owner ON tasks(owner_id, done, id);
"""

#: What a member finds on their first visit: a tour of single sign-on.
WELCOME_TASKS = (
    ("Sign in once with Onebar", True),
    ("Open Notes from the app switcher: you are already signed in there", False),
    ("Read the Handbook, a plain HTML page with the same bar", False),
    ("Sign out from any bar and watch every app forget you", False),
)

MAX_TITLE = 200


def _signed_out(sender: Flask, user_id: str, session_id: str | None, **extra: object) -> None:
    # Where an app drops what it keeps per user (caches, websockets); Tasks keeps
    # nothing, so it says so in its log.
    sender.logger.info("onebar: user %s signed out (session %s)", user_id, (session_id or "all")[:12])


def create_app(service_url: str, data_dir: str | Path, secret_key: str | None = None, *,
               public_url: str | None = None, site_url: str | None = None,
               backchannel_secret: str | None = None, cache_ttl: str | None = None,
               events_origin: str = "") -> Flask:
    """The Tasks demo site. ``events_origin``: the origin of the service's live
    stream when it is not the service's own (``onebar serve --events-port``),
    which the page's Content-Security-Policy must let the bar connect to."""
    app = Flask(__name__)
    data = Path(data_dir)
    data.mkdir(parents=True, exist_ok=True)
    app.config.update(
        SECRET_KEY=secret_key or secrets.token_urlsafe(32),
        # Every demo site runs on localhost, where cookies are shared by all
        # ports: each site names its own cookie so none overwrites another's.
        SESSION_COOKIE_NAME="tasks_session",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        ONEBAR_SERVICE_URL=service_url,
        ONEBAR_PUBLIC_URL=public_url,
        ONEBAR_SITE_URL=site_url,
        # The service tells this server at once when a session ends (onebar app
        # add --backchannel-url http://…/.onebar/backchannel printed the secret).
        ONEBAR_BACKCHANNEL_SECRET=backchannel_secret,
        ONEBAR_CACHE_TTL=cache_ttl,  # None: the default 5 s
        TASKS_DATABASE=str(data / "tasks.sqlite3"),
        MAX_CONTENT_LENGTH=16 * 1024,
    )
    Onebar(app)
    CSRFProtect(app)
    user_signed_out.connect(_signed_out, app)
    with closing(sqlite3.connect(app.config["TASKS_DATABASE"])) as db:
        db.executescript(SCHEMA)

    @app.teardown_appcontext
    def close_db(exc: BaseException | None) -> None:
        db = g.pop("db", None)
        if db is not None:
            db.close()

    @app.after_request
    def headers(response: Response) -> Response:
        service = identity().public_url
        # The bar needs nothing beyond its own script and its API (and its live
        # stream's port, docs/bar.md): a strict policy still works.
        connect = f"{service} {events_origin}".strip()
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; script-src 'self' {service}; connect-src 'self' {connect}; "
            "img-src 'self' https: data:; style-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")  # pages differ by user
        return response

    @app.get("/")
    def index() -> str:
        user = current_user()
        open_count = None
        if user is not None:
            open_count = _db().execute("SELECT COUNT(*) FROM tasks WHERE owner_id = ? AND done = 0",
                                       (user.id,)).fetchone()[0]
        return render_template("index.html", user=user, open_count=open_count, first_name=_first_name(user))

    @app.get("/tasks")
    @login_required
    def tasks() -> str:
        user = current_user()
        assert user is not None
        _welcome(user.id)
        rows = _db().execute("SELECT id, title, done FROM tasks WHERE owner_id = ? ORDER BY done, id",
                             (user.id,)).fetchall()
        return render_template("tasks.html", user=user, tasks=rows, first_name=_first_name(user),
                               open_count=sum(1 for r in rows if not r["done"]))

    @app.post("/tasks")
    @login_required
    def add_task() -> Response:
        user = current_user()
        assert user is not None
        title = " ".join(request.form.get("title", "").split())[:MAX_TITLE]
        if title:
            with _db() as db:
                db.execute("INSERT INTO tasks (owner_id, title, created_at) VALUES (?, ?, ?)",
                           (user.id, title, int(time.time())))
        return redirect(url_for("tasks"), 303)

    @app.post("/tasks/<int:task_id>/toggle")
    @login_required
    def toggle_task(task_id: int) -> Response:
        user = current_user()
        assert user is not None
        with _db() as db:
            changed = db.execute("UPDATE tasks SET done = 1 - done WHERE id = ? AND owner_id = ?",
                                 (task_id, user.id)).rowcount
        if not changed:
            abort(404)
        return redirect(url_for("tasks"), 303)

    @app.post("/tasks/clear")
    @login_required
    def clear_done() -> Response:
        user = current_user()
        assert user is not None
        with _db() as db:
            db.execute("DELETE FROM tasks WHERE owner_id = ? AND done = 1", (user.id,))
        return redirect(url_for("tasks"), 303)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        _db().execute("SELECT 1")
        return {"status": "ok"}

    return app


def _db() -> sqlite3.Connection:
    if "db" not in g:
        from flask import current_app

        g.db = sqlite3.connect(current_app.config["TASKS_DATABASE"], timeout=5)
        g.db.row_factory = sqlite3.Row
    return g.db  # type: ignore[no-any-return]


def _welcome(user_id: str) -> None:
    """A member's first visit: remember them and give them the tour."""
    with _db() as db:
        first = db.execute("INSERT OR IGNORE INTO members (id, first_seen) VALUES (?, ?)",
                           (user_id, int(time.time()))).rowcount
        if first:
            now = int(time.time())
            db.executemany("INSERT INTO tasks (owner_id, title, done, created_at) VALUES (?, ?, ?, ?)",
                           [(user_id, title, int(done), now) for title, done in WELCOME_TASKS])


def _first_name(user: object) -> str:
    name = getattr(user, "name", "") or ""
    return name.split()[0] if name.split() else name

