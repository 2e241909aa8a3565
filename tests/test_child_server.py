"""onebar.demo.process: the one helper the demo, the tests and the benchmarks start servers with."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

import pytest

from onebar.demo.process import ChildServer, ChildServerError, free_port


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
