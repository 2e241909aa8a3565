"""Property-based tests: bad input never becomes a 500 or a wrong identity.

Each test asks for ``examples(n)``: ``n`` in the normal suite, many more when
``ONEBAR_FUZZ=thorough`` (``python -m bench.drill --only fuzz`` sets it).
Apps are built once per module (Hypothesis runs many examples per test, and a
function-scoped fixture would be shared across them anyway).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import HealthCheck, settings

from onebar import passwords
from onebar import settings as settings_mod
from onebar.sessions import SessionCodec
from onebar.store import SQLiteStore

from ..conftest import APPS, PASSWORD
from ..live import TEST_SECRET_KEYS

THOROUGH = os.environ.get("ONEBAR_FUZZ") == "thorough"


def examples(n: int) -> settings:
    """Hypothesis settings: ``n`` examples (20× with ONEBAR_FUZZ=thorough), no deadline."""
    return settings(max_examples=n * 20 if THOROUGH else n, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@dataclass
class FuzzApp:
    app: Flask
    store: SQLiteStore
    codec: SessionCodec
    user_id: str
    email: str
    password_hash: str

    def new_session_cookie(self, user_id: str | None = None) -> str:
        uid = user_id or self.user_id
        sid = self.store.create_session(uid, expires_at=int(time.time()) + 3600)
        return self.codec.encode(sid, uid)

    def throwaway_cookie(self) -> str:
        """A session of a new user (password PASSWORD), for forms that change or end things."""
        user = self.store.create_user(f"u{secrets.token_hex(6)}@example.com", "Throwaway", self.password_hash)
        return self.new_session_cookie(user.id)


def build(tmp: Path, **overrides: object) -> FuzzApp:
    from onebar.web import create_app

    cfg = settings_mod.load(environ={}, data_dir=tmp, secret_keys=list(TEST_SECRET_KEYS),
                            public_url="http://localhost:5000",
                            login_rate_limit="100000/minute", login_ip_rate_limit="100000/minute",
                            login_attempt_rate_limit="100000/minute", login_ip_attempt_rate_limit="100000/minute",
                            **overrides)
    store = SQLiteStore(cfg.database)  # type: ignore[arg-type]
    for a in APPS:
        store.add_app(a)
    password_hash = passwords.hash_password(PASSWORD)
    user = store.create_user("fuzz@example.com", "Fuzz Tester", password_hash)
    app = create_app(cfg, store)
    app.config["TESTING"] = True
    return FuzzApp(app, store, SessionCodec(cfg.secret_keys, cfg.session_max_age), user.id, user.email, password_hash)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzApp]:
    """The service with CSRF on, as served."""
    fa = build(tmp_path_factory.mktemp("fuzz"))
    yield fa
    fa.store.close()


@pytest.fixture(scope="module")
def forms_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzApp]:
    """The service with CSRF checks off, so fuzzed forms reach their validators and views."""
    fa = build(tmp_path_factory.mktemp("forms"))
    fa.app.config["WTF_CSRF_ENABLED"] = False
    yield fa
    fa.store.close()
