"""``onebar demo``: the identity service and three independent demo sites.

* :mod:`onebar.demo.command` – the ``onebar demo`` command: demo data, four
  child processes, a banner, Ctrl-C.
* :mod:`onebar.demo.process` – :class:`~onebar.demo.process.ChildServer`, one
  server in a child process (start, poll its health, tail its log, stop);
  the tests and the benchmarks start their servers with it too.
* ``demo_apps/`` – the sites themselves (Flask, Django, static HTML), in the
  checkout's top level or, in an installed wheel, beside this file.
"""

from .command import DEMO_USERS, SITES, demo

__all__ = ["DEMO_USERS", "SITES", "demo"]
