"""safe_next: a ``next=`` value leads to the service itself or a registered app, nowhere else.

The accepted targets are checked with a second, independent reading that
does what browsers do with special (http/https) URLs: skip any run of slashes
and backslashes after the scheme, and take the host after the last ``@``.
"""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from onebar.redirects import MAX_LENGTH, safe_next

from .conftest import examples

OWN = "http://localhost:5000"
ALLOWED = frozenset({OWN, "http://localhost:5001", "https://tasks.example.com"})
DEFAULT = "/"

schemes = st.sampled_from(["http://", "https://", "HTTP://", "http:/", "http:", "http:\\\\", "//", "/", "\\\\", "/\\",
                           "javascript:", "data:", "ftp://", "", " http://", "http://\t", "\x00http://"])
userinfo = st.sampled_from(["", "user@", "localhost:5001@", "tasks.example.com@", ":@", "a:b@"])
hosts = st.sampled_from(["localhost", "LOCALHOST", "localhost.", "tasks.example.com", "evil.com", "127.0.0.1",
                         "[::1]", "localhost:5001.evil.com", "tasks.example.com.evil.com", "evil.com#",
                         "xn--lcalhost-9za", "lоcalhost", "tasks.example.com%2f", ""])
ports = st.sampled_from(["", ":5000", ":5001", ":80", ":443", ":0", ":65536", ":5001:5001", ":-1", ": 5001"])
rests = st.sampled_from(["", "/", "/path?q=1#f", "?next=//evil.com", "#@evil.com", "/\\evil.com", "@evil.com",
                         "\\@evil.com", "/%2F%2Fevil.com", "\n/evil", " "])
urlish = st.builds(lambda *p: "".join(p), schemes, userinfo, hosts, ports, rests)
targets = urlish | st.text(max_size=60) | st.builds(lambda a, b: a + b, urlish, st.text(max_size=20))

_STRIP = re.compile(r"[\t\n\r]")


def browser_origin(url: str) -> str | None:
    """The origin a browser would go to for an absolute http(s) URL (a rough WHATWG reading)."""
    url = _STRIP.sub("", url).strip("\x00 \x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f")
    scheme, sep, rest = url.partition(":")
    if not sep or scheme.lower() not in ("http", "https"):
        return None
    rest = rest.lstrip("/\\")
    authority = re.split(r"[/\\?#]", rest, maxsplit=1)[0]
    host = authority.rpartition("@")[2].lower()
    default = ":80" if scheme.lower() == "http" else ":443"
    if host.endswith(default):
        host = host[: -len(default)]
    return f"{scheme.lower()}://{host.rstrip('.')}"


@examples(1000)
@given(targets)
@example("https://tasks.example.com:0")  # found by the thorough run: port 0 once read as "no port"
@example("http://localhost:5001@evil.com")
@example("/\\evil.com")
def test_next_is_the_default_or_a_target_on_an_allowed_origin(target):
    result = safe_next(target, ALLOWED, DEFAULT)
    assert result in (target, DEFAULT)
    if result == DEFAULT:
        return
    if target.startswith("/"):
        cleaned = _STRIP.sub("", target)
        assert not cleaned.startswith(("//", "/\\")), "a protocol-relative URL passed as a path"
        assert not any(c.isspace() or ord(c) < 0x20 or c == "\\" for c in target)
    else:
        assert browser_origin(target) in ALLOWED, f"{target!r} would take a browser to {browser_origin(target)}"


@examples(200)
@given(st.sampled_from(sorted(ALLOWED)), st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/-_.~", max_size=40))
def test_paths_on_allowed_origins_are_kept(origin, path):
    target = f"{origin}/{path}"
    assert safe_next(target, ALLOWED, DEFAULT) == target


@examples(100)
@given(st.integers(min_value=MAX_LENGTH + 1, max_value=4 * MAX_LENGTH))
def test_over_long_targets_are_refused(length):
    target = OWN + "/" + "a" * (length - len(OWN) - 1)
    assert safe_next(target, ALLOWED, DEFAULT) == DEFAULT


@examples(200)
@given(st.none() | st.integers() | st.binary() | st.lists(st.text(max_size=5), max_size=3))
def test_non_text_is_the_default(value):
    assert safe_next(value, ALLOWED, DEFAULT) == DEFAULT
