"""Every user-facing message goes through the catalogue, and every one has its English translation.

The source language is Russian: a Russian string literal in web-facing code, a template or a staff page's
script that is not wrapped in `_()` / `N_()` (or gettext) would reach a user untranslatable, so these
tests find them. The catalogue must hold every message the sources mark (`make messages` gathers them),
and a page asked for in English must carry English, in the server's messages and in its scripts'.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.jslexer import tokenize
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from controller.app import create_app
from controller.store import users

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "controller/translations/en/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")
SCRIPTS = "controller/static/"
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
MARKERS = {"_", "N_", "gettext", "lazy_gettext", "ngettext", "translate"}
# The keywords `make messages` extracts: Babel's defaults plus N_ (-k N_ -k _).
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "_": None}
# Code whose Russian strings are not UI messages: the demo's and the command line's console output (an
# administrator at a shell), the demo's sample data, and the column headings and role words an import
# file may use (matched, never shown or translated).
NOT_UI = {
    "controller/demo.py",
    "controller/demo_panels.py",
    "controller/__main__.py",
    "controller/operations.py",
    "controller/import_columns.py",
    "controller/stats/cli.py",  # the server's shell, in Russian like __main__
    # Sample data and the shell.
    "controller/seed/__init__.py",
    "controller/seed/calendar.py",
    "controller/seed/plan.py",
    "controller/seed/usage.py",
}


def _catalogue() -> Catalog:
    with PO.open("rb") as po:
        return read_po(po)


def _extracted(only: str | None = None) -> Iterator[tuple[str, int, str]]:
    """Yield (file, line, message) for each message the sources mark, as `make messages` finds them."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    if only:
        method_map = [(pattern, method) for pattern, method in method_map if method == only]
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        yield filename, lineno, message if isinstance(message, str) else message[0]


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


def _script_tokens(source: str) -> list[Any]:
    """Return the script's tokens as Babel's JavaScript extractor reads them.

    Babel 2.18 calls its tokenizer an implementation detail (a DeprecationWarning) but has no public
    one; this check must read exactly what `make messages` reads, so it uses it, warning silenced.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return list(tokenize(source, jsx=True, template_string=True, dotted=False))


def _unmarked_script_strings(source: str) -> list[tuple[int, str]]:
    """Return (line, text) of each string in a script that holds Russian outside a `_("…")` call.

    The script is read with the tokenizer `make messages` extracts with, so comments, regular expressions
    and quotes inside strings are told apart as the extractor tells them. A string is marked when it is
    the first argument of `_(` (or continues one with `+`); a template literal never is (the extractor
    cannot read one), so Russian in backticks is always reported.
    """
    found = []
    previous: list[tuple[str, str]] = []  # the last two tokens that are not comments
    in_message = False  # the last string was (part of) a marked message, which `+ "…"` continues
    for token in _script_tokens(source):
        if token.type in ("linecomment", "multilinecomment"):
            continue
        if token.type == "string":
            opens_call = previous == [("name", "_"), ("operator", "(")]
            in_message = opens_call or (in_message and previous[-1] == ("operator", "+"))
        elif (token.type, token.value) != ("operator", "+"):
            in_message = False
        marked = token.type == "string" and in_message
        if token.type in ("string", "template_string") and CYRILLIC.search(token.value) and not marked:
            found.append((token.lineno, token.value[:60]))
        previous = [*previous[-1:], (token.type, token.value)]
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


def test_no_unmarked_russian_text_in_scripts() -> None:
    found = []
    for path in sorted((ROOT / "controller" / "static").rglob("*.js")):
        for line, text in _unmarked_script_strings(path.read_text(encoding="utf-8")):
            found.append(f"{path.relative_to(ROOT)}:{line}: {text}")
    assert found == [], (
        'wrap these in _("…") imported from ./i18n.js, one plain string each, values as %(name)s:\n'
        + "\n".join(found)
    )


@pytest.mark.parametrize(
    ("source", "unmarked"),
    [
        ('_("Да"); // Нет\n/* "Нет" */', []),
        ('const a = _("Да");\nconst b = "Нет";', [2]),
        ("const a = `Нет ${n}`;", [1]),
        ('const a = _("Да, " + "и это");', []),
        ('const a = _("Да") + "Нет";', [1]),
        ('const a = f("Нет");\nconst re = /"Нет/; const c = "Да";', [1, 2]),
        ("const url = \"http://x\"; // «Нет» after a URL\nconst b = 'Нет';", [2]),
        ('x._("Да"); const y = _n("Нет");', [1]),
    ],
)
def test_the_script_check_tells_marked_from_unmarked(source: str, unmarked: list[int]) -> None:
    assert [line for line, _text in _unmarked_script_strings(source)] == unmarked


def test_the_catalogue_holds_every_message_of_the_code() -> None:
    catalog = _catalogue()
    missing, unplaced = [], []
    for filename, lineno, message in _extracted():
        entry = catalog.get(message)
        if entry is None:
            missing.append(f"{filename}:{lineno}: {message[:60]!r}")
        elif filename.startswith(SCRIPTS) and not any(p.startswith(SCRIPTS) for p, _ in entry.locations):
            # The pages send the scripts only the messages the catalogue places in a script.
            unplaced.append(f"{filename}:{lineno}: {message[:60]!r}")
    assert missing == [] and unplaced == [], (
        "the catalogue is out of date: run `make messages`, then translate the new entries in "
        "controller/translations/en/LC_MESSAGES/messages.po\n"
        + "\n".join(missing + [f"{line} (not yet placed in a script)" for line in unplaced])
    )


def test_every_message_has_an_english_translation() -> None:
    catalog = _catalogue()
    missing = [m.id for m in catalog if m.id and not m.string]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert missing == [] and fuzzy == [], f"untranslated: {missing[:10]}, fuzzy: {fuzzy[:10]}"


def test_every_translation_keeps_the_placeholders_of_its_message() -> None:
    placeholder = re.compile(r"%\(\w+\)[sd]")
    wrong = [
        m.id
        for m in _catalogue()
        if m.id and m.string and sorted(placeholder.findall(m.id)) != sorted(placeholder.findall(m.string))
    ]
    assert wrong == [], f"the translation drops or renames a %(name)s: {wrong}"


# The pages in English: the server's own messages and the scripts' catalogue.

PASSWORD = "correct horse battery"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    if not MO.exists() or MO.stat().st_mtime < PO.stat().st_mtime:
        pytest.fail("the compiled catalogue is missing or older than the .po: run `make translations`")
    app = create_app({"data_dir": str(tmp_path / "controller"), "secure_cookies": False})
    services = app.extensions["classcast"]
    services.db.write(users.create_user, "operator", PASSWORD, "Оператор", "operator", None, None)
    yield app
    services.db.close()


def _csrf(client: FlaskClient) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _scripts_catalogue(page: str) -> dict[str, str]:
    block = re.search(r'<script type="application/json" id="i18n-catalogue">(.*?)</script>', page, re.S)
    assert block, "the page carries no catalogue for its scripts"
    return json.loads(block.group(1))


def test_a_staff_page_in_english_gives_its_scripts_english(app: Flask) -> None:
    client = app.test_client()
    client.post("/login", data={"login": "operator", "password": PASSWORD, "csrf_token": _csrf(client)})

    response = client.get("/admin/registry?lang=en")
    page = response.get_data(as_text=True)
    assert '<html lang="en">' in page
    catalogue = _scripts_catalogue(page)
    assert catalogue["Нет связи с сервером. Проверьте сеть и попробуйте ещё раз."] == (
        "Cannot reach the server. Check your network connection and try again."
    )
    assert catalogue["Показано %(shown)s из %(total)s"] == "Showing %(shown)s of %(total)s"
    # Every message the scripts use is there (unless its English is the same), and no other.
    english = {entry.id: entry.string for entry in _catalogue()}
    used = {message for _file, _line, message in _extracted(only="javascript")}
    assert set(catalogue) == {message for message in used if english.get(message) != message}
    # Data, not code: the policy still forbids inline scripts.
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]

    # The choice is remembered; Russian, the source language, needs no translations.
    assert _scripts_catalogue(client.get("/admin/registry").get_data(as_text=True)) != {}
    page = client.get("/admin/registry?lang=ru").get_data(as_text=True)
    assert '<html lang="ru">' in page and _scripts_catalogue(page) == {}


def test_the_servers_messages_come_out_in_english(app: Flask) -> None:
    client = app.test_client()
    form = {"login": "operator", "password": "not the password", "csrf_token": _csrf(client)}
    response = client.post("/login?lang=en", data=form)
    assert response.status_code == 401
    assert "Incorrect username or password." in response.get_data(as_text=True)

    # Without ?lang= or its cookie, the browser's preference decides.
    client = app.test_client()
    client.post("/login", data={**form, "password": PASSWORD, "csrf_token": _csrf(client)})
    answer = client.get("/api/regions/999", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert answer.status_code == 404
    assert answer.json["message"] == "Region not found."
    russian = client.get("/api/regions/999", headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    assert russian.json["message"] == "Регион не найден."
