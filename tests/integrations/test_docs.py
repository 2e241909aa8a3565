"""The examples in the integration modules' docstrings run as written."""

from __future__ import annotations

import re
import textwrap
from types import ModuleType
from typing import Any

import pytest
from werkzeug.test import Client

import onebar.integrations.flask
import onebar.integrations.wsgi
from onebar.integrations.wsgi import OnebarUser

from .conftest import ADA_ME, StubService


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
    app = run_example(onebar.integrations.flask, stub.url)["app"]
    client = app.test_client()
    assert client.get("/").get_data(as_text=True) == "Hello, guest."
    assert client.get("/mine").headers["Location"] == f"{stub.url}/login?next=http%3A%2F%2Flocalhost%2Fmine"
    client.set_cookie("onebar_session", "a.b.c")
    assert client.get("/").get_data(as_text=True) == "Hello, Ada Lovelace!"
    assert client.get("/mine").get_data(as_text=True) == (
        f'<script src="{stub.url}/onebar.js" data-app="tasks" data-user="{ADA_ME["id"]}"></script>'
        "<p>Only for Ada Lovelace</p>")


class _Served:
    """make_server()'s server, minus the serving forever."""

    def serve_forever(self) -> None:
        pass
