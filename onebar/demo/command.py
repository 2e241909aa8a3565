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

``--cross-site`` puts the service and each site on a name of its own under
``.localhost`` (``id.localhost``, ``tasks.localhost``…). Browsers resolve every
``*.localhost`` name to the loopback address by themselves, treat it as a
secure context, and (``localhost`` having no public-suffix entry) treat each
such name as its own site: the service's cookie never reaches the sites, as
with a deployment on other registrable domains. Chromium and Firefox were
checked to do all three (``tests/demo/test_cross_site_demo.py`` runs the
demo in Chromium with no resolver flag). The sites then sign in through the
hand-off: the bars in the browser, Tasks and Notes on their servers
(``--site-url``). The processes still listen on, and reach each other at,
plain ``localhost``.
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
from ..backchannel import new_secret
from ..integrations.backchannel import BACKCHANNEL_PATH
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
@click.option("--cross-site", is_flag=True,
              help="Serve the service and each site on its own *.localhost name: other sites than the "
                   "service, as on other registrable domains (the sign-in hand-off).")
@click.option("--events-port", default=None, type=click.IntRange(1, 65535),
              help="Port of the live stream, GET /api/events (default: a free one; the bars learn it from /api/me).")
@click.option("--open", "open_browser", is_flag=True, help="Open Tasks in a web browser once everything answers.")
def demo(port: int, tasks_port: int, notes_port: int, handbook_port: int, cross_site: bool, events_port: int | None,
         open_browser: bool) -> None:
    """Start the identity service and three demo sites with demo accounts.

    Everything runs on localhost until Ctrl-C. The data is thrown away at the
    end unless the global --data-dir is given. With --cross-site, browsers
    reach them as id.localhost, tasks.localhost, notes.localhost and
    handbook.localhost.
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
        service_url = f"http://localhost:{port}"  # where the processes reach the service
        public = {"service": public_origin("id", port, cross_site),
                  **{s.id: public_origin(s.id, site_ports[s.id], cross_site) for s in SITES}}
        # The server-side sites hear of sign-outs at once (a back-channel secret each, new every run).
        # Not with --cross-site: the service would POST to NAME.localhost, which only browsers resolve.
        secrets = {} if cross_site else {"tasks": new_secret(), "notes": new_secret()}
        kept = prepare_data(base, {s.id: public[s.id] + "/" for s in SITES}, secrets)
        service_env = {"ONEBAR_PUBLIC_URL": public["service"], "ONEBAR_ALLOWED_HOSTS": f"localhost:{port}"} \
            if cross_site else {}
        with _signals_stop():
            processes: list[ChildServer] = []
            try:
                click.echo("Starting the identity service and three demo sites on localhost...")
                # Its working directory is the data dir, never apps_root: installed, that is
                # site-packages/onebar/demo, inside a package (the sites need it, to import demo_apps).
                processes.append(_start(
                    "Identity service", service_url, "/healthz", base / "demo" / "logs" / "onebar.log", base,
                    ["-m", "onebar", "--data-dir", str(base), "serve", "--host", "localhost", "--port", str(port),
                     "--events-port", str(events_port)],
                    env=service_env))
                for site in SITES:
                    site_dir = base / "demo" / site.id
                    where = ["--out", str(site_dir)] if site.id == "handbook" else ["--data-dir", str(site_dir)]
                    if site.id == "tasks":  # the one demo site with a Content-Security-Policy
                        where += ["--events-origin", public_origin("id", events_port, cross_site)]
                    if not cross_site:
                        urls = ["--service-url", service_url]
                    elif site.id == "handbook":  # a static page: only its script tag names the service
                        urls = ["--service-url", public["service"]]
                    else:
                        urls = ["--service-url", service_url, "--public-url", public["service"],
                                "--site-url", public[site.id]]
                    processes.append(_start(
                        f"{site.name} ({site.kind})", f"http://localhost:{site_ports[site.id]}", site.health,
                        base / "demo" / "logs" / f"{site.id}.log", apps_root,
                        ["-m", site.module, "--host", "localhost", "--port", str(site_ports[site.id]), *urls, *where],
                        {f"{site.id.upper()}_BACKCHANNEL_SECRET": secrets[site.id]} if site.id in secrets else {}))
                wait_until_up(processes, START_TIMEOUT)
                _banner(processes, [public["service"], *(public[s.id] for s in SITES)], base, throwaway, kept,
                        cross_site)
                if open_browser:
                    webbrowser.open(public["tasks"] + "/")
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


def prepare_data(base: Path, app_urls: dict[str, str], secrets: dict[str, str] | None = None) -> list[str]:
    """Register the sites (with a back-channel for those in ``secrets``, site id → secret)
    and create the demo accounts; return the emails that already existed."""
    secrets = secrets or {}
    settings = settings_mod.load(environ={}, data_dir=base)
    store = open_store(settings)
    kept = []
    try:
        for site in SITES:
            store.remove_app(site.id)  # the ports may differ from an earlier run
            store.add_app(App(id=site.id, name=site.name, url=app_urls[site.id]))
            if site.id in secrets:  # the server-side sites hear of sign-outs at once
                store.set_backchannel(site.id, app_urls[site.id].rstrip("/") + BACKCHANNEL_PATH, secrets[site.id])
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


def public_origin(name: str, port: int, cross_site: bool) -> str:
    """Where browsers reach a demo process: ``localhost``, or its own ``NAME.localhost``."""
    return f"http://{name}.localhost:{port}" if cross_site else f"http://localhost:{port}"


def _start(label: str, url: str, health: str, log: Path, cwd: Path, args: list[str],
           env: dict[str, str] | None = None) -> ChildServer:
    return ChildServer(label, [sys.executable, *args], url=url, log=log, health=health, environ=_child_env(),
                       env=env or {}, cwd=cwd).spawn()


def _watch(processes: list[ChildServer]) -> None:
    while True:
        for p in processes:
            p.check_alive("unexpectedly")
        time.sleep(0.5)


def _banner(processes: list[ChildServer], urls: list[str], base: Path, throwaway: bool, kept: list[str],
            cross_site: bool) -> None:
    width = max(len(p.label) for p in processes) + 2
    lines = ["", "Onebar demo: one sign-in, one bar, three independent sites.", ""]
    lines += [f"  {p.label:<{width}}{url}/" for p, url in zip(processes, urls, strict=True)]
    if cross_site:
        lines += ["", "Cross-site: each name is its own site, so the service's cookie never reaches the",
                  "three sites; they sign in through the hand-off (one click, no password once signed in).",
                  "Chromium and Firefox resolve *.localhost to this machine by themselves: no flag or",
                  "/etc/hosts line is needed."]
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
