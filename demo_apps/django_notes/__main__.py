"""``python -m demo_apps.django_notes --port 8002 --service-url http://localhost:8000``

Applies the migrations to the Notes database, then serves the project with
waitress (``python manage.py ...`` works as in any Django project).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m demo_apps.django_notes", description=__doc__)
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--service-url", default=os.environ.get("NOTES_SERVICE_URL", "http://localhost:8000"),
                        help="the Onebar identity service (default: $NOTES_SERVICE_URL or %(default)s)")
    parser.add_argument("--public-url", help="the service as browsers reach it (default: the service URL)")
    parser.add_argument("--site-url", help="this site's own origin, as registered, when it is on another "
                                           "registrable domain than the service (sign-in through the hand-off)")
    parser.add_argument("--data-dir", default=os.environ.get("NOTES_DATA_DIR"),
                        help="where notes.sqlite3 lives (default: $NOTES_DATA_DIR or a temporary directory)")
    args = parser.parse_args()
    os.environ["NOTES_SERVICE_URL"] = args.service_url
    for name, value in (("NOTES_PUBLIC_URL", args.public_url), ("NOTES_SITE_URL", args.site_url)):
        if value:
            os.environ[name] = value
    os.environ["NOTES_DATA_DIR"] = args.data_dir or tempfile.mkdtemp(prefix="onebar-notes-")
    Path(os.environ["NOTES_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notes_site.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # the project's own modules, as manage.py has them

    import django
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import call_command
    from waitress import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        django.setup()
        call_command("migrate", interactive=False, verbosity=0)
        from notes_site.wsgi import application
    except ImproperlyConfigured as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    try:
        serve(application, host=args.host, port=args.port, threads=8, ident="notes", channel_timeout=30)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(1)


main()
