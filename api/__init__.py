"""Onebar: one sign-in, one bar, every app.

The identity service lives here. The core modules (:mod:`api.settings`,
:mod:`api.sessions`, :mod:`api.store`) know nothing about Flask; the web layer
(:mod:`api.web`) and the integrations (:mod:`api.integrations`) are built on
top of them and take them as arguments.
"""

__version__ = "0.1.0"
