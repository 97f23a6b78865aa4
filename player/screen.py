"""Screen power: turns the panel's display on and off through a pluggable backend, and says honestly
whether it is on, off by schedule (or by command), or at fault.

The backends run the display's own command-line tools: `cec` (cec-client of libcec: the TV itself goes
to standby over HDMI-CEC), `wlr` (wlr-randr: the kiosk's compositor, cage, turns its output off),
`vcgencmd` (the Raspberry Pi firmware's HDMI power), `dpms` (X11's xset), and `noop` (remembers the
state and controls nothing: tests, and boards without control). `auto` takes the first of cec, wlr,
vcgencmd, dpms whose tool is installed, else noop.

`ScreenPower.set` runs the tool at once, with a timeout and in a process group of its own (a hung
cec-client is killed with whatever it started, never waited for). `start` keeps the wanted state in a
greenlet: every `check_every` seconds it reads the screen back and switches it again if someone changed
it by hand (a TV switched on during off-hours); a failure is retried with a capped, jittered backoff and
logged once per episode. Each change of state goes to `on_change(old, new)`, from which the player
records its `screen` usage events (`usage_event`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import re
import shutil
import signal

# The stdlib module, as player/commands.py uses it: the player's gevent monkey-patch makes it
# cooperative there, and tests without the patch keep gevent's SIGCHLD handler out of other tests.
import subprocess
import time
from collections.abc import Callable, Mapping
from typing import Protocol

import gevent
import gevent.event
import gevent.lock

from classcast.events import Screen

log = logging.getLogger(__name__)

STATUSES = ("unknown", "on", "off_by_schedule", "off_by_command", "fault")
REASONS = ("schedule", "command")  # why the player wants a state: the words of the Screen event
BACKEND_WORDS = ("auto", "cec", "wlr", "vcgencmd", "dpms", "noop")
AUTO_ORDER = ("cec", "wlr", "vcgencmd", "dpms")  # the TV's own standby saves the most power
TIMEOUT_S = 15.0  # cec-client opens the adapter and waits for the TV: seconds, never minutes
_KILL_GRACE_S = 5.0
_MAX_DOUBLINGS = 30  # of the backoff: far beyond retry_max, and no float overflow after days of failures


class ScreenError(Exception):
    """A tool could not do its part: `message` is in Russian for school IT, `detail` for the log."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(detail)
        self.message, self.detail = message, detail


class ScreenConfigError(ValueError):
    """The configured backend is not one of BACKEND_WORDS; the message is in Russian."""


@dataclasses.dataclass(frozen=True)
class ScreenState:
    """What the screen is, as far as the player knows, and since when."""

    status: str = "unknown"  # one of STATUSES; unknown until the first `set`
    on: bool | None = None  # the display is lit; None: not known (before the first set, or at fault)
    cause: str = ""  # the Screen event's `reason`: schedule, command or fault ("" while unknown)
    message: str = ""  # at fault: why, in Russian, for school IT
    since: float = dataclasses.field(default_factory=time.time)  # when it became so, Unix time
    since_mono: float = dataclasses.field(default_factory=time.monotonic)  # the same, for durations


@dataclasses.dataclass(frozen=True)
class Result:
    """The outcome of a `set`: done, or why not (in Russian)."""

    ok: bool
    message: str = ""


@dataclasses.dataclass(frozen=True)
class Tool:
    """A display tool: its program, the package it comes in, its timeout and its extra environment."""

    program: str
    package: str
    timeout: float = TIMEOUT_S
    env: Mapping[str, str] | None = None  # e.g. WAYLAND_DISPLAY or DISPLAY of the kiosk's session

    def available(self) -> bool:
        return shutil.which(self.program) is not None

    def run(self, args: list[str], stdin: str = "") -> str:
        """Return what the tool printed (stdout and stderr), or raise ScreenError: missing, hung, failed."""
        path = shutil.which(self.program)
        if path is None:
            raise ScreenError(
                f"нет программы {self.program} (пакет {self.package})", f"{self.program}: not found on PATH"
            )
        try:
            process = subprocess.Popen(
                [path, *args],
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env} if self.env else None,
                start_new_session=True,  # its own process group: a timeout kills what it started too
            )
        except OSError as exc:
            raise ScreenError(f"не удалось запустить {self.program}: {exc.strerror}", str(exc)) from exc
        try:
            output, _ = process.communicate(stdin.encode() or None, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            raise ScreenError(
                f"программа {self.program} не ответила за {self.timeout:g} с",
                f"{self.program} {' '.join(args)}: no answer within {self.timeout:g} s, killed",
            ) from None
        except BaseException:  # the greenlet was killed meanwhile: the tool must not outlive it
            _kill(process)
            raise
        return _checked(self.program, args, process.returncode, output.decode("utf-8", "replace"))


def _checked(program: str, args: list[str], returncode: int, text: str) -> str:
    if returncode == 0:
        return text
    last = text.strip().splitlines()[-1][:200] if text.strip() else ""
    raise ScreenError(
        f"программа {program} завершилась с ошибкой (код {returncode})" + (f": {last}" if last else ""),
        f"{program} {' '.join(args)} exited with {returncode}: {last}",
    )


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the tool's whole process group and reap it; a grandchild holding its pipe cannot hang us."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        process.communicate(timeout=_KILL_GRACE_S)
    except subprocess.TimeoutExpired:  # something left the group and kept the pipe: stop reading it
        if process.stdout is not None:
            process.stdout.close()
        process.wait()


class Backend(Protocol):
    """One way to switch the display: `switch` raises ScreenError; `read` says None when it cannot tell."""

    name: str
    title: str  # for school IT, in messages
    hint: str  # what school IT should check when it fails, in Russian

    def available(self) -> bool: ...

    def switch(self, on: bool) -> None: ...

    def read(self) -> bool | None: ...


_CEC_POWER = {
    "on": True,
    "standby": False,
    "in transition from standby to on": True,
    "in transition from on to standby": False,
}


class Cec:
    """HDMI-CEC through cec-client: `on 0`, `standby 0`, and `pow 0` to read the TV's power status."""

    name, title = "cec", "HDMI-CEC"
    hint = (
        "Проверьте, что телевизор подключён кабелем HDMI и в его настройках включено управление "
        "HDMI-CEC (Anynet+, SimpLink, Bravia Sync, EasyLink)."
    )

    def __init__(self, timeout: float = TIMEOUT_S, env: Mapping[str, str] | None = None) -> None:
        self.tool = Tool("cec-client", "cec-utils", timeout, env)

    def available(self) -> bool:
        return self.tool.available()

    def switch(self, on: bool) -> None:
        self._send("on 0" if on else "standby 0")  # 0: the TV's logical address

    def read(self) -> bool | None:
        found = re.search(r"^power status: (.+?)\s*$", self._send("pow 0"), re.MULTILINE)
        return _CEC_POWER.get(found.group(1)) if found else None  # "unknown": the TV did not answer

    def _send(self, command: str) -> str:
        # -s: one command read from stdin, then exit (and no powering devices on at start);
        # -d 1: libCEC logs errors only, so the answer is not lost in traffic lines.
        return self.tool.run(["-s", "-d", "1"], command + "\n")


class Wlr:
    """The compositor's outputs through wlr-randr: `--output NAME --off/--on`, `Enabled:` to read back."""

    name, title = "wlr", "wlr-randr"
    hint = (
        "Проверьте, что киоск (cage) запущен и плееру доступен его сокет Wayland (WAYLAND_DISPLAY), "
        "а имя выхода в настройках верно: список выходов показывает wlr-randr."
    )

    def __init__(
        self, output: str = "", timeout: float = TIMEOUT_S, env: Mapping[str, str] | None = None
    ) -> None:
        self.output = output  # e.g. HDMI-A-1; empty: every output the compositor has
        self.tool = Tool("wlr-randr", "wlr-randr", timeout, env)

    def available(self) -> bool:
        return self.tool.available()

    def switch(self, on: bool) -> None:
        args: list[str] = []
        for name in self._chosen(self._outputs()):
            args += ["--output", name, "--on" if on else "--off"]
        self.tool.run(args)

    def read(self) -> bool | None:
        outputs = self._outputs()
        return any(outputs[name] for name in self._chosen(outputs))

    def _outputs(self) -> dict[str, bool]:
        """Return each output the compositor lists, and whether it is enabled."""
        outputs: dict[str, bool] = {}
        name = ""
        for line in self.tool.run([]).splitlines():
            if line and not line[0].isspace():
                name = line.split(" ", 1)[0]  # `HDMI-A-1 "Maker Model (HDMI-A-1)"`
                outputs[name] = False
            elif name and line.strip() in ("Enabled: yes", "Enabled: no"):
                outputs[name] = line.strip() == "Enabled: yes"
        return outputs

    def _chosen(self, outputs: dict[str, bool]) -> list[str]:
        if not outputs:
            raise ScreenError("компоновщик не сообщил ни одного выхода", "wlr-randr listed no outputs")
        if not self.output:
            return list(outputs)
        if self.output not in outputs:
            raise ScreenError(
                f"выхода {self.output} нет, есть: {', '.join(outputs)}",
                f"no output {self.output!r} among {sorted(outputs)}",
            )
        return [self.output]


class Vcgencmd:
    """The Raspberry Pi firmware's HDMI power: `vcgencmd display_power 0/1`, read as `display_power=N`."""

    name, title = "vcgencmd", "vcgencmd"
    hint = (
        "На Raspberry Pi 4 и 5 с графическим драйвером KMS vcgencmd не управляет экраном: "
        "выберите способ cec или wlr."
    )

    def __init__(
        self, display: str = "", timeout: float = TIMEOUT_S, env: Mapping[str, str] | None = None
    ) -> None:
        self.display = display  # the firmware's display id (2: HDMI 0, 7: HDMI 1); empty: the default
        self.tool = Tool("vcgencmd", "raspi-utils", timeout, env)

    def available(self) -> bool:
        return self.tool.available()

    def switch(self, on: bool) -> None:
        text = self.tool.run(["display_power", "1" if on else "0", *self._display()])
        if _display_power(text) != on:  # -1: the firmware does not drive this display (KMS)
            answer = text.strip()[:80]
            raise ScreenError(
                f"vcgencmd ответила «{answer}»: прошивка не управляет питанием экрана",
                f"vcgencmd display_power answered {answer!r}",
            )

    def read(self) -> bool | None:
        # With a display id, -1 asks for its state without changing it.
        query = ["-1", self.display] if self.display else []
        return _display_power(self.tool.run(["display_power", *query]))

    def _display(self) -> list[str]:
        return [self.display] if self.display else []


def _display_power(text: str) -> bool | None:
    found = re.search(r"display_power=(-?\d+)", text)
    return {"1": True, "0": False}.get(found.group(1)) if found else None


class Dpms:
    """X11 DPMS through xset: `dpms force off/on`, and `q` (`Monitor is On`) to read back."""

    name, title = "dpms", "X11 DPMS"
    hint = "Проверьте, что X-сервер запущен и переменная DISPLAY плеера указывает на него."

    def __init__(self, timeout: float = TIMEOUT_S, env: Mapping[str, str] | None = None) -> None:
        self.tool = Tool("xset", "x11-xserver-utils", timeout, env)

    def available(self) -> bool:
        return self.tool.available()

    def switch(self, on: bool) -> None:
        self.tool.run(["dpms", "force", "on" if on else "off"])

    def read(self) -> bool | None:
        found = re.search(r"Monitor is (On|Off|in Standby|in Suspend)", self.tool.run(["q"]))
        return found.group(1) == "On" if found else None  # no such line: DPMS is disabled


class Noop:
    """Controls nothing and remembers what it was told: for tests and boards without screen control."""

    name, title, hint = "noop", "без управления", ""

    def __init__(self) -> None:
        self.on: bool | None = None

    def available(self) -> bool:
        return True

    def switch(self, on: bool) -> None:
        self.on = on

    def read(self) -> bool | None:
        return self.on


def make_backend(
    word: str = "auto", *, output: str = "", timeout: float = TIMEOUT_S, env: Mapping[str, str] | None = None
) -> Backend:
    """Return the backend `word` names (BACKEND_WORDS); `output` is wlr's output or vcgencmd's display id.

    Raises ScreenConfigError, in Russian, for a word that names none.
    """
    word = word.strip().lower()
    made: dict[str, Callable[[], Backend]] = {
        "cec": lambda: Cec(timeout, env),
        "wlr": lambda: Wlr(output, timeout, env),
        "vcgencmd": lambda: Vcgencmd(output, timeout, env),
        "dpms": lambda: Dpms(timeout, env),
        "noop": Noop,
    }
    if word == "auto":
        found = next((b for b in (made[name]() for name in AUTO_ORDER) if b.available()), None)
        log.info("screen power: %s", f"{found.name} (auto)" if found else "no tool found, not controlled")
        return found or Noop()
    if word not in made:
        log.error("screen power: unknown backend %r", word)
        raise ScreenConfigError(
            f"неизвестный способ управления экраном «{word}»: допустимы {', '.join(BACKEND_WORDS)}"
        )
    return made[word]()


class ScreenPower:
    """The screen's wanted state, applied through a backend and kept; its actual state, honestly told."""

    def __init__(
        self,
        backend: Backend,
        on_change: Callable[[ScreenState, ScreenState], None] | None = None,
        *,
        check_every: float = 120.0,
        retry_min: float = 10.0,
        retry_max: float = 900.0,
    ) -> None:
        self.backend, self.on_change = backend, on_change
        self.check_every, self.retry_min, self.retry_max = check_every, retry_min, retry_max
        self.failures = 0  # failed attempts in a row, this episode
        self._state = ScreenState()
        self._wanted: tuple[bool, str] | None = None
        self._drifted = False  # found changed by hand, not yet found as wanted since
        self._lock = gevent.lock.RLock()  # one tool at a time: `set` and the keeper's pass
        self._wake = gevent.event.Event()
        self._keeper: gevent.Greenlet | None = None

    def set(self, on: bool, reason: str = "schedule") -> Result:
        """Return whether the screen was turned on (or off) for `reason`, one of REASONS."""
        if reason not in REASONS:
            log.warning("screen power: unknown reason %r", reason)
            return Result(False, f"неизвестная причина «{reason}»: допустимы {', '.join(REASONS)}")
        with self._lock:
            self._wanted = (on, reason)
            self._drifted = False
            result = self._apply()
        self._wake.set()  # the keeper's wait starts afresh: a failure is retried after retry_min
        return result

    def state(self) -> ScreenState:
        return self._state

    def check(self) -> ScreenState:
        """Return the state after one pass of the keeper: a failure retried, a change by hand undone."""
        with self._lock:
            if self._wanted is None:
                return self._state
            if self._state.status == "fault":
                self._apply()
                return self._state
            try:
                seen = self.backend.read()
            except ScreenError as exc:
                self._failed("проверить", "read", exc)
                return self._state
            if seen is None or seen == self._wanted[0]:
                self._drifted = False
            else:
                self._undo_by_hand(seen)
            return self._state

    def start(self) -> None:
        """Keep the wanted state, in a greenlet."""
        if self._keeper is None:
            self._keeper = gevent.spawn(self._keep)

    def stop(self) -> None:
        if self._keeper is not None:
            self._keeper.kill()  # a tool it was running is killed with it (Tool.run)
            self._keeper = None

    def _keep(self) -> None:
        """Check the screen for ever (until killed); a `set` meanwhile starts the wait afresh."""
        while True:
            self._wake.clear()
            if self._wake.wait(self._next_wait()):
                continue
            try:
                self.check()
            except Exception:  # a loop that cannot die: the next pass may do better
                log.exception("screen power: check failed")

    def _next_wait(self) -> float:
        if self._state.status != "fault":
            return self.check_every
        delay = min(self.retry_max, self.retry_min * 2 ** min(self.failures - 1, _MAX_DOUBLINGS))
        return delay * (0.5 + random.random() / 2)  # jitter, as the other loops

    def _undo_by_hand(self, seen: bool) -> None:
        level = logging.DEBUG if self._drifted else logging.WARNING  # once per episode
        log.log(level, "screen was switched %s by hand: switching it back", _on_off(seen))
        self._drifted = True
        self._apply()

    def _apply(self) -> Result:
        assert self._wanted is not None
        on, reason = self._wanted
        try:
            self.backend.switch(on)
        except ScreenError as exc:
            return self._failed("включить" if on else "выключить", f"switch {_on_off(on)}", exc)
        if self.failures:
            log.info("screen power works again after %d failed attempts", self.failures)
        self.failures = 0
        status = "on" if on else f"off_by_{reason}"
        self._change(ScreenState(status, on, reason))
        return Result(True)

    def _failed(self, action: str, doing: str, exc: ScreenError) -> Result:
        self.failures += 1
        level = logging.WARNING if self.failures == 1 else logging.DEBUG  # once per episode
        log.log(level, "screen power (%s): could not %s: %s", self.backend.name, doing, exc.detail)
        message = f"Не удалось {action} экран ({self.backend.title}): {exc.message}. {self.backend.hint}"
        self._change(ScreenState("fault", None, "fault", message.strip()))
        return Result(False, message.strip())

    def _change(self, new: ScreenState) -> None:
        old = self._state
        if (new.status, new.on, new.cause) == (old.status, old.on, old.cause):
            if new.message != old.message:  # the same fault for another reason: still since then
                self._state = dataclasses.replace(old, message=new.message)
            return
        self._state = new
        log.info("screen: %s (was %s)", new.status, old.status)
        if self.on_change is not None:
            try:
                self.on_change(old, new)
            except Exception:  # the player's recording failed: the screen goes on all the same
                log.exception("screen power: on_change failed")


def usage_event(state: ScreenState, start: float, end: float, part: int = 0) -> Screen | None:
    """Return the `screen` usage event of `state` from `start` to `end` (monotonic); None while unknown.

    `start` is `state.since_mono` for a state's first report, the end of the previous part after that.
    """
    if state.status == "unknown":
        return None
    return Screen(on=state.on, duration_s=round(end - start, 3), part=part, reason=state.cause)


def _on_off(on: bool) -> str:
    return "on" if on else "off"
