"""`onebar demo`: starts everything, prints where, stops on Ctrl-C, and refuses a busy port."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from onebar.demo import command as demo_mod
from onebar.store import SQLiteStore

from ..httpclient import Browserish
from ..live import ROOT, free_port


def onebar_demo(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "onebar", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float = 90) -> list[str]:
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    proc.pump = threading.Thread(target=pump, daemon=True)  # type: ignore[attr-defined]
    proc.pump.start()  # type: ignore[attr-defined]
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while not seen or seen[-1] != marker:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            raise AssertionError("no '%s' in time; output so far:\n%s" % (marker, "\n".join(seen))) from None
        if line is None:
            raise AssertionError(f"onebar demo exited ({proc.wait()}):\n" + "\n".join(seen))
        seen.append(line)
    proc.lines = lines  # type: ignore[attr-defined]
    return seen


@contextmanager
def running_demo(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``onebar demo ARGS`` and its output up to the banner's last line; killed on the way out if still running."""
    proc = onebar_demo("demo", *args, env=env)
    try:
        yield proc, "\n".join(read_until(proc, "Press Ctrl-C to stop."))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.pump.join(5)  # type: ignore[attr-defined]
        proc.stdout.close()  # type: ignore[union-attr]


def stop_with_ctrl_c(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    assert proc.wait(20) == 0
    assert rest_of_output(proc)[-1] == "Stopped."


def rest_of_output(proc: subprocess.Popen[str]) -> list[str]:
    out = []
    while (line := proc.lines.get(timeout=5)) is not None:  # type: ignore[attr-defined]
        out.append(line)
    return out


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("localhost", port)) == 0


@pytest.fixture
def ports() -> Iterator[list[int]]:
    chosen: list[int] = []
    while len(chosen) < 4:
        port = free_port()
        if port not in chosen:
            chosen.append(port)
    yield chosen


def port_args(ports: list[int]) -> list[str]:
    return ["--port", str(ports[0]), "--tasks-port", str(ports[1]), "--notes-port", str(ports[2]),
            "--handbook-port", str(ports[3])]


def test_demo_starts_everything_prints_where_and_stops_on_ctrl_c(ports: list[int], tmp_path: Path) -> None:
    real_data = tmp_path / "a-real-data-dir"
    with running_demo(*port_args(ports), env={"ONEBAR_DATA_DIR": str(real_data)}) as (proc, out):
        for label, port in zip(("Identity service", "Tasks (Flask)", "Notes (Django)", "Handbook (plain HTML)"),
                               ports, strict=True):
            assert re.search(rf"^  {re.escape(label)} +http://localhost:{port}/$", out, re.M), out
        for email, _, password in demo_mod.DEMO_USERS:
            assert re.search(rf"^  {re.escape(email)} +password: {re.escape(password)}$", out, re.M), out
        data_dir = Path(re.search(r"^Data: (\S+)  \(thrown away", out, re.M).group(1))  # type: ignore[union-attr]
        assert data_dir.is_dir()

        service, tasks, notes, handbook = (f"http://localhost:{p}" for p in ports)
        for url in (service + "/healthz", tasks + "/", notes + "/", handbook + "/"):
            with urllib.request.urlopen(url, timeout=10) as resp:
                assert resp.status == 200

        # The printed account works, and the service knows the three sites.
        email, name, password = demo_mod.DEMO_USERS[0]
        b = Browserish("")
        reply = b.post(service + "/login", data={"csrf_token": b.csrf(service + "/login"), "email": email,
                                                 "password": password, "next": notes + "/notes/"})
        assert (reply.status, reply.headers["Location"]) == (303, notes + "/notes/")
        me = b.get(service + "/api/me").text
        assert name in me
        for url in (tasks, notes, handbook):
            assert f'"url":"{url}/"' in me.replace(" ", "")
        assert f"{name.split()[0]}’s notes" in b.get(notes + "/notes/").text

        stop_with_ctrl_c(proc)
    assert [p for p in ports if listening(p)] == []
    assert not data_dir.exists()
    assert not real_data.exists()  # ONEBAR_DATA_DIR is not the demo's to fill with demo passwords


def test_a_busy_port_is_named_and_nothing_is_left_running(ports: list[int]) -> None:
    with socket.socket() as busy:
        busy.bind(("localhost", ports[2]))
        busy.listen()
        result = subprocess.run([sys.executable, "-m", "onebar", "demo", *port_args(ports)], capture_output=True,
                                text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: port {ports[2]} on localhost is already in use; choose another with --notes-port PORT")
    assert [p for p in ports if listening(p)] == []


def test_the_same_port_twice_is_refused(ports: list[int]) -> None:
    result = subprocess.run([sys.executable, "-m", "onebar", "demo", "--port", str(ports[0]), "--handbook-port",
                             str(ports[0])], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2
    assert f"port {ports[0]} is given to both --port and --handbook-port" in result.stderr


def test_a_kept_data_dir_follows_new_ports_and_keeps_accounts(tmp_path: Path) -> None:
    first = {"tasks": "http://localhost:8001/", "notes": "http://localhost:8002/", "handbook": "http://localhost:8003/"}
    assert demo_mod.prepare_data(tmp_path, first) == []
    moved = {**first, "notes": "http://localhost:9002/"}
    assert demo_mod.prepare_data(tmp_path, moved) == [email for email, _, _ in demo_mod.DEMO_USERS]
    store = SQLiteStore(tmp_path / "onebar.sqlite3")
    try:
        assert [(a.id, a.url) for a in store.list_apps()] == list(moved.items())
        assert len(store.list_users()) == 2
    finally:
        store.close()
