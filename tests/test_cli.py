"""The onebar command: users, apps, keys, serve; bad arguments print one clear line."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys

import pytest

from .live import ROOT, onebar


def cli(data_dir, *args, input=None, env=None):
    """Run onebar with keys from the data dir (as a fresh install has)."""
    return subprocess.run([sys.executable, "-m", "onebar", "--data-dir", str(data_dir), *args], input=input,
                          capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={k: v for k, v in __import__("os").environ.items() if not k.startswith("ONEBAR_")}
                          | (env or {}))


def assert_one_error_line(result, *words):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for w in words:
        assert w in lines[0]
    assert "Traceback" not in result.stderr


def test_user_add_and_list(tmp_path):
    out = onebar(tmp_path, "user", "add", "ada@example.com", "--name", "Ada Lovelace", "--password-stdin",
                 input="correct horse battery\n")
    assert "added user ada@example.com" in out.stdout
    listed = onebar(tmp_path, "user", "list").stdout
    assert "ada@example.com\tAda Lovelace" in listed


@pytest.mark.parametrize(
    "args,input,words",
    [
        (["user", "add", "ada@example.com", "--name", "Ada", "--password-stdin"], "short\n", ["at least 8"]),
        (["user", "add", "not-an-email", "--name", "Ada", "--password-stdin"], "long enough pw\n", ["email"]),
        (["user", "add", "ada@example.com", "--name", "Ada"], "", ["--password-stdin"]),
        (["app", "add", "x", "--name", "X", "--url", "javascript:alert(1)"], None, ["http(s) URL"]),
        (["app", "add", "Bad Id", "--name", "X", "--url", "http://localhost:1/"], None, ["app id"]),
        (["app", "add", "x", "--name", "X", "--url", "http://user@localhost:1/"], None, ["http(s) URL"]),
        (["app", "remove", "nope"], None, ["no app"]),
        (["nonsense"], None, ["No such command"]),
        (["user", "add"], None, ["Missing argument"]),
        (["serve", "--port", "99999"], None, ["99999"]),
    ],
    ids=["short-password", "bad-email", "no-password", "bad-url", "bad-id", "userinfo-url", "remove-missing",
         "unknown-command", "missing-arg", "bad-port"],
)
def test_bad_arguments_print_one_clear_line(tmp_path, args, input, words):
    assert_one_error_line(cli(tmp_path, *args, input=input), *words)


def test_duplicate_email_is_refused_in_any_case(tmp_path):
    onebar(tmp_path, "user", "add", "ada@example.com", "--name", "Ada", "--password-stdin", input="long enough pw\n")
    result = onebar(tmp_path, "user", "add", "ADA@Example.com", "--name", "Ada 2", "--password-stdin",
                    input="long enough pw\n", check=False)
    assert_one_error_line(result, "already exists")


def test_app_add_list_remove(tmp_path):
    onebar(tmp_path, "app", "add", "notes", "--name", "Notes", "--url", "http://localhost:5001/")
    onebar(tmp_path, "app", "add", "tasks", "--name", "Tasks", "--url", "https://tasks.example.com/")
    assert onebar(tmp_path, "app", "list").stdout.splitlines() == [
        "notes\tNotes\thttp://localhost:5001/", "tasks\tTasks\thttps://tasks.example.com/"]
    assert_one_error_line(onebar(tmp_path, "app", "add", "notes", "--name", "N", "--url", "http://localhost:2/",
                                 check=False), "already registered")
    onebar(tmp_path, "app", "remove", "notes")
    assert onebar(tmp_path, "app", "list").stdout.splitlines() == ["tasks\tTasks\thttps://tasks.example.com/"]


def test_first_run_creates_an_owner_only_key_file_and_rotate_adds_a_key(tmp_path):
    assert cli(tmp_path, "user", "list").returncode == 0
    key_file = tmp_path / "secret_keys.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = json.loads(key_file.read_text())
    assert len(first) == 1
    result = cli(tmp_path, "keys", "rotate")
    assert result.returncode == 0 and first[0] not in result.stdout + result.stderr, "keys are never printed"
    rotated = json.loads(key_file.read_text())
    assert rotated[:-1] == first and len(rotated) == 2
    for _ in range(3):
        cli(tmp_path, "keys", "rotate")
    assert len(json.loads(key_file.read_text())) == 3, "old keys are retired after a few rotations"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_rotate_refuses_when_keys_come_from_configuration(tmp_path):
    result = cli(tmp_path, "keys", "rotate", env={"ONEBAR_SECRET_KEYS": "a-configured-key-0123456789abcdef"})
    assert_one_error_line(result, "configuration")


def test_serve_on_a_busy_port_names_the_port(tmp_path):
    with socket.socket() as busy:
        busy.bind(("localhost", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli(tmp_path, "serve", "--host", "localhost", "--port", str(port))
    assert_one_error_line(result, str(port))


def test_unusable_data_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert_one_error_line(cli(blocker / "data", "user", "list"), "data directory")


def test_rotate_keeps_the_key_file_owner_only_even_over_a_loose_leftover(tmp_path):
    # A leftover temp file from an interrupted run, or one planted world-readable.
    assert cli(tmp_path, "user", "list").returncode == 0
    for leftover in ("secret_keys.json.tmp", ".secret_keys.json.tmp"):
        (tmp_path / leftover).write_text("[]")
        (tmp_path / leftover).chmod(0o644)
    result = cli(tmp_path, "keys", "rotate")
    assert result.returncode == 0, result.stderr
    key_file = tmp_path / "secret_keys.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(json.loads(key_file.read_text())) == 2


def test_a_world_writable_data_dir_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)
    result = cli(data, "user", "list")
    assert_one_error_line(result, "writable by every user", "chmod 700")
    assert not (data / "secret_keys.json").exists(), "no key is written where anyone could read or swap it"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o606])
def test_a_key_file_other_users_can_read_or_write_is_refused(tmp_path, mode):
    assert cli(tmp_path, "user", "list").returncode == 0
    key_file = tmp_path / "secret_keys.json"
    keys = key_file.read_text()
    key_file.chmod(mode)
    result = cli(tmp_path, "user", "list")
    assert_one_error_line(result, "other users", f"chmod 600 {key_file}")
    assert json.loads(keys)[0] not in result.stdout + result.stderr, "keys are never printed"
    key_file.chmod(0o600)
    assert cli(tmp_path, "user", "list").returncode == 0
    assert key_file.read_text() == keys, "a refusal changes nothing"
