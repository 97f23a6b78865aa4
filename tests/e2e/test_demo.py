"""`classcast-controller demo` as a user runs it: real panels, casts shown, telemetry stored, exit 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_demo(data_dir: Path, panels: int, duration: float, timeout: float) -> subprocess.CompletedProcess:
    argv = ["demo", "--panels", str(panels), "--duration", str(duration), "--data-dir", str(data_dir)]
    return subprocess.run(
        [sys.executable, "-m", "controller", *argv], capture_output=True, text=True, timeout=timeout
    )


def test_demo_runs_and_reports_everything_working(tmp_path: Path) -> None:
    demo = run_demo(tmp_path, panels=2, duration=12, timeout=150)
    out = demo.stdout
    assert demo.returncode == 0, out + demo.stderr
    assert "панелей на связи:          2 из 2" in out
    assert "всё работает" in out
    shown, sent = map(int, out.split("показов подтверждено:")[1].split()[0:3:2])
    assert shown == sent >= 4  # two rounds of two rooms
    for login in ("teacher", "it", "municipal", "regional", "operator"):
        assert f"\n  {login} " in out  # every demo account is printed with its password


def test_demo_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "thesis.txt").write_text("не удалять", encoding="utf-8")
    demo = run_demo(tmp_path, panels=1, duration=1, timeout=60)
    assert demo.returncode != 0
    assert "создана не демо" in demo.stderr + demo.stdout
    assert (tmp_path / "thesis.txt").exists()
