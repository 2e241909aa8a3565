"""Benchmarks 1 and 2: ``GET /api/me`` signed in and signed out, against the baseline.

Both servers run over the same database (1 000 users, each with a session)
under the same server and settings (granian, 1 worker × 8 threads, ``localhost``); the
requests carry ``Origin`` of a registered app, as the bar's do. Before any load
both answers are checked to be the same document.

Row 2b is the bar of a site on another registrable domain: the same user's
session, sent as a site credential (``Authorization: Bearer``, bound to the
``Origin``; onebar.handoff) instead of the cookie, against the baseline's
signed-in cookie answer (the same document: one signature checked, one
session looked up; the baseline has no credentials of its own).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from onebar.handoff import SiteCredentials
from onebar.sessions import SessionCodec
from onebar.store import App, SQLiteStore

from . import compare, procs
from .compare import Row, Target
from .datagen import populate

ORIGIN = "http://localhost:5001"
APPS = (App("notes", "Notes", ORIGIN + "/"), App("tasks", "Tasks", "http://localhost:5002/"))
USERS = 1000
MAX_AGE = 14 * 24 * 3600


def same_answer(a: procs.ChildServer, b: procs.ChildServer, headers: dict[str, str]) -> dict[str, object]:
    """Both servers answer the same status and document (links aside: ports differ)."""
    docs = []
    for server in (a, b):
        doc = procs.get_json(server.port, "/api/me", headers)
        assert isinstance(doc, dict)
        docs.append({k: v for k, v in doc.items() if k != "links"})
    if docs[0] != docs[1]:
        raise RuntimeError(f"the service and the baseline disagree: {docs[0]} != {docs[1]}")
    return docs[0]


def run(workdir: Path, *, connections: Sequence[int], rounds: int, seconds: float,
        progress: Callable[[str], None] = print) -> dict[str, list[Row]]:
    data = workdir / "me"
    data.mkdir(parents=True)
    keys = procs.new_keys()
    pairs = populate(data / "onebar.sqlite3", USERS, apps=APPS, sample=1)
    cookie = SessionCodec(keys, MAX_AGE).encode(*pairs[0])
    signed_in = {"Cookie": f"onebar_session={cookie}", "Origin": ORIGIN}
    signed_out = {"Origin": ORIGIN}
    bearer = {"Authorization": f"Bearer {site_credential(data / 'onebar.sqlite3', keys, pairs[0][0])}",
              "Origin": ORIGIN}
    out: dict[str, list[Row]] = {}
    with procs.service(data, keys) as svc, procs.baseline(data, keys) as base:
        if same_answer(svc, base, signed_in)["user"] is None:
            raise RuntimeError("the minted cookie does not sign in; the benchmark would measure the wrong path")
        if same_answer(svc, base, signed_out)["user"] is not None:
            raise RuntimeError("signed out answered with a user")
        if procs.get_json(svc.port, "/api/me", bearer) != procs.get_json(svc.port, "/api/me", signed_in):
            raise RuntimeError("the site credential does not answer as the cookie does")
        for key, case, headers, base_headers in (("me_signed_in", "signed in", signed_in, signed_in),
                                                 ("me_signed_out", "signed out", signed_out, signed_out),
                                                 ("me_bearer", "site credential", bearer, signed_in)):
            subject, baseline = Target(svc.url + "/api/me", headers), Target(base.url + "/api/me", base_headers)
            compare.warm_up(baseline, subject)
            progress(f"/api/me {case}: onebar serve vs raw-WSGI baseline")
            out[key] = compare.measure(case, subject, baseline, connections=connections, rounds=rounds,
                                       seconds=seconds, progress=progress)
    return out


def site_credential(database: Path, keys: Sequence[str], sid: str) -> str:
    """A site credential for ``ORIGIN`` over the session ``sid``, as ``POST /api/token`` issues it."""
    import time

    store = SQLiteStore(str(database))
    try:
        active = store.get_active_session(sid, int(time.time()))
        if active is None:
            raise RuntimeError("the benchmark's session is not active")
        return SiteCredentials(list(keys), MAX_AGE).issue(active.session.key, ORIGIN)
    finally:
        store.close()


TARGET = 0.6


def markdown(results: dict[str, list[Row]], command: str) -> str:
    from .report import ms, num, stamp, table

    out = ["## 1–2. `GET /api/me` against a raw-WSGI baseline", "",
           "Signed in (a valid cookie, `Origin` of a registered app) and signed out (no cookie), through "
           "`onebar serve` (granian, 1 worker × 8 threads, access log on) and through `bench/baseline.py` under "
           "the same server with the same worker and threads, over the same database of "
           f"{USERS:,} users. Ratio = onebar req/s ÷ baseline req/s, median of the per-round ratios; "
           "latencies are medians over rounds of wrk's percentiles.", "", stamp(command), ""]
    notes = {"me_bearer": ["The bar of a site on another registrable domain sends its site credential "
                           "(`Authorization: Bearer`, bound to its `Origin`) instead of the cookie: the same user "
                           "and session as row 1, answered on the same framework-free path. The baseline is row 1's "
                           "(its signed-in cookie answer: the same document, one signature and one lookup); it has "
                           "no credentials of its own.", ""]}
    for key, title in (("me_signed_in", "1. Signed in"), ("me_signed_out", "2. Signed out (the anonymous fast path)"),
                       ("me_bearer", "2b. Signed in with a site credential (cross-site)")):
        rows = results.get(key)
        if not rows:
            continue
        out += [f"### {title}", "", *notes.get(key, [])]
        out.append(table(
            ["connections", "onebar req/s", "p50 ms", "p99 ms", "baseline req/s", "p50 ms", "p99 ms",
             "ratio (req/s)"],
            [[r.connections, num(r.subject.rps), ms(r.subject.p50_ms), ms(r.subject.p99_ms), num(r.baseline.rps),
              ms(r.baseline.p50_ms), ms(r.baseline.p99_ms),
              f"**{r.ratio:.2f}**" + (" ⚠ errors" if r.subject.failures or r.baseline.failures else "")]
             for r in rows]))
        at64 = [r for r in rows if r.connections == 64]
        if at64:
            verdict = "met" if at64[0].ratio >= TARGET else "not met"
            out += ["", f"Target ≥ {TARGET} of the baseline at 64 connections: {at64[0].ratio:.2f}, {verdict}."]
        out.append("")
    return "\n".join(out)


def run_fastpath(workdir: Path, *, connections: Sequence[int], rounds: int, seconds: float,
                 progress: Callable[[str], None] = print) -> list[Row]:
    """Signed-in ``GET /api/me`` through Flask against the same through the fast path (``onebar.web.fastpath``).

    One service: a query string is the documented way past the fast path, so
    ``/api/me?via=flask`` is the same request answered by Flask's route, hooks
    and flask-cors. Both answers are checked to be the same document first.
    """
    data = workdir / "fastpath"
    data.mkdir(parents=True)
    keys = procs.new_keys()
    pairs = populate(data / "onebar.sqlite3", USERS, apps=APPS, sample=1)
    signed_in = {"Cookie": f"onebar_session={SessionCodec(keys, MAX_AGE).encode(*pairs[0])}", "Origin": ORIGIN}
    with procs.service(data, keys) as svc:
        fast, flask = (procs.get_json(svc.port, path, signed_in) for path in ("/api/me", "/api/me?via=flask"))
        if fast != flask or not isinstance(fast, dict) or fast.get("user") is None:
            raise RuntimeError(f"the fast path and Flask disagree, or nobody is signed in: {fast} != {flask}")
        subject, baseline = Target(svc.url + "/api/me?via=flask", signed_in), Target(svc.url + "/api/me", signed_in)
        compare.warm_up(baseline, subject)
        progress("/api/me signed in: through Flask vs the fast path")
        return compare.measure("through Flask", subject, baseline, connections=connections, rounds=rounds,
                               seconds=seconds, progress=progress)


def markdown_fastpath(rows: list[Row], command: str) -> str:
    from .report import comparison_table, stamp

    out = ["## 2c. What the fast path buys: `GET /api/me` through Flask against the fast path", "",
           "`onebar/web/fastpath.py` answers a plain `GET /api/me` (cookie, site credential or neither) "
           "without Flask; anything unusual, a query string included, goes to the Flask app, which gives "
           "the same answer (`tests/test_fastpath.py`). Here one `onebar serve` (granian, 1 worker × 8 "
           "threads) answers the same signed-in request both ways: `/api/me?via=flask` (Flask's routing, "
           "hooks and flask-cors) against `/api/me` (the fast path), in interleaved rounds. Ratio = Flask "
           "req/s ÷ fast path req/s.", "", stamp(command), "",
           comparison_table(rows, "through Flask", "fast path"), ""]
    at64 = [r for r in rows if r.connections == 64]
    if at64:
        out.append(f"At 64 connections Flask answers {at64[0].ratio:.2f} × the fast path's requests per "
                   "second: the gap is what the special case is kept for.")
    return "\n".join(out)
