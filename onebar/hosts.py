"""Answer only to the service's own names: a WSGI guard on the ``Host`` header.

When the service knows its public URL (``ONEBAR_PUBLIC_URL``), a request for
any other host is refused with ``400`` before Flask sees it. That closes the
DNS-rebinding shape (an attacker's name pointed at the service, so that pages
on that name read the service's answers) and keeps forged ``Host`` values out
of every URL the service builds. Names that internal callers use (an app
server's middleware asking ``http://onebar:8000``) are added with
``ONEBAR_ALLOWED_HOSTS``.

``/healthz`` answers whatever the ``Host``: load balancers probe nodes by
address. Without a public URL there is no allowlist; production sets one.

Example::

    app.wsgi_app = HostAllowlist(app.wsgi_app, ["id.example.com", "id.example.com:443"])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_DEFAULT_PORTS = {"http": "80", "https": "443"}


def hosts_of(public_url: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The ``Host`` values that name the service: the public URL's, with and
    without its default port, and each extra name as given (lower-cased)."""
    parts = urlsplit(public_url)
    host = (parts.hostname or "").lower()
    port = str(parts.port) if parts.port else _DEFAULT_PORTS[parts.scheme]
    names = {f"{host}:{port}"}
    if port == _DEFAULT_PORTS[parts.scheme]:
        names.add(host)
    return frozenset(names | {h.strip().lower() for h in extra if h.strip()})


class HostAllowlist:
    """Refuse requests whose ``Host`` is not in ``hosts`` (see the module docstring).

    :param app: the WSGI app to guard.
    :param hosts: literal ``Host`` values (``name`` or ``name:port``), lower case.
    :param exempt: paths served whatever the ``Host``.
    """

    exempt = ("/healthz",)
    body = b"This service does not answer to that host name.\n"

    def __init__(self, app: WSGIApp, hosts: Iterable[str], exempt: Iterable[str] | None = None) -> None:
        self.app = app
        self.hosts = frozenset(hosts)
        if exempt is not None:
            self.exempt = tuple(exempt)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST", "").lower().rstrip(".")
        if host in self.hosts or environ.get("PATH_INFO") in self.exempt:
            return self.app(environ, start_response)
        start_response("400 Bad Request", [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(self.body))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
        ])
        return [self.body]
