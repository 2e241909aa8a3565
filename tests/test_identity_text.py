"""Emails and names mean what they look like (security review, issue 9 item 4):
no terminal escapes, invisible or text-direction characters get in, emails are
NFKC-normalised, and the CLI prints whatever is stored as one safe line."""

from __future__ import annotations

import json
import sqlite3

import pytest

from .conftest import PASSWORD, csrf_token
from .live import onebar

HOSTILE_EMAILS = [
    pytest.param("ada\x1b]0;owned\x07@example.com", id="esc-osc-title"),
    pytest.param("\x1b[2K\x1b[1Aada@example.com", id="esc-erase-line"),
    pytest.param("ada\x07@example.com", id="bel"),
    pytest.param("ada\u200b@example.com", id="zero-width-space"),
    pytest.param("ada\u200d@example.com", id="zero-width-joiner"),
    pytest.param("ada\u202e@example.com", id="right-to-left-override"),
    pytest.param("ada\x00@example.com", id="nul"),
    pytest.param("ada\x7f@example.com", id="del"),
    pytest.param("ada\x85@example.com", id="c1-next-line"),
    pytest.param("ada\u00a0@example.com", id="no-break-space"),
    pytest.param("\ufeffada@example.com", id="bom"),
]


@pytest.mark.parametrize("email", HOSTILE_EMAILS)
def test_sign_up_refuses_an_email_with_hidden_characters(client, auth, store, email):
    response = auth.signup(email=email)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "invisible or control characters" in page or "such as ada@example.com" in page
    assert store.list_users() == []


HOSTILE_NAMES = [
    pytest.param("Ada\u202eecalevoL", id="right-to-left-override"),
    pytest.param("Ada\u2066Lovelace\u2069", id="isolate"),
    pytest.param("Ada\u200bLovelace", id="zero-width-space"),
    pytest.param("Ada\x85Lovelace", id="c1-control"),
    pytest.param("Ada\x1b[31mLovelace", id="esc"),
    pytest.param("Ada\u2028Lovelace", id="line-separator"),
    pytest.param("Ada\u00adLovelace", id="soft-hyphen"),
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_names_with_hidden_or_reordering_characters_are_refused(client, auth, store, name):
    response = auth.signup(name=name)
    assert response.status_code == 400
    assert "text-direction characters" in response.get_data(as_text=True)
    assert store.list_users() == []


@pytest.mark.parametrize("name", HOSTILE_NAMES[:3])
def test_the_profile_refuses_them_too(client, auth, name):
    assert auth.signup().status_code == 303
    response = client.post("/account/profile", data={"csrf_token": csrf_token(client, "/account"), "name": name,
                                                     "avatar_url": ""})
    assert response.status_code == 400
    assert auth.me()["user"]["name"] == "Ada Lovelace"


@pytest.mark.parametrize("name", [
    pytest.param("میرزا\u200cعلی", id="persian-zwnj"),
    pytest.param("Ada 👩\u200d💻", id="emoji-zwj-sequence"),
    pytest.param("Ada 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", id="flag-tag-sequence"),
    pytest.param("Ἀδά Λοβλέις", id="greek"),
])
def test_real_names_in_any_script_are_kept(client, auth, name):
    assert auth.signup(name=name).status_code == 303
    assert auth.me()["user"]["name"] == name


def test_a_full_width_email_is_the_same_account_as_its_ascii_form(client, auth, app):
    assert auth.signup(email="ａｄａ＠ｅｘａｍｐｌｅ．ｃｏｍ").status_code == 303
    assert auth.me()["user"]["email"] == "ada@example.com", "stored and shown in NFKC"
    auth.logout()
    assert auth.signup(email="ADA@example.com").status_code == 409
    assert auth.login(email="Ada@Example.com").status_code == 303


def test_user_list_prints_stored_control_characters_escaped(tmp_path):
    onebar(tmp_path, "user", "add", "ada@example.com", "--name", "Ada", "--password-stdin", input=PASSWORD + "\n")
    # Rows written before these rules (or by hand) must still print safely.
    with sqlite3.connect(tmp_path / "onebar.sqlite3") as db:
        db.execute("UPDATE users SET name = ?, email = ?",
                   ("\x1b]0;pwned\x07\x1b[2K\u202eAda", "ada\x1b[1A@example.com"))
    out = onebar(tmp_path, "user", "list").stdout
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b]0;pwned\\x07\\x1b[2K\\u202eAda" in out and "ada\\x1b[1A@example.com" in out
    assert len(out.splitlines()) == 1


def test_the_cli_refuses_hidden_characters_with_one_error_line(tmp_path):
    result = onebar(tmp_path, "user", "add", "ada\u200b@example.com", "--name", "Ada", "--password-stdin",
                    input=PASSWORD + "\n", check=False)
    assert result.returncode == 1 and result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    result = onebar(tmp_path, "user", "add", "ada@example.com", "--name", "Ada\u202e", "--password-stdin",
                    input=PASSWORD + "\n", check=False)
    assert result.returncode == 1 and "text-direction" in result.stderr
    assert json.loads(onebar(tmp_path, "user", "list", "--json").stdout) == []  # neither was added
