"""Settings records: defaults, then a TOML file, then the environment, then overrides; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from classcast.settings import Setting, SettingsError, load

SETTINGS = (
    Setting("port", 8080, "port"),
    Setting("ratio", 0.5, "a ratio"),
    Setting("debug", False, "debug"),
    Setting("name", "x", "a name"),
)


def test_each_source_overrides_the_one_before(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text('port = 9000\nratio = 1\nname = "из файла"\n', encoding="utf-8")
    values = load(
        SETTINGS,
        env_prefix="T_",
        file=file,
        env={"T_PORT": "9100", "T_DEBUG": "yes"},
        overrides={"name": "cli"},
    )
    assert values == {"port": 9100, "ratio": 1.0, "debug": True, "name": "cli"}
    assert load(SETTINGS, env_prefix="T_", env={}) == {
        "port": 8080,
        "ratio": 0.5,
        "debug": False,
        "name": "x",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("port = 'eighty'\n", "key 'port': expected int, got 'eighty'"),
        ("colour = 1\n", "unknown key 'colour'"),
        ("port = \n", "not valid TOML"),
        ("debug = 3\n", "key 'debug': expected bool, got 3"),
    ],
)
def test_a_bad_file_names_the_file_key_and_reason(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "bad.toml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as error:
        load(SETTINGS, env_prefix="T_", file=file, env={})
    assert str(error.value).startswith(str(file))
    assert message in str(error.value)


def test_a_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"\$T_DEBUG: expected true or false, got 'maybe'"):
        load(SETTINGS, env_prefix="T_", env={"T_DEBUG": "maybe"})


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read the file"):
        load(SETTINGS, env_prefix="T_", file=tmp_path / "absent.toml", env={})
