"""Real servers for tests: subprocesses on ephemeral localhost ports.

Each server is a :class:`onebar.demo.process.ChildServer` (the helper
``onebar demo`` and the benchmarks use too): started, polled on a health URL
until it answers (the service's live stream too, on its own port), and always
stopped (werkzeug's ``dev_server`` fixture does the same). Output goes to a
log file whose tail is shown when a server does not come up.

    with start_service(tmp_path, apps=[("notes", "Notes", "http://localhost:5001/")],
                       users=[("ada@example.com", "Ada", "password123")]) as svc:
        urllib.request.urlopen(svc.url + "/api/me")
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from onebar.demo.process import ChildServer, free_port, http_status

__all__ = ["ROOT", "TEST_SECRET_KEYS", "Service", "free_port", "onebar", "run_server", "service_env", "start_service"]

ROOT = Path(__file__).resolve().parent.parent

#: Keys used by every test service, so tests can mint cookies offline.
TEST_SECRET_KEYS = ("test-old-key-0123456789abcdef0123456789", "test-new-key-0123456789abcdef0123456789")


#: For long-lived test services whose tests sign in more often than a person
#: would (one account, one address, dozens of times a minute): every sign-in
#: attempt is limited (10 a minute per account and address, 60 per address),
#: which those tests are not about. tests/test_ratelimit.py and
#: tests/test_signin_storm.py test the limits themselves.
MANY_SIGN_INS = {"ONEBAR_LOGIN_ATTEMPT_RATE_LIMIT": "1000/minute", "ONEBAR_LOGIN_IP_ATTEMPT_RATE_LIMIT": "1000/minute"}


@contextmanager
def run_server(
    argv: Sequence[str],
    *,
    url: str,
    health: str = "/",
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 30.0,
) -> Iterator[ChildServer]:
    """Start ``argv``, wait until ``url + health`` answers, stop it afterwards."""
    server = ChildServer(f"the server at {url}", argv, url=url, log=log, health=health, env=dict(env or {}),
                         cwd=cwd or ROOT)
    with server.start(timeout):
        yield server


def service_env(data_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {
        "ONEBAR_DATA_DIR": str(data_dir),
        "ONEBAR_SECRET_KEYS": ",".join(TEST_SECRET_KEYS),
        **(extra or {}),
    }


def onebar(data_dir: Path, *args: str, input: str | None = None, env: Mapping[str, str] | None = None,
           check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the ``onebar`` CLI against ``data_dir`` (as ``python -m onebar``)."""
    return subprocess.run(
        [sys.executable, "-m", "onebar", "--data-dir", str(data_dir), *args],
        input=input,
        capture_output=True,
        text=True,
        env={**os.environ, **service_env(data_dir, env)},
        cwd=ROOT,
        check=check,
        timeout=60,
    )


@dataclass
class Service:
    url: str
    port: int
    data_dir: Path
    server: ChildServer
    #: The live stream's port (onebar.live), served beside the service.
    events_port: int = 0

    @property
    def events_url(self) -> str:
        return f"http://localhost:{self.events_port}/api/events"

    def cli(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return onebar(self.data_dir, *args, input=input, check=check)


@contextmanager
def start_service(
    data_dir: Path,
    *,
    port: int | None = None,
    apps: Iterable[tuple[str, str, str]] = (),
    users: Iterable[tuple[str, str, str]] = (),
    env: Mapping[str, str] | None = None,
    threads: int = 8,
    workers: int = 1,
    args: Sequence[str] = (),
) -> Iterator[Service]:
    """Register ``apps`` (id, name, url) and ``users`` (email, name, password), then serve.

    The service runs exactly as ``onebar serve`` does (granian), with the
    test keys in :data:`TEST_SECRET_KEYS`.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    for app_id, name, url in apps:
        onebar(data_dir, "app", "add", app_id, "--name", name, "--url", url)
    for email, name, password in users:
        onebar(data_dir, "user", "add", email, "--name", name, "--password-stdin", input=password + "\n")
    port = port or free_port()
    url = f"http://localhost:{port}"
    # Its own free port for the live stream: port + 1 (the default) may be another test's.
    events_port = free_port()
    argv = [sys.executable, "-m", "onebar", "serve", "--host", "localhost", "--port", str(port),
            "--threads", str(threads), "--workers", str(workers), "--events-port", str(events_port), *args]
    with run_server(argv, url=url, health="/healthz", log=data_dir / "service.log",
                    env=service_env(data_dir, env)) as server:
        events_health = f"http://localhost:{events_port}/healthz"
        server.wait_until(lambda: http_status(events_health) == 200, f"its live stream ({events_health})")
        yield Service(url=url, port=port, data_dir=data_dir, server=server, events_port=events_port)
