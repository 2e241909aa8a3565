"""The Flask adapter: current_user(), @login_required, the template context, init_app."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, render_template_string

from onebar.exc import ConfigError
from onebar.integrations.flask import Onebar, current_user, login_required
from onebar.integrations.wsgi import OnebarUser

from ..live import TEST_SECRET_KEYS
from .conftest import ADA, database, sign_in, sign_out

ADA_USER = OnebarUser(id="u_ada", name="Ada Lovelace", email="ada@example.com", initials="AL")


class FakeVerifier:
    """The service, as far as the adapter can tell: one good cookie."""

    def __init__(self) -> None:
        self.calls = 0

    def verify(self, cookie: str) -> OnebarUser | None:
        self.calls += 1
        return ADA_USER if cookie == "good.cookie.value" else None


def make_app(onebar: Onebar | None = None, **config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(config)
    (onebar or Onebar()).init_app(app)

    @app.get("/")
    def index() -> str:
        user = current_user()
        return f"Hello, {user.name}!" if user else "Hello, guest."

    @app.get("/members")
    @login_required
    def members() -> str:
        return render_template_string(
            '<script src="{{ onebar.script_url }}" data-app="tasks"></script>'
            "<p>Only for {{ onebar_user.name }} ({{ onebar_user.initials }})</p>")

    @app.get("/twice")
    def twice() -> str:
        return f"{current_user() is current_user()}"

    return app


@pytest.fixture
def verifier() -> FakeVerifier:
    return FakeVerifier()


@pytest.fixture
def app(verifier: FakeVerifier) -> Flask:
    return make_app(ONEBAR_SERVICE_URL="http://id.test", ONEBAR_VERIFIER=verifier)


def get(app: Flask, path: str, cookie: str | None = None, **headers: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    if cookie:
        client.set_cookie("onebar_session", cookie, domain="localhost")
    return client.get(path, headers={k.replace("_", "-"): v for k, v in headers.items()})


def test_pages_see_the_signed_in_user(app: Flask) -> None:
    assert get(app, "/", "good.cookie.value").get_data(as_text=True) == "Hello, Ada Lovelace!"
    assert get(app, "/").get_data(as_text=True) == "Hello, guest."
    assert get(app, "/", "bad.cookie.value").get_data(as_text=True) == "Hello, guest."


def test_login_required_sends_a_visitor_to_sign_in_and_back(app: Flask) -> None:
    response = get(app, "/members?tab=open")
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert (target.scheme, target.netloc, target.path) == ("http", "id.test", "/login")
    assert parse_qs(target.query) == {"next": ["http://localhost/members?tab=open"]}


@pytest.mark.parametrize("headers", [
    pytest.param({"Sec_Fetch_Dest": "empty", "Accept": "*/*"}, id="fetch"),
    pytest.param({"Accept": "application/json"}, id="accept-json"),
])
def test_login_required_answers_a_script_with_401_json(app: Flask, headers: dict[str, str]) -> None:
    response = get(app, "/members", **headers)
    assert response.status_code == 401
    assert response.get_json() == {"error": "sign in required",
                                   "login_url": "http://id.test/login?next=http%3A%2F%2Flocalhost%2Fmembers"}


def test_login_required_still_redirects_a_browser_navigation(app: Flask) -> None:
    response = get(app, "/members", Sec_Fetch_Dest="document",
                   Accept="text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
    assert response.status_code == 302


def test_templates_get_the_user_id_for_data_user(app: Flask) -> None:
    with app.test_request_context("/", headers={"Cookie": "onebar_session=good.cookie.value"}):
        assert render_template_string("[{{ onebar_user_id }}]") == f"[{ADA_USER.id}]"
    with app.test_request_context("/"):
        assert render_template_string("[{{ onebar_user_id }}]") == "[]"


def test_login_required_lets_a_member_in_with_the_bar(app: Flask) -> None:
    response = get(app, "/members", "good.cookie.value")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == (
        '<script src="http://id.test/onebar.js" data-app="tasks"></script><p>Only for Ada Lovelace (AL)</p>')


def test_the_cookie_is_verified_once_per_request(app: Flask, verifier: FakeVerifier) -> None:
    assert get(app, "/twice", "good.cookie.value").get_data(as_text=True) == "True"
    assert verifier.calls == 1


def test_options_given_to_the_extension_win_over_config(verifier: FakeVerifier) -> None:
    app = make_app(Onebar(service_url="http://other.test", verifier=verifier), ONEBAR_SERVICE_URL="http://id.test")
    assert get(app, "/members").headers["Location"].startswith("http://other.test/login?next=")


def test_one_extension_object_serves_several_apps(verifier: FakeVerifier) -> None:
    onebar = Onebar(verifier=verifier)
    first = make_app(onebar, ONEBAR_SERVICE_URL="http://one.test")
    second = make_app(onebar, ONEBAR_SERVICE_URL="http://two.test")
    assert get(first, "/members").headers["Location"].startswith("http://one.test/")
    assert get(second, "/members").headers["Location"].startswith("http://two.test/")
    assert not hasattr(onebar, "app")


def test_a_missing_service_url_names_the_config_key() -> None:
    with pytest.raises(ConfigError, match=r"set app.config\['ONEBAR_SERVICE_URL'\] to the identity service's URL"):
        make_app()


def test_a_typo_in_config_is_named() -> None:
    with pytest.raises(ConfigError, match=r"unknown Onebar setting app.config\['ONEBAR_SERVICE_ULR'\]"):
        make_app(ONEBAR_SERVICE_URL="http://id.test", ONEBAR_SERVICE_ULR="http://id.test")


def test_current_user_without_the_extension_says_how_to_fix_it() -> None:
    app = Flask(__name__)
    with app.test_request_context("/"), pytest.raises(RuntimeError, match=r"call Onebar\(app\)"):
        current_user()


# -- against the real service -------------------------------------------------------------

@pytest.mark.parametrize("mode", ["remote", "local"])
def test_flask_app_follows_sign_in_and_sign_out_at_the_service(service, mode: str) -> None:  # type: ignore[no-untyped-def]
    config: dict[str, object] = {"ONEBAR_SERVICE_URL": service.url, "ONEBAR_CACHE_TTL": 0}
    if mode == "local":
        config.update(ONEBAR_SECRET_KEYS=list(TEST_SECRET_KEYS), ONEBAR_DATABASE=str(database(service)))
    app = make_app(**config)
    cookie = sign_in(service)
    assert get(app, "/", cookie).get_data(as_text=True) == f"Hello, {ADA[1]}!"
    sign_out(service, cookie)
    assert get(app, "/", cookie).get_data(as_text=True) == "Hello, guest."
