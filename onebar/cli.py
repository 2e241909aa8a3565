"""The ``onebar`` command: serve, demo, users, apps and keys.

Every command takes the global ``--data-dir DIR`` (else ``ONEBAR_DATA_DIR``,
else a per-user data directory). A bad argument or an unusable data directory
prints one line starting ``error:`` and exits with status 1 (2 for usage).
"""

from __future__ import annotations

import getpass
import sys
import time
from typing import NoReturn

import click

from . import keys, passwords
from . import settings as settings_mod
from .exc import OnebarError
from .settings import Settings
from .store import App, SQLiteStore


class _Context:
    def __init__(self, data_dir: str | None) -> None:
        self.data_dir = data_dir
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = settings_mod.load(data_dir=self.data_dir)
        return self._settings

    def store(self) -> SQLiteStore:
        return SQLiteStore(self.settings.database)  # type: ignore[arg-type]


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

    settings = ctx.settings  # refuse a bad data dir or setting here, with one line, before any worker starts
    store = ctx.store()
    store.purge_sessions(before=int(time.time()))  # expired and revoked rows are of no more use
    store.close()
    # The workers build the app from the environment: hand them what the
    # command line chose.
    if workers > 1 and settings.rate_limit_storage.startswith("memory:"):
        click.echo(f"note: sign-in limits are counted per worker ({workers} workers each allow the configured "
                   "attempts); set ONEBAR_RATE_LIMIT_STORAGE=redis://... to share them", err=True)
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
    created = ctx.store().create_user(email, name.strip(), passwords.hash_password(password))
    click.echo(f"added user {created.email} ({created.id})")


@user.command("list")
@pass_ctx
def user_list(ctx: _Context) -> None:
    """List accounts."""
    for u in ctx.store().list_users():
        click.echo(f"{u.id}\t{u.email}\t{u.name}")


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
    added = ctx.store().add_app(App(id=app_id, name=name, url=url))
    click.echo(f"registered {added.id} at {added.origin} (restart running services to apply)")


@app.command("list")
@pass_ctx
def app_list(ctx: _Context) -> None:
    """List registered apps."""
    for a in ctx.store().list_apps():
        click.echo(f"{a.id}\t{a.name}\t{a.url}")


@app.command("remove")
@click.argument("app_id", metavar="ID")
@pass_ctx
def app_remove(ctx: _Context, app_id: str) -> None:
    """Unregister an app."""
    if not ctx.store().remove_app(app_id):
        _fail(f"no app with id {app_id!r}")
    click.echo(f"removed {app_id} (restart running services to apply)")


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
