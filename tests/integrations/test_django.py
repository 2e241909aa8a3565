"""The Django adapter: request.user, @login_required, templates, and ImproperlyConfigured with the fix."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import django
import pytest
from django.conf import settings

from onebar.integrations.wsgi import OnebarUser

from ..live import TEST_SECRET_KEYS
from .conftest import ADA, database, sign_in, sign_out


class FakeVerifier:
    """The service, as far as the adapter can tell: Ada's cookie, and a switchable answer."""

    def __init__(self) -> None:
        self.user: OnebarUser | None = OnebarUser(id="u_ada", name="Ada King Lovelace", email="ada@example.com",
                                                  initials="AL")
        self.fail = False

    def verify(self, cookie: str) -> OnebarUser | None:
        if self.fail:
            raise RuntimeError("the verifier broke")
        return self.user if cookie == "good.cookie.value" else None


VERIFIER = FakeVerifier()
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "onebar.integrations.django.OnebarMiddleware",
]

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="only-for-the-tests-0123456789abcdef0123456789abcdef",
        ALLOWED_HOSTS=["testserver", "localhost"],
        # The admin (and the sessions and messages its templates expect) as a project has it:
        # test_the_django_admin_follows_staff_and_permissions_set_in_django.
        INSTALLED_APPS=["django.contrib.admin", "django.contrib.contenttypes", "django.contrib.auth",
                        "django.contrib.sessions", "django.contrib.messages"],
        MIDDLEWARE=MIDDLEWARE,
        AUTHENTICATION_BACKENDS=["onebar.integrations.django.OnebarBackend"],
        ONEBAR={"SERVICE_URL": "http://id.test", "VERIFIER": VERIFIER},
        LOGIN_URL="http://id.test/login",
        ROOT_URLCONF=__name__,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        TEMPLATES=[{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {"context_processors": [
                "django.template.context_processors.request", "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages", "onebar.integrations.django.onebar"]},
        }],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
    )
    django.setup()

from django.contrib import admin  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth import aauthenticate, authenticate  # noqa: E402
from django.contrib.auth.decorators import login_required, permission_required  # noqa: E402
from django.contrib.auth.models import Group, Permission  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.template import engines  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402

from onebar.integrations.django import OnebarBackend, OnebarMiddleware  # noqa: E402


def whoami(request: HttpRequest) -> HttpResponse:
    u = request.user
    if not u.is_authenticated:
        return HttpResponse("anonymous")
    return HttpResponse(f"{u.get_full_name()}|{u.email}|{u.get_username()}|{u.onebar.initials}")  # type: ignore[union-attr]


@login_required
def protected(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"secret for {request.user.get_full_name()}")  # type: ignore[union-attr]


def page(request: HttpRequest) -> HttpResponse:
    template = engines["django"].from_string(
        '<script src="{{ onebar.script_url }}" data-app="notes" data-user="{{ onebar_user_id }}"></script>'
        "{% if user.is_authenticated %}Hi {{ user.first_name }} ({{ user.onebar.initials }}){% else %}"
        '<a href="{{ onebar.login_url }}">Sign in</a>{% endif %}')
    return HttpResponse(template.render(request=request))


@login_required
@permission_required("auth.change_user", raise_exception=True)
def user_admin(request: HttpRequest) -> HttpResponse:
    return HttpResponse("you may change users")


def flags(request: HttpRequest) -> HttpResponse:
    u = request.user
    return HttpResponse(f"staff={u.is_staff} superuser={u.is_superuser} change_user={u.has_perm('auth.change_user')}")


urlpatterns = [path("whoami/", whoami), path("protected/", protected), path("page/", page),
               path("user-admin/", user_admin), path("flags/", flags), path("admin/", admin.site.urls)]


class OnlyKnownUsers(OnebarBackend):
    create_unknown_user = False


@pytest.fixture(scope="module", autouse=True)
def django_db() -> None:
    # (tests/conftest.py sets DJANGO_ALLOW_ASYNC_UNSAFE for the loop Playwright leaves behind.)
    call_command("migrate", verbosity=0)


@pytest.fixture(autouse=True)
def rollback() -> Iterator[None]:
    """Each test's database writes are undone, and the fake verifier is reset."""
    VERIFIER.__init__()  # type: ignore[misc]
    atomic = transaction.atomic()
    atomic.__enter__()
    try:
        yield
    finally:
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)


def client(cookie: str | None = "good.cookie.value") -> Client:
    c = Client()
    if cookie:
        c.cookies["onebar_session"] = cookie
    return c


def test_request_user_is_the_onebar_user() -> None:
    assert client().get("/whoami/").content == b"Ada King Lovelace|ada@example.com|u_ada|AL"
    user = get_user_model().objects.get(username="u_ada")
    assert (user.first_name, user.last_name, user.email) == ("Ada", "King Lovelace", "ada@example.com")
    assert not user.has_usable_password()  # Onebar holds the password


def test_a_signed_out_visitor_is_anonymous() -> None:
    assert client(None).get("/whoami/").content == b"anonymous"
    assert client("forged.cookie.value").get("/whoami/").content == b"anonymous"
    assert not get_user_model().objects.exists()


def test_login_required_sends_a_visitor_to_the_service_and_back() -> None:
    response = client(None).get("/protected/?tab=all")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert (target.scheme, target.netloc, target.path) == ("http", "id.test", "/login")
    # Absolute, so the service can send the browser back to this site.
    assert parse_qs(target.query) == {"next": ["http://testserver/protected/?tab=all"]}


def test_login_required_lets_a_member_in() -> None:
    response = client().get("/protected/")
    assert response.status_code == 200
    assert response.content == b"secret for Ada King Lovelace"


def test_templates_get_the_user_and_the_bar() -> None:
    assert client().get("/page/").content.decode() == (
        '<script src="http://id.test/onebar.js" data-app="notes" data-user="u_ada"></script>Hi Ada (AL)')
    assert client(None).get("/page/").content.decode() == (
        '<script src="http://id.test/onebar.js" data-app="notes" data-user=""></script>'
        '<a href="http://id.test/login">Sign in</a>')


@pytest.mark.parametrize("headers", [
    pytest.param({"HTTP_SEC_FETCH_DEST": "empty", "HTTP_ACCEPT": "*/*"}, id="fetch"),
    pytest.param({"HTTP_ACCEPT": "application/json"}, id="accept-json"),
])
def test_login_required_answers_a_script_with_401_json(headers: dict[str, str]) -> None:
    response = client(None).get("/protected/", **headers)  # type: ignore[arg-type]
    assert response.status_code == 401
    assert response.json() == {"error": "sign in required",
                               "login_url": "http://id.test/login?next=http%3A//testserver/protected/"}


def test_login_required_still_redirects_a_browser_navigation() -> None:
    response = client(None).get("/protected/", HTTP_SEC_FETCH_DEST="document",  # type: ignore[arg-type]
                                HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 302


def test_the_django_user_follows_changes_at_onebar() -> None:
    client().get("/whoami/")
    VERIFIER.user = OnebarUser(id="u_ada", name="Ada Lovelace", email="ada@lovelace.example", initials="AL")
    assert client().get("/whoami/").content == b"Ada Lovelace|ada@lovelace.example|u_ada|AL"
    assert get_user_model().objects.count() == 1


def test_a_user_deactivated_in_this_app_stays_out() -> None:
    client().get("/whoami/")
    get_user_model().objects.filter(username="u_ada").update(is_active=False)
    assert client().get("/whoami/").content == b"anonymous"
    assert client().get("/protected/").status_code == 302


def ada() -> object:
    """Ada's row, as her first visit creates it."""
    assert client().get("/whoami/").status_code == 200
    return get_user_model().objects.get(username="u_ada")


def test_a_permission_granted_in_django_lets_the_user_in() -> None:
    user = ada()
    assert client().get("/user-admin/").status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="change_user"))  # type: ignore[attr-defined]
    response = client().get("/user-admin/")
    assert (response.status_code, response.content) == (200, b"you may change users")


def test_a_group_permission_lets_its_members_in() -> None:
    user = ada()
    editors = Group.objects.create(name="user editors")
    editors.permissions.add(Permission.objects.get(codename="change_user"))
    assert client().get("/user-admin/").status_code == 403
    user.groups.add(editors)  # type: ignore[attr-defined]
    assert client().get("/user-admin/").status_code == 200


def test_staff_and_superuser_set_in_django_survive_each_visit() -> None:
    ada()
    assert client().get("/flags/").content == b"staff=False superuser=False change_user=False"
    get_user_model().objects.filter(username="u_ada").update(is_staff=True, is_superuser=True)
    VERIFIER.user = OnebarUser(id="u_ada", name="Ada Lovelace", email="ada@lovelace.example", initials="AL")
    assert client().get("/flags/").content == b"staff=True superuser=True change_user=True"
    assert client().get("/user-admin/").status_code == 200


def test_the_django_admin_follows_staff_and_permissions_set_in_django() -> None:
    # Neither flag nor permission comes from Onebar: the admin asks Django's own (ModelBackend's) answers.
    ada()
    refused = client().get("/admin/")
    assert refused.status_code == 302 and refused["Location"] == "/admin/login/?next=/admin/"
    get_user_model().objects.filter(username="u_ada").update(is_staff=True)
    index = client().get("/admin/")
    assert index.status_code == 200 and b"/admin/auth/user/" not in index.content
    assert client().get("/admin/auth/user/").status_code == 403  # staff, but no permission on users yet

    user = get_user_model().objects.get(username="u_ada")
    user.user_permissions.add(Permission.objects.get(codename="view_user"))
    index = client().get("/admin/")
    assert b'href="/admin/auth/user/"' in index.content and b"/admin/auth/group/" not in index.content
    users = client().get("/admin/auth/user/")
    assert users.status_code == 200 and b"u_ada" in users.content
    assert not get_user_model().objects.get(username="u_ada").is_superuser
    assert client().get("/admin/auth/group/").status_code == 403  # only what was granted


def test_a_deactivated_user_loses_her_permissions() -> None:
    user = ada()
    user.user_permissions.add(Permission.objects.get(codename="change_user"))  # type: ignore[attr-defined]
    get_user_model().objects.filter(username="u_ada").update(is_active=False)
    assert client().get("/user-admin/").status_code == 302  # signed out, so sent to sign in


def test_the_backend_never_checks_a_password() -> None:
    get_user_model().objects.create_user("u_ada", password="a-password-set-in-django")
    assert authenticate(username="u_ada", password="a-password-set-in-django") is None
    with ThreadPoolExecutor(1) as pool:  # a loop of its own, as in test_auser_for_async_views
        found = pool.submit(lambda: asyncio.run(
            aauthenticate(username="u_ada", password="a-password-set-in-django"))).result()
    assert found is None


@override_settings(AUTHENTICATION_BACKENDS=[f"{__name__}.OnlyKnownUsers"])
def test_create_unknown_user_false_admits_only_known_users() -> None:
    assert client().get("/whoami/").content == b"anonymous"
    get_user_model().objects.create_user("u_ada")
    assert client().get("/whoami/").content.startswith(b"Ada King Lovelace|")


def test_a_failing_verifier_means_anonymous_not_500() -> None:
    VERIFIER.fail = True
    response = client().get("/whoami/")
    assert (response.status_code, response.content) == (200, b"anonymous")


def test_auser_for_async_views() -> None:
    request = HttpRequest()
    request.META["HTTP_COOKIE"] = ""
    OnebarMiddleware(lambda r: HttpResponse())(request)
    # In a thread of its own: a browser test may have left an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        user = pool.submit(lambda: asyncio.run(request.auser())).result()  # type: ignore[attr-defined]
    assert not user.is_authenticated


ONEBAR_MW = "onebar.integrations.django.OnebarMiddleware"
AUTH_MW = "django.contrib.auth.middleware.AuthenticationMiddleware"


@pytest.mark.parametrize("overrides, fix", [
    ({"ONEBAR": None},
     'add ONEBAR = {"SERVICE_URL": "https://id.example.com"} to your settings'),
    ({"ONEBAR": {"SERVICE_URL": "id.example.com"}},
     "must be like https://id.example.com, not 'id.example.com'"),
    ({"ONEBAR": {"SERVICE_URL": "http://id.test", "COOKIE": "x"}},
     'unknown Onebar setting ONEBAR["COOKIE"]'),
    ({"AUTHENTICATION_BACKENDS": ["django.contrib.auth.backends.ModelBackend"]},
     "add 'onebar.integrations.django.OnebarBackend' to AUTHENTICATION_BACKENDS"),
    ({"MIDDLEWARE": [ONEBAR_MW, AUTH_MW]},
     f"put '{ONEBAR_MW}' after it in MIDDLEWARE"),
    ({"INSTALLED_APPS": ["django.contrib.contenttypes"]},
     "add 'django.contrib.auth' and 'django.contrib.contenttypes' to INSTALLED_APPS"),
], ids=["no-onebar", "bad-url", "typo", "no-backend", "middleware-order", "no-auth-app"])
def test_misconfiguration_names_the_exact_fix(overrides: dict[str, object], fix: str) -> None:
    with override_settings(**overrides), pytest.raises(ImproperlyConfigured) as info:
        OnebarMiddleware(lambda r: HttpResponse())
    assert fix in str(info.value)


def test_auth_middleware_before_onebar_is_fine() -> None:
    with override_settings(MIDDLEWARE=[AUTH_MW, ONEBAR_MW]):
        OnebarMiddleware(lambda r: HttpResponse())


# -- against the real service ---------------------------------------------------------------

@pytest.mark.parametrize("mode", ["remote", "local"])
def test_django_follows_sign_in_and_sign_out_at_the_service(service, mode: str) -> None:  # type: ignore[no-untyped-def]
    config: dict[str, object] = {"SERVICE_URL": service.url, "CACHE_TTL": 0}
    if mode == "local":
        config.update(SECRET_KEYS=list(TEST_SECRET_KEYS), DATABASE=str(database(service)))
    cookie = sign_in(service)
    with override_settings(ONEBAR=config, LOGIN_URL=service.url + "/login"):
        assert client(cookie).get("/protected/").content == f"secret for {ADA[1]}".encode()
        sign_out(service, cookie)
        response = client(cookie).get("/protected/")
        assert response.status_code == 302
        assert response["Location"].startswith(service.url + "/login?next=http%3A//testserver/protected/")


def test_the_handoff_paths_are_the_middlewares_own() -> None:
    # An app on another registrable domain signs in through /.onebar/login
    # (tests/integrations/test_handoff_apps.py runs the whole flow against a live service).
    c = client(None)
    start = c.get("/.onebar/login", {"next": "/mine/"})
    assert start.status_code == 303
    target = urlsplit(start["Location"])
    assert (target.scheme, target.netloc, target.path) == ("http", "id.test", "/authorize")
    query = parse_qs(target.query)
    assert query["return_to"] == ["http://testserver/.onebar/callback"] and query["response_mode"] == ["query"]
    flow = start.cookies["onebar_handoff"]
    assert flow["httponly"] and flow["path"] == "/.onebar/" and flow["samesite"] == "Lax"
    # back with a state this browser did not start: nothing kept, on to "/"-relative next
    done = c.get("/.onebar/callback", {"onebar_code": "x" * 43, "onebar_state": "not-the-state-0123456789"})
    assert done.status_code == 303 and done["Location"] == "/mine/"
    assert "onebar_site" not in done.cookies
