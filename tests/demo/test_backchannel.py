"""Issue 13 (4): a Flask and a Django demo app refuse a revoked user on the very next request.

The demo sites run as real servers (waitress, as ``onebar demo`` runs them),
registered with a back-channel on the real service (``onebar serve``, whose
logout sender follows the event log). Their cache keeps an answer for 600 s
here, so only the back-channel can explain a refusal: each way a session
ends (the service's sign-out page, "sign out everywhere", ``onebar user
revoke``, ``onebar user disable``) must reach the app's server, which then
refuses the user's next request and fires ``user_signed_out`` (both sites log
what their receiver heard).
"""

from __future__ import annotations

import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..httpclient import Browserish
from ..live import Service, free_port, run_server
from .conftest import Demo

#: Far past any wait here: a refusal is the back-channel's doing, not the cache expiring.
LONG_CACHE = "600"
#: Bound on waiting for the service to notify an app (it polls its log every 0.2 s).
NOTICE_TIMEOUT = 15.0


@dataclass(frozen=True)
class Site:
    id: str
    url: str
    private: str        # a page for members only
    log: Path


@pytest.fixture(scope="module")
def sites(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Site]]:
    base = tmp_path_factory.mktemp("backchannel")
    svc = demo.service
    with ExitStack() as stack:
        found = {}
        for site_id, module, private, prefix in (("bc-tasks", "demo_apps.flask_tasks", "/tasks", "TASKS"),
                                                 ("bc-notes", "demo_apps.django_notes", "/notes/", "NOTES")):
            url = f"http://localhost:{free_port()}"
            added = svc.cli("app", "add", site_id, "--name", site_id, "--url", url + "/",
                            "--backchannel-url", url + "/.onebar/backchannel")
            secret = added.stdout.strip().splitlines()[-1]  # the last line, alone: the app's secret
            assert len(secret) >= 32 and secret not in added.stderr
            log = base / f"{site_id}.log"
            argv = [sys.executable, "-m", module, "--port", url.rsplit(":", 1)[1], "--service-url", svc.url,
                    "--data-dir", str(base / site_id)]
            stack.enter_context(run_server(argv, url=url, health="/healthz", log=log, env={
                f"{prefix}_BACKCHANNEL_SECRET": secret, f"{prefix}_CACHE_TTL": LONG_CACHE,
                "XDG_RUNTIME_DIR": str(base)}))  # where its sign-out board lives (onebar.integrations.board)
            found[site_id] = Site(site_id, url, private, log)
        yield found


def visit(site: Site, cookie: str) -> int:
    """The status of the site's members-only page for this cookie (a script's view: 401 when refused)."""
    req = urllib.request.Request(site.url + site.private, headers={
        "Cookie": f"onebar_session={cookie}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code)


def wait_for_notice(site: Site, user_id: str) -> None:
    """Until the site's user_signed_out receiver logged this user (bounded)."""
    needle = f"onebar: user {user_id} signed out"
    deadline = time.monotonic() + NOTICE_TIMEOUT
    while needle not in site.log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{site.id} never heard that {user_id} signed out:\n" + \
            site.log.read_text(errors="replace")[-2000:]
        time.sleep(0.05)


def sign_out_on_the_page(svc: Service, browser: Browserish, email: str) -> None:
    reply = browser.post("/logout", data={"csrf_token": browser.csrf("/logout"), "next": ""})
    assert reply.status == 303


def sign_out_everywhere(svc: Service, browser: Browserish, email: str) -> None:
    reply = browser.post("/account/sessions/revoke-all", data={"csrf_token": browser.csrf("/account")})
    assert reply.status == 303


def cli_revoke(svc: Service, browser: Browserish, email: str) -> None:
    svc.cli("user", "revoke", email)


def cli_disable(svc: Service, browser: Browserish, email: str) -> None:
    svc.cli("user", "disable", email)


ENDINGS: dict[str, Callable[[Service, Browserish, str], None]] = {
    "service-sign-out-page": sign_out_on_the_page,
    "sign-out-everywhere": sign_out_everywhere,
    "cli-user-revoke": cli_revoke,
    "cli-user-disable": cli_disable,
}


@pytest.mark.parametrize("site_id", ["bc-tasks", "bc-notes"], ids=["flask", "django"])
@pytest.mark.parametrize("ending", list(ENDINGS))
def test_a_signed_out_user_is_refused_on_the_very_next_request(demo: Demo, sites: dict[str, Site], site_id: str,
                                                               ending: str) -> None:
    svc, site = demo.service, sites[site_id]
    email, password = f"{ending}.{site_id}@example.com", "a long enough password 13"
    svc.cli("user", "add", email, "--name", "Backchannel Tester", "--password-stdin", input=password + "\n")
    browser = Browserish(svc.url)
    assert browser.login(email, password).status == 303
    cookie = browser.cookie("onebar_session")
    assert cookie
    other = Browserish(svc.url)  # a second user on the same site, who stays signed in
    other_email = f"other.{ending}.{site_id}@example.com"
    svc.cli("user", "add", other_email, "--name", "Other", "--password-stdin", input=password + "\n")
    assert other.login(other_email, password).status == 303
    other_cookie = other.cookie("onebar_session")
    assert other_cookie

    assert visit(site, cookie) == 200          # the site now holds the answer for 600 s
    assert visit(site, other_cookie) == 200
    user_id = _user_id(browser)

    ENDINGS[ending](svc, browser, email)
    wait_for_notice(site, user_id)              # the service told the site's server, which fired the signal
    assert visit(site, cookie) == 401           # the very next request: refused
    assert visit(site, other_cookie) == 200     # nobody else is signed out


def _user_id(browser: Browserish) -> str:
    import json

    return json.loads(browser.get("/api/me").text)["user"]["id"]  # type: ignore[no-any-return]
