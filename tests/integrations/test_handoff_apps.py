"""An app server on another registrable domain learns the user (issue 10): the
middleware's own /.onebar/login and /.onebar/callback against a live service.

The app is ``https://notes.other-site.test`` (registered with the service); its
server redeems the code server-to-server and keeps a first-party HttpOnly
credential. The browser is played by two cookie jars: the service's
(:class:`Browserish`) and the app's (Flask's test client).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from markupsafe import escape

from onebar.integrations.flask import Onebar, current_user, login_required
from onebar.integrations.handoff import CREDENTIAL_COOKIE

from ..httpclient import Browserish
from ..live import MANY_SIGN_INS, Service, start_service
from .conftest import ADA

SITE = "https://notes.other-site.test"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with start_service(tmp_path_factory.mktemp("handoff-apps") / "svc", users=[ADA], env=MANY_SIGN_INS,
                       apps=[("notes", "Notes", SITE + "/")]) as svc:
        yield svc


@pytest.fixture
def app(service: Service) -> Flask:
    app = Flask(__name__)
    app.config.update(ONEBAR_SERVICE_URL=service.url, ONEBAR_SITE_URL=SITE, ONEBAR_CACHE_TTL=0)
    Onebar(app)

    @app.get("/mine")
    @login_required
    def mine() -> str:
        return f"Only for {escape(current_user().name)}"  # type: ignore[union-attr]

    return app


def test_an_app_on_another_domain_signs_in_through_its_callback_and_knows_the_user(app: Flask,
                                                                                  service: Service) -> None:
    site = app.test_client()
    browser = Browserish(service.url)
    assert browser.login(ADA[0], ADA[2]).status == 303  # signed in at the service already

    # A private page sends the visitor through the app's own sign-in path.
    first = site.get("/mine", base_url=SITE)
    assert first.status_code == 302 and first.headers["Location"] == "/.onebar/login?next=%2Fmine"
    start = site.get(first.headers["Location"], base_url=SITE)
    assert start.status_code == 303
    authorize = urlsplit(start.headers["Location"])
    assert f"{authorize.scheme}://{authorize.netloc}" == service.url and authorize.path == "/authorize"
    flow = site.get_cookie("onebar_handoff", domain="notes.other-site.test", path="/.onebar/")
    assert flow is not None and flow.http_only

    # The service knows the browser: straight back to the callback, with a code, no password.
    back = browser.get(f"{authorize.path}?{authorize.query}")
    assert back.status == 303
    callback = urlsplit(back.headers["Location"])
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == SITE + "/.onebar/callback"
    done = site.get(f"{callback.path}?{callback.query}", base_url=SITE)
    assert done.status_code == 303 and done.headers["Location"] == "/mine"
    kept = site.get_cookie(CREDENTIAL_COOKIE, domain="notes.other-site.test")
    assert kept is not None and kept.http_only and kept.secure

    page = site.get("/mine", base_url=SITE)
    assert page.status_code == 200 and page.get_data(as_text=True) == f"Only for {ADA[1]}"

    # The code was spent: the same callback again signs nobody in.
    again = app.test_client().get(f"{callback.path}?{callback.query}", base_url=SITE)
    assert app.test_client().get("/mine", base_url=SITE).status_code == 302 and again.status_code == 303

    # Sign out at the service: the app forgets the user (cache_ttl 0 here).
    assert browser.post("/logout", data={"csrf_token": browser.csrf("/logout"), "next": ""}).status == 303
    assert site.get("/mine", base_url=SITE).status_code == 302


def test_a_callback_this_browser_did_not_start_signs_nobody_in(app: Flask, service: Service) -> None:
    # Login CSRF: the attacker's own code (and state), in a link for the victim.
    attacker_site, victim_site = app.test_client(), app.test_client()
    attacker = Browserish(service.url)
    attacker.login(ADA[0], ADA[2])
    start = urlsplit(attacker_site.get("/.onebar/login?next=/mine", base_url=SITE).headers["Location"])
    planted = urlsplit(attacker.get(f"{start.path}?{start.query}").headers["Location"])
    victim_site.get("/.onebar/login?next=/mine", base_url=SITE)  # the victim's own flow, other state
    landed = victim_site.get(f"{planted.path}?{planted.query}", base_url=SITE)
    assert landed.status_code == 303
    assert victim_site.get_cookie(CREDENTIAL_COOKIE, domain="notes.other-site.test") is None
    assert victim_site.get("/mine", base_url=SITE).status_code == 302
    # and with no flow at all
    stranger = app.test_client()
    stranger.get(f"{planted.path}?{planted.query}", base_url=SITE)
    assert stranger.get_cookie(CREDENTIAL_COOKIE, domain="notes.other-site.test") is None


@pytest.mark.parametrize("evil", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_next_stays_on_the_site(app: Flask, service: Service, evil: str) -> None:
    site, browser = app.test_client(), Browserish(service.url)
    browser.login(ADA[0], ADA[2])
    start = site.get("/.onebar/login", query_string={"next": evil}, base_url=SITE)
    authorize = urlsplit(start.headers["Location"])
    assert parse_qs(authorize.query)["return_to"] == [SITE + "/.onebar/callback"]
    callback = urlsplit(browser.get(f"{authorize.path}?{authorize.query}").headers["Location"])
    done = site.get(f"{callback.path}?{callback.query}", base_url=SITE)
    assert done.status_code == 303 and done.headers["Location"] == "/"


def test_a_forged_site_credential_is_signed_out_not_an_error(app: Flask) -> None:
    site = app.test_client()
    for value in ("forged", "a.b.c", "x" * 3000):
        site.set_cookie(CREDENTIAL_COOKIE, value, domain="notes.other-site.test")
        assert site.get("/mine", base_url=SITE).status_code == 302


def test_the_site_forgets_its_credential_when_its_own_page_asks_and_only_then(app: Flask) -> None:
    # /.onebar/logout: the bar's hand-off module calls it on a sign-out, so the
    # server does not render the next page from its cache of the dead credential.
    site = app.test_client()
    site.set_cookie(CREDENTIAL_COOKIE, "some-credential", domain="notes.other-site.test")
    for method, origin, status in (("GET", SITE, 405), ("POST", "https://evil.example", 403), ("POST", None, 403)):
        answer = site.open("/.onebar/logout", method=method, base_url=SITE,
                           headers={"Origin": origin} if origin else {})
        assert answer.status_code == status
        assert site.get_cookie(CREDENTIAL_COOKIE, domain="notes.other-site.test") is not None
    answer = site.post("/.onebar/logout", base_url=SITE, headers={"Origin": SITE})
    assert answer.status_code == 204 and answer.headers["Cache-Control"] == "no-store"
    assert site.get_cookie(CREDENTIAL_COOKIE, domain="notes.other-site.test") is None
