"""The bar as served: the minified build of the readable source, under 4 KB gzipped.

``static/onebar.js`` is written for people; ``npm run build`` (terser, pinned
in package.json) writes ``static/onebar.min.js``, which is what ``/onebar.js``
serves. These tests fail when the build is stale or over budget.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[1]
SOURCE, BUILT = ROOT / "static" / "onebar.js", ROOT / "static" / "onebar.min.js"
TERSER = ROOT / "node_modules" / ".bin" / "terser"
#: The bar's wire budget: gzip -9 of what /onebar.js serves.
GZIP_BUDGET = 4096


def gzipped_size(body: bytes) -> int:
    return len(gzip.compress(body, compresslevel=9, mtime=0))


def test_the_served_script_is_the_current_build_of_the_source(tmp_path: Path) -> None:
    assert shutil.which("node"), "the bar's build needs Node.js: apt-get install nodejs npm"
    assert TERSER.exists(), "the bar's build tool is missing: run `npm ci` in the checkout"
    out = tmp_path / "onebar.min.js"
    subprocess.run([str(TERSER), str(SOURCE), "--config-file", str(ROOT / "terser.json"), "--output", str(out)],
                   check=True, cwd=ROOT, timeout=120)
    assert out.read_bytes() == BUILT.read_bytes(), (
        "static/onebar.min.js is stale: run `npm run build` after changing static/onebar.js")


def test_the_served_bar_fits_4_kb_gzipped(client: FlaskClient) -> None:
    with client.get("/onebar.js") as answer:  # a file response: closed as a server closes it
        body = answer.get_data()
    assert body == BUILT.read_bytes()
    assert gzipped_size(body) <= GZIP_BUDGET, f"onebar.js is {gzipped_size(body)} bytes gzipped"
    assert len(body) < len(SOURCE.read_bytes()) * 0.6  # minified, not the source


def test_debug_serves_the_readable_source(client: FlaskClient) -> None:
    with client.get("/onebar.js?debug") as answer:
        assert answer.status_code == 200 and answer.mimetype == "text/javascript"
        assert answer.get_data() == SOURCE.read_bytes()
        assert b"// -- Drawing" in answer.get_data()  # comments and all
