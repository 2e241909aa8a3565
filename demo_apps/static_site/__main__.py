"""``python -m demo_apps.static_site --port 8003 --service-url http://localhost:8000 --out DIR``

Publishes the site, then serves it with the standard library's static file
server. Publishing is a copy in which the bar's ``src`` names the service the
demo runs (the files name ``http://localhost:8000``, the demo's default) – the
deploy step any static site has; the pages themselves stay plain HTML.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import tempfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SOURCE = Path(__file__).resolve().parent
DEFAULT_SERVICE = "http://localhost:8000"
PUBLISHED = (".html", ".css")


def publish(out: Path, service_url: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for path in SOURCE.iterdir():
        if path.suffix == ".html":
            text = path.read_text(encoding="utf-8")
            text = text.replace(f'src="{DEFAULT_SERVICE}/onebar.js"', f'src="{service_url.rstrip("/")}/onebar.js"')
            (out / path.name).write_text(text, encoding="utf-8")
        elif path.suffix in PUBLISHED:
            shutil.copyfile(path, out / path.name)
    return out


class Handler(SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m demo_apps.static_site", description=__doc__)
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=8003)
    parser.add_argument("--service-url", default=os.environ.get("ONEBAR_SERVICE_URL", DEFAULT_SERVICE))
    parser.add_argument("--out", help="where to publish the site (default: a temporary directory)")
    args = parser.parse_args()
    out = publish(Path(args.out or tempfile.mkdtemp(prefix="onebar-handbook-")), args.service_url)
    try:
        server = ThreadingHTTPServer((args.host, args.port), functools.partial(Handler, directory=str(out)))
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(1)
    print(f"handbook serving on http://{args.host}:{args.port}/", flush=True)
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


main()
