"""The service as `onebar serve` runs it: granian on a real localhost port."""

import json
import urllib.request

from .live import start_service


def test_served_service_answers_me_with_cors_for_a_registered_origin(tmp_path):
    with start_service(tmp_path / "svc", apps=[("notes", "Notes", "http://localhost:5001/")]) as svc:
        req = urllib.request.Request(svc.url + "/api/me", headers={"Origin": "http://localhost:5001"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            body = json.load(resp)
            assert resp.headers["Access-Control-Allow-Origin"] == "http://localhost:5001"
            assert resp.headers["Access-Control-Allow-Credentials"] == "true"
            assert resp.headers["Cache-Control"] == "no-store"
        assert body["user"] is None
        assert body["apps"] == [{"id": "notes", "name": "Notes", "url": "http://localhost:5001/"}]
        assert body["links"]["login"] == svc.url + "/login"
