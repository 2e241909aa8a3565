"""``onebar demo``: the identity service and three independent sites, in one command.

It creates demo data (two accounts, the three sites registered as apps), then
starts four processes on ``localhost``, each on its own port with its own
storage: the identity service (``onebar serve``), Tasks (Flask), Notes
(Django) and the Handbook (plain HTML behind the standard library's static
file server). It prints the addresses and the accounts, and stops everything
on Ctrl-C or SIGTERM. Nothing here supervises: the processes are plain
:mod:`subprocess` children, and if one of them stops, the demo stops.

The data lives in a throwaway directory unless ``--data-dir`` is given on the
command line; ``ONEBAR_*`` variables are ignored, so the demo never adds its
well-known passwords to a real data directory by accident.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import webbrowser
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from .. import passwords
from .. import settings as settings_mod
from ..store import App, open_store
from .process import ChildServer, ChildServerError, free_port, stop_all, wait_until_up

#: The demo accounts: (email, name, password).
DEMO_USERS = (
    ("ada@example.com", "Ada Lovelace", "lovelace1815"),
    ("grace@example.com", "Grace Hopper", "hopper1906"),
)

#: Seconds every process gets to answer its first request.
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    kind: str
    module: str
    health: str
    option: str


SITES = (
    Site("tasks", "Tasks", "Flask", "demo_apps.flask_tasks", "/healthz", "--tasks-port"),
    Site("notes", "Notes", "Django", "demo_apps.django_notes", "/healthz", "--notes-port"),
    Site("handbook", "Handbook", "plain HTML", "demo_apps.static_site", "/", "--handbook-port"),
)


class _Stop(Exception):
    """SIGINT or SIGTERM: stop the demo."""


@click.command()
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="Port of the identity service.")
@click.option("--tasks-port", default=8001, show_default=True, type=click.IntRange(1, 65535),
              help="Port of Tasks, the Flask site.")
@click.option("--notes-port", default=8002, show_default=True, type=click.IntRange(1, 65535),
              help="Port of Notes, the Django site.")
@click.option("--handbook-port", default=8003, show_default=True, type=click.IntRange(1, 65535),
              help="Port of the Handbook, the static site.")
@click.option("--events-port", default=None, type=click.IntRange(1, 65535),
              help="Port of the live stream, GET /api/events (default: a free one; the bars learn it from /api/me).")
@click.option("--open", "open_browser", is_flag=True, help="Open Tasks in a web browser once everything answers.")
def demo(port: int, tasks_port: int, notes_port: int, handbook_port: int, events_port: int | None,
         open_browser: bool) -> None:
    """Start the identity service and three demo sites with demo accounts.

    Everything runs on localhost until Ctrl-C. The data is thrown away at the
    end unless the global --data-dir is given.
    """
    root = click.get_current_context().find_root()
    explicit = root.get_parameter_source("data_dir") == ParameterSource.COMMANDLINE
    data_dir = Path(root.obj.data_dir) if explicit and root.obj is not None and root.obj.data_dir else None

    site_ports = dict(zip((s.id for s in SITES), (tasks_port, notes_port, handbook_port), strict=True))
    _check_ports({"--port": port, **{s.option: site_ports[s.id] for s in SITES},
                  **({"--events-port": events_port} if events_port else {})})
    events_port = events_port or free_port()
    apps_root = _apps_root()
    if importlib.util.find_spec("django") is None:
        raise click.ClickException("the Notes demo site needs Django: pip install 'onebar[demo]'")

    throwaway = data_dir is None
    base = Path(tempfile.mkdtemp(prefix="onebar-demo-")) if data_dir is None else data_dir
    try:
        service_url = f"http://localhost:{port}"
        kept = prepare_data(base, {s.id: f"http://localhost:{site_ports[s.id]}/" for s in SITES})
        with _signals_stop():
            processes: list[ChildServer] = []
            try:
                click.echo("Starting the identity service and three demo sites on localhost...")
                processes.append(_start(
                    "Identity service", service_url, "/healthz", base / "demo" / "logs" / "onebar.log", apps_root,
                    ["-m", "onebar", "--data-dir", str(base), "serve", "--host", "localhost", "--port", str(port),
                     "--events-port", str(events_port)]))
                for site in SITES:
                    site_dir = base / "demo" / site.id
                    where = ["--out", str(site_dir)] if site.id == "handbook" else ["--data-dir", str(site_dir)]
                    if site.id == "tasks":  # the one demo site with a Content-Security-Policy
                        where += ["--events-origin", f"http://localhost:{events_port}"]
                    processes.append(_start(
                        f"{site.name} ({site.kind})", f"http://localhost:{site_ports[site.id]}", site.health,
                        base / "demo" / "logs" / f"{site.id}.log", apps_root,
                        ["-m", site.module, "--host", "localhost", "--port", str(site_ports[site.id]),
                         "--service-url", service_url, *where]))
                wait_until_up(processes, START_TIMEOUT)
                _banner(processes, base, throwaway, kept)
                if open_browser:
                    webbrowser.open(processes[1].url + "/")
                _watch(processes)
            except ChildServerError as exc:
                raise click.ClickException(str(exc)) from None
            except _Stop:
                click.echo("\nStopping the demo...")
            finally:
                stop_all(processes)
        click.echo("Stopped.")
    finally:
        if throwaway:
            shutil.rmtree(base, ignore_errors=True)


# -- before starting --------------------------------------------------------------

def _check_ports(ports: dict[str, int]) -> None:
    seen: dict[int, str] = {}
    for option, number in ports.items():
        if number in seen:
            raise click.UsageError(f"port {number} is given to both {seen[number]} and {option}")
        seen[number] = option
    for option, number in ports.items():
        problem = _port_problem(number)
        if problem:
            raise click.ClickException(f"port {number} on localhost {problem}; choose another with {option} PORT")


def _port_problem(port: int) -> str | None:
    """Why ``port`` cannot be listened on at localhost (every address it has), or None."""
    try:
        infos = socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"cannot be resolved ({exc})"
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
            try:
                s.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return "is already in use"
                if exc.errno in (errno.EACCES, errno.EPERM):
                    return "needs privileges this user does not have"
                # An address family this machine does not have (no IPv6): the servers skip it too.
    return None


def _apps_root() -> Path:
    """The directory holding ``demo_apps/``: the checkout, or the installed copy."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent.parent, here):
        if (candidate / "demo_apps").is_dir():
            return candidate
    raise click.ClickException("the demo sites (demo_apps/) are not part of this installation; "
                               "run `onebar demo` from a checkout of Onebar")


def prepare_data(base: Path, app_urls: dict[str, str]) -> list[str]:
    """Register the sites and create the demo accounts; return the emails that already existed."""
    settings = settings_mod.load(environ={}, data_dir=base)
    store = open_store(settings)
    kept = []
    try:
        for site in SITES:
            store.remove_app(site.id)  # the ports may differ from an earlier run
            store.add_app(App(id=site.id, name=site.name, url=app_urls[site.id]))
        for email, name, password in DEMO_USERS:
            if store.get_credentials(email) is None:
                store.create_user(email, name, passwords.hash_password(password))
            else:
                kept.append(email)
    finally:
        store.close()
    return kept


# -- running -----------------------------------------------------------------------

@contextmanager
def _signals_stop() -> Iterator[None]:
    def stop(signum: int, frame: Any) -> None:
        # Once: a second Ctrl-C must not interrupt the clean-up.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise _Stop

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEBAR_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _start(label: str, url: str, health: str, log: Path, cwd: Path, args: list[str]) -> ChildServer:
    return ChildServer(label, [sys.executable, *args], url=url, log=log, health=health, environ=_child_env(),
                       cwd=cwd).spawn()


def _watch(processes: list[ChildServer]) -> None:
    while True:
        for p in processes:
            p.check_alive("unexpectedly")
        time.sleep(0.5)


def _banner(processes: list[ChildServer], base: Path, throwaway: bool, kept: list[str]) -> None:
    width = max(len(p.label) for p in processes) + 2
    lines = ["", "Onebar demo: one sign-in, one bar, three independent sites.", ""]
    lines += [f"  {p.label:<{width}}{p.url}/" for p in processes]
    lines += ["", "Sign in with a demo account:"]
    for email, _, password in DEMO_USERS:
        note = "  (kept from an earlier run: its password may differ)" if email in kept else ""
        lines.append(f"  {email:<20} password: {password}{note}")
    lines += [
        "",
        f"Data: {base}" + ("  (thrown away when the demo stops)" if throwaway else ""),
        f"Logs: {base / 'demo' / 'logs'}",
        "Press Ctrl-C to stop.",
    ]
    click.echo("\n".join(lines))
