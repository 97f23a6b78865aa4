"""The player's benchmarks run, briefly, and say what they measured on their last line.

Each bench runs as a real process with tiny parameters (its own controller, player and Chromium,
under `tmp_path`). Its figures are never checked against a time: only that the last line carries
every key, with numbers where numbers belong, and that `met` agrees with the figures beside it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH_TIMEOUT_S = 120


def run_bench(script: str, *args: str) -> list[str]:
    """Return the lines a bench printed; fail with its output if it did not exit cleanly."""
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args],
        capture_output=True,
        text=True,
        timeout=BENCH_TIMEOUT_S,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout.splitlines()


def figures(line: str, name: str) -> dict[str, str]:
    """Return the key=value pairs of a bench's last line, which begins with its name."""
    assert line.startswith(f"{name}: "), line
    return dict(pair.split("=", 1) for pair in line.removeprefix(f"{name}: ").split())


def numbers(found: dict[str, str], keys: list[str]) -> dict[str, float]:
    missing = [key for key in keys if key not in found]
    assert not missing, f"missing {missing} in {found}"
    return {key: float(found[key]) for key in keys}


def test_player_memory_prints_its_figures_and_where_the_memory_goes(tmp_path: Path) -> None:
    lines = run_bench(
        "player_memory.py",
        *("--seconds", "2", "--settle", "0", "--cast-every", "0.5", "--where"),
        *("--data-dir", str(tmp_path / "bench")),
    )
    found = figures(lines[-1], "player_memory")
    keys = ["casts", "samples", "player_rss_peak_mb", "player_rss_steady_mb", "player_uss_steady_mb"]
    keys += ["player_pss_steady_mb", "floor_rss_mb", "floor_uss_mb", "rss_ratio", "target_rss_mb"]
    value = numbers(found, keys)
    assert value["casts"] >= 2 and value["samples"] >= 2
    assert 0 < value["player_uss_steady_mb"] <= value["player_rss_steady_mb"] <= value["player_rss_peak_mb"]
    assert 0 < value["floor_uss_mb"] <= value["floor_rss_mb"]
    assert found["met"] == ("yes" if value["player_rss_peak_mb"] <= value["target_rss_mb"] else "no")
    assert any(line.startswith("where: after player.__main__: RSS +") for line in lines)
    assert any(line.startswith("where: tracemalloc top: ") for line in lines)


def test_cast_visible_prints_its_figures(tmp_path: Path) -> None:
    lines = run_bench(
        "cast_visible.py", "--rounds", "2", "--distinct", "1", "--data-dir", str(tmp_path / "bench")
    )
    found = figures(lines[-1], "cast_visible")
    value = numbers(found, ["rounds", "ratio_p50", "target_p99_ms"])
    assert value["rounds"] == 2
    for kind in ("image", "pdf", "floor_text"):
        p50, p99 = numbers(found, [f"{kind}_p50_ms", f"{kind}_p99_ms"]).values()
        assert 0 < p50 <= p99, (kind, found)
    image_p99 = float(found["image_p99_ms"])
    assert found["met"] == ("yes" if image_p99 <= value["target_p99_ms"] else "no")
    assert lines[-2].startswith("the page's own report (shown_at, two frames on)")


def test_schedule_frames_prints_its_figures(tmp_path: Path) -> None:
    lines = run_bench(
        "schedule_frames.py", "--seconds", "4", "--duration", "1", "--data-dir", str(tmp_path / "bench")
    )
    found = figures(lines[-1], "schedule_frames")
    keys = ["transitions", "swaps_whole", "frames", "fps", "other_frames", "black", "idle", "mixed"]
    keys += ["target_other", "late_p50_ms", "late_max_ms", "swap_gap_max_ms", "floor_frames", "floor_fps"]
    value = numbers(found, [*keys, "floor_other"])
    assert value["transitions"] > 0 and value["frames"] > value["transitions"], found
    assert value["swaps_whole"] <= value["transitions"]
    assert value["other_frames"] == value["black"] + value["idle"] + value["mixed"]
    met = value["transitions"] > 0 and value["other_frames"] <= value["target_other"]
    assert found["met"] == ("yes" if met else "no")
    # A frame dropped under load is missing, not black: no black or idle frame between two scheduled
    # images on any machine. Nor a false one in the floor's still image.
    assert value["other_frames"] == 0, f"frames neither image between two images: {lines[-2]}"
    assert value["floor_other"] == 0
