"""The shell, console, systemd-unit, env-file, JSON and text blocks of README.md and docs/*.md,
run or checked as written.

Run for real, on loopback, in scratch data dirs on free ports: every ``onebar`` command;
``onebar serve`` until ``/healthz`` answers; console sessions, with their output compared
line by line; a systemd unit's ``ExecStart`` (and ``systemd-analyze verify`` of the unit).
The docs' example addresses stand for this machine's: ``/var/lib/onebar`` is the scratch
data dir, a ``postgresql://…@db.internal…`` URL a fresh database of the session's own
PostgreSQL (without ``sslmode=require``: the loopback server has no TLS), port 5000 a free
port.

Checked, not run, and why:

- ``pip install 'onebar[EXTRA]'`` would reach a package registry and change the test's own
  environment: the extra must exist, and every package it names be installed here.
- ``./scripts/test`` runs this very suite and ``./scripts/demo`` serves until Ctrl-C: each
  must exist, be executable and parse (tests/demo runs what the demo command starts).
- ``NAME=value`` and ``export NAME=value`` lines are set for the block's later commands; each
  name must be a real setting, and the settings loader must take the values. A block of
  settings only, with ``ONEBAR_PUBLIC_URL``, is also served in-process: the public host and
  every ``ONEBAR_ALLOWED_HOSTS`` name get an answer, another ``Host`` 400.
- An env file (``ini`` without sections) is loaded the same way; a unit's ``User=``, which
  needs that system user, is left to ``systemd-analyze verify``'s judgement (it does not ask).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from werkzeug.test import Client

from onebar import settings as settings_mod
from onebar.cli import serve as serve_command
from onebar.serving import DRAIN_TIMEOUT
from onebar.urls import mask_password
from onebar.web import create_app

from .live import free_port, onebar, run_server, service_env
from .snippets import ROOT, RUNNERS, Snippet, params, snippets
from .test_schema import V1_SQLITE

#: The docs' example data directory and PostgreSQL URL, which stand for this machine's.
EXAMPLE_DATA_DIR = "/var/lib/onebar"
EXAMPLE_POSTGRES = re.compile(r"postgresql://onebar:PASSWORD@db\.internal(?::5432)?/onebar(?:\?sslmode=require)?")


def test_every_snippet_has_a_runner() -> None:
    assert snippets(), "no snippets found"
    assert {s.lang for s in snippets()} <= set(RUNNERS), "a doc has a code block of a kind no test runs"


def commands(snippet: Snippet) -> list[list[str]]:
    return [shlex.split(line, comments=True) for line in snippet.code.splitlines() if line.split("#")[0].strip()]


class Machine:
    """This machine in place of the docs' example one: a scratch data dir, free ports, and
    (asked for only by a block that names PostgreSQL) a fresh database of the session's server."""

    def __init__(self, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        self.tmp = tmp_path
        self.data_dir = tmp_path / "data"
        self.request = request
        self.env: dict[str, str] = {}  # what the block exported so far

    def here(self, text: str) -> str:
        text = text.replace(EXAMPLE_DATA_DIR, str(self.data_dir))
        if EXAMPLE_POSTGRES.search(text):
            text = EXAMPLE_POSTGRES.sub(self.postgres_url, text)
        return text

    @property
    def postgres_url(self) -> str:
        return self.request.getfixturevalue("postgres_url")  # type: ignore[no-any-return]

    def onebar(self, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        """``onebar ARGS`` as written (its own --data-dir, or the exported one, or the scratch dir)."""
        return subprocess.run([sys.executable, "-m", "onebar", *argv[1:]], capture_output=True, text=True,
                              env={**os.environ, **service_env(self.data_dir), **self.env}, cwd=ROOT,
                              timeout=60, **kwargs)  # type: ignore[call-overload]

    def serve(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        """``onebar … serve …`` on free ports, until /healthz answers 200; then stopped."""
        argv = list(argv)
        if "--port" in argv:
            argv[argv.index("--port") + 1] = str(port := free_port())
        else:
            argv += ["--port", str(port := free_port())]
        argv += ["--events-port", str(free_port())]  # not --port + 1, which may be taken here
        with run_server([sys.executable, "-m", "onebar", *argv[1:]], url=f"http://localhost:{port}",
                        health="/healthz", log=self.tmp / f"serve-{port}.log",
                        env={**service_env(self.data_dir), **self.env, **(env or {})}):
            with urllib.request.urlopen(f"http://localhost:{port}/healthz", timeout=10) as answer:
                assert answer.status == 200


def setting_name(var: str) -> str:
    """The setting an ``ONEBAR_*`` variable sets; fails for a name the service does not read."""
    name = var.removeprefix("ONEBAR_").lower()
    assert var.startswith("ONEBAR_") and (name in settings_mod._KINDS or name == "secret_keys"), \
        f"{var} is not a setting of the service (onebar/settings.py)"
    return name


def check_settings(env: dict[str, str], tmp: Path) -> settings_mod.Settings:
    """Each variable names a real setting, and the loader takes its value as written."""
    names = {var: setting_name(var) for var in env}
    loaded = settings_mod.load(environ=env, data_dir=tmp / "settings")
    for var, name in names.items():
        if name == "secret_keys":
            assert loaded.secret_keys == tuple(k.strip() for k in env[var].split(","))
        elif name != "data_dir":
            assert getattr(loaded, name) == settings_mod._convert(name, env[var], settings_mod._KINDS[name]), var
    return loaded


def check_hosts(loaded: settings_mod.Settings) -> None:
    """With a public URL, the service answers its own host and the allowed names, and 400 to
    others: to those same names too without ``ONEBAR_ALLOWED_HOSTS`` (why the docs set it)."""
    host = loaded.public_url.split("://", 1)[1].rstrip("/")  # type: ignore[union-attr]
    for name in loaded.allowed_hosts:  # a Host header's value, which a URL never is
        assert re.fullmatch(r"([a-z0-9-]+\.)*[a-z0-9-]+(:\d+)?|\[[0-9a-f:]+\](:\d+)?", name), \
            f"ONEBAR_ALLOWED_HOSTS takes names as sent in Host (name or name:port), not {name!r}"
    client = Client(create_app(loaded))
    for name in (host, *loaded.allowed_hosts):
        answer = client.get("/api/me", headers={"Host": name})
        assert answer.status_code == 200 and answer.json["user"] is None, name  # type: ignore[index]
    assert client.get("/api/me", headers={"Host": "rebound.example.net"}).status_code == 400
    if loaded.allowed_hosts:
        unnamed = Client(create_app(dataclasses.replace(loaded, allowed_hosts=())))
        for name in loaded.allowed_hosts:
            assert unnamed.get("/api/me", headers={"Host": name}).status_code == 400, name


def check_extra(requirement: str) -> None:
    """``onebar[EXTRA]``: the extra exists and each package it names is installed."""
    extra = re.fullmatch(r"onebar\[(\w+)\]", requirement)
    assert extra, f"pip installs something else than an extra of onebar: {requirement}"
    named = [r for r in importlib.metadata.requires("onebar") or [] if re.search(rf"extra == ['\"]{extra[1]}['\"]", r)]
    assert named, f"onebar has no extra {extra[1]!r} (pyproject.toml)"
    for r in named:
        importlib.metadata.version(re.match(r"[A-Za-z0-9_.-]+", r)[0])  # type: ignore[index]


ASSIGNMENT = re.compile(r"(ONEBAR_\w+)=(.*)")


@pytest.mark.parametrize("snippet", params("sh"))
def test_shell_snippets_run(snippet: Snippet, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    machine = Machine(tmp_path, request)
    assigned: dict[str, str] = {}
    ran = False
    for argv in commands(snippet):
        if argv[0] == "export" or ASSIGNMENT.fullmatch(argv[0]):
            assert len(argv) == 1 + (argv[0] == "export"), f"{snippet.id}: one assignment a line: {argv}"
            var, value = ASSIGNMENT.fullmatch(argv[-1]).groups()  # type: ignore[union-attr]
            assigned[var] = value
            machine.env[var] = machine.here(value)
        elif argv[:2] == ["pip", "install"]:
            for requirement in argv[2:]:
                check_extra(requirement)
        elif argv[0].startswith("./scripts/"):
            script = ROOT / argv[0]
            assert script.exists() and script.stat().st_mode & 0o111, f"{argv[0]} is missing or not executable"
            subprocess.run(["bash", "-n", str(script)], check=True)
        elif "serve" in argv:
            assert argv[0] == "onebar", f"unexpected command in {snippet.id}: {argv}"
            machine.serve([machine.here(a) for a in argv])
            ran = True
        else:
            assert argv[0] == "onebar", f"unexpected command in {snippet.id}: {argv}"
            done = machine.onebar([machine.here(a) for a in argv])
            assert done.returncode == 0, done.stderr
            if argv[1:3] == ["app", "add"]:
                assert argv[3] in onebar(machine.data_dir, "app", "list").stdout
            ran = True
    if assigned:
        loaded = check_settings(assigned, tmp_path)
        if not ran and loaded.public_url:
            check_hosts(loaded)


@pytest.mark.parametrize("snippet", params("console"))
def test_console_sessions_print_what_the_doc_shows(snippet: Snippet, tmp_path: Path,
                                                   request: pytest.FixtureRequest) -> None:
    machine = Machine(tmp_path, request)
    steps: list[tuple[str, list[str]]] = []
    for line in snippet.code.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"{snippet.id}: output before any command"
            steps[-1][1].append(line)
    first_output = "\n".join(steps[0][1])
    if m := re.search(r"from version (\d+) to", first_output):
        # The doc upgrades a database of an older Onebar: make one (the first release's schema).
        assert m[1] == "1", f"{snippet.id}: the test can make a version-1 database only"
        machine.data_dir.mkdir(mode=0o700)
        conn = sqlite3.connect(machine.data_dir / "onebar.sqlite3", isolation_level=None)
        conn.executescript(V1_SQLITE)
        conn.execute("PRAGMA user_version = 1")
        conn.close()
    if any(" db copy " in command for command, _ in steps):
        # Something to copy: an account and an app in the source.
        onebar(machine.data_dir, "user", "add", "ada@example.com", "--name", "Ada Lovelace", "--password-stdin",
               input="correct horse battery staple\n")
        onebar(machine.data_dir, "app", "add", "notes", "--name", "Notes", "--url", "https://notes.example.com/")
    for command, shown in steps:
        argv = shlex.split(machine.here(command), comments=True)
        assert argv[0] == "onebar", f"unexpected command in {snippet.id}: {argv}"
        done = machine.onebar(argv)
        assert done.returncode == 0, done.stderr
        printed = done.stdout.splitlines()
        assert len(printed) == len(shown), (command, printed, shown)
        for got, want in zip(printed, shown, strict=True):
            assert re.fullmatch(shape(want, machine), got), (command, got, want)


def shape(line: str, machine: Machine) -> str:
    """A pattern for an output line the doc shows, on this machine. The counts in ``db copy``'s
    report are the reader's own data, so any number matches there; its target is the doc's
    example URL with the password masked, here the session's PostgreSQL's."""
    line = machine.here(line)
    if not line.startswith("copied "):
        return re.escape(line)
    line = line.replace("postgresql://onebar:***@db.internal/onebar", "TARGET")
    return re.sub(r"\d+", r"\\d+", re.escape(line)).replace("TARGET", re.escape(mask_password(machine.postgres_url)))


def unit_entries(code: str) -> list[tuple[str, str, str]]:
    """(section, key, value) of a systemd unit, in order (keys repeat: Environment=)."""
    section, found = "", []
    for line in code.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        else:
            key, value = line.split("=", 1)
            found.append((section, key, value))
    return found


@pytest.mark.parametrize("snippet", params("ini"))
def test_units_and_env_files_run(snippet: Snippet, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    entries = unit_entries(snippet.code)
    if all(section == "" for section, _, _ in entries):
        # An env file (EnvironmentFile=): settings only; nodes with it are what the cluster tests run.
        check_settings({key: value for _, key, value in entries}, tmp_path)
        return
    machine = Machine(tmp_path, request)
    env = dict(value.split("=", 1) for section, key, value in entries if key == "Environment")
    assert env, f"{snippet.id}: a unit without settings"
    loaded = check_settings({k: machine.here(v) for k, v in env.items()}, tmp_path)
    [start] = [value for _, key, value in entries if key == "ExecStart"]
    argv = shlex.split(start)
    assert Path(argv[0]).name == "onebar" and argv[1] == "serve", start
    # The command line as written, parsed by the real CLI: every option exists and takes its value.
    parsed = serve_command.make_context("serve", argv[2:]).params
    for at, option in enumerate(argv[2:], start=2):
        if option.startswith("--") and at + 1 < len(argv) and not argv[at + 1].startswith("--"):
            assert str(parsed[option.removeprefix("--").replace("-", "_")]) == argv[at + 1], option
    # Stopping: systemd waits longer than a worker's drain (then it would kill requests in flight).
    stop = {key: value for _, key, value in entries}
    assert stop.get("KillSignal") == "SIGTERM" and int(stop["TimeoutStopSec"]) > DRAIN_TIMEOUT
    # systemd's own check of the unit, with ExecStart pointing at this machine's onebar.
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: install Debian's systemd (./scripts/test does)"
    here = shutil.which("onebar", path=str(Path(sys.executable).parent))
    assert here, "the onebar command is not installed beside this Python"
    unit = tmp_path / "onebar.service"
    unit.write_text(snippet.code.replace(f"ExecStart={argv[0]} ", f"ExecStart={here} "))
    verified = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0 and verified.stderr == "", verified.stderr  # (an unknown key is only a warning)
    # And the service it starts answers, with the unit's settings (the data dir a scratch one).
    machine.serve(argv, env={k: machine.here(v) for k, v in env.items()})
    assert loaded.public_url


@pytest.mark.parametrize("snippet", params("json"))
def test_json_snippets_are_the_api_shape(snippet: Snippet) -> None:
    document = json.loads(snippet.code)
    assert set(document) == {"user", "apps", "links"}
    assert set(document["user"]) == {"id", "name", "email", "initials", "avatar_url", "email_verified"}
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
