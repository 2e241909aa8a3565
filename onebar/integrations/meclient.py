"""Ask the service's ``GET /api/me`` who a cookie belongs to: one plain HTTP question.

The visitor's Onebar cookie goes to the configured service and nowhere else:
redirects are not followed, proxy variables are ignored, and the whole
exchange has one deadline. Anything but a well-formed ``200`` answer raises
:class:`Unavailable`; the caller decides what that means.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Callable
from urllib.parse import SplitResult, urlsplit

from ..exc import ConfigError
from .user import OnebarUser

__all__ = ["MeClient", "Unavailable", "check_service_url", "connect"]


class Unavailable(Exception):
    """The service gave no usable answer (down, slow, an error, nonsense)."""


def check_service_url(url: str) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment or "@" in parts.netloc:
        raise ConfigError(f"the Onebar service URL must be like https://id.example.com, not {url!r}")
    try:
        parts.port  # noqa: B018 - raises for a bad port
    except ValueError:
        raise ConfigError(f"the Onebar service URL has a bad port: {url!r}") from None
    return url.rstrip("/")


class MeClient:
    """Ask ``GET {service_url}/api/me`` with one cookie; see the module docstring.

    :param service_url: checked with :func:`check_service_url`.
    :param cookie_name: the only cookie sent.
    :param timeout: seconds for the whole exchange.
    :param max_body: bytes read at most; a larger answer is not the service.
    :param clock: monotonic seconds.
    """

    user_agent = "onebar-integrations"

    def __init__(self, service_url: str, *, cookie_name: str, timeout: float, max_body: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.service_url = check_service_url(service_url)
        self.cookie_name = cookie_name
        self.timeout = timeout
        self.max_body = max_body
        self._clock = clock
        parts = urlsplit(self.service_url)
        self._path = (parts.path.rstrip("/") or "") + "/api/me"
        self._ssl = ssl.create_default_context() if parts.scheme == "https" else None
        self._parts = parts

    def ask(self, cookie: str | None, *, credential: str | None = None, origin: str | None = None) -> OnebarUser | None:
        """The user ``cookie`` belongs to, or None (signed out); :class:`Unavailable` otherwise.

        Or, for an app on another registrable domain, a site ``credential``
        (:mod:`onebar.integrations.handoff`), sent as a Bearer token with the
        app's ``origin``, the only origin it is good for.
        """
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        if credential is not None:
            headers.update({"Authorization": f"Bearer {credential}", "Origin": origin or ""})
        else:
            headers["Cookie"] = f"{self.cookie_name}={cookie}"
        deadline = self._clock() + self.timeout
        conn = connect(self._parts, self.timeout, self._ssl)
        try:
            conn.request("GET", self._path, headers=headers)
            if conn.sock is not None:
                conn.sock.settimeout(max(deadline - self._clock(), 0.001))
            response = conn.getresponse()
            body = response.read(self.max_body + 1)
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            raise Unavailable(str(exc) or type(exc).__name__) from None
        finally:
            conn.close()
        if self._clock() > deadline:
            raise Unavailable(f"answered after more than {self.timeout}s")
        if status != 200:
            raise Unavailable(f"HTTP {status}")
        if len(body) > self.max_body:
            raise Unavailable("the answer is too large")
        try:
            doc = json.loads(body)
        except ValueError:
            raise Unavailable("the answer is not JSON") from None
        if not isinstance(doc, dict) or "user" not in doc:
            raise Unavailable("the answer has no 'user'")
        if doc["user"] is None:
            return None
        user = OnebarUser.from_json(doc["user"])
        if user is None:
            raise Unavailable("the answer's 'user' is malformed")
        return user


def connect(parts: SplitResult, timeout: float, context: ssl.SSLContext | None = None) -> http.client.HTTPConnection:
    """An unopened connection to ``parts``' host: HTTPS (certificates verified) or HTTP, by its scheme.

    The one place the integrations and the service's logout sender make their
    outgoing connections: no proxy from the environment, redirects never followed
    (``http.client`` has none)."""
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout,
                                           context=context or ssl.create_default_context())
    return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
