"""Server-side identity for Python web apps: who is this browser, says Onebar?

* :mod:`onebar.integrations.wsgi` – the framework-free core: :class:`~.wsgi.OnebarMiddleware`
  puts the verified user (or ``None``) in ``environ["onebar.user"]``.
* :mod:`onebar.integrations.flask` – ``Onebar(app)`` / ``init_app``, ``current_user()``
  and ``@login_required`` for Flask.
* :mod:`onebar.integrations.django` – a middleware and an authentication backend, so
  ``request.user`` and ``@login_required`` work in Django.

The adapters only translate; every decision (which cookie, how it is verified,
how long an answer is cached, what "the service is down" means) is made once, in
the framework-free modules behind :mod:`onebar.integrations.wsgi`, one thing each:

* ``identity`` – :class:`Identity`: which cookie, which verifier, the service's links;
* ``verifiers`` – :class:`RemoteVerifier` (ask the service) and :class:`LocalVerifier`
  (check the signature here, the session in the store);
* ``meclient`` – the one HTTP question, ``GET /api/me``, with a deadline;
* ``cache`` – the bounded TTL cache of answers, keyed by a hash of the cookie;
* ``handoff`` – ``/.onebar/login`` and ``/.onebar/callback``: sign-in for an app on another
  registrable domain, which the service's cookie never reaches (a site credential of its own);
* ``backchannel`` – ``/.onebar/backchannel``: the service's signed logout tokens drop
  a user at once and fire ``user_signed_out`` (``board``: shared by worker processes);
* ``cookies`` – the cookie's name, shape and value (werkzeug's ``parse_cookie``);
* ``user`` – :class:`OnebarUser`, the record every adapter hands out;
* ``config`` – framework settings (``ONEBAR_*``, ``ONEBAR = {...}``) to an Identity.

Import the public names from :mod:`onebar.integrations.wsgi` (or the adapters);
a setting they cannot use raises :class:`ConfigError`, importable from here.
"""

from ..exc import ConfigError

__all__ = ["ConfigError"]
