"""A server in a child process: start it, poll its health, tail its log, stop it.

``onebar demo`` starts the service and its three sites with it; the tests
(``tests/live.py``) and the benchmarks (``bench/procs.py``) start theirs the
same way (werkzeug's ``dev_server`` test fixture is the model). Output goes to
a log file, whose tail is in every error::

    import sys
    from pathlib import Path

    from onebar.demo.process import ChildServer, free_port

    port = free_port()
    with ChildServer("static files", [sys.executable, "-m", "http.server", str(port)],
                     url=f"http://localhost:{port}", log=Path("/tmp/http.log")) as server:
        ...  # server.url answers here; it is stopped on the way out
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["ChildServer", "ChildServerError", "free_port", "stop_all", "wait_until_up"]

#: Seconds a server gets to answer its health URL for the first time.
START_TIMEOUT = 30.0
#: Seconds a server gets to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 5.0


class ChildServerError(RuntimeError):
    """A server stopped, or did not answer in time; the message ends with its log's tail."""


def free_port(host: str = "localhost") -> int:
    """A port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class ChildServer:
    """One server process.

    :param label: how messages name it.
    :param argv: the command; it must serve ``url``.
    :param url: its origin, ``http://host:port`` (no trailing slash).
    :param log: the file its stdout and stderr are appended to.
    :param health: a path that answers below 500 once it serves.
    :param env: variables added to ``environ`` for it.
    :param environ: the environment it starts from (default: this process's).
    :param cwd: its working directory.
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

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 80

    def spawn(self) -> ChildServer:
        """Start the process (again, after a stop or a kill) without waiting for it."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {**(os.environ if self.environ is None else self.environ), "PYTHONUNBUFFERED": "1", **self.env}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(list(self.argv), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, env=env, cwd=self.cwd)
        return self

    def start(self, timeout: float = START_TIMEOUT) -> ChildServer:
        """Start the process and return once its health URL answers; stop it if it does not."""
        self.spawn()
        try:
            wait_until_up([self], timeout)
        except ChildServerError:
            self.stop()
            raise
        return self

    def answers(self) -> bool:
        """One look at the health URL: does it answer below 500?"""
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname or "localhost", parts.port, timeout=2)
        try:
            conn.request("GET", self.health)
            return conn.getresponse().status < 500
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def check_alive(self, when: str = "unexpectedly") -> None:
        code = None if self.proc is None else self.proc.poll()
        if self.proc is None or code is not None:
            raise ChildServerError(f"{self.label} stopped {when} (exit status {code}); "
                                   f"the end of {self.log}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of its log."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def kill9(self) -> None:
        """SIGKILL: no clean-up, no flush, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        stop_all([self], timeout)

    def __enter__(self) -> ChildServer:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until_up(servers: Iterable[ChildServer], timeout: float = START_TIMEOUT) -> None:
    """Return once every server's health URL answers; raise if one stops or time runs out."""
    pending = list(servers)
    deadline = time.monotonic() + timeout
    while pending:
        for server in list(pending):
            server.check_alive("while starting")
            if server.answers():
                pending.remove(server)
        if pending and time.monotonic() > deadline:
            names = ", ".join(s.label for s in pending)
            raise ChildServerError(f"{names} did not answer {pending[0].url}{pending[0].health} within "
                                   f"{timeout:.0f}s; the end of {pending[0].log}:\n{pending[0].tail()}")
        if pending:
            time.sleep(0.05)


def stop_all(servers: Sequence[ChildServer], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM to each (the last started first), then SIGKILL to any still running after ``timeout``."""
    running = [s.proc for s in reversed(servers) if s.proc is not None]
    for proc in running:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + timeout
    for proc in running:
        try:
            proc.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
