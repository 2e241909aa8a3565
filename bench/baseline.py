"""The raw-WSGI baseline: ``GET /api/me`` done by hand, for the benchmarks.

It does the same work as the real service for that one route, and nothing a
framework adds: parse the ``Cookie`` header, verify the session cookie with
itsdangerous (same keys, same salt, same max age), one SQL lookup of the
session joined with its user on a per-thread SQLite connection (same pragmas),
re-issue a stale or day-old cookie, and answer the same JSON bytes with the same
headers (CORS for registered origins, ``Cache-Control: no-store``,
``Vary: Origin, Cookie, Authorization, Sec-Fetch-Site``, ``X-Content-Type-Options``, ``Referrer-Policy``).
``tests/bench/test_baseline.py`` checks the answers stay identical.

Served with the same server and settings as ``onebar serve`` (granian)::

    ONEBAR_DATA_DIR=DIR python -m bench.servers granian baseline --port 5100 --workers 1 --threads 8

(secret keys from ``ONEBAR_SECRET_KEYS``, exactly as the service reads them;
``python -m bench.baseline --data-dir DIR`` serves it with waitress).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadData, URLSafeTimedSerializer

from onebar import logs
from onebar.sessions import MAX_COOKIE_LENGTH, SESSION_SALT

_LOOKUP = (
    "SELECT s.user_id, u.id, u.email, u.name, u.avatar_url, u.email_verified FROM sessions s"
    " JOIN users u ON u.id = s.user_id"
    " WHERE s.key = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND u.disabled_at IS NULL"
)
_EXTEND = "UPDATE sessions SET expires_at = ?, last_seen_at = ? WHERE key = ? AND revoked_at IS NULL"
_WORDS = re.compile(r"[\s\-_.@]+")

StartResponse = Callable[..., Any]


def _initials(name: str, email: str) -> str:
    words = [w for w in _WORDS.split(name) if w and w[0].isalnum()]
    if not words:
        return email[:1].upper()
    return (words[0][0] + (words[-1][0] if len(words) > 1 else "")).upper()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


class BaselineApp:
    """``/api/me`` and ``/healthz`` as one plain WSGI callable.

    :param apps: ``(id, name, url)`` of the registered apps, in switcher order.
    :param secret_keys: oldest first, as in :class:`onebar.settings.Settings`.
    """

    cookie_name = "onebar_session"
    max_age = 14 * 24 * 3600
    renew_after = 24 * 3600

    def __init__(self, database: str | Path, secret_keys: Sequence[str], apps: Iterable[tuple[str, str, str]],
                 *, public_url: str | None = None) -> None:
        self.database = str(database)
        self.signer = URLSafeTimedSerializer(secret_keys[-1], salt=SESSION_SALT)
        older = list(secret_keys[:-1])
        self.fallback = URLSafeTimedSerializer(older, salt=SESSION_SALT) if older else None
        self.apps = [{"id": i, "name": n, "url": u} for i, n, u in apps]
        self.origins = frozenset(_origin(a["url"]) for a in self.apps)
        self.public_url = public_url
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.database, timeout=5.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = FULL")
            self._local.conn = conn
        return conn

    def _cookie(self, environ: dict[str, Any]) -> str | None:
        prefix = self.cookie_name + "="
        for part in environ.get("HTTP_COOKIE", "").split(";"):
            part = part.strip()
            if part.startswith(prefix):
                return part[len(prefix):].strip('"')
        return None

    def _verify(self, value: str) -> tuple[str, str, int, bool] | None:
        if not value or len(value) > MAX_COOKIE_LENGTH:
            return None
        stale = False
        try:
            payload, issued = self.signer.loads(value, max_age=self.max_age, return_timestamp=True)
        except BadData:
            if self.fallback is None:
                return None
            try:
                payload, issued = self.fallback.loads(value, max_age=self.max_age, return_timestamp=True)
            except BadData:
                return None
            stale = True
        sid, uid = (payload.get("s"), payload.get("u")) if isinstance(payload, dict) else (None, None)
        if not isinstance(sid, str) or not isinstance(uid, str) or not sid or not uid:
            return None
        return sid, uid, int(issued.timestamp()), stale

    def _cookie_header(self, value: str | None) -> tuple[str, str]:
        if value is None:
            return ("Set-Cookie", f"{self.cookie_name}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0;"
                                  " HttpOnly; Path=/; SameSite=Lax")
        return ("Set-Cookie", f"{self.cookie_name}={value}; Expires={_http_date(time.time() + self.max_age)};"
                              f" Max-Age={self.max_age}; HttpOnly; Path=/; SameSite=Lax")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            self._db().execute("SELECT 1").fetchone()
            return self._send(start_response, environ, b'{"status":"ok"}\n', [])
        if path != "/api/me" or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
            return [b"not found"]

        extra: list[tuple[str, str]] = []
        user = None
        raw = self._cookie(environ)
        if raw is not None:
            token = self._verify(raw)
            now = int(time.time())
            sid_key = hashlib.sha256(token[0].encode()).hexdigest() if token else ""
            row = self._db().execute(_LOOKUP, (sid_key, now)).fetchone() if token else None
            if token is None or row is None or row[0] != token[1]:
                extra.append(self._cookie_header(None))
            else:
                sid, uid, issued, stale = token
                if stale or now - issued >= self.renew_after:
                    db = self._db()
                    db.execute("BEGIN IMMEDIATE")
                    db.execute(_EXTEND, (now + self.max_age, now, sid_key))
                    db.execute("COMMIT")
                    extra.append(self._cookie_header(self.signer.dumps({"s": sid, "u": uid})))
                _, uid, email, name, avatar, verified = row
                user = {"id": uid, "name": name, "email": email, "initials": _initials(name, email),
                        "avatar_url": avatar, "email_verified": bool(verified)}
        base = self.public_url or f"{environ['wsgi.url_scheme']}://{environ.get('HTTP_HOST') or environ['SERVER_NAME']}"
        doc = {"user": user, "apps": self.apps,
               "links": {"login": f"{base}/login", "logout": f"{base}/logout", "account": f"{base}/account"}}
        body = json.dumps(doc, separators=(",", ":"), ensure_ascii=True).encode() + b"\n"
        return self._send(start_response, environ, body, extra)

    def _send(self, start_response: StartResponse, environ: dict[str, Any], body: bytes,
              extra: list[tuple[str, str]]) -> list[bytes]:
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        origin = environ.get("HTTP_ORIGIN")
        if origin in self.origins:
            headers += [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Credentials", "true")]
        headers += [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "strict-origin-when-cross-origin"),
                    ("Cache-Control", "no-store"), ("Vary", "Origin, Cookie, Authorization, Sec-Fetch-Site")]
        headers += extra
        start_response("200 OK", headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else body]


def _http_date(seconds: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(seconds))


def from_data_dir(data_dir: str | Path, secret_keys: Sequence[str]) -> BaselineApp:
    """The baseline over a service's data directory (its database and registered apps)."""
    database = Path(data_dir) / "onebar.sqlite3"
    conn = sqlite3.connect(database)
    try:
        apps = conn.execute("SELECT id, name, url FROM apps ORDER BY position").fetchall()
    finally:
        conn.close()
    return BaselineApp(database, secret_keys, apps)


def app_from_env() -> BaselineApp:
    """The baseline over ``ONEBAR_DATA_DIR`` with ``ONEBAR_SECRET_KEYS`` (a factory for any WSGI server)."""
    import os

    keys = [k.strip() for k in os.environ.get("ONEBAR_SECRET_KEYS", "").split(",") if k.strip()]
    if not keys or not os.environ.get("ONEBAR_DATA_DIR"):
        raise SystemExit("set ONEBAR_DATA_DIR and ONEBAR_SECRET_KEYS (comma separated, oldest first)")
    return from_data_dir(os.environ["ONEBAR_DATA_DIR"], keys)


def main(argv: Sequence[str] | None = None) -> None:
    import os

    from onebar.wsgiserver import run

    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=5100)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    keys = [k.strip() for k in os.environ.get("ONEBAR_SECRET_KEYS", "").split(",") if k.strip()]
    if not keys:
        parser.error("set ONEBAR_SECRET_KEYS (comma separated, oldest first)")
    logging.basicConfig(level=logging.INFO, format=logs.FORMAT)
    run(from_data_dir(args.data_dir, keys), host=args.host, port=args.port, threads=args.threads,
        name="onebar-baseline")


if __name__ == "__main__":
    main()
