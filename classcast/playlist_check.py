"""Read a schedule file and find every fault in it, each with its file, line and field, in Russian.

YAML (JSON is YAML too) is read by the YAML 1.2 core rules, so `8:30` stays a time and `no` a word,
as JSON would keep them; then the document is checked against `playlist.schema.json` (JSON Schema
2020-12), then by the rules of `classcast.playlist_parse`. A file named in `bells:` is read the same
way and put in the document's place, so what comes out is one self-contained dict: what the controller
keeps and sends a panel. The player never imports this module (jsonschema costs ~8 MB; docs/playlists.md).
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from classcast.i18n import Message
from classcast.playlist import Schedule
from classcast.playlist_model import FieldPath, PlaylistError, ScheduleInvalid

log = logging.getLogger(__name__)

SCHEMA_FILE = "playlist.schema.json"
# Far above any schedule written by hand; aliases (`*name`) that multiply a small file past it would
# keep the checks busy for hours (each level of `[*a, *a, …]` multiplies the work).
MAX_NODES = 200_000


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with the YAML 1.2 core schema's scalars: no sexagesimals, dates or `yes`."""


_Loader.yaml_implicit_resolvers = {}  # the class's own table; add_implicit_resolver fills it
for _tag, _pattern, _first in (
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("int", r"^[-+]?(?:0|[1-9][0-9]*)$", list("-+0123456789")),  # "08" is no octal: it stays text
    # A float has a dot, as in YAML 1.1: a checksum of digits with one "e" in it stays text.
    ("float", r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$", list("-+.0123456789")),
):
    _Loader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), _first)


@functools.cache
def schema() -> dict[str, Any]:
    """Return the JSON Schema of a schedule document, as shipped with the package."""
    return json.loads((resources.files("classcast") / SCHEMA_FILE).read_text(encoding="utf-8"))


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def read_file(path: Path) -> dict[str, Any]:
    """Return the checked, self-contained document of a file; raise ScheduleInvalid with every fault."""
    return _refused_or(_checked_file(path, nested=False), str(path))


def read_text(text: str, file: str, folder: Path | None = None) -> dict[str, Any]:
    """Return the checked document of `text` (named `file` in errors); `bells: FILE` is read from `folder`."""
    return _refused_or(_checked(text, file, folder, nested=False), file)


def check_file(path: Path) -> list[PlaylistError]:
    """Return every fault of a file; an empty list when it is a good schedule."""
    return _checked_file(path, nested=False)[1]


def lines_of(text: str, paths: Sequence[FieldPath]) -> list[int | None]:
    """Return the line in `text` of the field at each path (or of the nearest one above it; None if the
    text cannot be read): for faults found after the checks, as a material the school does not have."""
    root, _data, errors = _compose(text, "")
    return [None if root is None or errors else _line(root, path) for path in paths]


def _refused_or(checked: tuple[dict[str, Any], list[PlaylistError]], file: str) -> dict[str, Any]:
    data, errors = checked
    if errors:
        log.warning("schedule %s refused, %d fault(s); the first: %s", file, len(errors), errors[0])
        raise ScheduleInvalid(errors)
    return data


def _checked_file(path: Path, *, nested: bool) -> tuple[dict[str, Any], list[PlaylistError]]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: Notepad's byte-order mark is no error
    except UnicodeDecodeError:
        return {}, [PlaylistError(str(path), None, (), "файл не в кодировке UTF-8: сохраните его в UTF-8")]
    except OSError as exc:
        reason = _OS_REASONS.get(type(exc), exc.strerror or str(exc))
        return {}, [
            PlaylistError(str(path), None, (), Message("файл не прочитать: %(reason)s", {"reason": reason}))
        ]
    return _checked(text, str(path), path.parent, nested=nested)


_OS_REASONS = {
    FileNotFoundError: "такого файла нет",
    PermissionError: "нет прав на чтение",
    IsADirectoryError: "это папка, а не файл",
}


def _checked(
    text: str, file: str, folder: Path | None, *, nested: bool
) -> tuple[dict[str, Any], list[PlaylistError]]:
    """Return the document and its faults: syntax first, then the schema, then the schedule's rules."""
    try:
        return _checked_in_turn(text, file, folder, nested=nested)
    except RecursionError:  # lists in lists hundreds deep: every reader of nested data gives up on them
        return {}, [
            PlaylistError(file, None, (), "списки и поля вложены слишком глубоко: так расписание не пишут")
        ]


def _checked_in_turn(
    text: str, file: str, folder: Path | None, *, nested: bool
) -> tuple[dict[str, Any], list[PlaylistError]]:
    root, data, errors = _compose(text, file)
    if root is None:
        return {}, errors
    errors = _duplicate_keys(root, file) + _schema_errors(data, file, root)
    if errors:
        return {}, errors
    data, errors = _with_bells(data, file, root, folder, nested=nested)
    if errors:
        return {}, errors
    try:
        Schedule.from_dict(data, file)
    except ScheduleInvalid as invalid:
        errors = [PlaylistError(e.file, _line(root, e.path), e.path, e.message) for e in invalid.errors]
        return {}, sorted(errors, key=lambda error: error.line or 0)
    return data, []


def _with_bells(
    data: dict[str, Any], file: str, root: yaml.Node, folder: Path | None, *, nested: bool
) -> tuple[dict[str, Any], list[PlaylistError]]:
    """Return the document with the bell schedule its `bells: FILE` names put in its place."""
    name = data.get("bells")
    if not isinstance(name, str):
        return data, []
    line = _line(root, ("bells",))
    if nested or folder is None:
        text = "расписание звонков здесь должно быть записано целиком, а не ссылкой на файл «%(file)s»"
        return {}, [PlaylistError(file, line, ("bells",), Message(text, {"file": name}))]
    if Path(name).name != name:
        # A file beside this one, as the format says: a path could reach any file of the machine
        # that reads it (the controller, reading an upload), and its contents would come back in faults.
        text = "имя файла звонков пишется без папок: файл лежит рядом с этим, а здесь «%(file)s»"
        return {}, [PlaylistError(file, line, ("bells",), Message(text, {"file": name}))]
    bells_path = folder / name
    if not bells_path.is_file():
        text = Message("нет файла звонков «%(file)s» (искал %(path)s)", {"file": name, "path": bells_path})
        return {}, [PlaylistError(file, line, ("bells",), text)]
    bells, errors = _checked_file(bells_path, nested=True)
    if errors:
        text = Message(
            "в файле звонков «%(file)s» ошибки (они ниже): по нему расписание не проверить", {"file": name}
        )
        return {}, [PlaylistError(file, line, ("bells",), text), *errors]
    if "bells" not in bells:
        text = Message("в файле «%(file)s» нет расписания звонков (поля bells)", {"file": name})
        return {}, [PlaylistError(file, line, ("bells",), text)]
    return {**data, "bells": bells["bells"]}, []


# --- YAML with its lines ----------------------------------------------------------------------------------

_SYNTAX = (  # PyYAML's words for the common slips of a hand-written file, and what to tell people
    (
        "cannot start any token",
        "табуляция или знак, с которого в YAML не начинают: отступы делайте пробелами",
    ),
    ("mapping values are not allowed", "лишнее двоеточие: значение с «: » внутри возьмите в кавычки"),
    ("could not find expected ':'", "после ключа нет двоеточия"),
    ("found undefined alias", "ссылка *… на якорь, которого нет"),
    ("unexpected end of stream", "кавычка или скобка не закрыта до конца файла"),
    ("expected ',' or", "скобка [ или { не закрыта, или между элементами нет запятой"),
    ("but found another document", "в файле больше одного документа (---): оставьте один"),
    ("could not determine a constructor", "неизвестный тег !…: теги в расписании не нужны"),
    ("expected <block end>", "отступ не тот: у полей одного уровня отступ одинаковый"),
    ("did not find expected", "отступ или знак не на месте: у элементов одного списка отступ одинаковый"),
)


def _compose(text: str, file: str) -> tuple[yaml.Node | None, Any, list[PlaylistError]]:
    """Return the document's node tree (with lines) and its data, or None and the syntax error."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None, [PlaylistError(file, None, (), "файл пуст")]
        if _expanded_size(root, {}) > MAX_NODES:
            text = "ссылки *… повторяют части файла слишком много раз: напишите эти части без ссылок"
            return None, None, [PlaylistError(file, None, (), text)]
        return root, loader.construct_document(root), []
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        return None, None, [PlaylistError(file, line, (), _syntax_message(exc))]
    except yaml.YAMLError as exc:  # an unmarked one: a control character in the text
        return None, None, [PlaylistError(file, None, (), _syntax_message(exc))]
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Return how many nodes the tree has with every alias written out (each shared node counted once)."""
    known = sizes.get(id(node))
    if known is None:
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            children = node.value if isinstance(node, yaml.SequenceNode) else []
        known = sizes[id(node)] = 1 + sum(_expanded_size(child, sizes) for child in children)
    return known


def _syntax_message(exc: yaml.YAMLError) -> Message:
    said = " ".join(str(part) for part in (getattr(exc, "context", ""), getattr(exc, "problem", "")) if part)
    said = said or str(exc)
    for words, meaning in _SYNTAX:
        if words in said:
            return Message("ошибка YAML: %(meaning)s", {"meaning": meaning})
    return Message("ошибка YAML: %(problem)s", {"problem": said})


def _walk(root: yaml.Node, path: FieldPath) -> Iterator[yaml.Node]:
    """Yield the nodes along `path` as far as the file has them: for a key, its key node, then its value."""
    node = root
    for step in path:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(step)), None)
            if pair is None:
                return
            yield pair[0]
            node = pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
            yield node
        else:
            return


def _line(root: yaml.Node, path: FieldPath) -> int:
    """Return the line of the field at `path`, or of the nearest field above it that the file has."""
    nodes = list(_walk(root, path))
    return (nodes[-1] if nodes else root).start_mark.line + 1


def _duplicate_keys(node: yaml.Node, file: str, path: FieldPath = ()) -> list[PlaylistError]:
    """Return a fault for each key written twice in one mapping (YAML readers keep the last silently)."""
    found: list[PlaylistError] = []
    if isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            found += _duplicate_keys(child, file, (*path, index))
    elif isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            name, line = str(key.value), key.start_mark.line + 1
            if name in first:
                text = Message(
                    "ключ «%(key)s» повторяется (впервые в строке %(first)s)",
                    {"key": name, "first": first[name]},
                )
                found.append(PlaylistError(file, line, (*path, name), text))
            first.setdefault(name, line)
            found += _duplicate_keys(value, file, (*path, name))
    return found


# --- the schema's verdicts, in Russian ---------------------------------------------------------------------

_TYPES = {
    "string": "строка",
    "integer": "целое число",
    "number": "число",
    "boolean": "true или false",
    "object": "набор полей «ключ: значение»",
    "array": "список",
    "null": "null (ничего)",
}


def _schema_errors(data: Any, file: str, root: yaml.Node) -> list[PlaylistError]:
    found: dict[tuple[int, str, str], PlaylistError] = {}
    for error in _validator().iter_errors(data):
        for path, message in _explain(error):
            fault = PlaylistError(file, _line(root, path), path, message)
            found.setdefault((fault.line or 0, fault.field, str(message)), fault)  # `required` repeats itself
    return [found[key] for key in sorted(found)]


def _explain(error: jsonschema.ValidationError) -> list[tuple[FieldPath, Message]]:
    """Return (field, message) for each fault a schema error stands for."""
    path: FieldPath = tuple(error.absolute_path)
    rule, expected, value = error.validator, error.validator_value, error.instance
    own = error.schema if isinstance(error.schema, dict) else {}
    if rule == "required":
        return [
            ((*path, key), Message("обязательное поле не заполнено")) for key in expected if key not in value
        ]
    if rule == "additionalProperties":
        allowed = list(own.get("properties", {}))
        return [((*path, key), _unknown(str(key), allowed)) for key in value if key not in allowed]
    if rule == "dependentRequired":
        return [
            ((*path, need), Message("нужно, когда есть поле «%(field)s»", {"field": key}))
            for key, needs in expected.items()
            if key in value
            for need in needs
            if need not in value
        ]
    custom = own.get(f"x-message-{rule}") or (
        own.get("x-message") if rule in ("type", "pattern", "oneOf") else None
    )
    return [(path, Message(custom) if custom else _plain(str(rule), expected, value))]


def _unknown(key: str, allowed: list[str]) -> Message:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return Message(
            "неизвестное поле «%(key)s»; может быть, «%(close)s»?", {"key": key, "close": close[0]}
        )
    return Message(
        "неизвестное поле «%(key)s»; здесь бывают: %(allowed)s", {"key": key, "allowed": ", ".join(allowed)}
    )


def _plain(rule: str, expected: Any, value: Any) -> Message:
    """Return the message of a schema keyword that carries no message of its own."""
    values = {"expected": expected, "value": _shown(value)}
    texts = {
        "type": "ожидается %(kinds)s, а здесь %(value)s",
        "enum": "не подходит %(value)s; можно: %(choices)s",
        "const": "здесь может быть только %(expected)s",
        "minimum": "не меньше %(expected)s, а здесь %(value)s",
        "maximum": "не больше %(expected)s, а здесь %(value)s",
        "exclusiveMinimum": "больше %(expected)s, а здесь %(value)s",
        "minItems": "список пуст" if expected == 1 else "в списке нужно не меньше %(expected)s",
        "minLength": "пустая строка" if expected == 1 else "не короче %(expected)s знаков",
        "maxLength": "длиннее %(expected)s знаков",
        "uniqueItems": "значения в списке повторяются",
        "minProperties": "пустой набор полей",
    }
    if rule == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        values["kinds"] = " или ".join(_TYPES.get(kind, kind) for kind in kinds)
    if rule == "enum":
        values["choices"] = ", ".join(str(choice) for choice in expected)
    return Message(texts.get(rule, "значение не подходит (%(rule)s)"), {**values, "rule": rule})


def _shown(value: Any) -> str:
    """Return a short Russian description of a value for a message."""
    if isinstance(value, str):
        return f"«{value[:60]}»"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "список"
    return "набор полей" if isinstance(value, Mapping) else type(value).__name__
