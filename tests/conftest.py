"""Shared fixtures: settings on a real SQLite file, the app, a client, an auth
helper, and Chromium for the browser tests (Playwright, pytest-playwright)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from onebar import settings as settings_mod
from onebar.settings import Settings
from onebar.store import App, SQLiteStore
from onebar.web import create_app

from bench.engines import PostgresServer, RedisServer
from .live import TEST_SECRET_KEYS

# Playwright's sync API keeps an asyncio loop running in the main thread for
# the rest of the session once a browser test has run; Django then refuses
# ORM calls from in-process tests "in an async context". The tests do not run
# Django inside that loop, so Django's documented escape hatch is safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

#: Registered apps of the in-process test service.
APPS = (
    App("notes", "Notes", "http://localhost:5001/"),
    App("tasks", "Tasks", "https://tasks.example.com/"),
)
PASSWORD = "correct horse battery"


# -- Chromium ---------------------------------------------------------------------

def chromium_executable() -> str | None:
    """Debian's chromium (or ONEBAR_CHROMIUM); None means Playwright's own build."""
    return os.environ.get("ONEBAR_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:  # type: ignore[type-arg]
    args = {
        **browser_type_launch_args,
        "args": [
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
        ],
    }
    exe = chromium_executable()
    if exe:
        args["executable_path"] = exe
    return args


# -- the service in-process ---------------------------------------------------------

@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_mod.load(environ={}, data_dir=tmp_path / "data", secret_keys=list(TEST_SECRET_KEYS),
                             public_url="http://localhost:5000")


@pytest.fixture
def store(settings: Settings) -> Iterator[SQLiteStore]:
    s = SQLiteStore(settings.database)  # type: ignore[arg-type]
    for a in APPS:
        s.add_app(a)
    yield s
    s.close()


# -- real PostgreSQL and Redis servers (tests/engines.py) --------------------------

#: The store backends a parametrized store test runs on.
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.destroy()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database of the session's PostgreSQL, dropped afterwards."""
    name = "t_" + secrets.token_hex(6)
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server.start()
    finally:
        server.destroy()


def open_test_store(backend: str, settings: Settings, request: pytest.FixtureRequest, **options: object):  # type: ignore[no-untyped-def]
    """A store of ``backend`` (see BACKENDS): the settings' SQLite file or a fresh PostgreSQL database."""
    if backend == "sqlite":
        return SQLiteStore(settings.database, **options)  # type: ignore[arg-type]
    from onebar.store.postgres import PostgresStore

    return PostgresStore(request.getfixturevalue("postgres_url"), **options)  # type: ignore[arg-type]


@pytest.fixture
def app(settings: Settings, store: SQLiteStore) -> Flask:
    app = create_app(settings, store)
    app.config["TESTING"] = True
    # The test client's requests name the public URL's host, as browsers do.
    app.config["SERVER_NAME"] = "localhost:5000"
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = _CSRF.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class AuthActions:
    def __init__(self, client: FlaskClient, app: Flask) -> None:
        self._client = client
        self._app = app

    def signup(self, email: str = "ada@example.com", name: str = "Ada Lovelace", password: str = PASSWORD,
               next: str = "") -> object:
        return self._client.post("/signup", data={
            "csrf_token": csrf_token(self._client, "/signup"), "name": name, "email": email,
            "password": password, "confirm": password, "next": next,
        })

    def login(self, email: str = "ada@example.com", password: str = PASSWORD, next: str = "") -> object:
        return self._client.post("/login", data={
            "csrf_token": csrf_token(self._client), "email": email, "password": password, "next": next,
        })

    def logout(self, next: str = "") -> object:
        return self._client.post("/logout", data={"csrf_token": csrf_token(self._client, "/logout"), "next": next})

    def cookie(self) -> str | None:
        c = self._client.get_cookie(self._app.extensions["onebar.service"].settings.cookie_name)
        return c.value if c else None

    def forget_device(self) -> None:
        """Drop the device cookie: from now on a browser the account never signed in on."""
        self._client.delete_cookie("onebar_device", path="/login")

    def me(self, **kwargs: object) -> dict:  # type: ignore[type-arg]
        return self._client.get("/api/me", **kwargs).get_json()  # type: ignore[no-any-return]


@pytest.fixture
def auth(client: FlaskClient, app: Flask) -> AuthActions:
    return AuthActions(client, app)


# -- mail ---------------------------------------------------------------------------

@pytest.fixture
def mailbox() -> Iterator["Mailbox"]:
    """A real SMTP server on loopback; see tests/mailbox.py."""
    from .mailbox import Mailbox

    with Mailbox() as box:
        yield box


@pytest.fixture
def mail_app(settings: Settings, store: SQLiteStore, mailbox) -> Flask:  # type: ignore[no-untyped-def]
    """The app, sending its mail through ``mailbox``."""
    app = create_app(settings.replace(smtp_url=mailbox.url), store)
    app.config["TESTING"] = True
    app.config["SERVER_NAME"] = "localhost:5000"  # the public URL's host, as browsers send it
    return app


@pytest.fixture
def mail_auth(mail_app: Flask) -> AuthActions:
    return AuthActions(mail_app.test_client(), mail_app)
