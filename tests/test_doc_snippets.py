"""The shell, JSON and text blocks of README.md and docs/*.md, run or checked as written."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from .live import free_port, onebar, run_server, service_env
from .snippets import ROOT, RUNNERS, Snippet, params, snippets


def test_every_snippet_has_a_runner() -> None:
    assert snippets(), "no snippets found"
    assert {s.lang for s in snippets()} <= set(RUNNERS), "a doc has a code block of a kind no test runs"


def commands(snippet: Snippet) -> list[list[str]]:
    return [shlex.split(line, comments=True) for line in snippet.code.splitlines() if line.split("#")[0].strip()]


@pytest.mark.parametrize("snippet", params("sh"))
def test_shell_snippets_run(snippet: Snippet, tmp_path: Path) -> None:
    for argv in commands(snippet):
        if argv[0].startswith("./scripts/"):
            # ./scripts/test runs this very suite, ./scripts/demo serves until Ctrl-C: each
            # must exist, be executable and parse (tests/demo runs what the demo command starts).
            script = ROOT / argv[0]
            assert script.exists() and script.stat().st_mode & 0o111, f"{argv[0]} is missing or not executable"
            subprocess.run(["bash", "-n", str(script)], check=True)
        elif argv[:2] == ["onebar", "--data-dir"] and "serve" in argv:
            # The service as the README starts it, on a free port and a scratch data dir.
            port = free_port()
            argv = [sys.executable, "-m", "onebar", "--data-dir", str(tmp_path / "data"),
                    *[str(port) if a == "5000" else a for a in argv[3:]]]
            with run_server(argv, url=f"http://localhost:{port}", health="/healthz", log=tmp_path / "serve.log",
                            env=service_env(tmp_path / "data")):
                with urllib.request.urlopen(f"http://localhost:{port}/healthz") as answer:
                    assert answer.status == 200
        else:
            assert argv[0] == "onebar", f"unexpected command in {snippet.id}: {argv}"
            onebar(tmp_path / "data", *argv[1:])
            if argv[1:3] == ["app", "add"]:
                assert argv[3] in onebar(tmp_path / "data", "app", "list").stdout


@pytest.mark.parametrize("snippet", params("json"))
def test_json_snippets_are_the_api_shape(snippet: Snippet) -> None:
    document = json.loads(snippet.code)
    assert set(document) == {"user", "apps", "links"}
    assert set(document["user"]) == {"id", "name", "email", "initials", "avatar_url"}
    assert all(set(app) == {"id", "name", "url"} for app in document["apps"])
    assert set(document["links"]) == {"login", "logout", "account"}


def test_the_readme_layout_names_real_folders() -> None:
    [layout] = [s for s in snippets("") if s.doc == "README.md"]
    parent = ROOT
    for line in layout.code.splitlines():
        name = line.split()[0]
        if not line.startswith(" "):  # a top-level folder
            parent = ROOT / name
            assert parent.is_dir(), f"README's layout names {name}, which does not exist"
        elif name.endswith("/"):  # a folder inside the one above
            assert (parent / name).is_dir(), f"README's layout names {parent.name}/{name}, which does not exist"
