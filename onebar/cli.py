"""The ``onebar`` command: serve, demo, users, apps, keys, the database and the audit log.

Every command takes ``--data-dir DIR``, before or after the subcommand (else
``ONEBAR_DATA_DIR``, else a per-user data directory). Commands that only read
(``user list``, ``app list``, ``user sessions``, ``audit``) never create a
data directory: on a missing one they say so. A bad argument or an unusable
data directory prints one line starting ``error:`` and exits with status 1
(2 for usage).
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import NoReturn

import click

from . import audit, keys, logs, passwords, text, tokens
from . import settings as settings_mod
from .exc import OnebarError
from .settings import Settings
from .backchannel import new_secret as new_backchannel_secret
from .store import App, User, open_store
from .store.base import check_backchannel_url, normalize_origin
from .store.sql import SQLStore


class _Context:
    def __init__(self, data_dir: str | None) -> None:
        self.data_dir = data_dir
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = settings_mod.load(data_dir=self.data_dir)
        return self._settings

    def store(self, *, upgrade: bool = True, read_only: bool = False) -> SQLStore:
        if read_only and not (os.environ.get("ONEBAR_DATABASE_URL") or os.environ.get("ONEBAR_CONFIG")):
            where = Path(self.data_dir).expanduser() if self.data_dir else settings_mod.default_data_dir()
            if not where.exists():
                _fail(f"there is no data directory at {where} yet (nothing to show; 'onebar user add' or "
                      "'onebar serve' creates it)")
        return open_store(self.settings, upgrade=upgrade)

    def record(self, store: SQLStore, event: str, *, user: User | None = None, email: str = "",
               app: str = "", detail: str = "") -> None:
        audit.record(store, event, user=user, email=email, app=app, detail=detail or "by operator (CLI)")


pass_ctx = click.make_pass_decorator(_Context)


def shown(value: object) -> str:
    """Every piece of user data the CLI prints passes through here: control,
    format and separator characters escaped (:func:`onebar.text.for_terminal`)."""
    return "" if value is None else text.for_terminal(str(value))


def _say(*fields: object) -> None:
    click.echo("\t".join(shown(f) for f in fields))


def _data_dir_option(f):  # type: ignore[no-untyped-def]
    """``--data-dir`` after the subcommand too: ``onebar user list --data-dir D``."""

    def remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.ensure_object(_Context).data_dir = value

    return click.option("--data-dir", type=click.Path(file_okay=False), expose_value=False, callback=remember,
                        help="Where the database and keys live (also accepted before the command).")(f)


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(file_okay=False), envvar="ONEBAR_DATA_DIR",
              help="Where the database and keys live (default: a per-user data directory).")
@click.version_option(package_name="onebar")
@click.pass_context
def cli(ctx: click.Context, data_dir: str | None) -> None:
    """Onebar: one sign-in, one bar, every app."""
    ctx.obj = _Context(data_dir)


@cli.command()
@_data_dir_option
@click.option("--host", default="localhost", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (about one per core).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Threads per worker process.")
@click.option("--access-log/--no-access-log", default=None,
              help="One JSON line per request on stderr (default: on, or ONEBAR_ACCESS_LOG).")
@click.option("--events-port", default=None, type=click.IntRange(0, 65535),
              help="Port of the live stream, GET /api/events (default: --port + 1; 0: no live stream).")
@pass_ctx
def serve(ctx: _Context, host: str, port: int, workers: int, threads: int, access_log: bool | None,
          events_port: int | None) -> None:
    """Run the identity service with a production WSGI server (granian).

    Beside it, a process serves the live stream (GET /api/events, onebar.live)
    on --events-port; bars learn its URL from /api/me (ONEBAR_EVENTS_URL
    overrides it, e.g. behind a proxy that routes /api/events to that port).
    SIGTERM or SIGINT lets requests in flight finish, then exits 0.
    """
    from .exc import ConfigError
    from .serving import check_port, events_url_for, run, start_events_process

    logging.basicConfig(level=logging.INFO, format=logs.FORMAT)
    settings = ctx.settings  # refuse a bad data dir or setting here, with one line, before any worker starts
    store = ctx.store()
    store.purge_sessions(before=int(time.time()))  # expired and revoked rows are of no more use
    store.close()
    # The workers build the app from the environment: hand them what the
    # command line chose.
    if workers > 1 and (settings.rate_limit_storage or "").startswith("memory:"):
        click.echo(f"note: sign-in limits are counted per worker ({workers} workers each allow the configured "
                   "attempts); leave ONEBAR_RATE_LIMIT_STORAGE unset to count them in the store, or set "
                   "ONEBAR_REDIS_URL", err=True)
    os.environ["ONEBAR_DATA_DIR"] = str(settings.data_dir)
    if access_log is not None:
        os.environ["ONEBAR_ACCESS_LOG"] = "1" if access_log else "0"
    check_port(host, port)  # the service's own port first: refuse it before starting anything
    events = None
    if events_port != 0:
        chosen = events_port or (port + 1 if port < 65535 else 0)
        try:
            check_port(host, chosen)
        except ConfigError as exc:
            if events_port:
                raise
            click.echo(f"note: no live stream ({exc}); give --events-port", err=True)
            chosen = 0
        if chosen:
            if not settings.events_url:
                os.environ["ONEBAR_EVENTS_URL"] = events_url_for(host, chosen, settings.public_url)
            events = start_events_process(host, chosen)
    # One logout sender per node, beside the workers (onebar.logout_sender).
    sender = subprocess.Popen([sys.executable, "-m", "onebar.logout_sender"], env={
        **os.environ, "ONEBAR_SENDER_PARENT": str(os.getpid()),
        "ONEBAR_SENDER_ISSUER": settings.public_url or f"http://{host}:{port}"})
    try:
        run(host=host, port=port, workers=workers, threads=threads)
    finally:
        for helper in (sender, events):
            if helper is not None:
                helper.terminate()
        for helper in (sender, events):
            if helper is not None:
                try:
                    helper.wait(timeout=10)
                except subprocess.TimeoutExpired:  # it dies with this process anyway
                    helper.kill()


@cli.group(no_args_is_help=True)
@_data_dir_option
def user() -> None:
    """Manage user accounts."""


def _find_user(store: SQLStore, email: str) -> User:
    found = store.get_user_by_email(email)
    if found is None:
        _fail(f"no user with the email {shown(email)}")
    return found


def _read_password(password_stdin: bool, *, twice: bool = False) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if twice and getpass.getpass("Repeat it: ") != password:
            _fail("the passwords do not match")
    else:
        _fail("give the password with --password-stdin")
    if not passwords.MIN_LENGTH <= len(password) <= passwords.MAX_LENGTH:
        _fail(f"the password must have at least {passwords.MIN_LENGTH} characters")
    return password


@user.command("add")
@click.argument("email")
@click.option("--name", required=True, help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@_data_dir_option
@pass_ctx
def user_add(ctx: _Context, email: str, name: str, password_stdin: bool) -> None:
    """Create an account."""
    password = _read_password(password_stdin)
    if not name.strip():
        _fail("the name must not be empty")
    store = ctx.store()
    created = store.create_user(email, text.check_name(name), passwords.hash_password(password))
    ctx.record(store, "signup", user=created)
    click.echo(f"added user {shown(created.email)} ({created.id})")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts.")
@_data_dir_option
@pass_ctx
def user_list(ctx: _Context, as_json: bool) -> None:
    """List accounts."""
    users = ctx.store(read_only=True).list_users()
    if as_json:
        click.echo(json.dumps([{"id": u.id, "email": u.email, "name": u.name, "email_verified": u.email_verified,
                                "disabled": u.disabled, "created_at": _iso(u.created_at)} for u in users], indent=2))
        return
    if not users:
        click.echo("no users")
    for u in users:
        _say(u.id, u.email, u.name, *(["disabled"] if u.disabled else []))


@user.command("passwd")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
@_data_dir_option
@pass_ctx
def user_passwd(ctx: _Context, email: str, password_stdin: bool) -> None:
    """Set a new password; every session of the account is signed out."""
    store = ctx.store()
    found = _find_user(store, email)
    store.set_password(found.id, passwords.hash_password(_read_password(password_stdin, twice=True)))
    ctx.record(store, "password.change", user=found, detail="by operator (CLI); every session signed out")
    click.echo(f"changed the password of {shown(found.email)}; every session of it is signed out")


@user.command("disable")
@click.argument("email")
@_data_dir_option
@pass_ctx
def user_disable(ctx: _Context, email: str) -> None:
    """Refuse sign-in and sign the account out everywhere."""
    store = ctx.store()
    found = _find_user(store, email)
    store.set_disabled(found.id, True)
    ctx.record(store, "account.disable", user=found)
    click.echo(f"disabled {shown(found.email)}: signed out everywhere, sign-in refused")


@user.command("enable")
@click.argument("email")
@_data_dir_option
@pass_ctx
def user_enable(ctx: _Context, email: str) -> None:
    """Allow a disabled account to sign in again."""
    store = ctx.store()
    found = _find_user(store, email)
    store.set_disabled(found.id, False)
    ctx.record(store, "account.enable", user=found)
    click.echo(f"enabled {shown(found.email)}")


@user.command("remove")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_data_dir_option
@pass_ctx
def user_remove(ctx: _Context, email: str, yes: bool) -> None:
    """Delete an account and every session of it (asks first)."""
    store = ctx.store()
    found = _find_user(store, email)
    if not yes:
        if not sys.stdin.isatty():
            _fail("add --yes to remove an account without being asked")
        click.confirm(f"Remove {shown(found.email)} ({shown(found.name)}) and sign it out everywhere?", abort=True)
    store.delete_user(found.id)
    ctx.record(store, "account.delete", user=found)
    click.echo(f"removed {shown(found.email)}")


@user.command("sessions")
@click.argument("email")
@_data_dir_option
@pass_ctx
def user_sessions(ctx: _Context, email: str) -> None:
    """List where an account is signed in."""
    from .web.devices import describe

    store = ctx.store(read_only=True)
    sessions = store.list_sessions(_find_user(store, email).id, int(time.time()))
    if not sessions:
        click.echo("no sessions")
    for s in sessions:
        _say(s.key[:12], describe(s.user_agent), s.ip or "-", f"last seen {_iso(s.last_seen_at)}")


@user.command("revoke")
@click.argument("email")
@click.option("--session", "key", metavar="KEY", help="Only this session (the first column of 'user sessions').")
@_data_dir_option
@pass_ctx
def user_revoke(ctx: _Context, email: str, key: str | None) -> None:
    """Sign an account out everywhere (or of one session)."""
    store = ctx.store()
    found = _find_user(store, email)
    if key:
        matches = [s for s in store.list_sessions(found.id, int(time.time()), limit=1000) if s.key.startswith(key)]
        if len(matches) != 1 or len(key) < 6:
            _fail(f"no single session of {shown(found.email)} starts with {shown(key)}")
        count = int(store.revoke_session_key(found.id, matches[0].key))
    else:
        count = store.revoke_user_sessions(found.id)
    if count == 0:  # nothing happened, so nothing for the audit log either
        click.echo(f"no sessions: {shown(found.email)} is signed in nowhere")
        return
    ctx.record(store, "session.revoke", user=found, detail=f"by operator (CLI); {count} session(s)")
    click.echo(f"signed {shown(found.email)} out of {count} session(s)")


@user.command("invite")
@click.argument("email")
@_data_dir_option
@pass_ctx
def user_invite(ctx: _Context, email: str) -> None:
    """Send a sign-up link to EMAIL: it works once, for 7 days, and replaces any earlier invitation."""
    from .mail import MailError, Message, mailer_for
    from .store.base import clean_email
    from .tokens import LinkSigner

    settings = ctx.settings
    if settings.signup == "closed":
        _fail("sign-up is closed (ONEBAR_SIGNUP=closed): use 'onebar user add', or set invite")
    email = clean_email(email)  # the address as it is stored (NFKC); ValidationError if it is none
    if not settings.public_url:
        _fail("set ONEBAR_PUBLIC_URL: the invitation link points to it")
    store = ctx.store()
    if store.get_user_by_email(email) is not None:
        _fail(f"{shown(email)} already has an account")
    nonce = store.create_invite(email)  # single use: the sign-up takes it, and this one replaces older links
    token = LinkSigner(settings.secret_keys).dumps(tokens.INVITE, {"e": email, "n": nonce})
    link = f"{settings.public_url}/signup?invite={token}"
    mailer = mailer_for(settings)
    if not mailer.enabled:
        click.echo(f"mail is off (ONEBAR_SMTP_URL is not set): send {shown(email)} this link yourself "
                   "(it works once, for 7 days):")
        click.echo(link)
        return
    try:
        mailer.send(Message(to=email, subject="You are invited to Onebar",
                            body=f"Hello,\n\nYou are invited to create an Onebar account for {email}. "
                            f"The link works once, for 7 days:\n\n{link}\n"))
    except MailError as exc:
        # The new invitation already replaced any earlier link: the operator
        # gets the one that works now rather than nothing.
        click.echo(f"error: {exc}", err=True)
        click.echo(f"the invitation is made (earlier links to {shown(email)} no longer work): "
                   "send this link yourself, or run the command again once mail works:", err=True)
        click.echo(link)
        sys.exit(1)
    click.echo(f"sent an invitation to {shown(email)}")


@cli.group(no_args_is_help=True)
@_data_dir_option
def app() -> None:
    """Manage registered apps (the switcher, CORS and next= allowlists)."""


@app.command("add")
@click.argument("app_id", metavar="ID")
@click.option("--name", required=True, help="Name shown in the app switcher.")
@click.option("--url", required=True, help="The app's address, e.g. https://notes.example.com/")
@click.option("--backchannel-url", default=None, metavar="URL",
              help="Where the app's server hears of sign-outs at once, on the app's origin: "
                   "URL/.onebar/backchannel with Onebar's middleware. Prints the app's secret.")
@_data_dir_option
@pass_ctx
def app_add(ctx: _Context, app_id: str, name: str, url: str, backchannel_url: str | None) -> None:
    """Register an app. Running services pick it up when restarted."""
    store = ctx.store()
    if backchannel_url is not None:  # refuse a bad one before anything is registered
        check_backchannel_url(backchannel_url, normalize_origin(url))
    added = store.add_app(App(id=app_id, name=text.check_name(name), url=url))
    ctx.record(store, "app.add", app=added.id, detail=f"by operator (CLI); {added.origin}")
    click.echo(f"registered {added.id} at {added.origin} (restart running services to apply)")
    if backchannel_url is not None:
        _set_backchannel(ctx, store, added.id, backchannel_url)


@app.command("backchannel")
@click.argument("app_id", metavar="ID")
@click.option("--url", "backchannel_url", default=None, metavar="URL",
              help="Where to POST logout tokens (on the app's origin); a new secret is printed.")
@click.option("--remove", is_flag=True, help="Stop notifying the app's server.")
@_data_dir_option
@pass_ctx
def app_backchannel(ctx: _Context, app_id: str, backchannel_url: str | None, remove: bool) -> None:
    """Notify an app's server at once when a user's session ends (back-channel logout).

    Each --url makes a new secret (the old one stops working): give it to the
    app as ONEBAR_BACKCHANNEL_SECRET (Flask) or ONEBAR["BACKCHANNEL_SECRET"] (Django).
    """
    if remove == (backchannel_url is not None):
        _fail("give either --url URL or --remove")
    store = ctx.store()
    if remove:
        if not store.set_backchannel(app_id, None):
            _fail(f"no app with id {app_id!r}")
        ctx.record(store, "app.backchannel", app=app_id, detail="removed")
        click.echo(f"{app_id}: no back-channel")
        return
    assert backchannel_url is not None
    _set_backchannel(ctx, store, app_id, backchannel_url)


def _set_backchannel(ctx: _Context, store: SQLStore, app_id: str, url: str) -> None:
    secret = new_backchannel_secret()
    if not store.set_backchannel(app_id, url, secret):
        _fail(f"no app with id {app_id!r}")
    ctx.record(store, "app.backchannel", app=app_id, detail=f"set to {url}")
    click.echo(f"{app_id}: sign-outs are POSTed to {url}; give the app this secret "
               "(as ONEBAR_BACKCHANNEL_SECRET), shown only now:", err=True)
    click.echo(secret)


@app.command("list")
@_data_dir_option
@pass_ctx
def app_list(ctx: _Context) -> None:
    """List registered apps."""
    apps = ctx.store(read_only=True).list_apps()
    if not apps:
        click.echo("no apps")
    for a in apps:
        _say(a.id, a.name, a.url)


@app.command("remove")
@click.argument("app_id", metavar="ID")
@_data_dir_option
@pass_ctx
def app_remove(ctx: _Context, app_id: str) -> None:
    """Unregister an app."""
    store = ctx.store()
    if not store.remove_app(app_id):
        _fail(f"no app with id {app_id!r}")
    ctx.record(store, "app.remove", app=app_id)
    click.echo(f"removed {app_id} (restart running services to apply)")


@cli.group("db", no_args_is_help=True)
@_data_dir_option
def db_group() -> None:
    """The store's schema, and moving it to another engine."""


@db_group.command("upgrade")
@_data_dir_option
@pass_ctx
def db_upgrade(ctx: _Context) -> None:
    """Apply the schema versions the store lacks (the service also does it at start-up)."""
    store = ctx.store(upgrade=False)
    try:
        before, after = store.upgrade()
    finally:
        store.close()
    where = _where(ctx.settings)
    if before == after:
        click.echo(f"{where}: schema version {after}, up to date")
    else:
        click.echo(f"{where}: upgraded the schema from version {before} to {after}")


@db_group.command("copy")
@click.option("--to", "target_url", required=True, metavar="URL",
              help="The store to fill: postgresql://user:password@host/dbname (or sqlite:///path).")
@click.option("--force", is_flag=True,
              help="Replace the users, sessions, apps and audit log the target already holds.")
@_data_dir_option
@pass_ctx
def db_copy(ctx: _Context, target_url: str, force: bool) -> None:
    """Copy users, sessions, apps and the audit log from this store (the embedded SQLite one) to another.

    Sessions keep working: a cookie issued before the copy is valid against
    the target, given the same secret keys. Stop the service first, so
    nothing is written to the source during the copy.
    """
    from .store import open_url
    from .urls import mask_password

    source = ctx.store()
    try:
        target = open_url(target_url)
    except BaseException:
        source.close()
        raise
    target_shown = mask_password(target_url)
    try:
        if repr(source) == repr(target):
            _fail("the target is the store being copied")
        held = {table: n for table, n in target.row_counts().items() if n}
        if held and not force:
            listed = ", ".join(f"{n} {_TABLE_WORDS.get(table, table)}" for table, n in held.items())
            _fail(f"{target_shown} already holds {listed}: add --force to replace them with this copy")
        tables = list(source.export_rows())
        target.replace_rows(tables)
        counts = target.row_counts()
    finally:
        target.close()
        source.close()
    copied = ", ".join(f"{counts[table]} {_TABLE_WORDS.get(table, table)}" for table, _, _ in tables)
    click.echo(f"copied {copied} to {target_shown}")


#: How ``db copy`` names a copied table in its report.
_TABLE_WORDS = {"audit": "audit events", "invites": "pending invitations"}


def _where(settings: Settings) -> str:
    from .urls import mask_password

    return mask_password(settings.database_url) if settings.uses_postgres else str(settings.database)


@cli.group("keys", no_args_is_help=True)
@_data_dir_option
def keys_group() -> None:
    """Manage the secret keys that sign cookies."""


@keys_group.command("rotate")
@_data_dir_option
@pass_ctx
def keys_rotate(ctx: _Context) -> None:
    """Start signing with a new key; older keys still verify until rotated out."""
    if ctx.settings.keys_from_config:
        _fail("the secret keys come from configuration (ONEBAR_SECRET_KEYS or the TOML file): rotate them there")
    new = keys.rotate(ctx.settings.data_dir)
    ctx.record(ctx.store(), "keys.rotate", detail=f"by operator (CLI); {len(new)} keys kept")
    click.echo(f"rotated: {len(new)} keys kept, the newest signs (restart running services to apply)")


_SINCE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _since(value: str | None) -> int | None:
    """'30m', '2h', '7d', '1w', or an ISO date/time ('2026-11-23', '2026-11-23T12:00', UTC if no zone)."""
    if value is None:
        return None
    match = _SINCE.match(value.strip().lower())
    if match:
        return int(time.time()) - int(match.group(1)) * _UNITS[match.group(2)]
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"use a time such as 2h, 7d or 2026-11-23T12:00, not {value!r}",
                                 param_hint="'--since'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


@cli.command("audit")
@click.option("--user", "email", metavar="EMAIL",
              help="Only this address's events, and those of the account that has it (under earlier addresses too).")
@click.option("--since", metavar="WHEN", help="Only events since then: 2h, 7d, or 2026-11-23T12:00 (UTC).")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100000), help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@_data_dir_option
@pass_ctx
def audit_log(ctx: _Context, email: str | None, since: str | None, limit: int, as_json: bool) -> None:
    """Show the audit log: sign-ins, failures, lockouts, changes; oldest first."""
    since_at = _since(since)
    store = ctx.store(read_only=True)
    # The account with that address today also owns the lines written under its earlier addresses.
    account = store.get_user_by_email(email) if email else None
    events = store.list_audit(user_id=account.id if account else None, email=email, since=since_at, limit=limit)
    if not events:
        click.echo("no events")
    for e in events:
        if as_json:
            click.echo(json.dumps({**e.as_dict(), "at": _iso(e.at)}, separators=(",", ":")))
        else:
            _say(_iso(e.at), e.event, e.email or "-", e.address or "-", e.app or "-", e.detail)


def _register_demo() -> None:
    from .demo import demo

    cli.add_command(demo)


_register_demo()


def _fail(message: str) -> NoReturn:
    raise click.ClickException(message)


def main() -> None:
    try:
        cli.main(prog_name="onebar", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        # 'onebar user' alone: the group's help, as asked for, not an error.
        click.echo(exc.ctx.get_help() if exc.ctx is not None else "")
        sys.exit(0)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        prefix = "error: " if not isinstance(exc, click.UsageError) else ""
        click.echo(f"{prefix}{exc.format_message()}" if prefix else _usage_line(exc), err=True)
        sys.exit(exc.exit_code)
    except OnebarError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


def _usage_line(exc: click.UsageError) -> str:
    hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
    return f"error: {exc.format_message()}{hint}"
