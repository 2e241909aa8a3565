"""No query of the store scans users or sessions, whatever their number.

Benchmark 5 shows /api/me's cost is flat from 10 to 1 000 000 users; this is
why, checked without timing: every statement the store runs is recorded and
SQLite's plan for it must use an index (``SEARCH ... USING``), never ``SCAN``
a whole table, except ``list_users``, which lists everyone on purpose.
"""

from __future__ import annotations

import sqlite3
import time

from onebar.store import App, SQLiteStore


def test_every_per_request_query_uses_an_index(tmp_path):
    path = tmp_path / "plans.sqlite3"
    store = SQLiteStore(path)
    seen: list[str] = []
    conn = store._connect()  # this thread's connection: every call below runs on it
    conn.set_trace_callback(seen.append)

    now = int(time.time())
    store.add_app(App("notes", "Notes", "http://localhost:5001/"))
    user = store.create_user("plan@example.com", "Plan", "hash")
    sid = store.create_session(user.id, expires_at=now + 60)
    store.get_user(user.id)
    store.get_credentials("plan@example.com")
    store.get_active_session(sid, now)
    store.extend_session(sid, expires_at=now + 120, now=now)
    store.list_sessions(user.id, now)
    store.update_user(user.id, name="Plan B")
    store.revoke_session_key(user.id, "somekey")
    store.revoke_user_sessions(user.id, except_sid=sid)
    store.revoke_session(sid)
    store.list_apps()
    conn.set_trace_callback(None)

    check = sqlite3.connect(path)
    scans = {}
    for sql in {s for s in seen if s.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE"))}:
        if "COUNT(*)" in sql or "FROM apps" in sql or "sqlite_" in sql or "PRAGMA" in sql.upper():
            continue  # the apps table is a handful of rows by design
        plan = [row[-1] for row in check.execute("EXPLAIN QUERY PLAN " + sql)]
        if any(step.startswith("SCAN") for step in plan):
            scans[sql] = plan
    check.close()
    store.close()
    assert len(seen) > 10, "the trace saw no queries: the test would pass without checking anything"
    assert scans == {}
