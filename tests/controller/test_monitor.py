"""The panel monitor on a real database: each rule opens an incident once and resolves it once.

Offline counts only in the school's own hours and days (its time zone, not the server's); overheating
and low disk have a margin so that a panel at the threshold does not flap; health too old to trust is
not judged; each opening and resolution queues one message per configured channel.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import gevent
import pytest
from flask import Flask

from classcast.identity import ensure_identity
from classcast.protocol import PANEL_NAMESPACE
from classcast.settings import SettingsError
from controller import monitor
from controller.app import Services, create_app
from controller.server import ControllerServer
from controller.store import incidents, lifecycle, panels, users
from controller.timeutil import iso_from_unix

from .conftest import PASSWORD, World, sign_in

MSK, NSK = "Europe/Moscow", "Asia/Novosibirsk"  # UTC+3 and UTC+7
MB = 1024 * 1024


def local(zone: str, day: int, hour: int, minute: int = 0) -> float:
    """Return the unix time of September `day`, 2026 at hour:minute in `zone` (1 September is a Tuesday)."""
    return datetime(2026, 9, day, hour, minute, tzinfo=ZoneInfo(zone)).timestamp()


def set_school_zone(svc: Services, school_id: int, zone: str) -> None:
    svc.db.write(lambda db: db["school"].update(school_id, {"timezone": zone}))


def set_panel(svc: Services, panel_id: int, **columns: Any) -> None:
    svc.db.write(lambda db: db["panel"].update(panel_id, columns))


def seen(svc: Services, panel_id: int, at: float) -> None:
    set_panel(svc, panel_id, last_seen_at=iso_from_unix(at))


def health(svc: Services, panel_id: int, at: float, **readings: Any) -> None:
    """Give the panel a heartbeat's readings (and a contact) at `at`."""
    set_panel(svc, panel_id, health_at=at, last_seen_at=iso_from_unix(at), **readings)


def rows(svc: Services, kind: str | None = None) -> list[dict[str, Any]]:
    where, params = ("WHERE kind = ?", [kind]) if kind else ("", [])
    return list(svc.db.read.query(f"SELECT * FROM incident {where} ORDER BY id", params))


def outbox(svc: Services) -> list[tuple[int, str, str]]:
    return [
        (r["incident_id"], r["event"], r["channel"])
        for r in svc.db.read.query("SELECT * FROM notification_outbox ORDER BY id")
    ]


def second_panel(svc: Services, world: World, tmp_path: Any) -> int:
    """Enrol a panel in school B's room; return its id."""
    key = ensure_identity(tmp_path / "panel-b").public_key
    panel_id, _ = svc.db.write(panels.enroll_panel, world.room_b, "Панель 201", key)
    return panel_id


def test_channels_are_the_ones_the_operator_configured() -> None:
    blank = {"notify_webhook_url": "", "notify_smtp_host": ""}
    assert monitor.channels(blank) == ()
    assert monitor.channels({**blank, "notify_webhook_url": "https://hooks.example/x"}) == ("webhook",)
    assert monitor.channels({**blank, "notify_smtp_host": "mail.school"}) == ("email",)
    both = {"notify_webhook_url": "https://hooks.example/x", "notify_smtp_host": "mail.school"}
    assert monitor.channels(both) == ("webhook", "email")


def test_offline_in_school_hours_opens_once_and_resolves_once_when_back(svc: Services, world: World) -> None:
    svc.settings.update(notify_webhook_url="http://127.0.0.1:9/hook", notify_smtp_host="127.0.0.1")
    set_school_zone(svc, world.school_a, NSK)
    now = local(NSK, 1, 10)  # Tuesday, 10:00 at the school
    seen(svc, world.panel_a, now - 600)  # 10 minutes without contact; offline after 3

    assert monitor.check(svc, now) == [(world.panel_a, "offline", "open")]
    assert monitor.check(svc, now + 60) == []  # still offline: no second incident, no second message
    [incident] = rows(svc)
    assert (incident["kind"], incident["resolved_at"]) == ("offline", None)
    assert incident["school_id"] == world.school_a

    seen(svc, world.panel_a, now + 120)
    assert monitor.check(svc, now + 120) == [(world.panel_a, "offline", "resolve")]
    assert monitor.check(svc, now + 180) == []
    [incident] = rows(svc)
    assert incident["resolved_at"] is not None
    assert outbox(svc) == [
        (incident["id"], "opened", "webhook"),
        (incident["id"], "opened", "email"),
        (incident["id"], "resolved", "webhook"),
        (incident["id"], "resolved", "email"),
    ]


def test_no_channel_configured_still_records_the_incident_for_the_pages(svc: Services, world: World) -> None:
    now = local(MSK, 1, 10)
    seen(svc, world.panel_a, now - 3600)
    assert monitor.check(svc, now) == [(world.panel_a, "offline", "open")]
    assert len(rows(svc)) == 1
    assert outbox(svc) == []


def test_school_hours_are_the_schools_own_in_its_time_zone(
    svc: Services, world: World, tmp_path: Any
) -> None:
    panel_b = second_panel(svc, world, tmp_path)
    set_school_zone(svc, world.school_a, MSK)
    set_school_zone(svc, world.school_b, NSK)
    # 12:00 UTC: 15:00 in Moscow (school hours), 19:00 in Novosibirsk (the school day is over).
    now = datetime(2026, 9, 1, 12, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    for panel_id in (world.panel_a, panel_b):
        seen(svc, panel_id, now - 3600)

    assert monitor.check(svc, now) == [(world.panel_a, "offline", "open")]
    # 02:00 UTC the next day: 05:00 in Moscow (night), 09:00 in Novosibirsk (the school day began).
    next_morning = datetime(2026, 9, 2, 2, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    assert monitor.check(svc, next_morning) == [(panel_b, "offline", "open")]
    # The Moscow panel is still off at night: its incident stays open; it is not opened again.
    assert [(r["panel_id"], r["resolved_at"]) for r in rows(svc)] == [(world.panel_a, None), (panel_b, None)]


def test_school_hours_edges_and_days(svc: Services, world: World) -> None:
    set_school_zone(svc, world.school_a, NSK)
    seen(svc, world.panel_a, local(NSK, 1, 0))
    assert monitor.check(svc, local(NSK, 1, 7, 59)) == []  # before 08:00
    assert monitor.check(svc, local(NSK, 1, 18, 0)) == []  # the day ends at 18:00
    assert monitor.check(svc, local(NSK, 6, 10)) == []  # 6 September 2026 is a Sunday (day 7)
    svc.settings["school_days"] = "1-5"
    assert monitor.check(svc, local(NSK, 5, 10)) == []  # Saturday, in a five-day school
    assert monitor.check(svc, local(NSK, 1, 8, 0)) == [(world.panel_a, "offline", "open")]


def test_an_offline_incident_resolves_at_any_hour(svc: Services, world: World) -> None:
    set_school_zone(svc, world.school_a, MSK)
    now = local(MSK, 1, 17, 50)
    seen(svc, world.panel_a, now - 3600)
    assert monitor.check(svc, now) == [(world.panel_a, "offline", "open")]
    midnight = local(MSK, 2, 0, 30)
    assert monitor.check(svc, midnight) == []  # still off at night: stays open
    seen(svc, world.panel_a, midnight)
    assert monitor.check(svc, midnight) == [(world.panel_a, "offline", "resolve")]


def test_a_silent_panel_is_offline_too(svc: Services, world: World) -> None:
    now = local(MSK, 1, 10)
    seen(svc, world.panel_a, now - 40 * 86400)
    assert lifecycle.status_of(svc.db.read, world.panel_a, lifecycle.Thresholds.of(svc.settings), now) == (
        "silent"
    )
    assert monitor.check(svc, now) == [(world.panel_a, "offline", "open")]


def test_overheat_has_a_five_degree_margin(svc: Services, world: World) -> None:
    now = local(MSK, 6, 3)  # Sunday night: the rule does not depend on school hours
    health(svc, world.panel_a, now, temperature_c=80.0)  # alert_temperature_c = 80
    assert monitor.check(svc, now) == [(world.panel_a, "overheat", "open")]
    health(svc, world.panel_a, now + 30, temperature_c=77.0)
    assert monitor.check(svc, now + 30) == []  # cooler, but not by 5 °C: still open
    health(svc, world.panel_a, now + 60, temperature_c=75.0)
    assert monitor.check(svc, now + 60) == []  # exactly 5 °C below: not yet
    health(svc, world.panel_a, now + 90, temperature_c=74.9)
    assert monitor.check(svc, now + 90) == [(world.panel_a, "overheat", "resolve")]
    health(svc, world.panel_a, now + 120, temperature_c=79.9)
    assert monitor.check(svc, now + 120) == []  # below the alert: nothing opens
    health(svc, world.panel_a, now + 150, temperature_c=86.0)
    assert monitor.check(svc, now + 150) == [(world.panel_a, "overheat", "open")]
    first, second = rows(svc, "overheat")
    assert first["resolved_at"] is not None and second["resolved_at"] is None
    assert '"temperature_c": 86.0' in second["detail"]


def test_low_disk_resolves_at_the_threshold_plus_ten_percent(svc: Services, world: World) -> None:
    now = local(MSK, 1, 10)
    health(svc, world.panel_a, now, disk_free_bytes=499 * MB)  # alert_disk_free_mb = 500
    assert monitor.check(svc, now) == [(world.panel_a, "low_disk", "open")]
    health(svc, world.panel_a, now + 30, disk_free_bytes=540 * MB)
    assert monitor.check(svc, now + 30) == []  # above 500, below 550: still open
    health(svc, world.panel_a, now + 60, disk_free_bytes=550 * MB)
    assert monitor.check(svc, now + 60) == [(world.panel_a, "low_disk", "resolve")]
    health(svc, world.panel_a, now + 90, disk_free_bytes=500 * MB)
    assert monitor.check(svc, now + 90) == []  # exactly at the threshold is not short
    [incident] = rows(svc, "low_disk")
    assert '"disk_free_mb": 499' in incident["detail"]


def test_undervoltage_opens_while_reported_and_resolves_when_not(svc: Services, world: World) -> None:
    now = local(MSK, 1, 10)
    health(svc, world.panel_a, now, undervoltage_now=None)
    assert monitor.check(svc, now) == []  # not reported (an agent without the reading)
    health(svc, world.panel_a, now + 30, undervoltage_now=1)
    assert monitor.check(svc, now + 30) == [(world.panel_a, "undervoltage", "open")]
    assert monitor.check(svc, now + 60) == []
    health(svc, world.panel_a, now + 90, undervoltage_now=0)
    assert monitor.check(svc, now + 90) == [(world.panel_a, "undervoltage", "resolve")]
    assert len(rows(svc, "undervoltage")) == 1


def test_stale_health_is_not_judged(svc: Services, world: World) -> None:
    now = local(MSK, 6, 3)  # Sunday night: an offline panel is no incident, so only health could open one
    limit = monitor.STALE_HEALTH_FACTOR * svc.settings["panel_offline_after_s"]
    set_panel(svc, world.panel_a, health_at=now - limit - 1, temperature_c=95.0, undervoltage_now=1)
    assert monitor.check(svc, now) == []
    set_panel(svc, world.panel_a, health_at=now - limit + 1)
    opened = monitor.check(svc, now)
    assert sorted(opened) == [(world.panel_a, "overheat", "open"), (world.panel_a, "undervoltage", "open")]
    # Cool now, but reported too long ago: the open incident is neither resolved nor kept fresh.
    set_panel(svc, world.panel_a, health_at=now - limit - 1, temperature_c=40.0, undervoltage_now=0)
    assert monitor.check(svc, now) == []
    assert [r["resolved_at"] for r in rows(svc)] == [None, None]


def test_only_active_panels_are_judged_and_a_revoked_panels_incidents_end(
    svc: Services, world: World
) -> None:
    now = local(MSK, 1, 10)
    health(svc, world.panel_a, now, temperature_c=90.0)
    set_panel(svc, world.panel_a, state="pending")
    assert monitor.check(svc, now) == []
    set_panel(svc, world.panel_a, state="active")
    assert monitor.check(svc, now) == [(world.panel_a, "overheat", "open")]
    svc.db.write(incidents.open_incident, world.panel_a, "clone", {"channel": "socketio"}, ())
    svc.db.write(lifecycle.revoke, world.panel_a)
    assert monitor.check(svc, now) == [(world.panel_a, "overheat", "resolve")]
    # The clone incident is not the monitor's to resolve.
    assert [(r["kind"], r["resolved_at"] is None) for r in rows(svc)] == [
        ("overheat", False),
        ("clone", True),
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("school_hours", "8-18"),
        ("school_hours", "08:00-07:00"),
        ("school_hours", "08:00-24:30"),
        ("school_hours", "08:60-18:00"),
        ("school_days", "1-8"),
        ("school_days", "5-1"),
        ("school_days", "пн-пт"),
        ("school_days", ""),
    ],
)
def test_bad_school_hours_or_days_stop_the_start_with_the_setting_named(
    tmp_path: Any, name: str, value: str
) -> None:
    app = create_app({"data_dir": str(tmp_path / "c"), name: value})
    try:
        with pytest.raises(SettingsError, match=rf"^{name}: .*{re.escape(repr(value))}"):
            ControllerServer(app)
    finally:
        app.extensions["classcast"].db.close()


def test_school_hours_parse() -> None:
    hours = monitor.SchoolHours.of({"school_hours": "00:00-24:00", "school_days": "1-5, 7"})
    assert hours.days == {1, 2, 3, 4, 5, 7}
    assert hours.contains(local(MSK, 6, 23, 59), MSK)  # Sunday, a minute before midnight
    assert not hours.contains(local(MSK, 5, 12), MSK)  # Saturday


def test_the_loop_logs_a_failed_pass_and_goes_on(
    svc: Services, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    svc.settings.update(monitor_interval_s=0.01, school_hours="00:00-24:00", school_days="1-7")
    seen(svc, world.panel_a, 0)
    svc.settings["alert_temperature_c"] = "not a number"  # every pass fails until the operator fixes it
    loop = gevent.spawn(monitor.run_forever, svc)
    try:
        with caplog.at_level(logging.ERROR, logger="controller.monitor"):
            with gevent.Timeout(10):
                while not caplog.records:
                    gevent.sleep(0.01)
            svc.settings["alert_temperature_c"] = 80.0
            with gevent.Timeout(10):
                while not rows(svc):
                    gevent.sleep(0.01)
    finally:
        loop.kill()
    assert "the panel monitor failed" in caplog.records[0].getMessage()
    assert [r["kind"] for r in rows(svc)] == ["offline"]


def test_the_pages_list_the_incidents_of_the_callers_subtree(
    app: Flask, svc: Services, world: World, tmp_path: Any
) -> None:
    panel_b = second_panel(svc, world, tmp_path)
    municipality = svc.db.read["school"].get(world.school_a)["municipality_id"]
    for login, role, level, node in (
        ("it_a", "school_it", "school", world.school_a),
        ("it_b", "school_it", "school", world.school_b),
        ("mun", "municipal", "municipality", municipality),
    ):
        svc.db.write(users.create_user, login, PASSWORD, login, role, level, node)
    now = time.time()  # the pages show what was resolved in the last week, by the real clock
    health(svc, world.panel_a, now, temperature_c=91.0, disk_free_bytes=100 * MB)
    health(svc, panel_b, now, undervoltage_now=1)
    assert len(monitor.check(svc, now)) == 3
    health(svc, world.panel_a, now, temperature_c=91.0, disk_free_bytes=900 * MB)
    assert monitor.check(svc, now) == [(world.panel_a, "low_disk", "resolve")]
    svc.db.write(incidents.open_incident, world.panel_a, "clone", {}, ())
    old = svc.db.write(incidents.resolve_incident, world.panel_a, "clone", ())
    svc.db.write(lambda db: db["incident"].update(old, {"resolved_at": now - 8 * 86400}))

    def listed(login: str) -> list[tuple[str, str, bool]]:
        client = app.test_client()
        sign_in(client, login)
        answer = client.get("/api/notifications").json["incidents"]
        return [(i["kind"], i["message"], i["resolved_at"] is None) for i in answer]

    school_a = [
        ("overheat", "Панель «Панель 101» перегревается: 91 °C", True),
        ("low_disk", "На панели «Панель 101» мало места: свободно 100 МБ", False),
    ]
    school_b = [("undervoltage", "Панель «Панель 201»: пониженное напряжение питания", True)]
    assert listed("it_a") == school_a  # the clone incident resolved 8 days ago is no longer shown
    assert listed("it_b") == school_b
    assert sorted(listed("mun")) == sorted(school_a + school_b)
    client = app.test_client()
    sign_in(client, "mun")
    answer = client.get("/api/notifications").json["incidents"]
    assert [i["resolved_at"] is None for i in answer] == [True, True, False]  # open ones first
    overheat = next(i for i in answer if i["kind"] == "overheat")
    assert overheat["panel"] == {"id": world.panel_a, "name": "Панель 101"}
    assert overheat["room"] == "101"
    assert overheat["school"] == {"id": world.school_a, "name": "СОШ № 1"}
    assert overheat["opened_at"] > now - 60
    teacher = app.test_client()
    sign_in(teacher, "teacher_a")
    assert teacher.get("/api/notifications").status_code == 403
    assert app.test_client().get("/api/notifications").status_code == 401


def test_a_panel_whose_player_is_connected_is_not_offline(app: Any, svc: Services, world: World) -> None:
    svc.settings.update(school_hours="00:00-24:00", school_days="1-7")  # always school time
    panel = svc.socketio.test_client(app, namespace=PANEL_NAMESPACE, auth={"token": world.token_a})
    assert panel.is_connected(PANEL_NAMESPACE)
    seen(svc, world.panel_a, time.time() - 3600)  # connected an hour ago; its agent never reported

    assert monitor.check(svc, time.time()) == []
    assert rows(svc) == []
    panel.disconnect(PANEL_NAMESPACE)
    assert monitor.check(svc, time.time() + 600) == [(world.panel_a, "offline", "open")]
