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

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

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


def site_config(*, listen: str, upstreams: Sequence[str], access_log: str, forwarded_proto: str = "$scheme",
                server_name: str | None = None, tls: tuple[str, str] | None = None) -> str:
    """The service's part of an nginx configuration (inside ``http { }``): what docs/deploy.md shows.

    ``forwarded_proto`` is what nginx tells the nodes the client used:
    ``$scheme`` where nginx terminates TLS itself; the tests pass ``https`` to
    stand for a TLS listener without certificates. ``tls`` (certificate, key)
    adds them and a port-80 server that redirects to https.
    """
    servers = "\n".join(f"    server {u} max_fails=1 fail_timeout=2s;" for u in upstreams)
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
server {{
    listen {listen};{name}{certs}
    client_max_body_size 64k;
    access_log {access_log} onebar;
    location / {{
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
                 user: str | None = None) -> str:
    """A whole nginx.conf for nodes ``upstreams`` (``host:port``) behind ``listen``, run from ``prefix``.

    The service's part is :func:`site_config`; around it, what a private nginx
    process needs (no daemon, its pid file, logs and temp files under ``prefix``).
    """
    temp = "\n".join(f"    {kind}_temp_path {prefix}/tmp/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    site = textwrap.indent(site_config(listen=listen, upstreams=upstreams, access_log=f"{prefix}/access.log",
                                       forwarded_proto=forwarded_proto), "    ")
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
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{procs.HOST}:{self.port}"

    def start(self, upstreams: Sequence[str], *, forwarded_proto: str = "$scheme", timeout: float = 10.0) -> Nginx:
        exe = require_nginx()
        (self.prefix / "tmp").mkdir(parents=True, exist_ok=True)
        conf = self.prefix / "nginx.conf"
        # As root, nginx would hand its workers to "nobody", who cannot enter
        # a private temporary directory: keep them as this user.
        user = "root root" if os.geteuid() == 0 else None
        conf.write_text(nginx_config(listen=f"127.0.0.1:{self.port}", upstreams=upstreams, prefix=self.prefix,
                                     forwarded_proto=forwarded_proto, user=user))
        log = open(self.prefix / "stderr.log", "ab")
        with log:
            self.proc = subprocess.Popen([exe, "-p", str(self.prefix), "-c", str(conf), "-e",
                                          str(self.prefix / "error.log")], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"nginx did not listen on {self.port} within {timeout:.0f}s:\n{self.tail()}")
                time.sleep(0.05)

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
        out = []
        for name in ("stderr.log", "error.log"):
            try:
                out.append((self.prefix / name).read_text(errors="replace")[-3000:])
            except OSError:
                pass
        return "\n".join(out)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def passthrough_env() -> dict[str, str]:
    """The caller's ``ONEBAR_*`` variables (database URL, Redis URL, ...) for every node."""
    return {k: v for k, v in os.environ.items() if k.startswith("ONEBAR_")}


def node(data_dir: Path, keys: Sequence[str], *, name: str, port: int | None = None, workers: int = 1,
         threads: int = 8, env: Mapping[str, str] | None = None) -> procs.ChildServer:
    """One ``onebar serve`` node (not started). Nodes given the same data dir share its SQLite file."""
    port = port or procs.free_port()
    argv = [sys.executable, "-m", "onebar", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--threads", str(threads), "--events-port", "0"]  # no live stream here
    full_env = {**passthrough_env(), **procs.service_env(data_dir, keys), **(env or {})}
    return procs.server(name, argv, port, data_dir / f"{name}.log", full_env)


@dataclass
class Cluster:
    nginx: Nginx
    nodes: list[procs.ChildServer]

    @property
    def url(self) -> str:
        return self.nginx.url

    def node_of(self, request_id: str) -> int:
        """Which of :attr:`nodes` (its index) answered the request nginx numbered ``request_id``."""
        answered = self.nginx.upstream_of(request_id)
        for i, n in enumerate(self.nodes):
            if answered == f"127.0.0.1:{n.port}":
                return i
        raise LookupError(f"request {request_id} was answered by {answered!r}, not a node of this cluster")


@contextmanager
def cluster(workdir: Path, keys: Sequence[str], *, nodes: int = 2, workers: int = 1,
            env: Mapping[str, str] | None = None, forwarded_proto: str = "$scheme") -> Iterator[Cluster]:
    """``nodes`` service nodes over one data dir behind one nginx; all stopped afterwards."""
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        started = []
        for i in range(nodes):
            n = node(data, keys, name=f"node{i + 1}", workers=workers, env=env)
            stack.callback(n.stop)
            started.append(n.start())
        proxy = Nginx(workdir / "nginx", procs.free_port())
        stack.callback(proxy.stop)
        proxy.start([f"127.0.0.1:{n.port}" for n in started], forwarded_proto=forwarded_proto)
        yield Cluster(proxy, started)
