"""The code blocks of README.md and docs/*.md, for the tests that run them.

Every fenced block is here, with its language; the tests that execute them are
``tests/test_doc_snippets.py`` (shell, console sessions, systemd units and env
files, JSON, text), ``tests/integrations/test_docs.py`` (Python),
``tests/browser/test_doc_snippets.py`` (HTML, JavaScript, CSS, the CSP policy)
and ``tests/test_deploy_doc.py`` (nginx: the cluster tests' own configuration,
which nginx accepts). ``test_every_snippet_has_a_runner`` fails on a block of a
kind that nothing runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "docs/bar.md", "docs/integrations.md", "docs/deploy.md")
#: Who runs which language ("" is a plain block: the layout, or a CSP policy).
RUNNERS = {"sh": "test_doc_snippets", "json": "test_doc_snippets", "": "test_doc_snippets / browser",
           "console": "test_doc_snippets", "ini": "test_doc_snippets", "nginx": "test_deploy_doc",
           "python": "integrations/test_docs", "html": "browser", "js": "browser", "css": "browser"}


@dataclass(frozen=True)
class Snippet:
    doc: str
    index: int
    lang: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.doc}#{self.index}-{self.lang or 'text'}"


def snippets(*langs: str) -> list[Snippet]:
    found = []
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        for i, m in enumerate(re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)):
            if not langs or m.group(1) in langs:
                found.append(Snippet(doc, i, m.group(1), m.group(2)))
    return found


def params(*langs: str) -> list[object]:
    return [pytest.param(s, id=s.id) for s in snippets(*langs)]
