"""The bar as served: minified builds of the readable sources, each within its gzipped budget.

``static/onebar.js`` and the two lazy modules are written for people; ``npm run
build`` (scripts/build-bar.mjs: clean-css for the CSS inside the bar, terser for
the scripts, both pinned in package-lock.json) writes ``static/*.min.js``, which
is what the service serves. These tests fail when a build is stale, a file is
over its budget, a figure in the docs is not the measured one, or the type
declarations do not type-check.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from bench import size

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
FILES = size.FILES  # URL path, source, build, gzipped budget (bench/size.py says why each)


def test_the_served_scripts_are_the_current_build_of_the_sources(tmp_path: Path) -> None:
    assert shutil.which("node"), "the bar's build needs Node.js: apt-get install nodejs npm"
    for tool in ("terser", "clean-css"):
        assert (NODE_MODULES / tool).is_dir(), f"the bar's build tool {tool} is missing: run `npm ci` in the checkout"
    subprocess.run(["node", str(ROOT / "scripts" / "build-bar.mjs"), str(tmp_path)],
                   check=True, cwd=ROOT, timeout=120)
    for f in FILES:
        assert (tmp_path / f.built.name).read_bytes() == f.built.read_bytes(), (
            f"static/{f.built.name} is stale: run `npm run build` after changing static/{f.source.name}")


def test_no_css_is_left_for_people_in_the_served_bar() -> None:
    # The readable CSS is a /* css */ template with comments and indentation;
    # the build turns it into one minified string.
    source, built = FILES[0].source.read_text(), FILES[0].built.read_text()
    assert "/* css */ `" in source and "\n    :host {" in source
    assert ":host{display:block;" in built and "/*" not in built and "\n" not in built


@pytest.mark.parametrize("f", FILES, ids=[f.path for f in FILES])
def test_each_served_script_fits_its_gzipped_budget(client: FlaskClient, f: size.File) -> None:
    with client.get(f.path) as answer:  # a file response: closed as a server closes it
        body = answer.get_data()
    assert answer.status_code == 200 and answer.mimetype == "text/javascript"
    assert body == f.built.read_bytes()  # the minified build, not the source
    assert len(body) < len(f.source.read_bytes()) * 0.6
    assert size.gzipped(body) <= f.budget, f"{f.path} is {size.gzipped(body)} bytes gzipped, over {f.budget}"


@pytest.mark.parametrize("f", FILES, ids=[f.path for f in FILES])
def test_debug_serves_the_readable_source(client: FlaskClient, f: size.File) -> None:
    with client.get(f.path + "?debug") as answer:
        body = answer.get_data()
    assert answer.status_code == 200 and answer.mimetype == "text/javascript"
    assert body == f.source.read_bytes()
    assert b"\n// " in body or b"\n  // " in body  # comments and all


def test_the_docs_give_the_measured_sizes() -> None:
    measured = {s.path: s for s in size.run()}
    core = measured["/onebar.js"]
    readme = " ".join((ROOT / "README.md").read_text().split())  # as read, line breaks aside
    assert f"**{core.served_gzip:,} bytes gzipped**" in readme, (
        f"README.md: the bar is {core.served_gzip:,} bytes gzipped now (python -m bench --only size)")
    bench = (ROOT / "BENCHMARKS.md").read_text()
    section = bench[bench.index("## The bar's size"):]
    section = section[:section.index("\n## ", 1)] if "\n## " in section[1:] else section
    for s in measured.values():
        row = re.search(rf"^\| `{re.escape(s.path)}` .*$", section, re.M)
        assert row, f"BENCHMARKS.md has no row for {s.path}: python -m bench --only size"
        assert f"| {s.served_bytes:,} | **{s.served_gzip:,}** |" in row.group(0), (
            f"BENCHMARKS.md: {s.path} is {s.served_bytes:,} / {s.served_gzip:,} now: python -m bench --only size")
    bar_doc = " ".join((ROOT / "docs" / "bar.md").read_text().split())
    for s in measured.values():
        assert f"`{s.path}`: {s.served_gzip:,} bytes gzipped (budget {s.budget:,})" in bar_doc, (
            f"docs/bar.md: {s.path} is {s.served_gzip:,} bytes gzipped, budget {s.budget:,}")


def test_the_type_declarations_type_check(tmp_path: Path) -> None:
    # onebar.d.ts against a page script that uses every part of it, by the
    # TypeScript compiler pinned in package-lock.json, in its strictest mode.
    assert shutil.which("node"), "the type check needs Node.js: apt-get install nodejs npm"
    tsc = NODE_MODULES / "typescript" / "bin" / "tsc"
    assert tsc.exists(), "typescript is missing: run `npm ci` in the checkout"
    usage = ROOT / "tests" / "types" / "usage.ts"
    result = subprocess.run(
        ["node", str(tsc), "--noEmit", "--strict", "--target", "es2022", "--lib", "es2022,dom",
         str(ROOT / "static" / "onebar.d.ts"), str(usage)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
