"""The demo sites over HTTP: members-only pages, server-side greetings, cookies, independence."""

from __future__ import annotations

import ast
import re
import socket
import sqlite3
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from ..httpclient import Browserish
from ..live import ROOT, free_port, run_server
from .conftest import GRACE, Demo


def visitor() -> Browserish:
    """One cookie jar for every localhost port, as a browser has."""
    return Browserish("")


def sign_in(b: Browserish, demo: Demo, who: tuple[str, str, str] = GRACE, next: str = "") -> str:
    reply = b.post(demo.service.url + "/login", data={
        "csrf_token": b.csrf(demo.service.url + "/login"), "email": who[0], "password": who[2], "next": next})
    assert reply.status == 303, reply.text
    return reply.headers["Location"]


def test_flask_members_page_sends_a_visitor_to_sign_in_and_back(demo: Demo) -> None:
    b = visitor()
    members = demo.tasks + "/tasks"
    reply = b.get(members)
    assert reply.status == 302
    login = urlsplit(reply.headers["Location"])
    assert f"{login.scheme}://{login.netloc}{login.path}" == demo.service.url + "/login"
    assert parse_qs(login.query)["next"] == [members]
    assert sign_in(b, demo, next=members) == members
    page = b.get(members)
    assert page.status == 200
    assert "Grace’s tasks" in page.text
    assert "Sign in once with Onebar" in page.text  # a first visit gets the tour


def test_django_protected_page_sends_a_visitor_to_sign_in_and_back(demo: Demo) -> None:
    b = visitor()
    protected = demo.notes + "/notes/"
    reply = b.get(protected)
    assert reply.status == 302
    login = urlsplit(reply.headers["Location"])
    assert f"{login.scheme}://{login.netloc}{login.path}" == demo.service.url + "/login"
    assert parse_qs(login.query)["next"] == [protected]  # absolute, so the service can send it back
    assert sign_in(b, demo, next=protected) == protected
    page = b.get(protected)
    assert page.status == 200
    assert "Grace’s notes" in page.text
    assert "Welcome to Notes" in page.text


def test_pages_greet_the_signed_in_user_server_side(demo: Demo) -> None:
    b = visitor()
    assert "Small lists, done." in b.get(demo.tasks + "/").text
    assert "Write it down." in b.get(demo.notes + "/").text
    sign_in(b, demo)
    assert '<h1 id="greeting">Hello, Grace.</h1>' in b.get(demo.tasks + "/").text
    assert '<h1 id="greeting">Welcome back, Grace.</h1>' in b.get(demo.notes + "/").text


def test_a_member_adds_a_task_and_a_note(demo: Demo) -> None:
    b = visitor()
    sign_in(b, demo)
    page = b.get(demo.tasks + "/tasks").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert b.post(demo.tasks + "/tasks", data={"csrf_token": token, "title": "Book the offsite"}).status == 303
    assert "Book the offsite" in b.get(demo.tasks + "/tasks").text

    page = b.get(demo.notes + "/notes/").text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    reply = b.post(demo.notes + "/notes/", data={"csrfmiddlewaretoken": token, "title": "Keynote ideas",
                                                  "body": "Nanoseconds, in wire"},
                   headers={"Referer": demo.notes + "/notes/"})
    assert reply.status == 302
    assert "Keynote ideas" in b.get(demo.notes + "/notes/").text


def test_a_permission_granted_in_django_opens_a_notes_page(demo: Demo) -> None:
    b = visitor()
    sign_in(b, demo)
    everyone = demo.notes + "/notes/everyone/"
    assert b.get(everyone).status == 403  # signed in, but not granted "Can view note"
    grant = (demo.base / "notes" / "notes.sqlite3").as_posix()
    with sqlite3.connect(grant) as db:  # what Django's admin writes when a permission is granted
        db.execute(
            "INSERT INTO auth_user_user_permissions (user_id, permission_id) "
            "SELECT u.id, p.id FROM auth_user u, auth_permission p JOIN django_content_type t ON t.id = p.content_type_id "
            "WHERE u.email = ? AND t.app_label = 'notes' AND p.codename = 'view_note'", (GRACE[0],))
    try:
        page = b.get(everyone)
        assert page.status == 200
        assert "Everyone’s notes" in page.text and "Grace Hopper" in page.text
    finally:
        with sqlite3.connect(grant) as db:
            db.execute("DELETE FROM auth_user_user_permissions")
    assert b.get(everyone).status == 403


def test_a_sign_out_from_any_bar_reaches_both_servers(demo: Demo) -> None:
    b = visitor()
    sign_in(b, demo)
    assert "Hello, Grace." in b.get(demo.tasks + "/").text
    # What the bar on the Handbook does: POST /api/logout from its origin.
    reply = b.post(demo.service.url + "/api/logout", json_body=b"{}", headers={"Origin": demo.handbook})
    assert reply.status == 200
    assert "Small lists, done." in b.get(demo.tasks + "/").text
    assert b.get(demo.notes + "/notes/").status == 302


class _FirstInBody(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.in_body = False
        self.first: tuple[str, dict[str, str | None]] | None = None
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts.append(dict(attrs))
        if self.in_body and self.first is None:
            self.first = (tag, dict(attrs))
        if tag == "body":
            self.in_body = True


def test_the_static_site_is_plain_html_with_only_the_bar(demo: Demo) -> None:
    reply = visitor().get(demo.handbook + "/")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    parser = _FirstInBody()
    parser.feed(reply.text)
    bar = {"src": f"{demo.service.url}/onebar.js", "data-app": "handbook"}
    assert parser.first == ("script", bar)
    assert parser.scripts == [bar]


def test_each_site_names_its_own_cookies(demo: Demo) -> None:
    b = visitor()
    sign_in(b, demo)
    b.get(demo.tasks + "/tasks")
    b.get(demo.notes + "/notes/")
    # All ports of localhost share cookies: a site that used a default name
    # ("session", "csrftoken") would overwrite another's.
    # onebar_device: the browser the account signed in on (no lockout of the owner).
    assert {c.name for c in b.jar} == {"onebar_session", "onebar_csrf", "onebar_device", "tasks_session",
                                       "notes_csrftoken"}


def test_no_demo_site_imports_another() -> None:
    sites = {"flask_tasks", "django_notes", "static_site"}
    for site in sites:
        for path in (ROOT / "demo_apps" / site).rglob("*.py"):
            imported = _imports(path)
            others = {m for m in imported if any(m == f"demo_apps.{o}" or m.startswith(f"demo_apps.{o}.")
                                                  for o in sites - {site})}
            assert not others, f"{path} imports {others}"
            onebar = {m for m in imported if m == "onebar" or m.startswith("onebar.")}
            assert onebar <= {"onebar.integrations", "onebar.integrations.flask", "onebar.integrations.django"}, (
                f"{path} uses more of Onebar than its integration: {onebar}")


@pytest.mark.parametrize("module", ["demo_apps.flask_tasks", "demo_apps.django_notes"])
def test_a_site_on_a_busy_port_says_so_in_one_line(module: str, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("localhost", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", module, "--port", str(port), "--data-dir", str(tmp_path)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: cannot listen on localhost:{port}: ")
    assert "Traceback" not in done.stderr


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_with_the_service_silent_a_site_still_answers_within_a_second(demo: Demo, tmp_path: Path) -> None:
    """The Flask site's server asks a service that accepts connections and never answers."""
    with socket.socket() as silent:
        silent.bind(("localhost", 0))
        silent.listen(64)
        service = f"http://localhost:{silent.getsockname()[1]}"
        port = free_port()
        site = f"http://localhost:{port}"
        argv = [sys.executable, "-m", "demo_apps.flask_tasks", "--port", str(port), "--service-url", service,
                "--data-dir", str(tmp_path)]
        with run_server(argv, url=site, health="/healthz", log=tmp_path / "tasks.log"):
            b = visitor()
            sign_in(b, demo)  # a real cookie, which this site cannot get confirmed
            for path, expected in (("/", 200), ("/tasks", 302)):
                started = time.monotonic()
                reply = b.get(site + path)
                assert time.monotonic() - started < 1.0
                assert reply.status == expected
            assert "Small lists, done." in b.get(site + "/").text
