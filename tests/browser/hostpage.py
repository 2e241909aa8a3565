"""A static host site for the bar's browser tests: ``python hostpage.py PORT SERVICE_URL [EVENTS_ORIGIN]``.

It plays a third-party app that embeds the bar: a page on its own origin whose
first child of ``<body>`` is the script tag. Query parameters choose the tag::

    /page?app=notes&theme=dark&lang=de&html_lang=fr&mount=%23slot&api=URL&src=URL
         &twice=1     the tag twice
         &csp=1       served with a strict Content-Security-Policy header
         &hostile=1   plus a stylesheet that tries to restyle everything
         &bare=1      without the page's stylesheet (browser defaults: 8px body margin, no color-scheme)
         &user=ID     data-user=ID: the page says whom it was rendered for ("" for nobody)
         &auto=1      data-auto-signin: the cross-site hand-off without a click

``/snippet?html=...&policy=...`` serves a block of the docs as a page (with
``/app.js``), under the given Content-Security-Policy if any.

``/app.js`` is the page's own script: it records ``onebar:change`` events and
CSP violations in ``window.hostpage`` and writes "Page script ran" into the page.

``/fake/<mode>/api/me`` stands in for a misbehaving service, same-origin so
that no CORS is involved: ``slow-<ms>`` (a signed-in document after a delay),
``garbage`` (not JSON), ``shape`` (JSON of the wrong shape), ``error`` (500) and
``fixed`` (a signed-in document with fixed ids, for reproducible screenshots),
``avatar`` and ``avatar-broken`` (the same with an avatar image that loads, or not).

``/probe/set`` sets a ``SameSite=None; Secure`` cookie (visit it top-level);
``/probe/check`` says, with CORS for the asking origin, whether that cookie
came along: asked from a page of another site, it proves whether the browser
sends third-party cookies.
"""

from __future__ import annotations

import html
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PAGE_CSS = """\
:root { color-scheme: light; --bg: #f6f8fa; --card: #fff; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; }
@media (prefers-color-scheme: dark) {
  :root:not(.light) { color-scheme: dark; --bg: #010409; --card: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #2a313c; }
}
:root.dark { color-scheme: dark; --bg: #010409; --card: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #2a313c; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 15px/1.5 system-ui, sans-serif; }
main { max-width: 880px; margin: 0 auto; padding: 32px 24px; }
h1 { margin: 0 0 4px; font-size: 24px; }
.lead { margin: 0 0 24px; color: var(--muted); }
.notes { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 16px; }
.note { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 16px; }
.note h2 { margin: 0 0 6px; font-size: 16px; }
.note p { margin: 0; color: var(--muted); font-size: 14px; }
#status { margin-top: 24px; color: var(--muted); font-size: 13px; }
"""

# Everything a careless or hostile site stylesheet might do to a widget.
HOSTILE_CSS = """\
* { color: rgb(255, 0, 0) !important; font-family: serif !important; letter-spacing: 6px !important;
    text-transform: uppercase !important; line-height: 3 !important; }
a, button, div, span, nav, img { background: rgb(255, 0, 0) !important; border: 5px solid lime !important;
    padding: 20px !important; display: inline !important; }
[role=menu], [part] { display: none !important; }
"""

APP_JS = """\
'use strict';
window.hostpage = { events: [], violations: [] };
document.addEventListener('onebar:change', (e) => {
  window.hostpage.events.push({ user: e.detail.user, bubbles: e.bubbles, composed: e.composed });
});
document.addEventListener('securitypolicyviolation', (e) => {
  window.hostpage.violations.push(e.violatedDirective + ' ' + e.blockedURI);
}, true);
document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('status').textContent = 'Page script ran';
});
"""

NOTES = [
    ("Launch checklist", "Ship the bar on every app, then turn on the new sign-in page."),
    ("Reading list", "Designing Data-Intensive Applications; The Mythical Man-Month."),
    ("Team lunch", "Thursday at noon, the ramen place on the corner."),
    ("Ideas", "A keyboard shortcut for the app switcher. Dark mode everywhere."),
]


AVATAR_SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 2 2"><rect width="2" height="2" fill="#bf3989"/></svg>"""


def fixed_document(service: str, avatar_url: str | None = None) -> dict[str, object]:
    return {
        "user": {"id": "u_5ab1e5c0ffee", "name": "Ada Lovelace", "email": "ada@example.com",
                 "initials": "AL", "avatar_url": avatar_url},
        "apps": [{"id": "notes", "name": "Notes", "url": "http://localhost/notes/"},
                 {"id": "tasks", "name": "Tasks", "url": "http://localhost/tasks/"},
                 {"id": "wiki", "name": "Wiki", "url": "http://localhost/wiki/"}],
        "links": {"login": f"{service}/login", "logout": f"{service}/logout", "account": f"{service}/account"},
    }


def page(service: str, q: dict[str, str]) -> str:
    attrs = {"src": q.get("src", f"{service}/onebar.js"), "data-app": q.get("app", "notes")}
    for key in ("theme", "lang", "mount", "api", "user", "live"):
        if q.get(key) or key == "user" and key in q:
            attrs[f"data-{key}"] = q[key]
    if q.get("auto"):
        attrs["data-auto-signin"] = ""
    tag = "<script" + "".join(f' {k}="{html.escape(v)}"' for k, v in attrs.items()
                              if v or k in ("data-user", "data-auto-signin")) + "></script>"
    classes = q.get("theme", "") if q.get("theme") in ("light", "dark") else ""
    hostile = '<link rel="stylesheet" href="/hostile.css">' if q.get("hostile") else ""
    slot = '<div id="slot"><a href="/login">Sign in (no JavaScript)</a></div>' if q.get("mount") else ""
    notes = "".join(f'<article class="note"><h2>{html.escape(t)}</h2><p>{html.escape(p)}</p></article>'
                    for t, p in NOTES)
    return f"""<!doctype html>
<html lang="{html.escape(q.get('html_lang', 'en'))}" class="{classes}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Notes</title>
{'' if q.get('bare') else '<link rel="stylesheet" href="/page.css">'}{hostile}
<script src="/app.js"></script>
</head>
<body>{tag}{tag if q.get("twice") else ""}
{slot}<main>
<h1 id="title">Your notes</h1>
<p class="lead">Four notes, last edited today.</p>
<div class="notes">{notes}</div>
<p id="status">Page script did not run</p>
</main>
</body>
</html>
"""


def strict_csp(service: str) -> str:
    # connect-src: the service, and its live stream's own port when it has one (docs/bar.md).
    connect = " ".join(filter(None, (service, Handler.events)))
    return ("default-src 'none'; "
            f"script-src 'self' {service}; connect-src {connect}; img-src 'self' {service}; style-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
            "require-trusted-types-for 'script'; trusted-types 'none'")


class Handler(BaseHTTPRequestHandler):
    service = ""
    events = ""  # the origin of the service's live stream, if not the service's own
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        path = parts.path
        if path == "/healthz":
            return self.send(200, "text/plain", "ok")
        if path in ("/", "/page"):
            headers = {"Content-Security-Policy": strict_csp(self.service)} if q.get("csp") else {}
            return self.send(200, "text/html; charset=utf-8", page(self.service, q), headers)
        if path == "/snippet":  # a docs block as a page: ?html=<from <body> on>&policy=<a CSP>
            headers = {"Content-Security-Policy": q["policy"]} if q.get("policy") else {}
            return self.send(200, "text/html; charset=utf-8",
                             '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Snippet</title>'
                             '<script src="/app.js"></script></head>\n' + q.get("html", "")
                             + '\n<p id="status">Page script did not run</p>', headers)
        if path == "/page.css":
            return self.send(200, "text/css", PAGE_CSS)
        if path == "/hostile.css":
            return self.send(200, "text/css", HOSTILE_CSS)
        if path in ("/avatar.svg", "/favicon.ico"):  # (Firefox asks for the icon under img-src)
            return self.send(200, "image/svg+xml", AVATAR_SVG)
        if path == "/app.js":
            return self.send(200, "text/javascript", APP_JS)
        if path == "/probe/set":
            return self.send(200, "text/plain", "probe cookie set",
                             {"Set-Cookie": "probe=1; Path=/; SameSite=None; Secure; Max-Age=600"})
        if path == "/probe/check":
            origin = self.headers.get("Origin") or "*"
            sent = "probe=1" in (self.headers.get("Cookie") or "")
            return self.send(200, "application/json", json.dumps({"cookie": sent}),
                             {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true"})
        if path.startswith("/fake/") and path.endswith("/api/me"):
            return self.fake(path.split("/")[2])
        return self.send(404, "text/plain", "not found")

    def fake(self, mode: str) -> None:
        if mode.startswith("slow-"):
            time.sleep(int(mode[5:]) / 1000)
            return self.send(200, "application/json", json.dumps(fixed_document(self.service)))
        if mode == "fixed":
            return self.send(200, "application/json", json.dumps(fixed_document(self.service)))
        if mode.startswith("avatar"):
            own = f"http://{self.headers['Host']}"
            image = own + ("/missing.png" if mode == "avatar-broken" else "/avatar.svg")
            return self.send(200, "application/json", json.dumps(fixed_document(self.service, image)))
        if mode == "garbage":
            return self.send(200, "application/json", "<html>502 Bad Gateway</html>")
        if mode == "shape":
            return self.send(200, "application/json", json.dumps({"user": "admin", "apps": "all"}))
        if mode == "error":
            return self.send(500, "application/json", json.dumps({"error": "boom"}))
        return self.send(404, "text/plain", "no such fake")

    def send(self, status: int, ctype: str, body: str, headers: dict[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser gave up waiting (the timeout tests)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        sys.stderr.write("hostpage: " + (format % args) + "\n")


def main() -> None:
    port, service = int(sys.argv[1]), sys.argv[2].rstrip("/")
    Handler.service = service
    Handler.events = sys.argv[3] if len(sys.argv) > 3 else ""
    server = ThreadingHTTPServer(("localhost", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
