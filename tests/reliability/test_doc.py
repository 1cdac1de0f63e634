"""docs/reliability.md stays honest: every test it names exists.

The issue's "done when" is that every row of the table is a test in the suite. A row
naming a renamed or deleted test would silently claim coverage that is gone; this test
fails instead.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from tests.common import ROOT

DOC = ROOT / "docs" / "reliability.md"

#: `tests/x/y.py::name[param]`, or `…::name` meaning the last file named before it.
_REF = re.compile(r"`(tests/[\w/]+\.py|…)(?:::(\w+))?(?:\[[^\]`]*\])?`")


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


def references(text: str) -> list[tuple[int, str, str | None]]:
    """(line, file, test name or None) of every test the document names, in order."""
    refs: list[tuple[int, str, str | None]] = []
    current: str | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        for m in _REF.finditer(line):
            file, name = m.group(1), m.group(2)
            if file == "…":
                if name is None:
                    continue  # a parameter list only: `…[UTC]` points at the test named before it
                if current is None:
                    raise AssertionError(f"docs/reliability.md line {lineno}: `…::{name}` with no file named before it")
                file = current
            current = file
            refs.append((lineno, file, name))
    return refs


def test_the_reference_parser_follows_ellipses_to_the_last_file():
    text = ("| a | `tests/x/a.py::test_one` and `…::test_two` |\n"
            "| b | `…[param]` | `tests/y.py` | `…::test_three[p]` |")
    assert references(text) == [(1, "tests/x/a.py", "test_one"), (1, "tests/x/a.py", "test_two"),
                                (2, "tests/y.py", None), (2, "tests/y.py", "test_three")]


def test_every_test_named_in_docs_reliability_exists():
    refs = references(DOC.read_text(encoding="utf-8"))
    assert len(refs) > 50, "the document names far fewer tests than it should: is the pattern still right?"
    missing = []
    for lineno, file, name in refs:
        path = ROOT / file
        if not path.is_file():
            missing.append(f"line {lineno}: {file} does not exist")
        elif name is not None and name not in _tests_in(path):
            missing.append(f"line {lineno}: {file}::{name} does not exist")
    assert not missing, "docs/reliability.md names tests that are not in the suite:\n" + "\n".join(missing)
