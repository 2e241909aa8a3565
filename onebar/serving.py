"""``onebar serve``: the identity service under granian, with N worker processes.

Chosen on figures (``python -m bench --only servers``, BENCHMARKS.md): for this
app granian serves several times the requests per second of waitress and
gunicorn on the same cores, at a fraction of their p99.

Each worker process builds its own app from the environment: :func:`service_app`
is a factory that reads :func:`onebar.settings.load` (``ONEBAR_*`` variables,
so every node and every worker of a node gets the same settings), so nothing
but environment variables crosses into the workers. Example::

    ONEBAR_DATA_DIR=/var/lib/onebar python -m onebar serve --port 5000 --workers 2

Stopping: SIGTERM or SIGINT stops accepting connections, lets the requests in
flight finish (each worker gets up to ``drain_timeout`` seconds, then it is
killed) and exits 0.

Forwarded headers: granian passes ``X-Forwarded-For``/``-Proto`` to the app
untouched, and the app believes exactly ``ONEBAR_TRUSTED_PROXIES`` of them
(werkzeug's ``ProxyFix``); with the default 0 they are ignored.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from typing import Any

from .exc import ConfigError

#: Seconds a worker may take to finish its requests in flight after SIGTERM.
DRAIN_TIMEOUT = 20

#: What each worker imports and calls to build its app.
SERVICE_TARGET = "onebar.serving:service_app"


def service_app() -> Any:
    """The service's WSGI app, built from the environment (a granian factory).

    The secret keys are read once and then dropped from ``os.environ``, so the
    per-request environ that granian builds from the process environment never
    carries them.
    """
    from . import settings as settings_mod
    from .accesslog import AccessLog
    from .web import create_app

    _die_with_parent()
    settings = settings_mod.load()
    os.environ.pop("ONEBAR_SECRET_KEYS", None)
    app: Any = create_app(settings)
    if settings.access_log:
        app = AccessLog(app)
    return app


def _die_with_parent(always: bool = False) -> None:
    """Linux: this worker gets SIGKILL when granian's main process dies.

    A ``kill -9`` of ``onebar serve`` must stop the node, not leave orphaned
    workers answering on its port. (A graceful stop goes through the main
    process, which drains the workers first.)
    """
    import multiprocessing

    if not sys.platform.startswith("linux") or os.getppid() == 1:
        return
    if not always and multiprocessing.parent_process() is None:
        return  # not a granian worker (never set this on the main process)
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def check_port(host: str, port: int) -> None:
    """Refuse a port another process holds, with one clear line.

    granian binds with SO_REUSEPORT, which would silently share a port with
    another server that does the same; a plain bind first makes the clash show.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # old connections in TIME_WAIT do not count
        try:
            s.bind(addr)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _by_file(target: str) -> str:
    """``module:attr`` as ``/absolute/path/of/module.py:attr``, for granian.

    granian resolves a dotted target against the working directory: it walks
    up through every folder there that holds an ``__init__.py`` and prefixes
    their names, so ``onebar serve`` started inside a package (``onebar demo``
    from a wheel runs in ``site-packages/onebar/demo``) imported
    ``onebar.demo.onebar.serving`` and died. Given the module's file, it walks
    up from there instead: the module name comes out right from any working
    directory, and the folder this very ``onebar`` was imported from goes first
    on the workers' path, so they run the same copy as this process.
    """
    import importlib.util

    module, sep, attr = target.partition(":")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.has_location or not spec.origin or not spec.origin.endswith(".py"):
        return target  # not importable here: granian will say so, with the name as given
    return f"{spec.origin}{sep}{attr}"


def _granian(target: str, host: str, port: int, **options: Any) -> Any:
    """A granian Server for ``target`` (a ``module:factory``) on host:port, with what both processes share.

    The port is checked first (granian's SO_REUSEPORT would share a taken
    one); granian's own access log is off (onebar.accesslog writes one line
    per request, the same under any server); a worker that dies is respawned;
    the target goes by its file (:func:`_by_file`), whatever the working directory.
    """
    from granian.server import Server

    check_port(host, port)
    address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0]
    return Server(_by_file(target), address=address, port=port, factory=True, log_access=False,
                  respawn_failed_workers=True, websockets=False, **options)


def run(target: str = SERVICE_TARGET, *, host: str = "localhost", port: int = 5000, workers: int = 1,
        threads: int = 8, drain_timeout: int = DRAIN_TIMEOUT, name: str = "onebar") -> None:
    """Serve the WSGI app that ``target`` (``module:factory``) builds, until SIGTERM/SIGINT."""
    from granian.constants import Interfaces

    if port == 0:
        raise ConfigError("give a port: granian's workers each bind it, so 0 cannot be shared")
    server = _granian(
        target, host, port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        workers_kill_timeout=drain_timeout,
    )
    print(f"{name} serving on http://{host}:{port}/ ({workers} worker{'s' * (workers != 1)} "
          f"× {threads} threads)", flush=True)
    server.serve()


#: What the events process serves (onebar.live), and the most streams it holds.
EVENTS_TARGET = "onebar.live:live_app"
EVENTS_MAX_STREAMS = 50_000


def run_events(*, host: str = "localhost", port: int = 5001, max_streams: int = EVENTS_MAX_STREAMS) -> None:
    """Serve ``GET /api/events`` (onebar.live) under granian's ASGI interface, until SIGTERM/SIGINT.

    One worker process, one event loop: an open stream is a coroutine, so
    one process holds tens of thousands. granian's ``backpressure`` (requests
    in flight per worker, by default its backlog: 1024) is raised to
    ``max_streams``, or idle streams would make new ones queue; the open-file
    limit is raised to its hard limit for the same reason.
    """
    import resource

    from granian.constants import Interfaces

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 1 << 20, hard))
    server = _granian(
        EVENTS_TARGET, host, port,
        interface=Interfaces.ASGI,
        workers=1,
        backlog=4096,
        backpressure=max_streams,
        workers_kill_timeout=2,  # a stream never finishes by itself: do not wait for it
    )
    print(f"onebar events serving on http://{host}:{port}/api/events", flush=True)
    server.serve()


def start_events_process(host: str, port: int) -> Any:
    """Start :func:`run_events` in a child process (``python -m onebar.live``) that dies with this one."""
    import subprocess

    return subprocess.Popen([sys.executable, "-m", "onebar.live", "--host", host, "--port", str(port)])


def events_url_for(host: str, port: int, public_url: str | None) -> str:
    """The stream's URL when served on ``port``: public_url's scheme and host name, else ``http://host``."""
    from urllib.parse import urlsplit

    if public_url:
        parts = urlsplit(public_url)
        return f"{parts.scheme}://{parts.hostname}:{port}/api/events"
    return f"http://{host}:{port}/api/events"
