"""Every user-facing message goes through the catalogue, and every one has its English translation.

The source language is Russian: a Russian string literal in web-facing code or a template that is not
wrapped in `_()` / `N_()` (or gettext) would reach a user untranslatable, so this test finds them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
MARKERS = {"_", "N_", "gettext", "lazy_gettext", "ngettext", "translate"}
# Code whose Russian strings are not UI messages: the demo's and the command line's console output (an
# administrator at a shell), the demo's sample data, and the column headings and role words an import
# file may use (matched, never shown or translated).
NOT_UI = {
    "controller/demo.py",
    "controller/demo_panels.py",
    "controller/__main__.py",
    "controller/operations.py",
    "controller/import_columns.py",
}


def _unmarked_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    marked: set[int] = set()
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) in MARKERS
        ):
            marked.update(id(arg) for arg in node.args)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and CYRILLIC.search(node.value):
            if id(node) not in marked and id(node) not in docstrings:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:50]!r}")
    return found


def test_no_unmarked_russian_message_in_web_facing_code() -> None:
    found = []
    for path in sorted((ROOT / "controller").rglob("*.py")):
        if str(path.relative_to(ROOT)) not in NOT_UI:
            found += _unmarked_literals(path)
    assert found == [], "wrap these in _() (web code) or N_() (store code):\n" + "\n".join(found)


def test_no_unmarked_russian_text_in_templates() -> None:
    found = []
    for path in sorted((ROOT / "controller" / "templates").rglob("*.html")):
        text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.S)
        for line in text.splitlines():
            if CYRILLIC.search(line):
                found.append(f"{path.relative_to(ROOT)}: {line.strip()[:60]!r}")
    assert found == [], "wrap these in {{ _('…') }}:\n" + "\n".join(found)


def test_every_message_has_an_english_translation() -> None:
    with open(ROOT / "controller/translations/en/LC_MESSAGES/messages.po", "rb") as po:
        catalog = read_po(po)
    missing = [m.id for m in catalog if m.id and not m.string]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert missing == [] and fuzzy == [], f"untranslated: {missing[:10]}, fuzzy: {fuzzy[:10]}"
