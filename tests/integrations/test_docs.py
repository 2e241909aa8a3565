"""The examples in the integration modules' docstrings, and the Python blocks of README.md and docs/*.md, run as written."""

from __future__ import annotations

import ast
import importlib.util
import re
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from werkzeug.test import Client

import onebar.integrations.flask
import onebar.integrations.wsgi
from onebar.integrations.wsgi import OnebarUser
from onebar.store import SQLiteStore

from ..snippets import Snippet, params
from .conftest import ADA_ME, StubService


HTML_NAME = '<img src=x onerror="alert(1)">Mallory'
ESCAPED_NAME = "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;Mallory"  # as markupsafe and Jinja write it


def first_example(module: ModuleType) -> str:
    match = re.search(r"::\n\n((?:    .*\n|\n)+)", module.__doc__ or "")
    assert match, f"{module.__name__} has no example"
    return textwrap.dedent(match.group(1))


def run_example(module: ModuleType, service_url: str) -> dict[str, Any]:
    source = first_example(module).replace("http://localhost:8000", service_url)
    namespace: dict[str, Any] = {"__name__": "onebar_docs_example"}
    exec(compile(source, f"<{module.__name__} docstring>", "exec"), namespace)  # noqa: S102
    return namespace


def test_the_wsgi_example_runs(stub: StubService, monkeypatch: pytest.MonkeyPatch) -> None:
    import wsgiref.simple_server

    monkeypatch.setattr(wsgiref.simple_server, "make_server", lambda host, port, app: _Served())
    example = run_example(onebar.integrations.wsgi, stub.url)
    client = Client(example["app"], use_cookies=False)
    assert client.get("/").get_data(as_text=True) == "Hello! You are not signed in."
    assert client.get("/", headers={"Cookie": "onebar_session=a.b.c"}).get_data(as_text=True) == (
        f"Hello, {OnebarUser.from_json(ADA_ME).name}!")  # type: ignore[union-attr]


def test_the_flask_example_runs(stub: StubService) -> None:
    stub.answer({**ADA_ME, "name": HTML_NAME})  # a user who typed HTML as her name: both pages escape it
    app = run_example(onebar.integrations.flask, stub.url)["app"]
    client = app.test_client()
    assert client.get("/").get_data(as_text=True) == "Hello, guest."
    assert client.get("/mine").headers["Location"] == f"{stub.url}/login?next=http%3A%2F%2Flocalhost%2Fmine"
    client.set_cookie("onebar_session", "a.b.c")
    assert client.get("/").get_data(as_text=True) == f"Hello, {ESCAPED_NAME}!"
    assert client.get("/mine").get_data(as_text=True) == (
        f'<script src="{stub.url}/onebar.js" data-app="tasks" data-user="{ADA_ME["id"]}"></script>'
        f"<p>Only for {ESCAPED_NAME}</p>")


class _Served:
    """make_server()'s server, minus the serving forever."""

    def serve_forever(self) -> None:
        pass


# -- the Python blocks of README.md and docs/*.md ---------------------------------------



def _run_doc_snippet(snippet: Snippet, stub: StubService, tmp_path: Path) -> dict[str, Any]:
    """Exec a block as written, after what it assumes: an ``app`` (Flask when it
    uses ``app.config``/``@app``), Django settings lists, the service at the stub."""
    from flask import Flask

    source = snippet.code.replace("http://localhost:8000", stub.url).replace("/var/lib/onebar", str(tmp_path))
    namespace: dict[str, Any] = {
        "__name__": "onebar_docs_snippet",
        "MIDDLEWARE": ["django.contrib.auth.middleware.AuthenticationMiddleware"],
        "TEMPLATES": [{"BACKEND": "django.template.backends.django.DjangoTemplates",
                       "OPTIONS": {"context_processors": []}}],
    }
    if "app = Flask(" not in source:
        if "app.config" in source or "@app." in source:
            namespace["app"] = Flask("onebar_docs_snippet")
        else:
            namespace["app"] = _hello_wsgi
    if "SQLiteStore(" in source:
        SQLiteStore(tmp_path / "onebar.sqlite3").close()  # the service's store, as the block expects it
    exec(compile(source, f"<{snippet.id}>", "exec"), namespace)  # noqa: S102
    return namespace


def _hello_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


@pytest.mark.parametrize("snippet", params("python"))
def test_python_snippets_run_and_escape_names(snippet: Snippet, stub: StubService, tmp_path: Path) -> None:
    from flask import Flask

    stub.answer({**ADA_ME, "name": HTML_NAME})  # a user who typed HTML as her name
    namespace = _run_doc_snippet(snippet, stub, tmp_path)
    app = namespace.get("app")
    if isinstance(app, Flask):
        client = app.test_client()
        client.set_cookie("onebar_session", "a.b.c")
        routes = [r.rule for r in app.url_map.iter_rules() if r.endpoint != "static"]
        assert routes, f"{snippet.id} defines no page"
        for rule in routes:
            page = client.get(rule).get_data(as_text=True)
            assert "Mallory" in page, f"{snippet.id} {rule} does not greet the user"
            assert "<img" not in page, f"{snippet.id} {rule} returns the name as HTML: {page!r}"
    elif "MIDDLEWARE" in snippet.code:
        onebar_entries = [m for m in namespace["MIDDLEWARE"] if isinstance(m, str) and "onebar" in m]
        assert onebar_entries
        names = [*onebar_entries, *namespace["AUTHENTICATION_BACKENDS"],
                 *[p for p in namespace["TEMPLATES"][0]["OPTIONS"]["context_processors"] if "onebar" in p]]
        for dotted in names:  # each names a real module and a name it defines (without setting Django up)
            module, _, attr = dotted.rpartition(".")
            spec = importlib.util.find_spec(module)
            assert spec and spec.origin, dotted
            defined = {n.name for n in ast.parse(Path(spec.origin).read_text()).body
                       if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
            assert attr in defined, dotted
        assert namespace["ONEBAR"]["SERVICE_URL"] == stub.url
    else:
        assert isinstance(app, onebar.integrations.wsgi.OnebarMiddleware), f"{snippet.id} wraps no app"
        if app.app is _hello_wsgi:  # (a block whose own app is `...` is only built, not called)
            answer = Client(app, use_cookies=False).get("/", headers={"Cookie": "onebar_session=a.b.c"})
            assert answer.get_data() == b"hello"
