"""The ``onebar`` command: serve, demo, users, apps, keys and the database.

Every command takes the global ``--data-dir DIR`` (else ``ONEBAR_DATA_DIR``,
else a per-user data directory). A bad argument or an unusable data directory
prints one line starting ``error:`` and exits with status 1 (2 for usage).
"""

from __future__ import annotations

import getpass
import logging
import sys
import time
from typing import NoReturn

import click

from . import keys, logs, passwords, text
from . import settings as settings_mod
from .exc import OnebarError
from .settings import Settings
from .store import App, open_store
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

    def store(self, *, upgrade: bool = True) -> SQLStore:
        return open_store(self.settings, upgrade=upgrade)


pass_ctx = click.make_pass_decorator(_Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(file_okay=False), envvar="ONEBAR_DATA_DIR",
              help="Where the database and keys live (default: a per-user data directory).")
@click.version_option(package_name="onebar")
@click.pass_context
def cli(ctx: click.Context, data_dir: str | None) -> None:
    """Onebar: one sign-in, one bar, every app."""
    ctx.obj = _Context(data_dir)


@cli.command()
@click.option("--host", default="localhost", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (about one per core).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Threads per worker process.")
@click.option("--access-log/--no-access-log", default=None,
              help="One JSON line per request on stderr (default: on, or ONEBAR_ACCESS_LOG).")
@pass_ctx
def serve(ctx: _Context, host: str, port: int, workers: int, threads: int, access_log: bool | None) -> None:
    """Run the identity service with a production WSGI server (granian).

    SIGTERM or SIGINT lets requests in flight finish, then exits 0.
    """
    import os

    from .serving import run

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
    run(host=host, port=port, workers=workers, threads=threads)


@cli.group()
def user() -> None:
    """Manage user accounts."""


@user.command("add")
@click.argument("email")
@click.option("--name", required=True, help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_ctx
def user_add(ctx: _Context, email: str, name: str, password_stdin: bool) -> None:
    """Create an account."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        _fail("give the password with --password-stdin")
    if not passwords.MIN_LENGTH <= len(password) <= passwords.MAX_LENGTH:
        _fail(f"the password must have at least {passwords.MIN_LENGTH} characters")
    if not name.strip():
        _fail("the name must not be empty")
    created = ctx.store().create_user(email, text.check_name(name), passwords.hash_password(password))
    click.echo(f"added user {text.for_terminal(created.email)} ({created.id})")


@user.command("list")
@pass_ctx
def user_list(ctx: _Context) -> None:
    """List accounts."""
    for u in ctx.store().list_users():
        click.echo("\t".join(text.for_terminal(v) for v in (u.id, u.email, u.name)))


@cli.group()
def app() -> None:
    """Manage registered apps (the switcher, CORS and next= allowlists)."""


@app.command("add")
@click.argument("app_id", metavar="ID")
@click.option("--name", required=True, help="Name shown in the app switcher.")
@click.option("--url", required=True, help="The app's address, e.g. https://notes.example.com/")
@pass_ctx
def app_add(ctx: _Context, app_id: str, name: str, url: str) -> None:
    """Register an app. Running services pick it up when restarted."""
    added = ctx.store().add_app(App(id=app_id, name=text.check_name(name), url=url))
    click.echo(f"registered {added.id} at {added.origin} (restart running services to apply)")


@app.command("list")
@pass_ctx
def app_list(ctx: _Context) -> None:
    """List registered apps."""
    for a in ctx.store().list_apps():
        click.echo("\t".join(text.for_terminal(v) for v in (a.id, a.name, a.url)))


@app.command("remove")
@click.argument("app_id", metavar="ID")
@pass_ctx
def app_remove(ctx: _Context, app_id: str) -> None:
    """Unregister an app."""
    if not ctx.store().remove_app(app_id):
        _fail(f"no app with id {app_id!r}")
    click.echo(f"removed {app_id} (restart running services to apply)")


@cli.group("db")
def db_group() -> None:
    """The store's schema, and moving it to another engine."""


@db_group.command("upgrade")
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
@click.option("--force", is_flag=True, help="Replace the users, sessions and apps the target already holds.")
@pass_ctx
def db_copy(ctx: _Context, target_url: str, force: bool) -> None:
    """Copy users, sessions and apps from this store (the embedded SQLite one) to another.

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
    shown = mask_password(target_url)
    try:
        if repr(source) == repr(target):
            _fail("the target is the store being copied")
        held = {table: n for table, n in target.row_counts().items() if n}
        if held and not force:
            listed = ", ".join(f"{n} {table}" for table, n in held.items())
            _fail(f"{shown} already holds {listed}: add --force to replace them with this copy")
        tables = list(source.export_rows())
        target.replace_rows(tables)
        counts = target.row_counts()
    finally:
        target.close()
        source.close()
    copied = ", ".join(f"{counts[table]} {table}" for table, _, _ in tables)
    click.echo(f"copied {copied} to {shown}")


def _where(settings: Settings) -> str:
    from .urls import mask_password

    return mask_password(settings.database_url) if settings.uses_postgres else str(settings.database)


@cli.group("keys")
def keys_group() -> None:
    """Manage the secret keys that sign cookies."""


@keys_group.command("rotate")
@pass_ctx
def keys_rotate(ctx: _Context) -> None:
    """Start signing with a new key; older keys still verify until rotated out."""
    if ctx.settings.keys_from_config:
        _fail("the secret keys come from configuration (ONEBAR_SECRET_KEYS or the TOML file): rotate them there")
    new = keys.rotate(ctx.settings.data_dir)
    click.echo(f"rotated: {len(new)} keys kept, the newest signs (restart running services to apply)")


def _register_demo() -> None:
    from .demo import demo

    cli.add_command(demo)


_register_demo()


def _fail(message: str) -> NoReturn:
    raise click.ClickException(message)


def main() -> None:
    try:
        cli.main(prog_name="onebar", standalone_mode=False)
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
