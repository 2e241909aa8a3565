"""What an adapter needs: which cookie, how to verify it, the service's links."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from itsdangerous import URLSafeSerializer

from ..backchannel import logout_sid
from .backchannel import BACKCHANNEL_PATH, BackchannelReceiver, SignedOut
from .config import CONFIG_KEYS, identity_options
from .board import SignOutBoard, default_path
from .cookies import DEFAULT_COOKIE_NAME, cookie_value
from .handoff import CREDENTIAL_COOKIE, LOGIN_PATH, HandoffPaths
from .meclient import check_service_url
from .user import OnebarUser
from .verifiers import RemoteVerifier, Verifier

__all__ = ["ENVIRON_KEY", "Identity"]

#: Where the middleware puts the user (or None) in the WSGI environ.
ENVIRON_KEY = "onebar.user"

log = logging.getLogger("onebar.integrations")


def _payload(value: str) -> Any:
    """The claims of a value the service signed (and has just vouched for): its
    signature was checked there, so only the payload is decoded here."""
    payload = value.rsplit(".", 2)[0]
    return URLSafeSerializer(b"decoding needs no key").load_payload(payload.encode("ascii"))


class Identity:
    """Everything an adapter needs: which cookie, how to verify it, the service's links.

    :param service_url: the service as this app reaches it (see :class:`RemoteVerifier`).
    :param public_url: the service as browsers reach it, for sign-in links and
        the script tag; defaults to ``service_url``.
    :param cookie_name: the service's ``cookie_name`` setting.
    :param verifier: how a cookie is verified; a :class:`RemoteVerifier` on
        ``service_url`` unless given.
    :param site_url: this app's public origin as registered, for an app on
        another registrable domain than the service: sign-in then goes through
        the hand-off paths this app serves (:mod:`onebar.integrations.handoff`),
        and the site credential they keep is verified with this origin.
    :param backchannel_secret: this app's back-channel secret (printed by
        ``onebar app add --backchannel-url``): the middleware then serves
        ``/.onebar/backchannel`` (:mod:`onebar.integrations.backchannel`), drops a
        signed-out user from its cache at once and calls :attr:`on_signed_out`.
        SECURITY: it lets its holder sign this app's users out, nothing more;
        keep it out of the repository like any secret.
    :param backchannel_file: the file this app's worker processes share so a
        notice that reached one reaches all (:mod:`onebar.integrations.board`);
        by default one derived from the secret in ``$XDG_RUNTIME_DIR`` or the
        temporary directory.
    """

    #: Where the back-channel is served (a path this middleware owns).
    BACKCHANNEL_PATH = BACKCHANNEL_PATH

    def __init__(
        self,
        service_url: str,
        *,
        public_url: str | None = None,
        cookie_name: str = DEFAULT_COOKIE_NAME,
        verifier: Verifier | None = None,
        site_url: str | None = None,
        backchannel_secret: str | None = None,
        backchannel_file: str | None = None,
    ) -> None:
        self.service_url = check_service_url(service_url)
        self.public_url = check_service_url(public_url) if public_url else self.service_url
        self.cookie_name = cookie_name
        self.verifier: Verifier = verifier if verifier is not None else RemoteVerifier(
            self.service_url, cookie_name=cookie_name)
        self.site_url = check_service_url(site_url) if site_url else None
        self.handoff = HandoffPaths(self.service_url, self.public_url, self.site_url)
        # Site credentials are always asked of the service (no keys needed here).
        self._credentials = self.verifier if isinstance(self.verifier, RemoteVerifier) else RemoteVerifier(
            self.service_url, cookie_name=cookie_name)
        #: Called with a :class:`SignedOut` when the back-channel says a user's
        #: session ended (after their cached answers are dropped). The Flask
        #: and Django ``user_signed_out`` signals are listeners here; a plain
        #: WSGI app appends its own callables.
        self.on_signed_out: list[Callable[[SignedOut], None]] = []
        self.backchannel = BackchannelReceiver(
            backchannel_secret, audience=self.site_url, origin=self.handoff.origin, forget=self._signed_out,
            listeners=self.on_signed_out) if backchannel_secret else None
        self.board: SignOutBoard | None = None
        if backchannel_secret:
            path = backchannel_file or default_path(backchannel_secret)
            try:
                self.board = SignOutBoard(path)
            except OSError as exc:
                log.warning("onebar: cannot share sign-outs with this app's other processes through %s (%s); "
                            "each process hears only the notices it receives", path, exc)

    def _signed_out(self, user_id: str) -> None:
        # The receiving process forgets at once, then tells its siblings.
        self.forget_user(user_id)
        if self.board is not None:
            try:
                self.board.post(user_id)
            except OSError as exc:
                log.warning("onebar: cannot tell this app's other processes about a sign-out (%s)", exc)

    def _read_board(self) -> None:
        news = self.board.news()  # type: ignore[union-attr]
        if news == []:
            return
        verifiers = {id(v): v for v in (self.verifier, self._credentials)}.values()
        if news is None:
            for verifier in verifiers:
                forget_all = getattr(verifier, "forget_all", None)
                if forget_all is not None:
                    forget_all()
            return
        for user_id in news:
            self.forget_user(user_id)

    def answer(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes] | None:
        """The response for a path the middleware owns (``/.onebar/backchannel``,
        ``/.onebar/login``, ``/.onebar/callback``, ``/.onebar/logout``), else None: the app answers."""
        if self.backchannel is not None:
            answer = self.backchannel.answer(environ)
            if answer is not None:
                return answer
        return self.handoff.answer(environ)

    def forget_user(self, user_id: str) -> None:
        """Drop every cached answer naming ``user_id``: their next request is verified afresh."""
        for verifier in {id(v): v for v in (self.verifier, self._credentials)}.values():
            forget = getattr(verifier, "forget_user", None)
            if forget is not None:
                forget(user_id)

    # -- who -----------------------------------------------------------------

    def user(self, environ: dict[str, Any]) -> OnebarUser | None:
        """The user of this request, worked out once and kept in ``environ["onebar.user"]``."""
        if ENVIRON_KEY in environ:
            return environ[ENVIRON_KEY]  # type: ignore[no-any-return]
        if self.board is not None:
            self._read_board()  # sign-outs another process of this app heard
        user = None
        value = cookie_value(environ.get("HTTP_COOKIE", ""), self.cookie_name)
        if value:
            try:
                user = self.verifier.verify(value)
            except Exception:  # noqa: BLE001 - identity must never turn a page into a 500
                log.exception("onebar: verifying a cookie failed; treating the visitor as signed out")
        credential = None if user is not None else cookie_value(environ.get("HTTP_COOKIE", ""), CREDENTIAL_COOKIE)
        if credential:
            try:
                user = self._credentials.verify_credential(credential, self.handoff.origin(environ))
            except Exception:  # noqa: BLE001 - identity must never turn a page into a 500
                log.exception("onebar: verifying a site credential failed; treating the visitor as signed out")
        environ[ENVIRON_KEY] = user
        return user

    def session_id(self, environ: dict[str, Any]) -> str | None:
        """The signed-in session of this request as the back-channel names it
        (``SignedOut.session_id``, :func:`onebar.backchannel.logout_sid`), so an
        app can tie its own state (a websocket) to it; None when signed out.

        Read from the cookie (or site credential) the service has just vouched
        for: the secret session id is hashed twice, never kept."""
        if self.user(environ) is None:
            return None
        header = environ.get("HTTP_COOKIE", "")
        value = cookie_value(header, self.cookie_name)
        try:
            if value and self.verifier.verify(value) is not None:
                from ..store.sql import session_key  # the service's own handle of a session id

                return logout_sid(session_key(_payload(value)["s"]))
            credential = cookie_value(header, CREDENTIAL_COOKIE)
            if credential:
                return logout_sid(_payload(credential)["k"])
        except Exception:  # noqa: BLE001 - not the service's shape: no session to name
            log.warning("onebar: cannot read the session of a verified value")
        return None

    # -- links to the service ---------------------------------------------------

    def login_url(self, next_url: str | None = None) -> str:
        """The sign-in page; after signing in the service sends the browser to
        ``next_url`` if its origin is a registered app (so make it absolute).

        With ``site_url`` (an app on another registrable domain): this app's own
        ``/.onebar/login``, which signs in through the hand-off and comes back
        to ``next_url``'s path."""
        if self.site_url:
            path = urlsplit(next_url or "/")
            return LOGIN_PATH + "?" + urlencode({"next": path.path + (f"?{path.query}" if path.query else "")})
        return self._link("/login", next_url)

    def logout_url(self, next_url: str | None = None) -> str:
        return self._link("/logout", next_url)

    @property
    def account_url(self) -> str:
        return self.public_url + "/account"

    @property
    def script_url(self) -> str:
        """For ``<script src="{script_url}" data-app="ID"></script>``."""
        return self.public_url + "/onebar.js"

    def _link(self, path: str, next_url: str | None) -> str:
        return self.public_url + path + (f"?{urlencode({'next': next_url})}" if next_url else "")

    # -- from a framework's settings ----------------------------------------------

    # -- from a framework's settings ----------------------------------------------

    #: The keys :meth:`from_config` understands.
    CONFIG_KEYS = CONFIG_KEYS

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, spell: Callable[[str], str] = str) -> Identity:
        """Build from upper-case settings (Flask's ``ONEBAR_*``, Django's ``ONEBAR`` dict).

        ``SERVICE_URL`` is required. ``SECRET_KEYS`` switches to local
        verification, with ``DATABASE`` (the service's SQLite file or its ``postgresql://`` URL) or
        ``STORE`` for revocation, else asking ``SERVICE_URL``. ``spell`` names a
        key the way the framework's user writes it, for error messages.
        """
        return cls(**identity_options(config, spell=spell))
