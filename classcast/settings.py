"""Settings as documented records: defaults, then a TOML file, then the environment.

Each program (controller, player, agent) declares its settings as a tuple of `Setting` records; the
same records generate `docs/configuration.md`, so a setting cannot exist without its help text.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str

    @property
    def kind(self) -> type:
        return type(self.default)


class SettingsError(ValueError):
    """A setting could not be read; the message names the source, the key and the reason."""


def load(
    settings: Sequence[Setting],
    *,
    env_prefix: str,
    file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return every setting's value: default, overridden by the file, the environment, then `overrides`."""
    env = os.environ if env is None else env
    known = {s.name: s for s in settings}
    values = {s.name: s.default for s in settings}
    if file is not None:
        values.update(_read_file(file, known))
    for setting in settings:
        raw = env.get(env_prefix + setting.name.upper())
        if raw is not None:
            values[setting.name] = _parse(setting, raw, source=f"${env_prefix}{setting.name.upper()}")
    for name, value in (overrides or {}).items():
        if name not in known:
            raise SettingsError(f"unknown setting {name!r}")
        if value is not None:
            values[name] = _coerce(known[name], value, source="the command line")
    return values


def _read_file(path: Path, known: Mapping[str, Setting]) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read the file: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from exc
    values = {}
    for name, value in data.items():
        if name not in known:
            raise SettingsError(f"{path}: unknown key {name!r}")
        values[name] = _coerce(known[name], value, source=f"{path}: key {name!r}")
    return values


def _coerce(setting: Setting, value: Any, *, source: str) -> Any:
    if isinstance(value, str) and setting.kind is not str:
        return _parse(setting, value, source=source)
    if setting.kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not setting.kind:
        raise SettingsError(f"{source}: expected {setting.kind.__name__}, got {value!r}")
    return value


def _parse(setting: Setting, raw: str, *, source: str) -> Any:
    kind = setting.kind
    if kind is str:
        return raw
    if kind is bool:
        if raw.strip().lower() in _TRUE:
            return True
        if raw.strip().lower() in _FALSE:
            return False
        raise SettingsError(f"{source}: expected true or false, got {raw!r}")
    try:
        return kind(raw)
    except ValueError:
        raise SettingsError(f"{source}: expected {kind.__name__}, got {raw!r}") from None


def render_markdown(title: str, settings: Sequence[Setting], env_prefix: str) -> str:
    """Return the Markdown table that documents `settings` (a section of docs/configuration.md)."""
    lines = [f"## {title}", "", "| key | environment | default | meaning |", "| --- | --- | --- | --- |"]
    for s in settings:
        default = json.dumps(s.default, ensure_ascii=False)  # TOML spells these values the same way
        lines.append(f"| `{s.name}` | `{env_prefix}{s.name.upper()}` | `{default}` | {s.help} |")
    return "\n".join(lines) + "\n"
