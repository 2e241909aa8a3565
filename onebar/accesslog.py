"""A structured access log: one JSON line per request, as WSGI middleware.

Each answered request writes one line to stderr::

    {"ts":1763900000.123,"method":"GET","path":"/api/me","status":200,"ms":0.41}

``ts`` is when the request arrived (Unix seconds), ``ms`` the time until the
body was sent and closed. The path is ``PATH_INFO`` only: the query string is
never logged (``next=`` targets and hand-off codes travel there), and neither
are headers, so cookies never reach the log. Example::

    from onebar.accesslog import AccessLog

    app = AccessLog(app)                      # lines to stderr
    app = AccessLog(app, write=my_file.write) # or anywhere else

Each line goes out in one ``write(2)`` on file descriptor 2, so lines from
several threads and worker processes never interleave (a line is far below
``PIPE_BUF``); the logging module is left out on purpose: it costs about as
much as answering ``/api/me``. Works under any WSGI server, so the log has the
same shape whatever serves it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

#: Characters that a path may carry as they are into a JSON string.
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-_.~%!$&'()*+,;=:@")


def write_stderr(line: str) -> None:
    os.write(2, line.encode("utf-8", "replace"))


class AccessLog:
    """WSGI middleware: see the module docstring.

    :param app: the WSGI app to time.
    :param write: takes each line (with its newline); default: stderr.
    """

    def __init__(self, app: WSGIApp, write: Callable[[str], Any] | None = None) -> None:
        self.app = app
        self.write = write or write_stderr

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        arrived, started = time.time(), time.perf_counter()
        status = ["500"]

        def recording_start_response(s: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = s
            return start_response(s, headers, exc_info) if exc_info is not None else start_response(s, headers)

        try:
            result = self.app(environ, recording_start_response)
        except BaseException:
            self._log(environ, "500", arrived, started)
            raise
        if isinstance(result, list):  # the body is already here: log now, no wrapper
            self._log(environ, status[0], arrived, started)
            return result
        return self._closing(result, environ, status, arrived, started)

    def _closing(self, result: Iterable[bytes], environ: dict[str, Any], status: list[str], arrived: float,
                 started: float) -> Iterator[bytes]:
        try:
            yield from result
        finally:
            close = getattr(result, "close", None)
            try:
                if close is not None:
                    close()
            finally:
                self._log(environ, status[0], arrived, started)

    def _log(self, environ: dict[str, Any], status: str, arrived: float, started: float) -> None:
        path = environ.get("PATH_INFO", "")
        path = f'"{path}"' if _PLAIN.issuperset(path) else json.dumps(path)
        method = environ.get("REQUEST_METHOD", "")
        method = f'"{method}"' if method.isalpha() and method.isascii() else json.dumps(method)
        code = status[:3] if status[:3].isdigit() else "0"
        ms = (time.perf_counter() - started) * 1000
        self.write(f'{{"ts":{arrived:.3f},"method":{method},"path":{path},"status":{int(code)},"ms":{ms:.2f}}}\n')
