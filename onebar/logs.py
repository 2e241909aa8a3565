"""How Onebar's programs log.

Library code only gets loggers (``logging.getLogger(__name__)``); configuring
logging is the job of entry points (``onebar serve``, a benchmark's server),
which call::

    logging.basicConfig(level=logging.INFO, format=onebar.logs.FORMAT)
"""

#: One line per record: when, which logger, how bad, what.
FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
