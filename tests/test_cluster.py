"""Several `onebar serve` nodes behind a real nginx (round robin), one store.

The nodes share one SQLite file here; they get every ONEBAR_* variable given
to the cluster. The kill -9 test runs twice: on the shared SQLite file, and on
PostgreSQL with Redis for the limits. tests/test_cluster_pg.py has the rest of
the PostgreSQL + Redis cluster's tests.
"""

from __future__ import annotations

import http.client
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


@pytest.fixture(params=["sqlite", "postgresql"])
def store_env(request) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The nodes' store: one shared SQLite file, or PostgreSQL (a fresh database) with Redis for the limits."""
    if request.param == "sqlite":
        return {}
    return {"ONEBAR_DATABASE_URL": request.getfixturevalue("postgres_url"),
            "ONEBAR_REDIS_URL": request.getfixturevalue("redis_server").url}


#: Concurrent connections through nginx while a node is killed: sign-ups, and readers of /api/me.
SIGN_UP_WORKERS, READERS = 8, 56


def test_kill_9_one_node_under_load_loses_no_acknowledged_sign_up_or_session_and_it_rejoins(tmp_path, store_env):
    data = tmp_path / "data"
    data.mkdir()
    onebar(data, "user", "add", ADA[0], "--name", ADA[1], "--password-stdin", input=ADA[2] + "\n", env=store_env)
    # Every sign-up comes from one address (127.0.0.1): lift the per-address limit (30 a minute) too.
    env = {"ONEBAR_TRUSTED_PROXIES": "1", "ONEBAR_LOGIN_RATE_LIMIT": "100000/minute",
           "ONEBAR_LOGIN_IP_RATE_LIMIT": "100000/minute", **store_env}
    with cluster(tmp_path, TEST_SECRET_KEYS, nodes=2, env=env) as c:
        victim = c.nodes[0]
        ada = Browserish(c.url)
        assert ada.login(ADA[0], ADA[2]).status == 303
        ada_cookie = f"onebar_session={ada.cookie('onebar_session')}"
        acknowledged: dict[str, str] = {}  # email -> the session cookie its sign-up answer set
        answers: dict[int, int] = {}
        reads: dict[int, int] = {}
        lock = threading.Lock()
        deadline = time.monotonic() + 8.0  # bounded: 8 s, at most 50 sign-ups and 200 reads per connection

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
                except (AssertionError, OSError, http.client.HTTPException):  # the node died mid-answer
                    status = 0
                with lock:
                    answers[status] = answers.get(status, 0) + 1
                    if status == 303:
                        acknowledged[email] = client.cookie("onebar_session") or ""
                client.jar.clear()

        def reader() -> None:
            client = Browserish(c.url)
            n = 0
            while time.monotonic() < deadline and n < 200:
                n += 1
                try:
                    status = client.get("/api/me", headers={"Cookie": ada_cookie}).status
                except (OSError, http.client.HTTPException):
                    status = 0
                with lock:
                    reads[status] = reads.get(status, 0) + 1
                time.sleep(0.05)  # paced: the readers load the nodes without starving the sign-ups of CPU

        workers = [threading.Thread(target=sign_ups, args=(i,)) for i in range(SIGN_UP_WORKERS)]
        workers += [threading.Thread(target=reader) for _ in range(READERS)]
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
        assert not any(t.is_alive() for t in workers), "a load connection did not stop"
        assert before > 0, f"no sign-up before the kill: {answers}"
        assert during > 0, f"nginx did not route around the dead node: {answers}"
        assert reads.get(200, 0) > 0 and 500 not in reads, f"/api/me under load: {reads}"

        # Every acknowledged sign-up is in the store, whichever node took it, and signed in.
        listed = onebar(data, "user", "list", env=store_env).stdout
        lost = [e for e in acknowledged if e not in listed]
        assert not lost, f"{len(lost)} acknowledged sign-ups lost: {lost[:5]}"
        through = Browserish(c.url)
        signed_out = [e for e, cookie in acknowledged.items()
                      if (me(through, f"onebar_session={cookie}")["user"] or {}).get("email") != e]
        assert not signed_out, f"{len(signed_out)} acknowledged sessions lost: {signed_out[:5]}"
        assert me(through, ada_cookie)["user"]["email"] == ADA[0]

        # The restarted node answers and nginx sends it traffic again: after
        # nginx's fail_timeout (2 s) from its last failed try of that node, which
        # may come after the restart (an answer it counts as failed while the
        # node warms up under load), so keep asking, for 10 s at most.
        time.sleep(max(0.0, rejoined_at + 2.5 - time.monotonic()))
        deadline = time.monotonic() + 10
        while True:
            reply = through.get("/api/me")
            assert reply.status == 200
            if c.node_of(reply.headers["X-Request-Id"]) == 0:
                break
            assert time.monotonic() < deadline, "the restarted node did not rejoin: nginx sent it nothing for 10 s"
            time.sleep(0.2)
