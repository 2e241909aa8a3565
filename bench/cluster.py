"""Service nodes behind a real nginx, on loopback: for tests, the benchmarks and docs/deploy.md.

:func:`site_config` writes the configuration ``docs/deploy.md`` shows (round
robin over the nodes, forwarded headers, a dead node skipped, an access log
that names the node behind each request); :func:`nginx_config` wraps it for a
private nginx process. :class:`Nginx` runs Debian's ``nginx`` as this user's
own process (``-p`` a temporary prefix, ``daemon off``, a free port), never
the system service. :func:`node` starts one ``onebar serve`` whose settings
come only from ``ONEBAR_*`` variables, so the same code starts nodes on SQLite
(one shared file on one machine) or on ``ONEBAR_DATABASE_URL`` and
``ONEBAR_REDIS_URL`` (tests/test_cluster_pg.py): every ``ONEBAR_*`` variable
of the caller's environment and of ``env`` is passed through. ::

    with cluster(tmp, keys, nodes=2, env={"ONEBAR_TRUSTED_PROXIES": "1"}) as c:
        reply = urllib.request.urlopen(c.url + "/api/me")  # through nginx
        c.node_of(reply.headers["X-Request-Id"])            # which node answered it
        c.nodes[0].kill9(); c.nodes[0].start()              # a node dies and rejoins
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from onebar.demo.process import listening

from . import procs

INSTALL = "apt-get install -y nginx"


class NginxMissing(RuntimeError):
    pass


def require_nginx() -> str:
    exe = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                         if os.access(p, os.X_OK)), None)
    if exe is None:
        raise NginxMissing(f"nginx is not installed; install it with: {INSTALL}  (Debian/Ubuntu, as root)")
    return exe


#: The proxy's access log: one line per request with the node that answered it
#: (``$upstream_addr``; after a retry, the nodes tried, the answering one last)
#: and ``$request_id``, which nginx also sends to the client as ``X-Request-Id``,
#: so one request can be followed from the client to the node. ``$uri`` is the
#: path without its query string (``next=`` targets and hand-off codes travel
#: there), as in the service's own access log.
LOG_FORMAT = "$msec $request_id $remote_addr \"$request_method $uri\" $status $upstream_addr"


def events_upstream(events_upstreams: Sequence[str]) -> str:
    """The ``upstream`` of the nodes' stream processes (``host:events-port``): part of :func:`site_config`."""
    servers = "\n".join(f"    server {u} max_fails=1 fail_timeout=2s;" for u in events_upstreams)
    return f"""\
upstream onebar_events {{
    # Each node's stream process (--events-port). A stream stays on the
    # node it opened on; an event raised on any node reaches it.
{servers}
}}
"""


def events_location() -> str:
    """``location /api/events``: the live stream, unbuffered and long-lived. Part of :func:`site_config`."""
    return """\
location /api/events {
    proxy_pass http://onebar_events;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    proxy_buffering off;                 # each event goes out as it is written
    proxy_read_timeout 1h;               # heartbeats every 15 s keep it open
    proxy_connect_timeout 1s;
    proxy_next_upstream error timeout;
    add_header X-Request-Id $request_id always;
}
"""


def site_config(*, listen: str, upstreams: Sequence[str], access_log: str, forwarded_proto: str = "$scheme",
                server_name: str | None = None, tls: tuple[str, str] | None = None,
                events_upstreams: Sequence[str] = ()) -> str:
    """The service's part of an nginx configuration (inside ``http { }``): what docs/deploy.md shows.

    ``forwarded_proto`` is what nginx tells the nodes the client used:
    ``$scheme`` where nginx terminates TLS itself; the tests pass ``https`` to
    stand for a TLS listener without certificates. ``tls`` (certificate, key)
    adds them and a port-80 server that redirects to https.
    ``events_upstreams`` (each node's ``host:events-port``) adds the live
    stream, ``location /api/events`` (:func:`events_upstream`,
    :func:`events_location`) on the same public origin; without them, as the
    benchmarks run it, there is none.
    """
    servers = "\n".join(f"    server {u} max_fails=1 fail_timeout=2s;" for u in upstreams)
    streams = events_upstream(events_upstreams) if events_upstreams else ""
    live = textwrap.indent(events_location(), "    ") if events_upstreams else ""
    name = f"\n    server_name {server_name};" if server_name else ""
    certs = f"\n    ssl_certificate     {tls[0]};\n    ssl_certificate_key {tls[1]};" if tls else ""
    redirect = f"""
server {{
    listen 80;{name}
    return 301 https://$host$request_uri;
}}
""" if tls else ""
    return f"""\
log_format onebar '{LOG_FORMAT}';
upstream onebar {{
    # Round robin; a node that refuses or times out is skipped for 2 s.
{servers}
    keepalive 32;
}}
{streams}server {{
    listen {listen};{name}{certs}
    client_max_body_size 64k;
    access_log {access_log} onebar;
{live}    location / {{
        proxy_pass http://onebar;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        # What the nodes believe with ONEBAR_TRUSTED_PROXIES=1: the
        # address nginx saw, appended last, and the scheme it served.
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto {forwarded_proto};
        proxy_connect_timeout 1s;
        proxy_read_timeout 30s;
        # A node that is down (refused, reset before an answer) is
        # skipped; a POST already sent is never sent twice.
        proxy_next_upstream error timeout;
        # The id of this request in the access log above, for the client.
        add_header X-Request-Id $request_id always;
    }}
}}
{redirect}"""


def nginx_config(*, listen: str, upstreams: Sequence[str], prefix: Path, forwarded_proto: str = "$scheme",
                 user: str | None = None, events_upstreams: Sequence[str] = ()) -> str:
    """A whole nginx.conf for nodes ``upstreams`` (``host:port``) behind ``listen``, run from ``prefix``.

    The service's part is :func:`site_config`; around it, what a private nginx
    process needs (no daemon, its pid file, logs and temp files under ``prefix``).
    """
    temp = "\n".join(f"    {kind}_temp_path {prefix}/tmp/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    site = textwrap.indent(site_config(listen=listen, upstreams=upstreams, access_log=f"{prefix}/access.log",
                                       forwarded_proto=forwarded_proto, events_upstreams=events_upstreams),
                           "    ")
    return f"""\
# Generated by bench/cluster.py (docs/deploy.md shows the same, with TLS).
{f'user {user};' if user else ''}
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
{temp}
{site}}}
"""


@dataclass
class Nginx:
    prefix: Path
    port: int
    server: procs.ChildServer | None = None

    @property
    def url(self) -> str:
        return f"http://{procs.HOST}:{self.port}"

    def start(self, upstreams: Sequence[str], *, forwarded_proto: str = "$scheme", timeout: float = 10.0,
              events_upstreams: Sequence[str] = ()) -> Nginx:
        exe = require_nginx()
        (self.prefix / "tmp").mkdir(parents=True, exist_ok=True)
        conf = self.prefix / "nginx.conf"
        # As root, nginx would hand its workers to "nobody", who cannot enter
        # a private temporary directory: keep them as this user.
        user = "root root" if os.geteuid() == 0 else None
        conf.write_text(nginx_config(listen=f"127.0.0.1:{self.port}", upstreams=upstreams, prefix=self.prefix,
                                     forwarded_proto=forwarded_proto, user=user,
                                     events_upstreams=events_upstreams))
        # Ready once it listens: before its upstreams are, its own answers would be 502s.
        self.server = procs.ChildServer(
            "nginx", [exe, "-p", str(self.prefix), "-c", str(conf), "-e", str(self.prefix / "error.log")],
            url=f"http://127.0.0.1:{self.port}", log=self.prefix / "stderr.log",
            ready=listening("127.0.0.1", self.port), stop_timeout=10,  # SIGTERM: nginx's fast shutdown
            more_logs=[self.prefix / "error.log"])
        self.server.start(timeout)
        return self

    @property
    def access_log(self) -> Path:
        return self.prefix / "access.log"

    def upstream_of(self, request_id: str, timeout: float = 2.0) -> str:
        """The node (``host:port``) that answered request ``request_id`` (its ``X-Request-Id``).

        nginx writes the line once the answer is out, so it may come a moment
        after the client has read it: wait up to ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                lines = self.access_log.read_text(errors="replace").splitlines()
            except FileNotFoundError:
                lines = []
            for line in reversed(lines):
                fields = line.split(" ")
                if len(fields) > 1 and fields[1] == request_id:
                    # After a retry "$upstream_addr" lists every node tried: the last one answered.
                    return line.rsplit(" ", 1)[-1].rsplit(",", 1)[-1].strip()
            if time.monotonic() > deadline:
                raise LookupError(f"request {request_id} is not in {self.access_log}")
            time.sleep(0.02)

    def tail(self) -> str:
        return "" if self.server is None else self.server.tail()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def passthrough_env() -> dict[str, str]:
    """The caller's ``ONEBAR_*`` variables (database URL, Redis URL, ...) for every node."""
    return {k: v for k, v in os.environ.items() if k.startswith("ONEBAR_")}


def node(data_dir: Path, keys: Sequence[str], *, name: str, port: int | None = None, workers: int = 1,
         threads: int = 8, env: Mapping[str, str] | None = None, events_port: int = 0) -> procs.ChildServer:
    """One ``onebar serve`` node (not started). Nodes given the same data dir share its SQLite file.

    ``events_port`` is its live stream's port (``--events-port``); 0, no stream.
    """
    port = port or procs.free_port()
    argv = [sys.executable, "-m", "onebar", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--threads", str(threads), "--events-port", str(events_port)]
    full_env = {**passthrough_env(), **procs.service_env(data_dir, keys), **(env or {})}
    return procs.server(name, argv, port, data_dir / f"{name}.log", full_env)


def stream_health(events_port: int, timeout: float = 2.0) -> dict[str, object]:
    """The stream process's ``/healthz`` on ``127.0.0.1:events_port``: ``{"status", "streams"}``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{events_port}/healthz", timeout=timeout) as reply:
        return json.loads(reply.read())  # type: ignore[no-any-return]


def wait_for_stream(server: procs.ChildServer, events_port: int, timeout: float = 15.0) -> None:
    """Return once the stream process of node ``server`` answers (``onebar serve`` starts it beside the node)."""
    server.wait_until(lambda: stream_health(events_port, timeout=1.0), f"its stream process on {events_port}",
                      timeout)


@dataclass
class Cluster:
    nginx: Nginx
    nodes: list[procs.ChildServer]
    #: Each node's live stream port (``--events-port``), or empty: no streams.
    events_ports: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.nginx.url

    @property
    def events_url(self) -> str:
        """Where bars follow events: nginx, the same public origin (``ONEBAR_EVENTS_URL``)."""
        return self.nginx.url + "/api/events"

    def node_of(self, request_id: str) -> int:
        """Which of :attr:`nodes` (its index) answered the request nginx numbered ``request_id``."""
        answered = self.nginx.upstream_of(request_id)
        for i, n in enumerate(self.nodes):
            if answered == f"127.0.0.1:{n.port}":
                return i
        for i, p in enumerate(self.events_ports):  # a stream, logged once it has ended
            if answered == f"127.0.0.1:{p}":
                return i
        raise LookupError(f"request {request_id} was answered by {answered!r}, not a node of this cluster")

    def streams_held(self) -> list[int]:
        """How many live streams each node's stream process holds now (its ``/healthz``)."""
        return [int(stream_health(p)["streams"]) for p in self.events_ports]  # type: ignore[call-overload]


@contextmanager
def cluster(workdir: Path, keys: Sequence[str], *, nodes: int = 2, workers: int = 1,
            env: Mapping[str, str] | None = None, forwarded_proto: str = "$scheme",
            events: bool = False) -> Iterator[Cluster]:
    """``nodes`` service nodes over one data dir behind one nginx; all stopped afterwards.

    With ``events``, each node also runs its live stream process and nginx
    routes ``/api/events`` to them (``ONEBAR_EVENTS_URL`` is nginx's origin +
    ``/api/events``); without, as the benchmarks measure the nodes, none.
    """
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    proxy = Nginx(workdir / "nginx", procs.free_port())
    events_ports = [procs.free_port() for _ in range(nodes)] if events else []
    node_env = {**(env or {})}
    if events:
        node_env.setdefault("ONEBAR_EVENTS_URL", proxy.url + "/api/events")
    with ExitStack() as stack:
        started = []
        for i in range(nodes):
            n = node(data, keys, name=f"node{i + 1}", workers=workers, env=node_env,
                     events_port=events_ports[i] if events else 0)
            stack.callback(n.stop)
            started.append(n.start())
            if events:
                wait_for_stream(n, events_ports[i])
        stack.callback(proxy.stop)
        proxy.start([f"127.0.0.1:{n.port}" for n in started], forwarded_proto=forwarded_proto,
                    events_upstreams=[f"127.0.0.1:{p}" for p in events_ports])
        yield Cluster(proxy, started, events_ports)
