"""The account lifecycle from the command line, against the same SQLite file the
service uses: what an operator types and what the user then notices."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .conftest import PASSWORD, AuthActions
from .live import ROOT, TEST_SECRET_KEYS, onebar
from .test_cli import assert_one_error_line

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """onebar exactly as typed (no --data-dir added)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ONEBAR_")}
    return subprocess.run([sys.executable, "-m", "onebar", *args], input=input, capture_output=True, text=True,
                          cwd=ROOT, timeout=60, env=base | {"ONEBAR_SECRET_KEYS": ",".join(TEST_SECRET_KEYS)}
                          | (env or {}))


def test_user_alone_prints_its_help_not_an_error(tmp_path):
    result = run("--data-dir", str(tmp_path), "user")
    assert result.returncode == 0
    assert "error" not in result.stdout + result.stderr
    for command in ("passwd", "disable", "enable", "remove", "sessions", "revoke", "invite", "list"):
        assert command in result.stdout


def test_data_dir_is_accepted_after_the_subcommand(tmp_path):
    run("user", "add", "ada@example.com", "--name", "Ada", "--password-stdin", "--data-dir", str(tmp_path),
        input=PASSWORD + "\n")
    assert "ada@example.com\tAda" in run("user", "list", "--data-dir", str(tmp_path)).stdout
    assert "ada@example.com" in run("user", "--data-dir", str(tmp_path), "list").stdout


def test_read_only_commands_on_a_missing_data_dir_say_so_and_create_nothing(tmp_path):
    missing = tmp_path / "not-here"
    for args in (["user", "list"], ["app", "list"], ["audit"], ["user", "sessions", "ada@example.com"]):
        assert_one_error_line(run("--data-dir", str(missing), *args), "no data directory", str(missing))
    assert not missing.exists()


def test_empty_lists_say_so(tmp_path):
    assert onebar(tmp_path, "user", "list").stdout == "no users\n"
    assert onebar(tmp_path, "app", "list").stdout == "no apps\n"
    assert json.loads(onebar(tmp_path, "user", "list", "--json").stdout) == []


def test_user_list_json_is_for_scripts(tmp_path):
    onebar(tmp_path, "user", "add", "ada@example.com", "--name", "Ada", "--password-stdin", input=PASSWORD + "\n")
    onebar(tmp_path, "user", "disable", "ada@example.com")
    [ada] = json.loads(onebar(tmp_path, "user", "list", "--json").stdout)
    assert (ada["email"], ada["name"], ada["disabled"], ada["email_verified"]) == ("ada@example.com", "Ada", True,
                                                                                   False)


def test_disable_signs_out_everywhere_and_refuses_sign_in_until_enabled(settings, auth):
    auth.signup()
    result = onebar(settings.data_dir, "user", "disable", "ada@example.com")
    assert "disabled ada@example.com" in result.stdout
    assert auth.me()["user"] is None
    refused = auth.login()
    assert refused.status_code == 403
    assert "This account cannot sign in. Ask the administrator of this service." in refused.get_data(as_text=True)
    assert auth.login(password="a wrong password").status_code == 401, "a wrong password learns nothing more"
    onebar(settings.data_dir, "user", "enable", "ada@example.com")
    assert auth.login().status_code == 303 and auth.me()["user"] is not None


def test_passwd_from_stdin_signs_every_session_out(settings, auth):
    auth.signup()
    onebar(settings.data_dir, "user", "passwd", "ada@example.com", "--password-stdin", input="operator set it\n")
    assert auth.me()["user"] is None
    assert auth.login().status_code == 401
    assert auth.login(password="operator set it").status_code == 303
    assert_one_error_line(onebar(settings.data_dir, "user", "passwd", "nobody@example.com", "--password-stdin",
                                 input="whatever123\n", check=False), "no user", "nobody@example.com")


def test_sessions_shows_a_readable_device_and_revoke_signs_out(settings, client, auth):
    client.environ_base["HTTP_USER_AGENT"] = CHROME
    auth.signup()
    listed = onebar(settings.data_dir, "user", "sessions", "ada@example.com").stdout
    assert "Chrome on Linux" in listed and "127.0.0.1" in listed and "Mozilla" not in listed
    key = listed.split("\t")[0]
    onebar(settings.data_dir, "user", "revoke", "ada@example.com", "--session", key)
    assert auth.me()["user"] is None
    assert onebar(settings.data_dir, "user", "sessions", "ada@example.com").stdout == "no sessions\n"


def test_revoke_signs_every_session_out_and_is_audited_once(settings, app, auth):
    auth.signup()
    devices = [AuthActions(app.test_client(), app) for _ in range(2)]
    for device in devices:
        assert device.login().status_code == 303
    grace = AuthActions(app.test_client(), app)
    grace.signup(email="grace@example.com", name="Grace Hopper")

    assert onebar(settings.data_dir, "user", "revoke", "ada@example.com").stdout == \
        "signed ada@example.com out of 3 session(s)\n"
    assert [b.me()["user"] for b in (auth, *devices)] == [None, None, None], "every session of hers ended"
    assert grace.me()["user"]["email"] == "grace@example.com", "nobody else's"

    again = onebar(settings.data_dir, "user", "revoke", "ada@example.com").stdout
    assert again == "no sessions: ada@example.com is signed in nowhere\n"
    lines = [json.loads(line) for line in onebar(settings.data_dir, "audit", "--json").stdout.splitlines()]
    revoked = [(e["email"], e["detail"]) for e in lines if e["event"] == "session.revoke"]
    assert revoked == [("ada@example.com", "by operator (CLI); 3 session(s)")], "one line, none for the no-op"


def test_remove_asks_unless_yes_and_then_the_account_is_gone(settings, auth):
    auth.signup()
    assert_one_error_line(onebar(settings.data_dir, "user", "remove", "ada@example.com", check=False), "--yes")
    assert auth.me()["user"] is not None, "nothing removed without confirmation"
    onebar(settings.data_dir, "user", "remove", "ada@example.com", "--yes")
    assert auth.me()["user"] is None
    assert auth.login().status_code == 401
    assert onebar(settings.data_dir, "user", "list").stdout == "no users\n"


def test_invite_mails_a_sign_up_link_that_works_when_sign_up_is_by_invitation(settings, store, mailbox):
    from onebar.web import create_app

    env = {"ONEBAR_SMTP_URL": mailbox.url, "ONEBAR_PUBLIC_URL": "http://localhost:5000",
           "ONEBAR_SIGNUP": "invite"}
    out = onebar(settings.data_dir, "user", "invite", "grace@example.com", env=env).stdout
    assert "sent an invitation to grace@example.com" in out
    message = mailbox.wait_for("grace@example.com")
    link = message.get_body(preferencelist=("plain",)).get_content().split("http://localhost:5000", 1)[1].split()[0]

    app = create_app(settings.replace(signup="invite"), store)
    app.config["SERVER_NAME"] = "localhost:5000"  # the public URL's host, as browsers send it
    auth = AuthActions(app.test_client(), app)
    assert auth._client.get("/signup").status_code == 403, "no invitation, no sign-up"
    page = auth._client.get(link).get_data(as_text=True)
    assert 'value="grace@example.com"' in page and "readonly" in page
    from .conftest import csrf_token

    token = link.split("invite=", 1)[1]
    created = auth._client.post("/signup", data={
        "csrf_token": csrf_token(auth._client, link), "invite": token, "name": "Grace Hopper",
        "email": "mallory@example.com", "password": PASSWORD, "confirm": PASSWORD})
    assert created.status_code == 303
    user = auth.me()["user"]
    assert (user["email"], user["email_verified"]) == ("grace@example.com", True), "the invited address, confirmed"
    assert_one_error_line(onebar(settings.data_dir, "user", "invite", "grace@example.com", env=env, check=False),
                          "already has an account")


def test_an_invitation_mail_that_cannot_be_sent_prints_the_link_that_works(settings, store):
    from onebar.web import create_app

    from .live import free_port

    base = {"ONEBAR_PUBLIC_URL": "http://localhost:5000", "ONEBAR_SIGNUP": "invite"}
    onebar(settings.data_dir, "user", "invite", "grace@example.com", env=base)  # mail off: an earlier link
    nobody = {**base, "ONEBAR_SMTP_URL": f"smtp://127.0.0.1:{free_port('127.0.0.1')}"}  # nothing listens there
    result = onebar(settings.data_dir, "user", "invite", "grace@example.com", env=nobody, check=False)
    assert result.returncode == 1
    assert "cannot send mail" in result.stderr and "earlier links to grace@example.com no longer work" in result.stderr
    assert "Traceback" not in result.stderr
    link = result.stdout.split("http://localhost:5000", 1)[1].split()[0]

    app = create_app(settings.replace(signup="invite"), store)
    app.config["SERVER_NAME"] = "localhost:5000"
    page = app.test_client().get(link)
    assert page.status_code == 200 and 'value="grace@example.com"' in page.get_data(as_text=True), \
        "the printed link is the invitation that works now"


def test_an_invitation_works_once_and_not_again_after_the_account_is_removed(settings, store):
    from onebar.web import create_app

    from .conftest import csrf_token

    env = {"ONEBAR_PUBLIC_URL": "http://localhost:5000", "ONEBAR_SIGNUP": "invite"}  # mail off: the link is printed
    first = onebar(settings.data_dir, "user", "invite", "grace@example.com", env=env).stdout
    assert "it works once, for 7 days" in first
    link = first.split("http://localhost:5000", 1)[1].split()[0]
    app = create_app(settings.replace(signup="invite"), store)
    app.config["SERVER_NAME"] = "localhost:5000"

    def sign_up(client) -> object:  # type: ignore[no-untyped-def]
        return client.post("/signup", data={
            "csrf_token": csrf_token(client), "invite": link.split("invite=", 1)[1],
            "name": "Grace Hopper", "email": "grace@example.com", "password": PASSWORD, "confirm": PASSWORD})

    grace = AuthActions(app.test_client(), app)
    assert sign_up(grace._client).status_code == 303 and grace.me()["user"]["email"] == "grace@example.com"

    again = app.test_client()  # the same link, used a second time while the account exists
    for reply in (again.get(link), sign_up(again)):
        assert reply.status_code == 403
        assert "This invitation has been used" in reply.get_data(as_text=True)

    onebar(settings.data_dir, "user", "remove", "grace@example.com", "--yes")
    after = app.test_client()
    for reply in (after.get(link), sign_up(after)):
        assert reply.status_code == 403
        assert "This invitation has been used" in reply.get_data(as_text=True)
    assert store.get_user_by_email("grace@example.com") is None, "the old link did not bring the account back"

    # A new invitation works, and it replaces one sent before it.
    older = onebar(settings.data_dir, "user", "invite", "grace@example.com", env=env).stdout
    newer = onebar(settings.data_dir, "user", "invite", "grace@example.com", env=env).stdout
    link = older.split("http://localhost:5000", 1)[1].split()[0]
    assert sign_up(app.test_client()).status_code == 403, "replaced by the newer invitation"
    link = newer.split("http://localhost:5000", 1)[1].split()[0]
    assert sign_up(app.test_client()).status_code == 303
