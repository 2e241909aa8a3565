"""SessionCodec.decode: whatever a browser sends, the answer is "no session" or the right one."""

from __future__ import annotations

import time_machine
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer

from onebar.sessions import MAX_COOKIE_LENGTH, SESSION_SALT, SessionCodec, SessionToken

from .conftest import examples

OLD, NEW = "fuzz-old-key-0123456789abcdef0123", "fuzz-new-key-0123456789abcdef0123"
CODEC = SessionCodec([OLD, NEW], max_age=3600)
B64 = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=60)
ids = st.text(min_size=1, max_size=80)
anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=10,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["s", "u", "x"]), inner, max_size=3),
    max_leaves=8,
)


def _is_none_or_token(result: object) -> bool:
    return result is None or isinstance(result, SessionToken)


@examples(300)
@given(anything)
def test_any_value_decodes_to_none_or_a_token_without_raising(value):
    assert _is_none_or_token(CODEC.decode(value))


@examples(300)
@given(st.booleans(), B64, B64, B64)
def test_token_shaped_garbage_is_no_session(compressed, payload, stamp, signature):
    value = ("." if compressed else "") + f"{payload}.{stamp}.{signature}"
    assert CODEC.decode(value) is None


@examples(200)
@given(ids, ids)
def test_what_is_encoded_decodes_to_the_same_identity(sid, uid):
    token = CODEC.decode(CODEC.encode(sid, uid))
    assert token is not None and (token.sid, token.uid, token.stale) == (sid, uid, False)


@examples(300)
@given(ids, ids, st.data())
def test_a_changed_cookie_is_no_session_or_the_same_one(sid, uid, data):
    value = CODEC.encode(sid, uid)
    i = data.draw(st.integers(0, len(value) - 1), label="position")
    kind = data.draw(st.sampled_from(["replace", "delete", "insert", "truncate"]), label="kind")
    char = data.draw(st.characters(), label="char")
    changed = {"replace": value[:i] + char + value[i + 1:], "delete": value[:i] + value[i + 1:],
               "insert": value[:i] + char + value[i:], "truncate": value[:i]}[kind]
    token = CODEC.decode(changed)
    # Base64's unused low bits can change without changing the bytes; never to another identity.
    assert token is None or (token.sid, token.uid) == (sid, uid)


@examples(150)
@given(json_values)
def test_a_validly_signed_value_of_the_wrong_shape_is_no_session(payload):
    signed = URLSafeTimedSerializer(NEW, salt=SESSION_SALT).dumps(payload)
    token = CODEC.decode(signed)
    shaped = (isinstance(payload, dict) and isinstance(payload.get("s"), str) and payload["s"]
              and isinstance(payload.get("u"), str) and payload["u"])
    assert (token is not None) == bool(shaped)


@examples(100)
@given(ids, ids, st.sampled_from(["onebar.csrf", "onebar.handoff", "itsdangerous", "cookie-session", ""]))
def test_a_value_signed_for_another_purpose_is_no_session(sid, uid, salt):
    assert CODEC.decode(URLSafeTimedSerializer(NEW, salt=salt).dumps({"s": sid, "u": uid})) is None


@examples(100)
@given(ids, ids)
def test_keys_rotate_old_cookies_verify_as_stale_until_the_key_is_dropped(sid, uid):
    old_cookie = SessionCodec([OLD], max_age=3600).encode(sid, uid)
    token = CODEC.decode(old_cookie)
    assert token is not None and token.stale and (token.sid, token.uid) == (sid, uid)
    assert SessionCodec([NEW], max_age=3600).decode(old_cookie) is None


@examples(60)
@given(ids, ids, st.integers(min_value=3601, max_value=10 * 365 * 24 * 3600))
def test_an_expired_cookie_is_no_session(sid, uid, later):
    with time_machine.travel(1_700_000_000, tick=False):
        value = CODEC.encode(sid, uid)
    with time_machine.travel(1_700_000_000 + later, tick=False):
        assert CODEC.decode(value) is None


@examples(60)
@given(st.integers(min_value=MAX_COOKIE_LENGTH + 1, max_value=20 * MAX_COOKIE_LENGTH))
def test_an_over_long_value_is_not_even_looked_at(length):
    base = CODEC.encode("s", "u")
    assert CODEC.decode(base + "A" * (length - len(base))) is None


@examples(100)
@given(st.text(min_size=1, max_size=40).filter(lambda k: k not in (OLD, NEW)), ids, ids)
def test_a_cookie_signed_with_any_other_key_is_no_session(key, sid, uid):
    assert CODEC.decode(SessionCodec([key], max_age=3600).encode(sid, uid)) is None
