"""onebar.demo.process: the one helper the demo, the tests and the benchmarks start servers with."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from onebar.demo.process import ChildServer, ChildServerError, free_port, http_status, listening


def test_a_server_is_up_when_its_health_url_answers_and_gone_after_stop(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "health").write_text("ok")
    server = ChildServer("files", [sys.executable, "-m", "http.server", "--bind", "localhost", str(port)],
                         url=f"http://localhost:{port}", log=tmp_path / "files.log", health="/health", cwd=tmp_path)
    with server:
        with urllib.request.urlopen(server.url + "/health", timeout=5) as reply:
            assert reply.read() == b"ok"
    assert server.proc is not None and server.proc.returncode is not None
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url + "/health", timeout=2)


def test_a_server_that_dies_while_starting_is_reported_with_its_log(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import sys; print('no database here'); sys.exit(3)"]
    server = ChildServer("the broken one", argv, url=f"http://localhost:{free_port()}", log=tmp_path / "b.log")
    with pytest.raises(ChildServerError) as info:
        server.start(timeout=20)
    assert "the broken one stopped while starting (exit status 3)" in str(info.value)
    assert str(info.value).endswith("no database here")


def test_a_server_that_never_answers_is_stopped_after_the_timeout(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import time; print('thinking', flush=True); time.sleep(60)"]
    server = ChildServer("the silent one", argv, url=f"http://localhost:{free_port()}", log=tmp_path / "s.log")
    with pytest.raises(ChildServerError, match=r"(?s)the silent one did not answer .* within 1s.*thinking"):
        server.start(timeout=1)
    assert server.proc is not None and server.proc.poll() is not None


#: A TCP server that accepts connections and never says a word (a database, to an HTTP client).
MUTE = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
print("listening", flush=True)
held = []
while True:
    held.append(s.accept()[0])
"""


def test_a_server_that_does_not_speak_http_is_up_once_its_ready_check_passes(tmp_path: Path) -> None:
    port = free_port("127.0.0.1")
    server = ChildServer("the mute one", [sys.executable, "-c", MUTE, str(port)], url=f"tcp://127.0.0.1:{port}",
                         log=tmp_path / "m.log", ready=listening("127.0.0.1", port))
    with server.start(timeout=20):
        assert server.running
        assert http_status(f"http://127.0.0.1:{port}/", timeout=0.5) is None, "it never answers HTTP"
    assert not server.running


#: Ignores SIGTERM; says goodbye and exits 0 on SIGINT (as PostgreSQL's fast shutdown does).
STUBBORN = """
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
def bye(*_):
    print("fast shutdown", flush=True); sys.exit(0)
signal.signal(signal.SIGINT, bye)
print("up", flush=True)
while True:
    time.sleep(0.1)
"""


def test_a_server_is_stopped_with_its_own_signal_and_killed_only_if_it_lingers(tmp_path: Path) -> None:
    def stubborn(name: str, **kw: object) -> ChildServer:
        log = tmp_path / f"{name}.log"
        return ChildServer(name, [sys.executable, "-c", STUBBORN], url="tcp://127.0.0.1:1", log=log,
                           ready=lambda: "up" in log.read_text(), stop_timeout=1, **kw)  # type: ignore[arg-type]

    polite = stubborn("polite", stop_signal=signal.SIGINT, new_session=True).start(timeout=20)
    polite.stop()
    assert polite.proc is not None and polite.proc.returncode == 0
    assert polite.tail().endswith("fast shutdown")

    deaf = stubborn("deaf").start(timeout=20)  # SIGTERM, which it ignores: SIGKILL after stop_timeout
    deaf.stop()
    assert deaf.proc is not None and deaf.proc.returncode == -signal.SIGKILL
    assert "fast shutdown" not in deaf.tail()


def test_waiting_for_something_a_server_starts_reports_its_log_when_it_never_comes(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "health").write_text("ok")
    with ChildServer("files", [sys.executable, "-m", "http.server", "--bind", "localhost", str(port)],
                     url=f"http://localhost:{port}", log=tmp_path / "files.log", health="/health",
                     cwd=tmp_path) as server:
        server.wait_until(lambda: http_status(server.url + "/health") == 200, "its health page", timeout=5)
        with pytest.raises(ChildServerError, match=r"(?s)its second port was not ready within 1s.*GET /second"):
            server.wait_until(lambda: http_status(server.url + "/second") == 200, "its second port", timeout=1)
        server.kill9()
        with pytest.raises(ChildServerError, match=r"files stopped while waiting for its second port \(exit status -9\)"):
            server.wait_until(lambda: http_status(server.url + "/second") == 200, "its second port", timeout=10)


def test_the_helper_imports_nothing_of_the_service() -> None:
    # The tests and the benchmarks import it for every server they start: not the demo command, click, the store.
    code = ("import sys, onebar.demo.process; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('click', 'onebar', 'flask')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "['onebar', 'onebar.demo', 'onebar.demo.process']"
    from onebar.demo import DEMO_USERS  # still there, loaded when asked for
    assert DEMO_USERS
