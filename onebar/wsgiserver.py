"""Run a WSGI app with waitress: the benchmarks' own servers.

Its users are ``bench/baseline.py`` (the raw-WSGI baseline), ``bench/mwapp.py``
(the middleware benchmark's app) and the waitress column of
``bench/servers.py``. ``onebar serve`` runs on granian (:mod:`onebar.serving`),
and the demo sites call waitress themselves (they import nothing of the
service but :mod:`onebar.integrations`).

A port that is taken (or a host that cannot be bound) raises
:class:`onebar.exc.ConfigError` naming it, instead of a traceback.
"""

from __future__ import annotations

from typing import Any

from waitress.server import create_server

from .exc import ConfigError


def run(app: Any, *, host: str = "localhost", port: int = 5000, threads: int = 8, name: str = "onebar") -> None:
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident=name, channel_timeout=30)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    effective_port = getattr(server, "effective_port", port)
    print(f"{name} serving on http://{host}:{effective_port}/", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
