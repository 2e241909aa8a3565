"""docs/deploy.md shows what the tests run: its nginx block is bench/cluster.py's, and nginx accepts it."""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

from bench.cluster import events_location, events_upstream, require_nginx, site_config
from onebar import settings as settings_mod

from .live import ROOT, free_port

DOC = ROOT / "docs" / "deploy.md"

#: The addresses the doc's example uses.
EXAMPLE = dict(listen="443 ssl", upstreams=["10.0.0.11:5000", "10.0.0.12:5000"],
               access_log="/var/log/nginx/onebar.log", server_name="id.example.com",
               tls=("/etc/ssl/id.example.com.pem", "/etc/ssl/id.example.com.key"),
               events_upstreams=["10.0.0.11:5001", "10.0.0.12:5001"])


def blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", DOC.read_text(), re.S | re.M)


def test_the_docs_nginx_blocks_are_the_ones_the_cluster_tests_run() -> None:
    # The many-nodes block, then the live section's excerpt of it (/api/events).
    live = events_upstream(EXAMPLE["events_upstreams"]) + events_location()  # type: ignore[arg-type]
    assert blocks("nginx") == [site_config(**EXAMPLE), live]  # type: ignore[arg-type]


def test_nginx_accepts_the_docs_block_with_tls(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=id.example.com", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    site = blocks("nginx")[0]
    for path, mine in ((EXAMPLE["tls"][0], cert), (EXAMPLE["tls"][1], key),  # type: ignore[index]
                       (EXAMPLE["access_log"], tmp_path / "access.log")):
        site = site.replace(str(path), str(mine))
    site = (site.replace("listen 443 ssl;", f"listen 127.0.0.1:{free_port()} ssl;")
            .replace("listen 80;", f"listen 127.0.0.1:{free_port()};"))
    (tmp_path / "tmp").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
    client_body_temp_path {tmp_path}/tmp/client_body;
    proxy_temp_path {tmp_path}/tmp/proxy;
{textwrap.indent(site, "    ")}}}
""")
    checked = subprocess.run([require_nginx(), "-t", "-p", str(tmp_path), "-c", str(conf), "-e",
                              str(tmp_path / "error.log")], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr


def test_the_cluster_env_file_names_only_real_settings(tmp_path: Path) -> None:
    env_file = next(b for b in blocks("ini") if "ONEBAR_DATABASE_URL" in b)
    env = dict(line.split("=", 1) for line in env_file.splitlines() if line and not line.startswith("#"))
    loaded = settings_mod.load(environ=env, data_dir=tmp_path)
    assert loaded.uses_postgres and loaded.redis_url and loaded.trusted_proxies == 1
    assert loaded.public_url == "https://id.example.com" and loaded.secret_keys == ("KEY",)
