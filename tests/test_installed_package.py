"""Onebar as `pip install onebar` leaves it: the wheel's contents, and the service from any working directory.

granian, the server under `onebar serve`, names the module it imports after the
working directory when that directory is inside a Python package; `onebar demo`
from a wheel starts the service inside site-packages/onebar/demo, so the
service must come up whatever the directory it is started from.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

from .live import ROOT, TEST_SECRET_KEYS, free_port, run_server


def answers(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return reply.status
    except OSError:
        return None


def test_serve_started_inside_a_python_package_answers(tmp_path: Path) -> None:
    package = tmp_path / "somepackage"
    package.mkdir()
    (package / "__init__.py").write_text("")
    port, events_port = free_port(), free_port()
    argv = [sys.executable, "-m", "onebar", "serve", "--host", "localhost", "--port", str(port),
            "--events-port", str(events_port)]
    env = {"ONEBAR_DATA_DIR": str(tmp_path / "data"), "ONEBAR_SECRET_KEYS": ",".join(TEST_SECRET_KEYS)}
    with run_server(argv, url=f"http://localhost:{port}", health="/healthz", log=tmp_path / "service.log",
                    env=env, cwd=package):
        assert answers(f"http://localhost:{port}/healthz") == 200
        deadline = time.monotonic() + 20
        while answers(f"http://localhost:{events_port}/healthz") != 200:  # the live stream's process too
            assert time.monotonic() < deadline, (tmp_path / "service.log").read_text()
            time.sleep(0.1)


def test_the_wheel_holds_only_onebar_and_its_demo_runs_from_an_install(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True, timeout=120)
    (wheel,) = (tmp_path / "dist").glob("onebar-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        top = {name.split("/")[0] for name in zf.namelist()}
    assert top == {"onebar", re.sub(r"-py3.*", ".dist-info", wheel.name)}, top

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=120)
    away = tmp_path / "elsewhere"  # not the checkout: `python -m` puts the working directory first on the path
    away.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEBAR_")}
    env.update(PYTHONPATH=str(site), PYTHONUNBUFFERED="1")
    where = subprocess.run([sys.executable, "-c", "import onebar; print(onebar.__file__)"], cwd=away, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(site), where

    ports = [free_port() for _ in range(5)]
    service, tasks = (f"http://localhost:{p}" for p in ports[:2])
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "onebar", "--data-dir", str(tmp_path / "data"), "demo", "--port", str(ports[0]),
             "--tasks-port", str(ports[1]), "--notes-port", str(ports[2]), "--handbook-port", str(ports[3]),
             "--events-port", str(ports[4])],
            cwd=away, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 45
        while not (answers(service + "/healthz") == 200 and answers(tasks + "/") == 200):
            assert demo.poll() is None, f"onebar demo exited ({demo.returncode}):\n{log.read_text()}"
            assert time.monotonic() < deadline, "the demo did not answer in 45 s:\n" + log.read_text()
            time.sleep(0.2)
        service_log = (tmp_path / "data" / "demo" / "logs" / "onebar.log").read_text()
        assert "Could not import" not in service_log
    finally:
        if demo.poll() is None:
            demo.send_signal(2)  # Ctrl-C: the demo stops its children
            try:
                demo.wait(20)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait()
