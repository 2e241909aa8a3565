"""Several `onebar serve` nodes behind a real nginx (round robin), one store.

The nodes share one SQLite file here; they get every ONEBAR_* variable of the
test's environment, so the same tests run them on PostgreSQL and Redis once
those are configured (ONEBAR_DATABASE_URL, ONEBAR_REDIS_URL).
"""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

from bench.cluster import cluster

from .httpclient import Browserish
from .live import TEST_SECRET_KEYS, onebar

ADA = ("ada@example.com", "Ada Lovelace", "lovelace1815")


@pytest.fixture
def two_nodes(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    onebar(data, "user", "add", ADA[0], "--name", ADA[1], "--password-stdin", input=ADA[2] + "\n")
    with cluster(tmp_path, TEST_SECRET_KEYS, nodes=2, env={"ONEBAR_TRUSTED_PROXIES": "1"}) as c:
        yield c


def me(client: Browserish, cookie: str) -> dict:
    return json.loads(client.get("/api/me", headers={"Cookie": cookie}).body)


def test_signed_in_on_node_a_known_on_node_b_signed_out_on_b_refused_by_a(two_nodes):
    a_url, b_url = (n.url for n in two_nodes.nodes)
    a = Browserish(a_url)
    assert a.login(ADA[0], ADA[2]).status == 303
    cookie = f"onebar_session={a.cookie('onebar_session')}"
    b = Browserish(b_url)
    assert me(b, cookie)["user"]["email"] == ADA[0], "node B knows the session node A started"
    through = Browserish(two_nodes.url)
    assert all(me(through, cookie)["user"] is not None for _ in range(6)), "every node behind nginx knows it"

    # The same browser signs out through node B (B's form and CSRF token).
    a.base = b_url
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', a.get("/logout").text)
    assert token, "node B shows the sign-out form to the signed-in browser"
    assert a.post("/logout", data={"csrf_token": token.group(1), "next": ""}).status == 303
    assert me(Browserish(a_url), cookie)["user"] is None, "node A refuses the cookie at once"
    assert all(me(through, cookie)["user"] is None for _ in range(6))


def test_kill_9_one_node_under_load_loses_no_acknowledged_sign_up_and_it_rejoins(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    env = {"ONEBAR_TRUSTED_PROXIES": "1", "ONEBAR_LOGIN_RATE_LIMIT": "100000/minute"}
    with cluster(tmp_path, TEST_SECRET_KEYS, nodes=2, env=env) as c:
        victim = c.nodes[0]
        acknowledged: list[str] = []
        answers: dict[int, int] = {}
        lock = threading.Lock()
        deadline = time.monotonic() + 8.0  # bounded: 8 s and at most 400 sign-ups

        def sign_ups(worker: int) -> None:
            client = Browserish(c.url)
            n = 0
            while time.monotonic() < deadline and n < 50:
                n += 1
                email = f"load{worker}-{n}@example.com"
                try:
                    token = client.csrf("/signup")
                    reply = client.post("/signup", data={"csrf_token": token, "name": "Load", "email": email,
                                                         "password": "load-password", "confirm": "load-password",
                                                         "next": ""})
                    status = reply.status
                except (AssertionError, OSError):
                    status = 0
                with lock:
                    answers[status] = answers.get(status, 0) + 1
                    if status == 303:
                        acknowledged.append(email)
                client.jar.clear()

        workers = [threading.Thread(target=sign_ups, args=(i,)) for i in range(8)]
        for t in workers:
            t.start()
        time.sleep(2.5)
        before = len(acknowledged)
        victim.kill9()
        time.sleep(2.5)
        during = len(acknowledged) - before
        victim.start()
        rejoined_at = time.monotonic()
        for t in workers:
            t.join(30)
        assert before > 0, f"no sign-up before the kill: {answers}"
        assert during > 0, f"nginx did not route around the dead node: {answers}"

        # Every acknowledged sign-up is in the store, whichever node took it.
        listed = onebar(data, "user", "list").stdout
        lost = [e for e in acknowledged if e not in listed]
        assert not lost, f"{len(lost)} acknowledged sign-ups lost: {lost[:5]}"

        # The restarted node answers and nginx sends it traffic again.
        time.sleep(max(0.0, rejoined_at + 2.5 - time.monotonic()))  # nginx's fail_timeout is 2 s
        log_before = victim.log.read_text(errors="replace").count('"path":"/api/me"')
        through = Browserish(c.url)
        for _ in range(10):
            assert through.get("/api/me").status == 200
        time.sleep(0.3)
        assert victim.log.read_text(errors="replace").count('"path":"/api/me"') > log_before, "node did not rejoin"
