"""``python -m demo_apps.flask_tasks --port 8001 --service-url http://localhost:8000``

Also read from the environment: ``TASKS_SECRET_KEY`` (Flask's), ``TASKS_BACKCHANNEL_SECRET``
(this site's back-channel secret, from ``onebar app add --backchannel-url``) and
``TASKS_CACHE_TTL`` (seconds an Onebar answer is reused; 5 by default).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile

from waitress import serve

from onebar.integrations import ConfigError

from . import create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m demo_apps.flask_tasks", description=__doc__)
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--service-url", default=os.environ.get("ONEBAR_SERVICE_URL", "http://localhost:8000"),
                        help="the Onebar identity service (default: $ONEBAR_SERVICE_URL or %(default)s)")
    parser.add_argument("--public-url", help="the service as browsers reach it (default: the service URL)")
    parser.add_argument("--site-url", help="this site's own origin, as registered, when it is on another "
                                           "registrable domain than the service (sign-in through the hand-off)")
    parser.add_argument("--events-origin", default=os.environ.get("TASKS_EVENTS_ORIGIN", ""),
                        help="the origin of the service's live stream, when it has its own port (for the CSP)")
    parser.add_argument("--data-dir", default=os.environ.get("TASKS_DATA_DIR"),
                        help="where tasks.sqlite3 lives (default: $TASKS_DATA_DIR or a temporary directory)")
    args = parser.parse_args()
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="onebar-tasks-")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        app = create_app(args.service_url, data_dir, os.environ.get("TASKS_SECRET_KEY"),
                         public_url=args.public_url, site_url=args.site_url,
                         backchannel_secret=os.environ.get("TASKS_BACKCHANNEL_SECRET"),
                         cache_ttl=os.environ.get("TASKS_CACHE_TTL"),
                         events_origin=args.events_origin)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    try:
        serve(app, host=args.host, port=args.port, threads=8, ident="tasks", channel_timeout=30)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(1)


main()
