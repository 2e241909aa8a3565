"""``onebar demo``: the identity service and three independent demo sites.

* :mod:`onebar.demo.command` – the ``onebar demo`` command: demo data, four
  child processes, a banner, Ctrl-C.
* :mod:`onebar.demo.process` – :class:`~onebar.demo.process.ChildServer`, one
  server in a child process (start, wait until it is ready, tail its log,
  stop); the tests and the benchmarks start their servers with it too.
* ``demo_apps/`` – the sites themselves (Flask, Django, static HTML), in the
  checkout's top level or, in an installed wheel, beside this file.

``DEMO_USERS``, ``SITES`` and ``demo`` come from :mod:`~onebar.demo.command`
when first asked for, so that importing :mod:`onebar.demo.process` (as the
tests and the benchmarks do) does not import the command, click and the store.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["DEMO_USERS", "SITES", "demo"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(".command", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
