"""One frozen settings object, built from a TOML file and ``ONEBAR_*`` variables.

Nothing imports a settings global: :func:`load` builds a :class:`Settings` and
the caller passes it to :func:`onebar.web.create_app` or the store. Precedence,
lowest first: the defaults below, the TOML file (``ONEBAR_CONFIG``, else
``onebar.toml`` in the data directory), then the environment.

Every setting, with its variable::

    data_dir            ONEBAR_DATA_DIR            per-user data dir (platformdirs)
    database            ONEBAR_DATABASE            <data_dir>/onebar.sqlite3
    database_url        ONEBAR_DATABASE_URL        none: the SQLite file above; postgresql://… for
                                                   many nodes, or sqlite:///path (sets database)
    secret_keys         ONEBAR_SECRET_KEYS         comma separated: the last one signs, every
                                                   one verifies (docs/deploy.md, rotating them);
                                                   else <data_dir>/secret_keys.json
    public_url          ONEBAR_PUBLIC_URL          the URL browsers use for the service
    cookie_name         ONEBAR_COOKIE_NAME         onebar_session
    cookie_secure       ONEBAR_COOKIE_SECURE       true when public_url is https, else false
    cookie_domain       ONEBAR_COOKIE_DOMAIN       none (host-only cookie)
    session_max_age     ONEBAR_SESSION_MAX_AGE     1209600 (14 days, seconds)
    session_renew_after ONEBAR_SESSION_RENEW_AFTER 86400 (re-issue a day-old cookie)
    max_sessions        ONEBAR_MAX_SESSIONS        50: live sessions one account keeps; a new one
                                                   ends the one last renewed longest ago beyond it
    login_rate_limit    ONEBAR_LOGIN_RATE_LIMIT    "5/minute" failures per account and address
    login_ip_rate_limit ONEBAR_LOGIN_IP_RATE_LIMIT "30/minute" failures per address
    login_attempt_rate_limit    ONEBAR_LOGIN_ATTEMPT_RATE_LIMIT    "10/minute" sign-in attempts
                                                   of any outcome, per account and address
    login_ip_attempt_rate_limit ONEBAR_LOGIN_IP_ATTEMPT_RATE_LIMIT "60/minute" sign-in attempts
                                                   of any outcome, per address
    hashing_threads     ONEBAR_HASHING_THREADS     1: password hashes at once per worker
                                                   process; as many more may wait, the rest get 503
    hashing_wait        ONEBAR_HASHING_WAIT        2 (seconds a request waits for a hashing slot)
    session_purge_interval ONEBAR_SESSION_PURGE_INTERVAL 600: at most this often (seconds), a
                                                   sign-in deletes expired and revoked sessions
    redis_url           ONEBAR_REDIS_URL           none: sign-in limits are counted in the store;
                                                   redis://… to count them in Redis
    rate_limit_storage  ONEBAR_RATE_LIMIT_STORAGE  none; any ``limits`` storage URI (memory://
                                                   counts per process), below redis_url
    trusted_proxies     ONEBAR_TRUSTED_PROXIES     0: X-Forwarded-For/-Proto are ignored
                                                   (X-Forwarded-Host always is: set public_url)
    login_account_rate_limit ONEBAR_LOGIN_ACCOUNT_RATE_LIMIT "20/hour;100/day" failures per
                                                   account from browsers it never signed in on,
                                                   every address together; each window applies
                                                   (a browser it did sign in on has its own
                                                   count: no lockout of the owner)
    smtp_url            ONEBAR_SMTP_URL            none: mail is off. smtp://[user:pass@]host[:port],
                                                   smtp://…?starttls=true, or smtps://… (TLS)
    mail_from           ONEBAR_MAIL_FROM           "Onebar <onebar@HOST of public_url>"
    dev_mode            ONEBAR_DEV_MODE            false; true: with mail off, the log shows the
                                                   links a message would have carried (refused
                                                   with an https public_url: never in production)
    signup              ONEBAR_SIGNUP              open | closed | invite
    signup_domains      ONEBAR_SIGNUP_DOMAINS      none (any); else comma-separated email domains
    allowed_hosts       ONEBAR_ALLOWED_HOSTS       none: with public_url set, only its host is
                                                   served (comma separated extra names, e.g.
                                                   "onebar:8000" for internal callers)
    access_log          ONEBAR_ACCESS_LOG          true: one JSON line per request on stderr
    events_url          ONEBAR_EVENTS_URL          none: bars are not live. The URL of GET /api/events
                                                   (onebar.live) that /api/me tells bars to follow;
                                                   `onebar serve` sets it to its --events-port
    events_poll_ms      ONEBAR_EVENTS_POLL_MS      250: the stream process reads the event log this
                                                   often (ms); with redis_url, a wake-up reads it at once
"""

from __future__ import annotations

import dataclasses
import os
import stat
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs

from . import keys
from .exc import ConfigError
from .urls import is_postgres, mask_password, sqlite_path

_REDIS_SCHEMES = ("redis://", "rediss://", "redis+unix://")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    secret_keys: tuple[str, ...] = field(repr=False)
    database: Path | None = None
    #: None: the SQLite file ``database``. Never shown: it may hold a password.
    database_url: str | None = field(default=None, repr=False)
    #: True when the keys came from configuration: ``onebar keys rotate`` then
    #: refuses, because rotating is the configuration's owner's job.
    keys_from_config: bool = False
    public_url: str | None = None
    cookie_name: str = "onebar_session"
    #: None: true exactly when public_url is https.
    cookie_secure: bool | None = None
    cookie_domain: str | None = None
    session_max_age: int = 14 * 24 * 3600
    session_renew_after: int = 24 * 3600
    max_sessions: int = 50
    login_rate_limit: str = "5/minute"
    login_ip_rate_limit: str = "30/minute"
    login_attempt_rate_limit: str = "10/minute"
    login_ip_attempt_rate_limit: str = "60/minute"
    hashing_threads: int = 1
    hashing_wait: int = 2
    session_purge_interval: int = 600
    redis_url: str | None = field(default=None, repr=False)
    rate_limit_storage: str | None = None
    trusted_proxies: int = 0
    login_account_rate_limit: str = "20/hour;100/day"
    smtp_url: str | None = field(default=None, repr=False)  # may hold a password
    mail_from: str | None = None
    dev_mode: bool = False
    signup: str = "open"
    signup_domains: tuple[str, ...] = ()
    #: Host header values served besides public_url's (which alone sets the allowlist).
    allowed_hosts: tuple[str, ...] = ()
    access_log: bool = True
    #: Where bars follow the live stream (onebar.live); None: no stream advertised.
    events_url: str | None = None
    #: Milliseconds between two reads of the event log by a stream process.
    events_poll_ms: int = 250

    def __post_init__(self) -> None:
        if not self.secret_keys or not all(self.secret_keys):
            raise ConfigError("at least one non-empty secret key is needed")
        if self.database_url is not None:
            self._check_database_url(self.database_url)
        if self.database is None:
            object.__setattr__(self, "database", self.data_dir / "onebar.sqlite3")
        if self.redis_url is not None and not self.redis_url.lower().startswith(_REDIS_SCHEMES):
            raise ConfigError(f"redis_url must be redis://host:port (or rediss://, redis+unix://), "
                              f"not {mask_password(self.redis_url)!r}")
        if self.public_url is not None:
            parts = urlsplit(self.public_url)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
                raise ConfigError(f"public_url must be an origin such as https://id.example.com, not {self.public_url!r}")
            object.__setattr__(self, "public_url", self.public_url.rstrip("/"))
        if self.cookie_secure is None:
            object.__setattr__(self, "cookie_secure", bool(self.public_url and self.public_url.startswith("https:")))
        if self.events_url is not None:
            parts = urlsplit(self.events_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"events_url must be an http(s) URL such as https://id.example.com/api/events, "
                                  f"not {self.events_url!r}")
        if self.events_poll_ms < 10:
            raise ConfigError("events_poll_ms must be at least 10")
        if self.hashing_threads < 1 or self.hashing_wait < 0 or self.session_purge_interval < 0:
            raise ConfigError("hashing_threads must be at least 1; hashing_wait and session_purge_interval not negative")
        if self.session_max_age <= 0 or self.session_renew_after < 0:
            raise ConfigError("session_max_age must be positive and session_renew_after not negative")
        if self.max_sessions < 1:
            raise ConfigError("max_sessions must be at least 1")
        if self.signup not in SIGNUP_POLICIES:
            raise ConfigError(f"signup must be one of {', '.join(SIGNUP_POLICIES)}, not {self.signup!r}")
        domains = self.signup_domains.split(",") if isinstance(self.signup_domains, str) else self.signup_domains
        object.__setattr__(self, "signup_domains", tuple(
            unicodedata.normalize("NFKC", d.strip().lstrip("@")).casefold() for d in domains if d.strip()))
        if self.smtp_url is not None and urlsplit(self.smtp_url).scheme not in ("smtp", "smtps"):
            raise ConfigError("smtp_url must look like smtp://host:25, smtp://host:587?starttls=true or smtps://host")
        if self.dev_mode and self.cookie_secure:
            raise ConfigError("dev_mode logs sign-in links: it is for http development only, not with https")

    def _check_database_url(self, url: str) -> None:
        if is_postgres(url):
            return
        path = sqlite_path(url)
        if path is None:
            raise ConfigError(f"database_url must be postgresql://user:password@host/dbname or "
                              f"sqlite:///path/to/file.sqlite3, not {mask_password(url)!r}")
        object.__setattr__(self, "database", path)

    @property
    def uses_postgres(self) -> bool:
        return is_postgres(self.database_url)

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)


SIGNUP_POLICIES = ("open", "closed", "invite")

_BOOL = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _convert(name: str, value: object, kind: type) -> object:
    if kind is bool and isinstance(value, str):
        try:
            return _BOOL[value.strip().lower()]
        except KeyError:
            raise ConfigError(f"{name} must be true or false, not {value!r}") from None
    if kind is int and not isinstance(value, bool):
        try:
            return int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if kind is Path:
        return Path(str(value)).expanduser()
    if kind is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"{name} must be a comma separated list, not {value!r}")
        return tuple(i.strip() for i in items if i.strip())
    if kind is str and isinstance(value, str):
        return value
    if isinstance(value, kind):
        return value
    raise ConfigError(f"{name} has the wrong type: {value!r}")


_KINDS: dict[str, type] = {
    "data_dir": Path,
    "database": Path,
    "database_url": str,
    "redis_url": str,
    "public_url": str,
    "cookie_name": str,
    "cookie_secure": bool,
    "cookie_domain": str,
    "session_max_age": int,
    "session_renew_after": int,
    "max_sessions": int,
    "login_rate_limit": str,
    "login_ip_rate_limit": str,
    "login_attempt_rate_limit": str,
    "login_ip_attempt_rate_limit": str,
    "rate_limit_storage": str,
    "hashing_threads": int,
    "hashing_wait": int,
    "session_purge_interval": int,
    "trusted_proxies": int,
    "login_account_rate_limit": str,
    "smtp_url": str,
    "mail_from": str,
    "dev_mode": bool,
    "signup": str,
    "signup_domains": tuple,
    "allowed_hosts": tuple,
    "access_log": bool,
    "events_url": str,
    "events_poll_ms": int,
}


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("onebar", appauthor=False))


def prepare_data_dir(path: Path) -> Path:
    """Create the data directory (owner-only) or say clearly why it can't be used."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the data directory {path}: {exc.strerror}") from None
    if not path.is_dir():
        raise ConfigError(f"the data directory {path} is not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"the data directory {path} is not writable")
    mode = path.stat().st_mode
    if mode & stat.S_IWOTH:
        # Anyone on the machine could swap the database or the key file.
        raise ConfigError(
            f"the data directory {path} is writable by every user (mode {stat.S_IMODE(mode):o}): "
            f"run 'chmod 700 {path}' or choose another directory")
    return path


def load(
    environ: Mapping[str, str] | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    **overrides: object,
) -> Settings:
    """Build :class:`Settings` from a TOML file, the environment and overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}

    base_dir = data_dir or env.get("ONEBAR_DATA_DIR") or None
    path = config_file or env.get("ONEBAR_CONFIG")
    if not path and base_dir:
        candidate = Path(base_dir).expanduser() / "onebar.toml"
        try:
            path = candidate if candidate.exists() else None
        except OSError as exc:  # a parent this user may not enter
            raise ConfigError(f"cannot use the data directory {base_dir}: {exc.strerror}") from None
    if path:
        try:
            with open(path, "rb") as fh:
                values.update(tomllib.load(fh))
        except OSError as exc:
            raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"the config file {path} is not valid TOML: {exc}") from None

    for name in _KINDS:
        var = f"ONEBAR_{name.upper()}"
        if env.get(var, "") != "":
            values[name] = env[var]
    if env.get("ONEBAR_SECRET_KEYS"):
        values["secret_keys"] = env["ONEBAR_SECRET_KEYS"]
    if data_dir is not None:
        values["data_dir"] = data_dir
    values.update(overrides)

    unknown = set(values) - set(_KINDS) - {"secret_keys"}
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")

    kwargs: dict[str, object] = {n: _convert(n, v, _KINDS[n]) for n, v in values.items() if n in _KINDS}
    kwargs["data_dir"] = prepare_data_dir(Path(kwargs.get("data_dir") or default_data_dir()))  # type: ignore[arg-type]

    raw_keys = values.get("secret_keys")
    if raw_keys:
        if isinstance(raw_keys, str):
            raw_keys = [k.strip() for k in raw_keys.split(",") if k.strip()]
        if not isinstance(raw_keys, (list, tuple)) or not all(isinstance(k, str) for k in raw_keys):
            raise ConfigError("secret_keys must be a list of strings, oldest first")
        kwargs["secret_keys"] = tuple(raw_keys)
        kwargs["keys_from_config"] = True
    else:
        kwargs["secret_keys"] = keys.load_or_create(kwargs["data_dir"])  # type: ignore[arg-type]
    settings = Settings(**kwargs)  # type: ignore[arg-type]
    # SQLite opens a read-only file without a word and fails at the first write:
    # say so at start-up instead.
    if not settings.uses_postgres and os.access(settings.database, os.F_OK) and \
            not os.access(settings.database, os.W_OK):  # type: ignore[arg-type]
        raise ConfigError(f"the database {settings.database} is read-only")
    return settings
