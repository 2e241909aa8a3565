"""Server-side identity for Python web apps: who is this browser, says Onebar?

* :mod:`onebar.integrations.wsgi` – the framework-free core: :class:`~.wsgi.OnebarMiddleware`
  puts the verified user (or ``None``) in ``environ["onebar.user"]``.
* :mod:`onebar.integrations.flask` – ``Onebar(app)`` / ``init_app``, ``current_user()``
  and ``@login_required`` for Flask.
* :mod:`onebar.integrations.django` – a middleware and an authentication backend, so
  ``request.user`` and ``@login_required`` work in Django.

The adapters only translate; every decision (which cookie, how it is verified,
how long an answer is cached, what "the service is down" means) is made once, in
:mod:`onebar.integrations.wsgi`.
"""
