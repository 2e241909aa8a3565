"""The service down: demo sites keep answering, quickly and signed out; they know the user again on its return.

The HTTP part of ``python -m bench.drill --only down`` (the drill also checks
the bar's fallback in Chromium): the service, Tasks (Flask), Notes (Django)
and the Handbook (static) run as in ``onebar demo``; the service is killed
with SIGKILL, pages are fetched with a session the sites had seen (cached)
and one they had not, then the service is restarted.
"""

from __future__ import annotations

from bench.drills.down import run_down


def test_demo_sites_survive_the_service_going_down_and_coming_back(tmp_path):
    r = run_down(tmp_path, browser=False)
    assert r.problems == []
    assert r.slowest_ms < 1000
    assert set(r.pickup_s) == {"Tasks", "Notes"}
