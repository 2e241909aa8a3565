"""`onebar serve` as an operator meets it: workers, a clean stop, the access log."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time

from .httpclient import Browserish
from .live import start_service

NOTES = "http://localhost:5001"
ADA = ("ada@example.com", "Ada Lovelace", "lovelace1815")


def access_lines(svc) -> list[dict]:
    lines = []
    for line in svc.server.log.read_text(errors="replace").splitlines():
        if line.startswith('{"ts":'):
            lines.append(json.loads(line))
    return lines


def test_access_log_has_one_json_line_per_request_without_query_or_cookies(tmp_path):
    with start_service(tmp_path / "svc", users=[ADA], workers=2) as svc:
        b = Browserish(svc.url)
        assert b.login(ADA[0], ADA[2], next=NOTES + "/secret-next").status == 303
        session = b.cookie("onebar_session")
        assert b.get("/api/me?code=hand-off-secret").status == 200
        assert b.get("/no-such-page").status == 404
        time.sleep(0.3)
        lines = access_lines(svc)
        text = svc.server.log.read_text()
    by_path = {(entry["method"], entry["path"], entry["status"]) for entry in lines}
    assert {("GET", "/login", 200), ("POST", "/login", 303), ("GET", "/api/me", 200),
            ("GET", "/no-such-page", 404)} <= by_path
    assert all(set(entry) == {"ts", "method", "path", "status", "ms"} and entry["ms"] >= 0 for entry in lines)
    assert "hand-off-secret" not in text and "secret-next" not in text
    assert session and session not in text and "lovelace1815" not in text


def test_no_access_log_flag_turns_it_off(tmp_path):
    with start_service(tmp_path / "svc", args=["--no-access-log"]) as svc:
        assert Browserish(svc.url).get("/api/me").status == 200
        time.sleep(0.3)
        assert access_lines(svc) == []


def test_access_log_setting_turns_it_off(tmp_path):
    with start_service(tmp_path / "svc", env={"ONEBAR_ACCESS_LOG": "false"}) as svc:
        assert Browserish(svc.url).get("/api/me").status == 200
        time.sleep(0.3)
        assert access_lines(svc) == []


def _slow_sign_up_during(stop_signal: int, tmp_path) -> tuple[list, int, float]:
    """A sign-up waits on a locked database; the service gets ``stop_signal`` meanwhile."""
    with start_service(tmp_path / "svc", workers=2) as svc:
        b = Browserish(svc.url)
        token = b.csrf("/signup")
        answers: list = []

        def sign_up() -> None:
            answers.append(b.post("/signup", data={
                "csrf_token": token, "name": "Grace Hopper", "email": "grace@example.com",
                "password": "hopper1906", "confirm": "hopper1906", "next": ""}))

        lock = sqlite3.connect(svc.data_dir / "onebar.sqlite3", isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # writers wait (the store's busy timeout is 5 s)
        client = threading.Thread(target=sign_up)
        client.start()
        time.sleep(1.0)  # the sign-up is in flight, waiting for the lock
        assert not answers, "the sign-up did not wait: the test would prove nothing"
        stopped_at = time.monotonic()
        svc.server.proc.send_signal(stop_signal)
        time.sleep(1.0)
        lock.execute("COMMIT")
        lock.close()
        client.join(15)
        code = svc.server.proc.wait(30)
        took = time.monotonic() - stopped_at
        rows = sqlite3.connect(svc.data_dir / "onebar.sqlite3").execute(
            "SELECT count(*) FROM users WHERE email = 'grace@example.com'").fetchone()[0]
        assert rows == 1, "the acknowledged sign-up is in the database"
        return answers, code, took


def test_sigterm_lets_the_request_in_flight_finish_and_exits_0(tmp_path):
    answers, code, took = _slow_sign_up_during(signal.SIGTERM, tmp_path)
    assert [a.status for a in answers] == [303], "the in-flight sign-up was answered, not cut"
    assert code == 0
    assert took < 25, f"stopping took {took:.1f}s"


def test_sigint_does_the_same(tmp_path):
    answers, code, took = _slow_sign_up_during(signal.SIGINT, tmp_path)
    assert [a.status for a in answers] == [303]
    assert code == 0 and took < 25


def test_a_taken_port_is_refused_with_one_line(tmp_path):
    import socket

    from .live import onebar

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = onebar(tmp_path / "d", "serve", "--host", "127.0.0.1", "--port", str(port), check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"error: cannot listen on 127.0.0.1:{port}: Address already in use"]


def test_several_workers_with_per_process_limits_say_so(tmp_path):
    with start_service(tmp_path / "svc", workers=2, env={"ONEBAR_RATE_LIMIT_STORAGE": "memory://"}) as svc:
        assert Browserish(svc.url).get("/healthz").status == 200
        assert "sign-in limits are counted per worker" in svc.server.log.read_text()


def test_several_workers_share_limits_in_the_store_by_default(tmp_path):
    with start_service(tmp_path / "svc", workers=2) as svc:
        assert Browserish(svc.url).get("/healthz").status == 200
        assert "counted per worker" not in svc.server.log.read_text()
