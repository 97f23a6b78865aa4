"""Screen power through fake display tools: each backend's command lines, read-back, faults and recovery.

The tools are the edge of the world (a TV, a compositor, the Pi's firmware), so each test writes small
stand-ins of cec-client, wlr-randr, xset and vcgencmd into a folder that is the whole PATH. They keep the
"screen" in a file, record every call (argv, stdin, environment) and fail or hang when the test says so.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import gevent
import pytest

from classcast.events import Screen
from player import screen
from player.screen import ScreenPower, ScreenState

WAIT_S = 20.0  # only ever waited out when the test fails

FAKE_TOOL = r"""#!{python}
import json, os, subprocess, sys, time
from pathlib import Path

world = Path({world!r})
tool, args = Path(sys.argv[0]).name, sys.argv[1:]
stdin = sys.stdin.read()
call = {{"tool": tool, "args": args, "stdin": stdin, "pid": os.getpid(),
        "wayland": os.environ.get("WAYLAND_DISPLAY")}}
with open(world / "calls.jsonl", "a") as calls:
    calls.write(json.dumps(call) + "\n")
mode = (world / f"{{tool}}.mode").read_text().strip() if (world / f"{{tool}}.mode").exists() else "ok"
if mode == "hang":  # and a child of its own that holds the output pipe, as a stuck helper would
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    (world / "hung.json").write_text(json.dumps([os.getpid(), child.pid]))
    time.sleep(600)
if mode == "fail":
    print("autodetect FAILED" if tool == "cec-client" else f"{{tool}}: cannot open display", flush=True)
    sys.exit(1)
lit = world / "lit"
on = not lit.exists() or lit.read_text() == "1"

def light(value):
    lit.write_text("1" if value else "0")

if tool == "cec-client":
    print("opening a connection to the CEC adapter...")
    command = stdin.strip()
    if command in ("on 0", "standby 0"):
        light(command == "on 0")
    elif command == "pow 0":
        answer = world / "cec-answer"
        print("power status: " + (answer.read_text() if answer.exists() else ("on" if on else "standby")))
elif tool == "wlr-randr":
    outputs = json.loads((world / "outputs.json").read_text())
    if not args:
        for name, enabled in outputs.items():
            print(f'{{name}} "Maker Model ({{name}})"')
            print("  Enabled: " + ("yes" if enabled else "no"))
            print("  Modes:\n    1920x1080 px, 60.000000 Hz (preferred, current)")
    while args:
        flag, name, switch, *args = args
        if flag != "--output" or name not in outputs:
            print(f"unknown output {{name}}", file=sys.stderr)
            sys.exit(1)
        outputs[name] = switch == "--on"
    (world / "outputs.json").write_text(json.dumps(outputs))
elif tool == "xset":
    if args[:2] == ["dpms", "force"]:
        light(args[2] == "on")
    elif args == ["q"]:
        print("DPMS (Energy Star):\n  Standby: 600    Suspend: 600    Off: 600\n  DPMS is Enabled")
        print("  Monitor is " + ("On" if on else "Off"))
elif tool == "vcgencmd":
    if mode == "kms":
        print("display_power=-1")
    elif args[1:2] in (["0"], ["1"]):
        light(args[1] == "1")
        print("display_power=" + args[1])
    else:
        print("display_power=" + ("1" if on else "0"))
"""

TOOLS = ("cec-client", "wlr-randr", "xset", "vcgencmd")


class World:
    """The fake tools on PATH and the screen they drive."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch, tools: tuple[str, ...] = TOOLS) -> None:
        self.dir = root / "world"
        self.dir.mkdir()
        bin_dir = root / "bin"
        bin_dir.mkdir()
        for tool in tools:
            path = bin_dir / tool
            path.write_text(FAKE_TOOL.format(python=sys.executable, world=str(self.dir)))
            path.chmod(0o755)
        monkeypatch.setenv("PATH", str(bin_dir))  # the fakes only: a real cec-client is never run
        self.outputs = {"HDMI-A-1": True}

    @property
    def outputs(self) -> dict[str, bool]:
        return json.loads((self.dir / "outputs.json").read_text())

    @outputs.setter
    def outputs(self, value: dict[str, bool]) -> None:
        (self.dir / "outputs.json").write_text(json.dumps(value))

    @property
    def lit(self) -> bool:
        path = self.dir / "lit"
        return not path.exists() or path.read_text() == "1"

    def switch_by_hand(self, on: bool) -> None:
        (self.dir / "lit").write_text("1" if on else "0")

    def mode(self, tool: str, mode: str) -> None:
        (self.dir / f"{tool}.mode").write_text(mode)

    def calls(self) -> list[dict[str, Any]]:
        path = self.dir / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def commands(self) -> list[tuple[str, list[str], str]]:
        return [(call["tool"], call["args"], call["stdin"]) for call in self.calls()]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return World(tmp_path, monkeypatch)


class Changes(list):
    """Every (old, new) state handed to on_change."""

    def __call__(self, old: ScreenState, new: ScreenState) -> None:
        self.append((old, new))


# --- each backend's command lines and read-back ---------------------------------------------------


def test_cec_puts_the_tv_in_standby_and_wakes_it_with_one_cec_client_command_each(world: World) -> None:
    power = ScreenPower(screen.Cec())
    assert power.set(False, "schedule") == screen.Result(True)
    assert not world.lit
    assert power.state().status == "off_by_schedule" and power.state().on is False
    assert power.set(True, "schedule").ok
    assert world.lit
    assert power.state().status == "on"
    assert world.commands() == [
        ("cec-client", ["-s", "-d", "1"], "standby 0\n"),
        ("cec-client", ["-s", "-d", "1"], "on 0\n"),
    ]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("on", True),
        ("standby", False),
        ("in transition from standby to on", True),
        ("in transition from on to standby", False),
        ("unknown", None),
    ],
)
def test_cec_reads_the_tv_power_status_with_pow_0(world: World, answer: str, expected: bool | None) -> None:
    (world.dir / "cec-answer").write_text(answer)
    assert screen.Cec().read() is expected
    assert world.commands() == [("cec-client", ["-s", "-d", "1"], "pow 0\n")]


def test_wlr_turns_the_named_output_off_and_reads_enabled_back(world: World) -> None:
    world.outputs = {"HDMI-A-1": True, "HDMI-A-2": True}
    backend = screen.Wlr("HDMI-A-2")
    backend.switch(False)
    assert world.outputs == {"HDMI-A-1": True, "HDMI-A-2": False}
    assert backend.read() is False
    backend.switch(True)
    assert backend.read() is True
    sets = [args for tool, args, _ in world.commands() if args]
    assert sets == [["--output", "HDMI-A-2", "--off"], ["--output", "HDMI-A-2", "--on"]]


def test_wlr_without_an_output_name_switches_every_output_in_one_call(world: World) -> None:
    world.outputs = {"HDMI-A-1": True, "HDMI-A-2": True}
    ScreenPower(screen.Wlr()).set(False)
    assert world.outputs == {"HDMI-A-1": False, "HDMI-A-2": False}
    assert [args for _, args, _ in world.commands()] == [
        [],
        ["--output", "HDMI-A-1", "--off", "--output", "HDMI-A-2", "--off"],
    ]


def test_wlr_with_an_output_the_compositor_lacks_is_a_fault_naming_the_outputs_it_has(world: World) -> None:
    power = ScreenPower(screen.Wlr("HDMI-A-9"))
    result = power.set(False)
    assert not result.ok
    assert "выхода HDMI-A-9 нет, есть: HDMI-A-1" in result.message
    assert power.state().status == "fault"
    assert world.outputs == {"HDMI-A-1": True}


def test_wlr_runs_in_the_environment_it_is_given(world: World) -> None:
    screen.Wlr(env={"WAYLAND_DISPLAY": "wayland-7"}).read()
    assert [call["wayland"] for call in world.calls()] == ["wayland-7"]


def test_dpms_forces_the_monitor_off_and_on_with_xset_and_reads_q(world: World) -> None:
    backend = screen.Dpms()
    backend.switch(False)
    assert backend.read() is False
    backend.switch(True)
    assert backend.read() is True
    assert [args for _, args, _ in world.commands()] == [
        ["dpms", "force", "off"],
        ["q"],
        ["dpms", "force", "on"],
        ["q"],
    ]


def test_vcgencmd_sets_display_power_and_reads_it_back(world: World) -> None:
    backend = screen.Vcgencmd()
    backend.switch(False)
    assert not world.lit
    assert backend.read() is False
    assert [args for _, args, _ in world.commands()] == [["display_power", "0"], ["display_power"]]


def test_vcgencmd_names_the_display_when_given_one(world: World) -> None:
    backend = screen.Vcgencmd("7")
    backend.switch(True)
    backend.read()
    assert [args for _, args, _ in world.commands()] == [
        ["display_power", "1", "7"],
        ["display_power", "-1", "7"],
    ]


def test_vcgencmd_answering_minus_one_under_kms_is_a_fault_that_says_what_to_choose(world: World) -> None:
    world.mode("vcgencmd", "kms")
    power = ScreenPower(screen.Vcgencmd())
    result = power.set(False)
    assert not result.ok
    assert "display_power=-1" in result.message and "KMS" in result.message
    assert power.state().status == "fault"


def test_noop_remembers_what_it_was_told_and_runs_nothing(world: World) -> None:
    power = ScreenPower(screen.Noop())
    assert power.set(False).ok
    assert power.state().status == "off_by_schedule"
    assert power.check().status == "off_by_schedule"
    assert power.backend.read() is False
    assert world.calls() == []


# --- choosing a backend -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("installed", "chosen"),
    [
        (TOOLS, "cec"),
        (("wlr-randr", "xset", "vcgencmd"), "wlr"),
        (("xset", "vcgencmd"), "vcgencmd"),
        (("xset",), "dpms"),
        ((), "noop"),
    ],
)
def test_auto_picks_the_first_backend_whose_tool_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, installed: tuple[str, ...], chosen: str
) -> None:
    World(tmp_path, monkeypatch, installed)
    assert screen.make_backend("auto").name == chosen


def test_a_backend_is_chosen_by_its_word_with_its_output(world: World) -> None:
    backend = screen.make_backend(" WLR ", output="HDMI-A-2")
    assert isinstance(backend, screen.Wlr) and backend.output == "HDMI-A-2"
    assert isinstance(screen.make_backend("vcgencmd", output="2"), screen.Vcgencmd)
    assert isinstance(screen.make_backend("noop"), screen.Noop)


def test_an_unknown_backend_word_is_refused_in_russian(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(screen.ScreenConfigError, match="неизвестный способ управления экраном «hdmi»"):
        screen.make_backend("hdmi")
    assert "unknown backend 'hdmi'" in caplog.text


# --- faults, recovery, keeping the wanted state -----------------------------------------------------


def test_a_failed_off_is_a_fault_with_a_reason_school_it_understands(world: World) -> None:
    world.mode("cec-client", "fail")
    changes = Changes()
    power = ScreenPower(screen.Cec(), changes)
    result = power.set(False, "schedule")
    state = power.state()
    assert not result.ok and result.message == state.message
    assert state.status == "fault" and state.cause == "fault" and state.on is None
    assert state.message.startswith("Не удалось выключить экран (HDMI-CEC): программа cec-client")
    assert "(код 1): autodetect FAILED" in state.message and "Anynet+" in state.message
    assert [new.status for _, new in changes] == ["fault"]


def test_a_missing_tool_is_a_fault_that_names_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    World(tmp_path, monkeypatch, tools=())
    power = ScreenPower(screen.Cec())
    assert not power.set(True).ok
    assert (
        "Не удалось включить экран (HDMI-CEC): нет программы cec-client (пакет cec-utils)"
        in power.state().message
    )


def test_a_hung_tool_is_killed_with_what_it_started_and_is_a_fault(world: World) -> None:
    world.mode("cec-client", "hang")
    power = ScreenPower(screen.Cec(timeout=3.0))
    result = power.set(False)
    assert not result.ok
    assert "программа cec-client не ответила за 3 с" in result.message
    assert power.state().status == "fault"
    for pid in json.loads((world.dir / "hung.json").read_text()):
        _wait_until(lambda pid=pid: _gone(pid))


def test_the_next_check_after_a_fault_tries_again_and_recovers(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="player.screen")
    world.mode("cec-client", "fail")
    changes = Changes()
    power = ScreenPower(screen.Cec(), changes)
    power.set(False)
    assert power.check().status == "fault"
    world.mode("cec-client", "ok")
    assert power.check().status == "off_by_schedule"
    assert not world.lit
    assert power.failures == 0
    assert [new.status for _, new in changes] == ["fault", "off_by_schedule"]
    assert "works again after 2 failed attempts" in caplog.text


def test_failures_are_logged_once_per_episode(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="player.screen")
    power = ScreenPower(screen.Cec())
    world.mode("cec-client", "fail")
    power.set(False)
    power.check()
    power.check()
    world.mode("cec-client", "ok")
    power.check()
    world.mode("cec-client", "fail")
    power.set(True)
    power.check()
    failures = [r for r in caplog.records if "could not" in r.getMessage()]
    assert len(failures) == 5
    warnings = [r for r in failures if r.levelno == logging.WARNING]
    assert [r.getMessage().split(":")[1].strip() for r in warnings] == [
        "could not switch off",
        "could not switch on",
    ]


def test_a_tv_switched_on_by_hand_during_off_hours_is_put_back_in_standby(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="player.screen")
    power = ScreenPower(screen.Cec())
    power.set(False)
    world.switch_by_hand(True)
    assert power.check().status == "off_by_schedule"
    assert not world.lit
    world.switch_by_hand(True)
    power.check()
    assert not world.lit
    stdins = [stdin for _, _, stdin in world.commands()]
    assert stdins == ["standby 0\n", "pow 0\n", "standby 0\n", "pow 0\n", "standby 0\n"]
    by_hand = [r for r in caplog.records if "by hand" in r.getMessage()]
    assert [r.levelno for r in by_hand] == [logging.WARNING, logging.DEBUG]  # once per episode


def test_a_screen_as_wanted_or_that_cannot_tell_is_left_alone(world: World) -> None:
    power = ScreenPower(screen.Cec())
    power.set(False)
    power.check()
    (world.dir / "cec-answer").write_text("unknown")
    power.check()
    assert [stdin for _, _, stdin in world.commands()] == ["standby 0\n", "pow 0\n", "pow 0\n"]


def test_a_failed_read_back_is_a_fault_then_the_wanted_state_is_applied_again(world: World) -> None:
    power = ScreenPower(screen.Dpms())
    power.set(False)
    world.mode("xset", "fail")
    state = power.check()
    assert state.status == "fault"
    assert state.message.startswith("Не удалось проверить экран (X11 DPMS): программа xset завершилась")
    world.mode("xset", "ok")
    assert power.check().status == "off_by_schedule"
    assert [args for _, args, _ in world.commands()][-1] == ["dpms", "force", "off"]


def test_the_keeper_undoes_a_change_by_hand_and_retries_a_failure_by_itself(world: World) -> None:
    power = ScreenPower(screen.Vcgencmd(), check_every=0.05, retry_min=0.05, retry_max=0.2)
    power.start()
    try:
        power.set(False)
        world.switch_by_hand(True)
        _wait_until(lambda: not world.lit)
        world.mode("vcgencmd", "fail")
        world.switch_by_hand(True)
        _wait_until(lambda: power.state().status == "fault")
        world.mode("vcgencmd", "ok")
        _wait_until(lambda: power.state().status == "off_by_schedule" and not world.lit)
    finally:
        power.stop()


# --- states and usage events --------------------------------------------------------------------------


def test_off_by_command_is_its_own_state_and_a_change_of_cause_is_a_change(world: World) -> None:
    changes = Changes()
    power = ScreenPower(screen.Noop(), changes)
    power.set(False, "schedule")
    power.set(False, "schedule")  # the same again: no change
    power.set(False, "command")
    power.set(True, "command")
    assert [(new.status, new.cause) for _, new in changes] == [
        ("off_by_schedule", "schedule"),
        ("off_by_command", "command"),
        ("on", "command"),
    ]
    assert [old.status for old, _ in changes] == ["unknown", "off_by_schedule", "off_by_command"]


def test_a_state_keeps_when_it_began_while_it_lasts(world: World) -> None:
    world.mode("cec-client", "fail")
    power = ScreenPower(screen.Cec(timeout=1.0))
    power.set(False)
    began = power.state()
    world.mode("cec-client", "hang")  # another fault, for another reason
    power.check()
    assert "не ответила" in power.state().message
    assert (power.state().since, power.state().since_mono) == (began.since, began.since_mono)


def test_an_unknown_reason_is_refused_in_russian_and_runs_nothing(world: World) -> None:
    power = ScreenPower(screen.Cec())
    result = power.set(False, "holiday")
    assert not result.ok and "неизвестная причина «holiday»" in result.message
    assert power.state().status == "unknown"
    assert world.calls() == []


def test_a_failing_on_change_does_not_stop_the_screen(world: World) -> None:
    def broken(old: ScreenState, new: ScreenState) -> None:
        raise OSError("disk full")

    power = ScreenPower(screen.Cec(), broken)
    assert power.set(False).ok
    assert not world.lit


def test_usage_events_say_on_or_off_why_and_for_how_long() -> None:
    off = ScreenState("off_by_schedule", False, "schedule", since_mono=100.0)
    assert screen.usage_event(off, 100.0, 400.5) == Screen(
        on=False, duration_s=400.5 - 100.0, part=0, reason="schedule"
    )
    fault = ScreenState("fault", None, "fault", "Не удалось…", since_mono=10.0)
    assert screen.usage_event(fault, 310.0, 320.0, part=1) == Screen(
        on=None, duration_s=10.0, part=1, reason="fault"
    )
    assert screen.usage_event(ScreenState(), 0.0, 5.0) is None


def _wait_until(condition: Any) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        gevent.sleep(0.02)


def _gone(pid: int) -> bool:
    """Return whether process `pid` has ended (a zombie waiting for init to reap it has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"
