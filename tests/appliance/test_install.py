"""The installers, run for real into a scratch root (--root), and the controller started from there.

The installers run from a snapshot of this tree (scripts, units, docs, packages), so the release they
build stays the same while the working tree changes under other hands. --root leaves packages, users
and services alone and builds the virtual environment at its path inside the root. The settings it
writes name the installed system's paths (/var/lib/…), so the test points the data folder and the
ports at its scratch directory through the environment, as any setting can be overridden.
The tests of this module share one installation and run in order: install, again, serve, panel, upgrade.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import REPO, Proc, get_json

PARTS = (
    "pyproject.toml",
    "README.md",
    "classcast",
    "controller",
    "player",
    "agent",
    "systemd",
    "scripts",
    "docs",
)
STATUSES = {"changed", "unchanged", "checked", "skipped", "would"}
PYTHON = os.path.realpath(sys.executable)  # the interpreter behind the test's venv
SERVER = ("--server-name", "classcast.test")
PANEL_ADDRESSES = ("--controller", "https://classcast.test", "--telemetry", "tcp://classcast.test:5556")


def snapshot(target: Path) -> Path:
    """Return `target`, now holding a copy of the parts of this tree the installers use."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo", "*.egg-info")
    target.mkdir(parents=True, exist_ok=True)
    for part in PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=ignore)
        else:
            shutil.copy2(source, target / part)
    return target


def install(source: Path, script: str, *args: str | Path, expect: int = 0) -> subprocess.CompletedProcess:
    """Return the finished run of `source/scripts/<script>`, having checked its status and its step lines."""
    result = subprocess.run(
        [source / "scripts" / script, "--python", PYTHON, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert result.returncode == expect, f"{script}: {result.stdout}\n{result.stderr[-3000:]}"
    for line in steps(result.stdout):
        assert line.split()[0] in STATUSES, f"a step line without a status: {line!r}"
    return result


def steps(output: str) -> list[str]:
    """Return the step lines: not the commands and file contents under them, nor the closing summary."""
    return [
        line
        for line in output.splitlines()
        if line and not line.startswith(" ") and line.split()[0] in STATUSES
    ]


def statuses(output: str) -> set[str]:
    return {line.split()[0] for line in steps(output)}


@dataclass
class Installed:
    source: Path
    root: Path
    output: str  # the first run's

    def at(self, path: str) -> Path:
        return self.root / path.lstrip("/")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    source = snapshot(tmp_path_factory.mktemp("source"))
    root = tmp_path_factory.mktemp("root")
    return Installed(source, root, install(source, "install-controller", "--root", root, *SERVER).stdout)


def operator_password(output: str) -> str:
    found = re.findall(r"operator account made: login 'operator', password: (\S+)", output)
    assert len(found) == 1, output
    return found[0]


def test_dry_runs_print_the_plan_and_change_nothing(tmp_path: Path) -> None:
    source, root = snapshot(tmp_path / "source"), tmp_path / "root"
    root.mkdir()
    controller = install(source, "install-controller", "--dry-run", "--root", root, *SERVER).stdout
    panel = install(source, "install-panel", "--dry-run", "--root", root, *PANEL_ADDRESSES).stdout
    assert list(root.iterdir()) == [], "a dry run wrote into the root"
    for plan in (controller, panel):
        assert "would" in statuses(plan) and "changed" not in statuses(plan)
        assert re.search(r"^would     build release \d+\.\d+\.\d+-[0-9a-f]{12}", plan, re.MULTILINE)
        assert re.search(r"^          \$ .*-m venv ", plan, re.MULTILINE)  # each command is shown
        assert plan.rstrip().endswith("dry run: nothing was changed")
    assert "would     /etc/systemd/system/classcast-controller.service" in controller
    assert "would     make the operator account if there is none" in controller
    for unit in ("player", "agent", "kiosk"):
        assert f"would     /etc/systemd/system/classcast-{unit}.service" in panel
    assert "would     /etc/systemd/journald.conf.d/classcast.conf" in panel
    # A first panel install cannot guess the controller's address.
    refused = install(source, "install-panel", "--dry-run", "--root", root, expect=1)
    assert "needs --controller URL and --telemetry" in refused.stderr


def test_install_controller_then_again_changes_nothing(installed: Installed) -> None:
    first = installed.output
    assert "changed" in statuses(first)
    operator_password(first)
    assert installed.at("/etc/classcast/controller.toml").stat().st_mode & 0o777 == 0o640
    assert installed.at("/etc/classcast/tls/controller.key").stat().st_mode & 0o777 == 0o600
    unit = installed.at("/etc/systemd/system/classcast-controller.service")
    assert unit.read_bytes() == (REPO / "systemd/classcast-controller.service").read_bytes()
    assert installed.at(
        "/etc/systemd/system/multi-user.target.wants/classcast-controller.service"
    ).is_symlink()
    writable = [
        p
        for p in _files(installed.root)
        if not p.is_symlink() and p.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH)  # a link's mode is moot
    ]
    assert writable == [], f"writable by others than root: {writable[:5]}"

    before = {p: p.lstat().st_mtime_ns for p in _files(installed.at("/etc"), installed.at("/opt"))}
    again = install(installed.source, "install-controller", "--root", installed.root, *SERVER).stdout
    assert statuses(again) <= {"unchanged", "skipped", "checked"}, again
    assert "nothing to change" in again and "password" not in again
    after = {p: p.lstat().st_mtime_ns for p in _files(installed.at("/etc"), installed.at("/opt"))}
    assert after == before


def _files(*folders: Path) -> list[Path]:
    return [Path(d) / f for folder in folders for d, _, names in os.walk(folder) for f in names] + [
        Path(d) for folder in folders for d, _, _ in os.walk(folder)
    ]


def test_the_installed_controller_serves_and_its_operator_signs_in(
    installed: Installed, spawn: Callable[..., Proc]
) -> None:
    controller = spawn(
        "installed-controller", installed.at("/opt/classcast/venv/bin/classcast-controller"), "serve",
        "--config", installed.at("/etc/classcast/controller.toml"),
        env={
            "CLASSCAST_DATA_DIR": str(installed.at("/var/lib/classcast/controller")),
            "CLASSCAST_PORT": "0",
            "CLASSCAST_TELEMETRY_BIND": "tcp://127.0.0.1:*",
            "CLASSCAST_SECURE_COOKIES": "false",  # plain HTTP on loopback here; nginx has TLS on a server
        },
    )  # fmt: skip
    url = controller.read_line("ClassCast controller: ")
    status, health = get_json(url + "/healthz")
    assert status == 200 and health["status"] == "ok", health

    jar = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with jar.open(url + "/login", timeout=10) as page:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode()).group(1)
    form = {"login": "operator", "password": operator_password(installed.output), "csrf_token": csrf}
    with jar.open(url + "/login", data=urllib.parse.urlencode(form).encode(), timeout=10) as signed_in:
        assert not signed_in.url.endswith("/login"), "the printed operator password did not sign in"
    with jar.open(url + "/api/session", timeout=10) as session:
        assert b'"role":"operator"' in session.read().replace(b" ", b"")


def test_a_bad_settings_file_stops_the_controller_naming_file_key_and_reason(
    installed: Installed, tmp_path: Path
) -> None:
    good = installed.at("/etc/classcast/controller.toml").read_text()
    program = installed.at("/opt/classcast/venv/bin/classcast-controller")
    for extra, reason in (
        ("prot = 8080\n", "unknown key 'prot'"),
        ('port = "eighty"\n', "key 'port': expected int"),
    ):
        bad = tmp_path / "controller.toml"
        bad.write_text(good.replace("port = 8080\n", "") + extra)
        result = subprocess.run(
            [program, "serve", "--config", bad], capture_output=True, text=True, timeout=60
        )
        # 2 is the status the unit's RestartPreventExitStatus= stops on: no restart loop, the message stays.
        assert result.returncode == 2
        assert f"{bad}: {reason}" in result.stderr


def test_install_panel_beside_it_reuses_the_release(installed: Installed) -> None:
    out = install(installed.source, "install-panel", "--root", installed.root, *PANEL_ADDRESSES).stdout
    assert re.search(r"^unchanged release \S+ built$", out, re.MULTILINE), out
    for program in ("player", "agent"):
        config = installed.at(f"/etc/classcast/{program}.toml")
        assert config.stat().st_mode & 0o777 == 0o640
        assert f"checked   /etc/classcast/{program}.toml is valid" in out
    assert (
        'controller_url = "https://classcast.test"' in installed.at("/etc/classcast/player.toml").read_text()
    )
    assert installed.at("/etc/pam.d/classcast-kiosk").is_file()
    rules = installed.at("/etc/polkit-1/rules.d/50-classcast-reboot.rules").read_text()
    assert 'subject.user != "classcast"' in rules and "org.freedesktop.login1.reboot" in rules
    assert 'action.lookup("unit") == "classcast-kiosk.service"' in rules  # the browser watch's restart
    assert "Storage=volatile" in installed.at("/etc/systemd/journald.conf.d/classcast.conf").read_text()
    for unit in ("player", "agent", "kiosk"):
        assert installed.at(
            f"/etc/systemd/system/multi-user.target.wants/classcast-{unit}.service"
        ).is_symlink()
    again = install(installed.source, "install-panel", "--root", installed.root).stdout
    assert statuses(again) <= {"unchanged", "skipped", "checked"}, again
    version = subprocess.run(
        [installed.at("/opt/classcast/venv/bin/classcast-agent"), "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("classcast-agent ")


def test_an_upgrade_keeps_settings_and_data_and_rolls_back(installed: Installed, tmp_path: Path) -> None:
    venv, previous = installed.at("/opt/classcast/venv"), installed.at("/opt/classcast/previous")
    config = installed.at("/etc/classcast/controller.toml")
    old, settings = os.readlink(venv), (config.read_bytes(), config.stat().st_mtime_ns)
    newer = snapshot(tmp_path / "newer")
    with (newer / "classcast" / "__init__.py").open("a") as f:
        f.write("# the next release\n")

    out = install(newer, "install-controller", "--root", installed.root, *SERVER).stdout
    new = os.readlink(venv)
    assert new != old and os.readlink(previous) == old
    assert "back up the database before the upgrade" in out and "password" not in out
    assert (config.read_bytes(), config.stat().st_mtime_ns) == settings
    assert _operators(installed.at("/var/lib/classcast/controller/classcast.sqlite")) == ["operator"]
    (backup,) = installed.at("/var/backups/classcast").glob(f"pre-upgrade-{Path(old).name}-*.sqlite")
    assert _operators(backup) == ["operator"]

    back = install(newer, "install-controller", "--root", installed.root, "--rollback").stdout
    assert f"roll back to release {Path(old).name}" in back
    assert os.readlink(venv) == old and os.readlink(previous) == new
    # The old source sees its own release active again: nothing to change.
    again = install(installed.source, "install-controller", "--root", installed.root, *SERVER).stdout
    assert statuses(again) <= {"unchanged", "skipped", "checked"}, again


def _operators(database: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return [row[0] for row in db.execute("SELECT login FROM user WHERE role = 'operator'")]
