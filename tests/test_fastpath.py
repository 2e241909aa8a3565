"""The signed-out /api/me answer is replayed, never at the cost of a wrong answer."""

from onebar.web.fastpath import SignedOutMeCache

NOTES, TASKS = "http://localhost:5001", "https://tasks.example.com"


def answer(client, origin=None, **kw):
    r = client.get("/api/me", headers={"Origin": origin} if origin else {}, **kw)
    return r.status_code, sorted(r.headers.items()), r.get_data()


def test_replayed_answer_is_the_computed_one_for_each_origin(client):
    for origin in (NOTES, "https://evil.example", TASKS, None):
        first, again = answer(client, origin), answer(client, origin)
        assert first == again
        acao = dict(first[1]).get("Access-Control-Allow-Origin")
        assert acao == (origin if origin in (NOTES, TASKS) else None)


def test_an_evil_origin_never_gets_a_registered_origins_answer(client):
    answer(client, NOTES)
    status, headers, _ = answer(client, "https://evil.example")
    assert "Access-Control-Allow-Origin" not in dict(headers)


def test_signed_in_and_bad_cookie_requests_reach_the_app(client, auth):
    assert answer(client)[2].startswith(b'{"user":null')  # cached now
    client.set_cookie("onebar_session", "forged", domain="localhost")
    r = client.get("/api/me")
    assert any(h.startswith("onebar_session=;") for h in r.headers.getlist("Set-Cookie")), "forged cookie cleared"
    client.delete_cookie("onebar_session", domain="localhost")
    auth.signup()
    assert auth.me()["user"]["name"] == "Ada Lovelace"
    auth.logout()
    assert auth.me()["user"] is None


def test_the_cache_is_bounded(app):
    cache = app.wsgi_app
    while not isinstance(cache, SignedOutMeCache):  # inside the Host allowlist
        cache = cache.app
    client = app.test_client()
    for n in range(cache.max_entries + 50):
        client.get("/api/me", headers={"Origin": f"http://h{n}.example"})
    assert len(cache._answers) == cache.max_entries
