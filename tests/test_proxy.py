"""ONEBAR_TRUSTED_PROXIES reaches `onebar serve`: proven through a real nginx.

Two clients reach nginx from two loopback addresses (127.0.0.2, 127.0.0.3);
nginx forwards to the node with X-Forwarded-For and X-Forwarded-Proto: https
(standing for TLS at the proxy). The node must see each client's own address
(per-client sign-in limits, the sessions list) and the https scheme (links,
Secure cookies: the session's, the CSRF cookie's and the device cookie's). Without trusted proxies, a client-sent X-Forwarded-For is
ignored.
"""

from __future__ import annotations

import http.cookiejar
import json

import pytest

from bench.cluster import cluster

from .httpclient import Browserish
from .live import TEST_SECRET_KEYS, start_service

ADA = ("ada@example.com", "Ada Lovelace", "lovelace1815")


@pytest.fixture
def behind_nginx(tmp_path):
    from .live import onebar

    data = tmp_path / "data"
    data.mkdir()
    onebar(data, "user", "add", ADA[0], "--name", ADA[1], "--password-stdin", input=ADA[2] + "\n")
    with cluster(tmp_path, TEST_SECRET_KEYS, nodes=1, env={"ONEBAR_TRUSTED_PROXIES": "1"},
                 forwarded_proto="https") as c:
        yield c


class _TlsAtTheProxy(http.cookiejar.DefaultCookiePolicy):
    """The browser's side of nginx stands for https (nginx says X-Forwarded-Proto:
    https), so a browser sends its Secure cookies back, as it would over TLS."""

    def return_ok_secure(self, cookie, request):  # type: ignore[no-untyped-def]
        return True


def client_of(proxy, source: str) -> Browserish:  # type: ignore[no-untyped-def]
    client = Browserish(proxy.url, source=source)
    client.jar.set_policy(_TlsAtTheProxy())
    return client


def set_cookies(reply) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Each cookie a reply sets, by name, with its attributes."""
    return {c.split("=", 1)[0]: c.split("; ")[1:] for c in reply.header_list("Set-Cookie")}


def wrong_passwords(client: Browserish, count: int) -> list[int]:
    return [client.login(f"nobody{i}@example.com", "wrong-password").status for i in range(count)]


def test_limits_are_per_client_behind_nginx(behind_nginx):
    mallory = client_of(behind_nginx, "127.0.0.2")
    statuses = wrong_passwords(mallory, 31)
    assert statuses[:30] == [401] * 30 and statuses[30] == 429, "the guessing client is limited"
    ada = client_of(behind_nginx, "127.0.0.3")
    assert ada.login(ADA[0], ADA[2]).status == 303, "another client is not limited by the first one's failures"


def test_https_links_secure_cookies_and_the_clients_address_behind_nginx(behind_nginx):
    ada = client_of(behind_nginx, "127.0.0.3")
    form = set_cookies(ada.get("/login"))
    assert list(form) == ["__Host-onebar_csrf"], "the CSRF cookie takes the __Host- name on https"
    assert "Secure" in form["__Host-onebar_csrf"] and "Path=/" in form["__Host-onebar_csrf"]
    assert not any(a.startswith("Domain=") for a in form["__Host-onebar_csrf"])
    reply = ada.login(ADA[0], ADA[2])
    assert reply.status == 303
    signed_in = set_cookies(reply)
    assert {"onebar_session", "onebar_device"} <= set(signed_in)
    for name, attributes in {**form, **signed_in}.items():
        assert "Secure" in attributes, f"{name} is sent over plain http too"
    cookie = next(c for c in reply.header_list("Set-Cookie") if c.startswith("onebar_session=")).split(";", 1)[0]
    me = json.loads(ada.get("/api/me", headers={"Cookie": cookie}).body)
    assert me["user"]["email"] == ADA[0]
    host = behind_nginx.url.split("://", 1)[1]
    assert me["links"]["login"] == f"https://{host}/login"
    account = ada.get("/account", headers={"Cookie": cookie}).text
    assert "127.0.0.3" in account, "the sessions list shows the client's address, not the proxy's"


def test_without_trusted_proxies_a_client_sent_forwarded_for_is_ignored(tmp_path):
    with start_service(tmp_path / "svc", users=[ADA], env={"ONEBAR_TRUSTED_PROXIES": "0"}) as svc:
        spoofer = Browserish(svc.url)
        statuses = [spoofer.post("/login", data={"csrf_token": spoofer.csrf(), "email": f"n{i}@example.com",
                                                 "password": "wrong-password", "next": ""},
                                 headers={"X-Forwarded-For": f"198.51.100.{i}", "X-Forwarded-Proto": "https"}).status
                    for i in range(31)]
        assert statuses[30] == 429, "fresh X-Forwarded-For values did not buy fresh limits"
        b = Browserish(svc.url, source="127.0.0.3")  # another client: the first one is limited now
        reply = b.post("/signup", data={"csrf_token": b.csrf("/signup"), "name": "Grace", "email": "g@example.com",
                                        "password": "hopper1906", "confirm": "hopper1906", "next": ""},
                       headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
        assert reply.status == 303
        assert not any("Secure" in c for c in reply.header_list("Set-Cookie"))
        account = b.get("/account").text
        assert "203.0.113.7" not in account and "127.0.0.3" in account
        assert json.loads(b.get("/api/me").body)["links"]["login"].startswith("http://")
