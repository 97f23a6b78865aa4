"""Alerts: school IT to every screen of the school, a municipality's coordinators to every screen of it.

An alert overrides every cast and schedule and stays until it is cleared. It is not kept per panel: a
panel is sent the alert active for its school now (its school's own, else its municipality's), when it
is sent or cleared and whenever the panel connects (in its desired state), so a panel that was off
shows it at once. Each panel's acknowledgement is recorded, in batches (five thousand panels answer
within a second), and the sender's pages hear the count grow.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent

from classcast.i18n import N_
from classcast.protocol import ALERT_LEVELS, EVENT_ALERT, MAX_TEXT_CHARS
from controller.casting import CastError
from controller.store import alerts, desired

log = logging.getLogger(__name__)

FLUSH_S = 0.2  # acknowledgements are written (and told to the sender) at most this often
MAX_TITLE_CHARS = 200
_SCOPE = {"school_it": "school", "municipal": "municipality"}


class AckBook:
    """The panels' answers to alerts, kept in memory for a moment and written together."""

    def __init__(self, svc: Any) -> None:
        self.svc = svc
        self._answers: list[tuple[int, int, float | None, str | None]] = []
        self._flusher: gevent.Greenlet | None = None

    def answered(self, alert_id: int, panel_id: int, answer: dict[str, Any]) -> None:
        ok = bool(answer.get("ok"))
        error = None if ok else str(answer.get("error", "unknown"))[:80]
        self._answers.append((alert_id, panel_id, time.time() if ok else None, error))
        if self._flusher is None or self._flusher.dead:
            self._flusher = gevent.spawn_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        answers, self._answers = self._answers, []
        if not answers:
            return
        self.svc.db.write(alerts.record_answers, answers)
        for alert_id in {a[0] for a in answers}:
            alert = alerts.get(self.svc.db.read, alert_id)
            if alert is not None:
                self.svc.live.alert_changed(alerts.summary(self.svc.db.read, alert))
        if self._answers:  # answers that came while this flush wrote: this greenlet no longer looks
            self._flusher = gevent.spawn_later(FLUSH_S, self.flush)


def send(svc: Any, user: dict[str, Any], fields: Any) -> dict[str, Any]:
    """Return the new alert's summary, once sent to every panel of the sender's school or municipality."""
    node_type = _SCOPE.get(user["role"])
    if node_type is None or user["node_type"] != node_type:
        raise CastError("forbidden", N_("Оповещение отправляет администратор школы или муниципалитета."), 403)
    title, text, level = _checked(fields)
    alert_id, panel_ids = svc.db.write(
        alerts.create, node_type, user["node_id"], title, text, level, user["id"]
    )
    log.info(
        "alert %s sent by user %s to %s %s: %d panels",
        alert_id,
        user["id"],
        node_type,
        user["node_id"],
        len(panel_ids),
    )
    fan_out(svc, panel_ids)
    return alerts.summary(svc.db.read, alerts.get(svc.db.read, alert_id))


def clear(svc: Any, user: dict[str, Any], alert_id: int) -> dict[str, Any]:
    """Return the alert's summary once cleared; its panels go back to what they showed (or another alert)."""
    panel_ids = svc.db.write(alerts.clear, alert_id, user["id"])
    log.info("alert %s cleared by user %s", alert_id, user["id"])
    fan_out(svc, panel_ids)
    summary = alerts.summary(svc.db.read, alerts.get(svc.db.read, alert_id))
    svc.live.alert_changed(summary)
    return summary


def fan_out(svc: Any, panel_ids: list[int]) -> None:
    """Send each panel the alert it should show now (or none), without waiting for the answers."""
    schools = _schools_of(svc.db.read, panel_ids)
    shown = alerts.active_for_schools(svc.db.read, set(schools.values()))
    messages = [(p, {"alert": desired.alert_message(shown.get(schools[p]))}) for p in panel_ids]
    alert_of = {p: message["alert"] for p, message in messages}

    def answered(panel_id: int, answer: dict[str, Any]) -> None:
        alert = alert_of[panel_id]
        if alert is not None:
            svc.alerts.answered(int(alert["id"]), panel_id, answer)

    svc.hub.emit_each(messages, EVENT_ALERT, answered)
    for school_id in set(schools.values()):
        svc.live.refresh_school(school_id)  # the teachers' room cards show the alert


def _schools_of(db: Any, panel_ids: list[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for start in range(0, len(panel_ids), 500):
        chunk = panel_ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        found.update(db.execute(f"SELECT id, school_id FROM panel WHERE id IN ({marks})", chunk).fetchall())
    return found


def _checked(fields: Any) -> tuple[str, str, str]:
    text = fields.get("text") if isinstance(fields, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise CastError("no_text", N_("Напишите текст оповещения."))
    if len(text) > MAX_TEXT_CHARS:
        raise CastError("too_long", N_("Текст оповещения длиннее 2000 знаков."))
    title = fields.get("title") if isinstance(fields.get("title"), str) else ""
    level = fields.get("level") or "warning"
    if level not in ALERT_LEVELS:
        raise CastError("bad_level", N_("Уровень оповещения: info, warning или danger."))
    return title.strip()[:MAX_TITLE_CHARS], text.strip(), level
