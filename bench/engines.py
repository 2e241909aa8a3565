"""Real PostgreSQL and Redis servers for the tests and benchmarks, on loopback, in temp dirs, always stopped.

Nothing here uses a system service: each server is the engine's own binary
started as a child process on a free port (a
:class:`onebar.demo.process.ChildServer`, ready once a client connects), with its data in a fresh
directory that is removed by :meth:`destroy`. A missing engine is an error (the
tests that need it fail, never skip): ``./scripts/test`` installs Debian's
``postgresql`` and ``redis-server``.

PostgreSQL refuses to run as root, so as root ``initdb`` and ``postgres`` run
as ``nobody`` (``setpriv``), in a directory made under the system temp dir
(pytest's own base directory is 0700 and must stay so) and chowned to it.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg

from onebar.demo.process import ChildServer, free_port


def postgres_bin(name: str) -> str:
    """A PostgreSQL server binary: Debian's versioned directory (newest first), else PATH."""
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]), reverse=True):
        if os.access(f"{directory}/{name}", os.X_OK):
            return f"{directory}/{name}"
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (Debian: apt-get install postgresql; "
                           "./scripts/test does it)")
    return found


def _as_unprivileged() -> tuple[list[str], int | None]:
    """The command prefix and uid that run a server as nobody when we are root."""
    if os.geteuid() != 0:
        return [], None
    nobody = pwd.getpwnam("nobody")
    return ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"], nobody.pw_uid


class PostgresServer:
    """``initdb`` then ``postgres`` on 127.0.0.1:<free port>; :meth:`stop` and
    :meth:`start` again keep the data (a restart), :meth:`destroy` removes it.

    The superuser is ``onebar`` with a random password (scram over TCP), so
    URLs carry a password the way production ones do.
    """

    user = "onebar"

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="onebar-pg-"))
        self.data = self.base / "data"
        self.sockets = self.base / "sockets"
        self.log = self.base / "postgres.log"
        self.password = "pw-" + secrets.token_hex(8)
        self.port = free_port("127.0.0.1")
        self._prefix, uid = _as_unprivileged()
        self.server = ChildServer(
            "postgres",
            [*self._prefix, postgres_bin("postgres"), "-D", str(self.data), "-k", str(self.sockets),
             "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
             # Tests never survive a power cut: skip the flushes that cost time.
             "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200"],
            url=f"postgresql://127.0.0.1:{self.port}", log=self.log,
            ready=lambda: psycopg.connect(self.url(), connect_timeout=2).close() is None,
            start_timeout=60, stop_signal=signal.SIGINT, stop_timeout=30, new_session=True)
        self.sockets.mkdir()
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.password + "\n")
        if uid is not None:
            for path in (self.base, self.sockets, pwfile):
                os.chown(path, uid, -1)
        try:
            subprocess.run(
                [*self._prefix, postgres_bin("initdb"), "-D", str(self.data), "-U", self.user, "--pwfile", str(pwfile),
                 "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync", "--locale=C"],
                check=True, capture_output=True, timeout=120,
            )
        except subprocess.CalledProcessError as exc:
            self.destroy()
            raise RuntimeError(f"initdb failed: {exc.stderr.decode(errors='replace')}") from None
        pwfile.unlink()

    def url(self, dbname: str = "postgres", password: str | None = None) -> str:
        return f"postgresql://{self.user}:{password or self.password}@127.0.0.1:{self.port}/{dbname}"

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        """The running ``postgres``, or None once stopped."""
        return self.server.proc if self.server.running else None

    def start(self) -> PostgresServer:
        assert self.proc is None
        self.server.start()
        return self

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then SIGKILL if it lingers."""
        self.server.stop()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class RedisServer:
    """``redis-server`` on 127.0.0.1:<free port>, no persistence, in a temp dir."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="onebar-redis-"))
        self.log = self.base / "redis.log"
        self.port = free_port("127.0.0.1")
        self.server: ChildServer | None = None

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        """The running ``redis-server``, or None once stopped."""
        return self.server.proc if self.server is not None and self.server.running else None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        import redis

        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.access(binary, os.X_OK):
            raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server; "
                               "./scripts/test does it)")
        self.server = ChildServer(
            "redis-server",
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.base)],
            url=self.url, log=self.log, ready=lambda: redis.Redis(port=self.port, socket_timeout=1).ping(),
            stop_timeout=10, new_session=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
