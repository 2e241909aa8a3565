"""Onebar: one sign-in, one bar, every app.

The identity service lives here. The core modules (:mod:`onebar.settings`,
:mod:`onebar.sessions`, :mod:`onebar.store`) know nothing about Flask; the web layer
(:mod:`onebar.web`) and the integrations (:mod:`onebar.integrations`) are built on
top of them and take them as arguments.
"""

__version__ = "0.3.0"
