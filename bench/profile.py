"""Where the service's time per ``/api/me`` goes, measured in-process.

No server and no sockets: the WSGI callables are called directly, and time is
this thread's CPU time (``time.thread_time``), the least noisy clock on a
shared machine. Three views:

* cost per request of the service, the raw-WSGI baseline and a one-route
  Flask app (the framework's floor);
* ablations: the same service with one piece taken out, and what that saves
  (a measurement, not a proposal to drop CORS or security headers);
* cProfile's cumulative share of each stage of a Flask request.

    python -m bench.profile            # prints the three tables
"""

from __future__ import annotations

import cProfile
import logging
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response
from flask.sessions import NullSession, SessionInterface
from werkzeug.test import EnvironBuilder

from onebar import logs
from onebar import settings as settings_mod
from onebar.sessions import SessionCodec
from onebar.web import create_app

from . import compare, loadgen, procs
from .baseline import from_data_dir
from .datagen import populate
from .me import APPS, MAX_AGE, ORIGIN

WSGI = Callable[[dict[str, Any], Callable[..., Any]], Any]


def cpu_us(app: WSGI, environ: dict[str, Any], calls: int = 2000, batches: int = 7) -> float:
    """Best-of-``batches`` thread CPU microseconds per request."""
    return compare.per_request_us(app, environ, calls=calls, batches=batches)


class _NoSession(SessionInterface):
    def open_session(self, app: Flask, request: object) -> NullSession:
        return NullSession()

    def save_session(self, *args: object) -> None:
        pass


@dataclass
class Fixture:
    data_dir: Path
    keys: tuple[str, str]
    cookie: str

    def settings(self, **changes: object) -> settings_mod.Settings:
        return settings_mod.load(environ={}, data_dir=self.data_dir, secret_keys=list(self.keys), **changes)

    def environ(self, signed_in: bool) -> dict[str, Any]:
        headers = {"Origin": ORIGIN, "Host": "localhost:5000"}
        if signed_in:
            headers["Cookie"] = f"onebar_session={self.cookie}"
        return EnvironBuilder(path="/api/me", headers=headers).get_environ()


def fixture(workdir: Path) -> Fixture:
    data = workdir / "profile"
    data.mkdir(parents=True)
    keys = ("profile-old-key-" + "x" * 24, "profile-new-key-" + "y" * 24)
    pairs = populate(data / "onebar.sqlite3", 100, apps=APPS, sample=1)
    return Fixture(data, keys, SessionCodec(keys, MAX_AGE).encode(*pairs[0]))


def _without_hooks(app: Flask, *names: str) -> Flask:
    hooks = app.after_request_funcs[None]
    app.after_request_funcs[None] = [f for f in hooks if not any(n in f.__name__ for n in names)]
    return app


def trimmed(settings: settings_mod.Settings) -> Flask:
    """The service without all four pieces: the most those four could give back."""
    app = _without_hooks(create_app(settings.replace(public_url="http://localhost:5000")), "security_headers", "cors")
    app.session_interface = _NoSession()
    return app


def _variants(fx: Fixture) -> Iterator[tuple[str, WSGI]]:
    yield "onebar (as served)", create_app(fx.settings())
    app = create_app(fx.settings())
    app.session_interface = _NoSession()
    yield "without Flask's session (CSRF cookie) on /api", app
    yield "without the security-headers hook", _without_hooks(create_app(fx.settings()), "security_headers")
    yield "without flask-cors", _without_hooks(create_app(fx.settings()), "cors")
    yield "with public_url set (no Host parsing)", create_app(fx.settings(public_url="http://localhost:5000"))
    yield "without all four", trimmed(fx.settings())


def floor_app() -> Flask:
    """Flask's own floor: one route, a constant answer."""
    app = Flask("floor")
    app.add_url_rule("/api/me", "me", lambda: Response(b'{"user":null}\n', mimetype="application/json"))
    return app


@dataclass
class CostRow:
    name: str
    signed_in_us: float
    signed_out_us: float


def costs(fx: Fixture) -> list[CostRow]:
    base = from_data_dir(fx.data_dir, fx.keys)
    rows = [CostRow("raw-WSGI baseline", cpu_us(base, fx.environ(True)), cpu_us(base, fx.environ(False))),
            CostRow("one-route Flask app (floor)", cpu_us(floor_app(), fx.environ(True)),
                    cpu_us(floor_app(), fx.environ(False)))]
    for name, app in _variants(fx):
        rows.append(CostRow(name, cpu_us(app, fx.environ(True)), cpu_us(app, fx.environ(False))))
    return rows


#: Stages of a Flask request, found in the profile by (file suffix, function).
STAGES = (
    ("request context push (incl. opening Flask's session)", "flask/ctx.py", "push"),
    ("before_request hooks (CSRF check)", "flask/app.py", "preprocess_request"),
    ("the view, whole", "onebar/web/jsonapi.py", "me"),
    ("… of which the cookie check and the store lookup", "onebar/web/state.py", "current_session"),
    ("… of which the links from the Host header", "onebar/web/state.py", "own_origin"),
    ("after_request: security headers", "onebar/web/__init__.py", "security_headers"),
    ("after_request: flask-cors", "flask_cors/extension.py", "cors_after_request"),
    ("after_request: session save", "flask/sessions.py", "save_session"),
    ("WSGI response out (headers, body)", "werkzeug/wrappers/response.py", "__call__"),
    ("request context pop (teardown)", "flask/ctx.py", "pop"),
)


def stages(fx: Fixture, signed_in: bool = True, calls: int = 3000) -> list[tuple[str, float]]:
    """Cumulative share (%) of each stage in cProfile of ``calls`` requests."""
    app = create_app(fx.settings())
    environ = fx.environ(signed_in)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        b"".join(app(dict(environ), lambda *args: None))
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = max(ct for (fn, _, name), (_, _, _, ct, _) in stats.items() if fn.endswith("flask/app.py")
                and name == "__call__")
    shares = []
    for label, suffix, func in STAGES:
        cum = sum(ct for (fn, _, name), (_, _, _, ct, _) in stats.items() if fn.endswith(suffix) and name == func)
        shares.append((label, 100 * cum / total))
    return shares


def through_server(workdir: Path, *, rounds: int, seconds: float, connections: int = 64,
                   progress: Callable[[str], None] = print) -> tuple[compare.Row, compare.Row]:
    """The served app and the trimmed one, each against the baseline, through waitress."""
    data = workdir / "profile-served"
    data.mkdir(parents=True)
    keys = procs.new_keys()
    pairs = populate(data / "onebar.sqlite3", 100, apps=APPS, sample=1)
    headers = {"Cookie": f"onebar_session={SessionCodec(keys, MAX_AGE).encode(*pairs[0])}", "Origin": ORIGIN}
    port = procs.free_port()
    argv = [sys.executable, "-m", "bench.profile", "serve-trimmed", "--data-dir", str(data), "--port", str(port)]
    trimmed_server = procs.server("trimmed", argv, port, data / "trimmed.log", procs.service_env(data, keys))
    with procs.service(data, keys) as svc, procs.baseline(data, keys) as base, trimmed_server as trim:
        if procs.get_json(trim.port, "/api/me", headers) is None:
            raise RuntimeError("the trimmed app did not answer")
        targets = [compare.Target(s.url + "/api/me", headers) for s in (base, svc, trim)]
        compare.warm_up(*targets)
        progress("/api/me signed in through waitress: baseline, as served, without the four pieces, interleaved")
        served, cut = compare.Row("as served", connections), compare.Row("without all four", connections)
        for n in range(rounds):
            order = [0, 1, 2][n % 3:] + [0, 1, 2][:n % 3]  # rotate who goes first
            results = {}
            for i in order:
                t = targets[i]
                results[i] = loadgen.run(t.url, connections=connections, seconds=seconds, headers=t.headers)
            for row, i in ((served, 1), (cut, 2)):
                row.baseline.results.append(results[0])
                row.subject.results.append(results[i])
            progress(f"  round {n + 1}/{rounds}: baseline {results[0].rps:,.0f}, as served {results[1].rps:,.0f}, "
                     f"without the four {results[2].rps:,.0f} req/s")
    return served, cut


def serve_trimmed(argv: list[str]) -> None:
    import argparse
    import os

    from onebar.wsgiserver import run

    parser = argparse.ArgumentParser(prog="python -m bench.profile serve-trimmed")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    keys = [k for k in os.environ["ONEBAR_SECRET_KEYS"].split(",") if k]
    settings = settings_mod.load(environ={}, data_dir=args.data_dir, secret_keys=keys)
    logging.basicConfig(level=logging.INFO, format=logs.FORMAT)
    run(trimmed(settings), host=procs.HOST, port=args.port, threads=8, name="onebar-trimmed")


def main() -> None:
    if sys.argv[1:2] == ["serve-trimmed"]:
        serve_trimmed(sys.argv[2:])
        return
    with tempfile.TemporaryDirectory(prefix="onebar-profile-") as tmp:
        fx = fixture(Path(tmp))
        print(f"{'thread CPU per /api/me request':48s} {'signed in':>10s} {'signed out':>11s}")
        rows = costs(fx)
        for r in rows:
            print(f"{r.name:48s} {r.signed_in_us:8.0f} µs {r.signed_out_us:8.0f} µs")
        print("\ncProfile, signed in: cumulative share of the service's time per request")
        for label, share in stages(fx):
            print(f"{label:56s} {share:5.1f} %")
        served = through_server(Path(tmp), rounds=3, seconds=3)
        print()
        for r in served:
            print(f"through waitress, {r.case}: {r.subject.rps:,.0f} req/s vs baseline {r.baseline.rps:,.0f}: "
                  f"ratio {r.ratio:.2f}")


if __name__ == "__main__":
    main()


def markdown(cost_rows: list[CostRow], stage_rows: list[tuple[str, float]],
             served: tuple[compare.Row, compare.Row] | None, command: str) -> str:
    from .report import ms, num, stamp, table

    own = next(r for r in cost_rows if r.name.startswith("onebar"))
    base = cost_rows[0]
    return "\n".join([
        "## Where the gap goes (profile)", "",
        "In-process, no sockets: each WSGI callable is called directly and timed by this thread's CPU clock "
        "(best of 7 batches of 2 000 requests). The gap in the tables above is this cost per request on top of "
        "what waitress itself spends per request, which both sides pay.", "",
        stamp(command), "",
        table(["thread CPU per `/api/me` request", "signed in", "saves", "signed out", "saves"],
              [[r.name, f"{r.signed_in_us:.0f} µs", _saves(r, own.signed_in_us, r.signed_in_us),
                f"{r.signed_out_us:.0f} µs", _saves(r, own.signed_out_us, r.signed_out_us)] for r in cost_rows]),
        "",
        f"The service spends {own.signed_in_us / base.signed_in_us:.0f}× the baseline's CPU per signed-in "
        f"request ({own.signed_in_us:.0f} vs {base.signed_in_us:.0f} µs) and "
        f"{own.signed_out_us / base.signed_out_us:.0f}× per signed-out one. The ablation rows take one piece out "
        "to measure it (they are not proposals to drop CORS or headers); single rows are within about ±15 µs of "
        "noise, the last row is all four together.", "",
        "cProfile of the served app, signed in: each stage's cumulative share of the time per request "
        "(cProfile inflates many small calls, so read the shares as an order, not as exact µs):", "",
        table(["stage of a Flask request", "share"], [[label, f"{share:.0f} %"] for label, share in stage_rows]),
        "", *_served_markdown(served, ms, num, table), finding(cost_rows, served), ""])


def _saves(row: CostRow, served_us: float, row_us: float) -> str:
    return f"{served_us - row_us:.0f} µs" if row.name.startswith(("without", "with ")) else ""


def _served_markdown(served, ms, num, table) -> list[str]:  # type: ignore[no-untyped-def]
    if served is None:
        return []
    rows = [[r.case, num(r.subject.rps), ms(r.subject.p50_ms), ms(r.subject.p99_ms), num(r.baseline.rps),
             f"**{r.ratio:.2f}**"] for r in served]
    return [
        f"The same two apps through waitress (8 threads) at {served[0].connections} connections, signed in, each "
        "against the baseline in interleaved rounds: how much of benchmark 1's gap the four pieces are.", "",
        table(["service", "req/s", "p50 ms", "p99 ms", "baseline req/s", "ratio (req/s)"], rows), ""]


#: What each ablated piece is, and a cheaper way to do the same work.
PIECES = {
    "without Flask's session (CSRF cookie) on /api": (
        "opening Flask's cookie session, which only the HTML forms need for their CSRF token",
        "skip it for `/api/*`: a `SecureCookieSessionInterface` whose `open_session` returns None there"),
    "without the security-headers hook": (
        "the security-headers hook: appending nosniff, Referrer-Policy, Vary and Cache-Control to werkzeug's "
        "header list",
        "little left: on JSON answers it already appends a fixed list without parsing `Vary` or the MIME type"),
    "without flask-cors": (
        "flask-cors' after-request hook: it re-derives its options and matches `Origin` against each allowed "
        "origin with regular expressions on every request",
        "for a fixed allowlist, a hook that looks `Origin` up in `state.app_origins`, sets the two headers and "
        "answers preflights does the same work in a few µs (or keep the well-known library and its µs)"),
    "with public_url set (no Host parsing)": (
        "building `links` from the `Host` header: `request.host_url` is an IRI conversion",
        "build them once per scheme and host, or from `public_url`, which production sets anyway"),
}
#: Below this many µs a piece is within the ablation's noise.
NOISE_US = 8


def finding(cost_rows: list[CostRow], served: tuple[compare.Row, compare.Row] | None) -> str:
    own = next(r for r in cost_rows if r.name.startswith("onebar"))
    base, floor = cost_rows[0], cost_rows[1]
    cut = next(r for r in cost_rows if r.name == "without all four")
    pieces = sorted(((own.signed_in_us - r.signed_in_us, r.name) for r in cost_rows if r.name in PIECES),
                    reverse=True)
    lines = [
        f"**Finding** (this run). A signed-in `/api/me` costs the service {own.signed_in_us:.0f} µs of CPU against "
        f"the baseline's {base.signed_in_us:.0f}, though the cookie check and the one store lookup are the same "
        f"work on both sides. The four pieces measured above cost {own.signed_in_us - cut.signed_in_us:.0f} µs "
        f"together. Without them {cut.signed_in_us:.0f} µs remain: Flask's floor ({floor.signed_in_us:.0f} µs "
        "for a one-route app: request context, routing, a `Response`), the work the baseline also does, and "
        "the app's glue (the CSRF before-request hook, werkzeug's cookie parsing, Flask's request-local "
        "proxies and `g`).", "",
        "The pieces, largest first, with a cheaper way to do the same work (for `onebar/web/`; the benchmark "
        "changes nothing):", ""]
    for us, name in pieces:
        what, cheaper = PIECES[name]
        cost = f"about {us:.0f} µs" if us >= NOISE_US else "within noise now"
        lines.append(f"- {what}: **{cost}**." + (f" Cheaper: {cheaper}." if us >= NOISE_US else ""))
    if served is not None:
        as_served, trimmed_row = served
        lines += ["", f"Through waitress at {as_served.connections} connections the service does "
                  f"{as_served.ratio:.2f} of the baseline's requests per second, and {trimmed_row.ratio:.2f} with all "
                  "four pieces taken out. Two ratios closer than about 0.07 are within this machine's run-to-run "
                  "noise; the in-process table above is the steadier measure of what a piece costs."]
    return "\n".join(lines)
