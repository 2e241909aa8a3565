"""Settings of the Notes demo, a Django project that signs in with Onebar.

Read from the environment (``python -m demo_apps.django_notes`` sets them from
its options):

    NOTES_SERVICE_URL   the Onebar identity service   http://localhost:8000
    NOTES_PUBLIC_URL    the service as browsers reach it   NOTES_SERVICE_URL
    NOTES_SITE_URL      this site's origin, when it is on another registrable
                        domain than the service (sign-in through the hand-off)   none
    NOTES_DATA_DIR      where notes.sqlite3 lives      ./.data next to manage.py
    NOTES_SECRET_KEY    Django's secret key            random per process (a demo)
    NOTES_DEBUG         1 for Django's debug pages     off
    NOTES_BACKCHANNEL_SECRET  this site's back-channel secret (onebar app add --backchannel-url)   none
    NOTES_CACHE_TTL     seconds an Onebar answer is reused   5
"""

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("NOTES_DATA_DIR") or BASE_DIR / ".data")
SERVICE_URL = os.environ.get("NOTES_SERVICE_URL", "http://localhost:8000").rstrip("/")
PUBLIC_URL = (os.environ.get("NOTES_PUBLIC_URL") or SERVICE_URL).rstrip("/")
SITE_URL = (os.environ.get("NOTES_SITE_URL") or "").rstrip("/") or None

SECRET_KEY = os.environ.get("NOTES_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = os.environ.get("NOTES_DEBUG") == "1"
ALLOWED_HOSTS = ["localhost", *([urlsplit(SITE_URL).hostname] if SITE_URL else [])]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "notes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # request.user is the Onebar user; no Django session involved.
    "onebar.integrations.django.OnebarMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# -- Onebar ------------------------------------------------------------------
AUTHENTICATION_BACKENDS = ["onebar.integrations.django.OnebarBackend"]
ONEBAR = {
    "SERVICE_URL": SERVICE_URL,
    "PUBLIC_URL": PUBLIC_URL,
    "SITE_URL": SITE_URL,
    # The service tells this server at once when a session ends (the secret
    # `onebar app add --backchannel-url http://…/.onebar/backchannel` printed).
    "BACKCHANNEL_SECRET": os.environ.get("NOTES_BACKCHANNEL_SECRET") or None,
    "CACHE_TTL": os.environ.get("NOTES_CACHE_TTL") or None,  # None: the default 5 s
}
# @login_required sends signed-out visitors to the service's sign-in page with
# ?next=<the page's absolute URL>, and the service sends them back. On another
# registrable domain, to this site's own hand-off path instead (docs/integrations.md).
LOGIN_URL = "/.onebar/login" if SITE_URL else f"{PUBLIC_URL}/login"

ROOT_URLCONF = "notes_site.urls"
WSGI_APPLICATION = "notes_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "onebar.integrations.django.onebar",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "notes.sqlite3",
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Every demo site runs on localhost, where cookies are shared by all ports:
# Notes names its own cookies so no other site overwrites them.
CSRF_COOKIE_NAME = "notes_csrftoken"
SESSION_COOKIE_NAME = "notes_sessionid"
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
