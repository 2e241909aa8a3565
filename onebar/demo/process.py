"""A server in a child process: start it, wait until it is ready, tail its log, stop it.

``onebar demo`` starts the service and its three sites with it; the tests
(``tests/live.py``) and the benchmarks (``bench/procs.py``, the PostgreSQL and
Redis servers of ``bench/engines.py``, the nginx of ``bench/cluster.py``) start
theirs the same way (werkzeug's ``dev_server`` test fixture is the model).
Output goes to a log file, whose tail is in every error::

    import sys
    from pathlib import Path

    from onebar.demo.process import ChildServer, free_port

    port = free_port()
    with ChildServer("static files", [sys.executable, "-m", "http.server", str(port)],
                     url=f"http://localhost:{port}", log=Path("/tmp/http.log")) as server:
        ...  # server.url answers here; it is stopped on the way out

A server is ready when its health URL answers below 500, or, for one that does
not speak HTTP (a database) or whose answers depend on others (a proxy before
its upstreams), when its ``ready`` check says so: :func:`listening` (the port
accepts connections) or any callable. How it is stopped is its own too
(``stop_signal``, ``stop_timeout``): PostgreSQL's fast shutdown is SIGINT.

Importing this module imports nothing of the service (no click, no store).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["ChildServer", "ChildServerError", "free_port", "http_status", "listening", "stop_all", "wait_until_up"]

#: Seconds a server gets to answer its health URL for the first time.
START_TIMEOUT = 30.0
#: Seconds a server gets to exit after its stop signal before it is killed.
STOP_TIMEOUT = 5.0


class ChildServerError(RuntimeError):
    """A server stopped, or did not answer in time; the message ends with its log's tail."""


def free_port(host: str = "localhost") -> int:
    """A port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """One GET of ``url`` (no redirects, no proxy): its status, or None when nothing answers."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "localhost", parts.port, timeout=timeout)
    try:
        conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def listening(host: str, port: int) -> Callable[[], bool]:
    """A ``ready`` check: does ``host:port`` accept a TCP connection?"""
    def check() -> bool:
        with socket.create_connection((host, port), timeout=1):
            return True
    return check


@dataclass
class ChildServer:
    """One server process.

    :param label: how messages name it.
    :param argv: the command; it must serve ``url``.
    :param url: its origin, ``scheme://host:port`` (no trailing slash).
    :param log: the file its stdout and stderr are appended to.
    :param health: a path that answers below 500 once it serves (unless ``ready`` is given).
    :param env: variables added to ``environ`` for it.
    :param environ: the environment it starts from (default: this process's).
    :param cwd: its working directory.
    :param ready: instead of the health URL, a check that returns true once it
        serves (an exception counts as "not yet"), e.g. :func:`listening`.
    :param start_timeout: seconds :meth:`start` waits for it by default.
    :param stop_signal: what :meth:`stop` sends first (SIGTERM; PostgreSQL wants SIGINT).
    :param stop_timeout: seconds it gets to exit after that before SIGKILL.
    :param new_session: start it in a session (and process group) of its own,
        which SIGKILL then ends as a whole; Ctrl-C in the terminal does not reach it.
    :param more_logs: other files it writes (nginx's error log), tailed after ``log``.
    """

    label: str
    argv: Sequence[str]
    url: str
    log: Path
    health: str = "/"
    env: Mapping[str, str] = field(default_factory=dict)
    environ: Mapping[str, str] | None = None
    cwd: str | os.PathLike[str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    ready: Callable[[], object] | None = None
    start_timeout: float = START_TIMEOUT
    stop_signal: int = signal.SIGTERM
    stop_timeout: float = STOP_TIMEOUT
    new_session: bool = False
    more_logs: Sequence[Path] = ()

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 80

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def spawn(self) -> ChildServer:
        """Start the process (again, after a stop or a kill) without waiting for it."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {**(os.environ if self.environ is None else self.environ), "PYTHONUNBUFFERED": "1", **self.env}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(list(self.argv), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, env=env, cwd=self.cwd,
                                         start_new_session=self.new_session)
        return self

    def start(self, timeout: float | None = None) -> ChildServer:
        """Start the process and return once it is ready; stop it if it is not within ``timeout``."""
        self.spawn()
        try:
            wait_until_up([self], self.start_timeout if timeout is None else timeout)
        except ChildServerError:
            self.stop()
            raise
        return self

    def answers(self) -> bool:
        """One look: is it ready (its health URL answers below 500, or its ``ready`` check passes)?"""
        if self.ready is not None:
            try:
                return bool(self.ready())
            except Exception:  # noqa: BLE001 - not up yet
                return False
        status = http_status(self.url + self.health)
        return status is not None and status < 500

    def wait_until(self, check: Callable[[], object], what: str, timeout: float = START_TIMEOUT) -> None:
        """Return once ``check()`` is true (``what``, something this server starts, such as a
        second port, is ready); raise if the server stops or ``timeout`` runs out first."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive(f"while waiting for {what}")
            try:
                if check():
                    return
            except Exception:  # noqa: BLE001 - not yet
                pass
            if time.monotonic() > deadline:
                raise ChildServerError(f"{what} was not ready within {timeout:.0f}s; "
                                       f"the end of {self.log}:\n{self.tail()}")
            time.sleep(0.05)

    def check_alive(self, when: str = "unexpectedly") -> None:
        code = None if self.proc is None else self.proc.poll()
        if self.proc is None or code is not None:
            raise ChildServerError(f"{self.label} stopped {when} (exit status {code}); "
                                   f"the end of {self.log}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of its log (and of each of ``more_logs`` that has any)."""
        parts = []
        for path in (self.log, *self.more_logs):
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            if path == self.log or text:
                parts.append(("" if path == self.log else f"-- {path}:\n") + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts)

    def kill9(self) -> None:
        """SIGKILL: no clean-up, no flush, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float | None = None) -> None:
        """Its stop signal, then SIGKILL if it is still running after ``timeout`` (default ``stop_timeout``)."""
        stop_all([self], timeout)

    def __enter__(self) -> ChildServer:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until_up(servers: Iterable[ChildServer], timeout: float = START_TIMEOUT) -> None:
    """Return once every server is ready; raise if one stops or time runs out."""
    pending = list(servers)
    deadline = time.monotonic() + timeout
    while pending:
        for server in list(pending):
            server.check_alive("while starting")
            if server.answers():
                pending.remove(server)
        if pending and time.monotonic() > deadline:
            names = ", ".join(s.label for s in pending)
            first = pending[0]
            where = first.url if first.ready is not None else first.url + first.health
            raise ChildServerError(f"{names} did not answer {where} within "
                                   f"{timeout:.0f}s; the end of {first.log}:\n{first.tail()}")
        if pending:
            time.sleep(0.05)


def stop_all(servers: Sequence[ChildServer], timeout: float | None = None) -> None:
    """Each one's stop signal (the last started first), then SIGKILL to any still running after
    ``timeout`` (default: each one's ``stop_timeout``)."""
    running = [s for s in reversed(servers) if s.proc is not None]
    for server in running:
        if server.proc is not None and server.proc.poll() is None:
            server.proc.send_signal(server.stop_signal)
    started = time.monotonic()
    for server in running:
        proc = server.proc
        assert proc is not None
        limit = server.stop_timeout if timeout is None else timeout
        try:
            proc.wait(max(started + limit - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            try:
                if server.new_session:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.kill()
            except ProcessLookupError:  # it went on its own meanwhile
                pass
            proc.wait(10)
