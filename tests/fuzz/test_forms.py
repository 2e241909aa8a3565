"""The HTML forms, fuzzed through the Flask test client: never a 500, never an open redirect.

Fields get arbitrary text, near-valid values, huge values, repeated and unknown
keys; bodies get arbitrary bytes under arbitrary content types. With CSRF on
(the service as served) and off (so input reaches the validators and views).
"""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from onebar.redirects import safe_next

from ..conftest import PASSWORD
from .conftest import FuzzApp, examples
from .test_next_validator import targets

OWN = "http://localhost:5000"
COOKIE = "onebar_session"
MULTIPART = b'--x\r\nContent-Disposition: form-data; name="email"\r\n\r\na\r\n--x--'


emails = st.sampled_from(["fuzz@example.com", "FUZZ@EXAMPLE.COM", " fuzz@example.com ", "new@example.com",
                          "a@b", "@", "x" * 400 + "@example.com", "ada@example.com\x00", ""]) | st.text(max_size=40)
passwords_ = st.sampled_from([PASSWORD, "", "short", "x" * 2000, "pässwörd-ünïcode"]) | st.text(max_size=40)
names = st.sampled_from(["Ada Lovelace", "", " ", "x" * 200, "<script>alert(1)</script>", "Ada\x00", "\u202e"]) \
    | st.text(max_size=40)
urls = st.sampled_from(["https://example.com/a.png", "http://example.com/a.png", "javascript:alert(1)", "", "x" * 600,
                        "https://", "https://[::1", "data:image/png;base64,AAAA"]) | st.text(max_size=40)
nexts = targets


def _pairs(fields: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Known fields in any order, some missing, some twice, plus unknown ones."""
    known = st.lists(st.sampled_from(sorted(fields)).flatmap(lambda k: st.tuples(st.just(k), fields[k])), max_size=8)
    unknown = st.lists(st.tuples(st.text(max_size=8), st.text(max_size=20)), max_size=2)
    return st.builds(lambda a, b: a + b, known, unknown)


LOGIN = {"email": emails, "password": passwords_, "next": nexts}
SIGNUP = {"name": names, "email": emails, "password": passwords_, "confirm": passwords_, "next": nexts}
PROFILE = {"name": names, "avatar_url": urls}
PASSWORD_FORM = {"current": passwords_, "password": passwords_, "confirm": passwords_}


def _post(fa: FuzzApp, path: str, pairs: list[tuple[str, str]],  # type: ignore[no-untyped-def]
          cookie: str | None = None):
    client = fa.app.test_client()
    if cookie:
        client.set_cookie(COOKIE, cookie, domain="localhost")
    return client.post(path, data=urlencode(pairs), content_type="application/x-www-form-urlencoded",
                       base_url=OWN)


def _check(response, path: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, f"{path} answered {response.status_code}"
    location = response.headers.get("Location")
    if location is not None:
        allowed = {"http://localhost:5001", "https://tasks.example.com", OWN}
        assert safe_next(location, allowed, "REFUSED") != "REFUSED" or location.startswith(OWN + "/"), \
            f"{path} redirected to {location!r}"


@examples(60)
@given(_pairs(LOGIN))
def test_login_form(forms_app, pairs):
    _check(_post(forms_app, "/login", pairs), "/login")


@examples(60)
@given(_pairs(SIGNUP))
def test_signup_form(forms_app, pairs):
    _check(_post(forms_app, "/signup", pairs), "/signup")


@examples(20)
@given(nexts, st.booleans())
def test_valid_sign_in_and_sign_up_redirect_only_where_allowed(forms_app, next_, signup):
    if signup:
        email = f"new-{abs(hash(next_))}@example.com"
        pairs = [("name", "New"), ("email", email), ("password", PASSWORD), ("confirm", PASSWORD), ("next", next_)]
        response = _post(forms_app, "/signup", pairs)
    else:
        response = _post(forms_app, "/login", [("email", forms_app.email), ("password", PASSWORD), ("next", next_)])
    assert response.status_code in (303, 409)
    _check(response, "/signup" if signup else "/login")


@examples(40)
@given(_pairs(PROFILE))
def test_profile_form(forms_app, pairs):
    _check(_post(forms_app, "/account/profile", pairs, forms_app.new_session_cookie()), "/account/profile")


@examples(25)
@given(_pairs(PASSWORD_FORM))
def test_password_form(forms_app, pairs):
    _check(_post(forms_app, "/account/password", pairs, forms_app.throwaway_cookie()), "/account/password")


@examples(40)
@given(st.sampled_from(["/logout", "/account/sessions/revoke-all"])
       | st.text(max_size=70).map(lambda k: f"/account/sessions/{k.replace('/', '')}/revoke"),
       _pairs({"next": nexts}), st.booleans())
def test_sign_out_and_revoke_forms(forms_app, path, pairs, signed_in):
    cookie = forms_app.throwaway_cookie() if signed_in else None
    _check(_post(forms_app, path, pairs, cookie), path)


@examples(60)
@given(st.sampled_from(["/login", "/signup", "/logout", "/account/profile", "/account/password", "/api/logout"]),
       st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                        "multipart/form-data", "application/json", "text/plain", "",
                        "application/x-www-form-urlencoded; charset=latin-1"]),
       st.binary(max_size=300) | st.sampled_from([MULTIPART, b"email=%ff%fe&password=%00", b'{"email": [1]}',
                                                   b"a" * 70000]),
       st.booleans())
def test_any_body_with_csrf_on(fuzz_app, path, content_type, body, signed_in):
    client = fuzz_app.app.test_client()
    headers = {"Origin": "http://localhost:5001"} if path.startswith("/api/") else {}
    if signed_in:
        client.set_cookie(COOKIE, fuzz_app.new_session_cookie(), domain="localhost")
    response = client.post(path, data=body, content_type=content_type, headers=headers, base_url=OWN)
    _check(response, path)


@examples(60)
@given(st.sampled_from(["/login", "/signup", "/logout", "/", "/account"]), nexts, st.text(max_size=20))
def test_pages_with_any_query(fuzz_app, path, next_, other):
    response = fuzz_app.app.test_client().get(path, query_string={"next": next_, other: other}, base_url=OWN)
    _check(response, path)
    assert response.status_code in (200, 303)
