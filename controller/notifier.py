"""The notifier: delivers the incident messages queued in notification_outbox, and retries them.

A webhook gets each event as JSON (docs/operations.md, «Notifications»); e-mail goes to the live
school IT accounts of the incident's school that have an address, one message per event, with the
recipients kept out of each other's sight. A failure is retried with capped exponential backoff and
jitter, for 24 hours after the event; then it is given up, and logged. A later event of an incident
waits for the earlier one on the same channel, so that nobody hears «resolved» before «opened».
"""

from __future__ import annotations

import json
import logging
import math
import random
import smtplib
import time
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, NoReturn
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from sqlite_utils import Database

from classcast.i18n import N_, Message
from controller import monitor
from controller.app import Services
from controller.rounds import every
from controller.timeutil import iso_from_unix

log = logging.getLogger(__name__)

POLL_S = 5.0  # how often the outbox is looked at
TIMEOUT_S = 10.0  # for one webhook call or one SMTP conversation
RETRY_FIRST_S = 30.0
RETRY_MAX_S = 3600.0
GIVE_UP_AFTER_S = 24 * 3600.0
NEVER = math.inf  # next_attempt_at of a message given up
BATCH = 100
NO_RECIPIENTS = "no recipients"
CHANNEL_OFF = "channel not configured"

_DESCRIPTIONS = {
    "offline": N_("Панель «%(panel)s» не на связи"),
    "overheat": N_("Панель «%(panel)s» перегревается: %(temperature)s °C"),
    "low_disk": N_("На панели «%(panel)s» мало места: свободно %(free)s МБ"),
    "undervoltage": N_("Панель «%(panel)s»: пониженное напряжение питания"),
    "clone": N_("Учётными данными панели «%(panel)s» пользуется второе устройство"),
}
RESOLVED = N_("Решено: %(message)s")


def describe(kind: str, panel_name: str, detail: dict[str, Any]) -> Message:
    """Return the incident as one marked sentence for people (the page, the e-mail's subject)."""
    values = {
        "panel": panel_name,
        "temperature": _number(detail.get("temperature_c")),
        "free": _number(detail.get("disk_free_mb")),
    }
    return Message(_DESCRIPTIONS.get(kind, N_("Панель «%(panel)s»: неполадка")), values)


def _number(value: Any) -> str:
    return f"{value:.0f}" if isinstance(value, int | float) else "—"


class Undelivered(Exception):
    """A message that did not go out; its text is kept in the outbox as last_error."""


def due(db: Database, now: float, limit: int = BATCH) -> list[dict[str, Any]]:
    """Return the outbox rows to send now, each with its incident, panel, room and school."""
    return list(
        db.query(
            """SELECT o.id, o.event, o.channel, o.created_at, o.attempts,
                      i.id AS incident_id, i.kind, i.opened_at, i.resolved_at, i.detail,
                      p.id AS panel_id, p.name AS panel_name, p.serial, r.name AS room_name,
                      s.id AS school_id, s.name AS school_name, s.timezone
               FROM notification_outbox o JOIN incident i ON i.id = o.incident_id
               JOIN panel p ON p.id = i.panel_id JOIN school s ON s.id = i.school_id
               LEFT JOIN room r ON r.id = p.room_id
               WHERE o.sent_at IS NULL AND o.next_attempt_at <= :now
                 AND NOT EXISTS (SELECT 1 FROM notification_outbox e
                                 WHERE e.incident_id = o.incident_id AND e.channel = o.channel
                                   AND e.id < o.id AND e.sent_at IS NULL AND e.next_attempt_at < :never)
               ORDER BY o.next_attempt_at, o.id LIMIT :limit""",
            {"now": now, "never": NEVER, "limit": limit},
        )
    )


def send_due(svc: Services, now: float | None = None) -> int:
    """Return how many due messages went out, having tried each due one once.

    A tried message is either sent or due again only after `now`, so asking again until nothing is
    due ends; it lets an event that waited for an earlier one go out in the same round.
    """
    now = time.time() if now is None else now
    sent = 0
    while rows := due(svc.db.read, now):
        for row in rows:
            try:
                note = deliver(svc.settings, svc.db.read, row)
            except Undelivered as exc:
                svc.db.write(_failed, row, str(exc), now)
                continue
            svc.db.write(_sent, row["id"], note)
            sent += 1
    return sent


def deliver(settings: dict[str, Any], db: Database, row: dict[str, Any]) -> str | None:
    """Send one outbox row on its channel; return a note to keep (or None); raise Undelivered."""
    if row["channel"] not in monitor.channels(settings):
        log.warning("incident %s (%s): %s is no longer configured; not sent", *_what(row))
        return CHANNEL_OFF
    if row["channel"] == "webhook":
        post_webhook(settings["notify_webhook_url"], payload(row))
        return None
    recipients = school_it_addresses(db, row["school_id"])
    if not recipients:
        log.warning(
            "incident %s (%s): school %s has no school IT account with an e-mail address; not mailed",
            row["incident_id"],
            row["event"],
            row["school_id"],
        )
        return NO_RECIPIENTS
    mail(settings, email_message(row, settings["notify_email_from"]), recipients)
    log.info("incident %s (%s) mailed to %d recipients", row["incident_id"], row["event"], len(recipients))
    return None


def _what(row: dict[str, Any]) -> tuple[Any, Any, Any]:
    return row["incident_id"], row["event"], row["channel"]


def _sent(db: Database, outbox_id: int, note: str | None) -> None:
    db.execute(
        "UPDATE notification_outbox SET sent_at = ?, attempts = attempts + 1, last_error = ? WHERE id = ?",
        [time.time(), note, outbox_id],
    )


def _failed(db: Database, row: dict[str, Any], error: str, now: float) -> None:
    attempts = row["attempts"] + 1
    give_up_at = row["created_at"] + GIVE_UP_AFTER_S
    if now >= give_up_at:
        log.error(
            "incident %s (%s) by %s: giving up after %d attempts over 24 h: %s",
            *_what(row),
            attempts,
            error,
        )
        next_at, error = NEVER, f"gave up: {error}"
    else:
        delay = min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** (attempts - 1)) * random.uniform(0.8, 1.0)
        next_at = min(now + delay, give_up_at)
        log.warning(
            "incident %s (%s) by %s failed (attempt %d), retrying in %.0f s: %s",
            *_what(row),
            attempts,
            next_at - now,
            error,
        )
    db.execute(
        "UPDATE notification_outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
        [attempts, next_at, error[:500], row["id"]],
    )


def payload(row: dict[str, Any]) -> dict[str, Any]:
    """Return the webhook's JSON body for one outbox row (docs/operations.md, «Notifications»)."""
    detail = json.loads(row["detail"]) if row["detail"] else {}
    return {
        "event": row["event"],
        "incident": {
            "id": row["incident_id"],
            "kind": row["kind"],
            "opened_at": iso_from_unix(row["opened_at"]),
            "resolved_at": iso_from_unix(row["resolved_at"]) if row["resolved_at"] else None,
            "detail": detail,
        },
        "message": _subject(row, detail),
        "panel": {"id": row["panel_id"], "name": row["panel_name"], "serial": row["serial"]},
        "room": row["room_name"],
        "school": {"id": row["school_id"], "name": row["school_name"]},
    }


def post_webhook(url: str, body: dict[str, Any]) -> None:
    """POST `body` as JSON to the operator's webhook; raise Undelivered unless it answers 2xx."""
    try:
        response = requests.post(url, json=body, timeout=TIMEOUT_S, allow_redirects=False)
    except requests.RequestException as exc:
        raise Undelivered(f"webhook: {_without_url(str(exc), url)}") from None
    response.close()
    if not 200 <= response.status_code < 300:
        redirect = " (redirects are not followed)" if 300 <= response.status_code < 400 else ""
        raise Undelivered(f"webhook answered HTTP {response.status_code}{redirect}")


def _without_url(text: str, url: str) -> str:
    # A webhook URL often carries its secret in the path or query: keep it out of logs and the database.
    parts = urlsplit(url)
    for secret in (url, parts.path + ("?" + parts.query if parts.query else ""), parts.query):
        if secret and secret != "/":
            text = text.replace(secret, "…")
    return text


def school_it_addresses(db: Database, school_id: int) -> list[str]:
    """Return the e-mail addresses of the school's live school IT accounts."""
    rows = db.execute(
        """SELECT DISTINCT trim(email) FROM user
           WHERE role = 'school_it' AND node_type = 'school' AND node_id = ? AND archived_at IS NULL
             AND email IS NOT NULL AND trim(email) != '' ORDER BY 1""",
        [school_id],
    )
    return [row[0] for row in rows]


def email_message(row: dict[str, Any], sender: str) -> EmailMessage:
    """Return the e-mail of one incident event, in Russian, addressed to nobody in its headers."""
    detail = json.loads(row["detail"]) if row["detail"] else {}
    message = EmailMessage()
    message["Subject"] = _subject(row, detail)
    message["From"] = sender
    message["To"] = "undisclosed-recipients:;"  # each recipient's address stays in the envelope only
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(_body(row, detail))
    return message


def _subject(row: dict[str, Any], detail: dict[str, Any]) -> str:
    text = str(describe(row["kind"], row["panel_name"], detail))
    return str(Message(RESOLVED, {"message": text})) if row["event"] == "resolved" else text


def _body(row: dict[str, Any], detail: dict[str, Any]) -> str:
    zone = row["timezone"]
    lines = [
        _subject(row, detail) + ".",
        "",
        str(Message(N_("Школа: %(school)s"), {"school": row["school_name"]})),
        str(Message(N_("Кабинет: %(room)s"), {"room": row["room_name"] or "—"})),
        str(Message(N_("Панель: %(panel)s, серийный номер %(serial)s"), _panel_values(row))),
        str(Message(N_("Началось: %(at)s"), {"at": _local(row["opened_at"], zone)})),
    ]
    if row["resolved_at"]:
        lines.append(str(Message(N_("Закончилось: %(at)s"), {"at": _local(row["resolved_at"], zone)})))
    lines += ["", N_("Все неполадки панелей школы — на страницах ClassCast для администраторов.")]
    lines.append(N_("Это письмо отправлено автоматически, отвечать на него не нужно."))
    return "\n".join(lines) + "\n"


def _panel_values(row: dict[str, Any]) -> dict[str, str]:
    return {"panel": row["panel_name"], "serial": row["serial"] or "—"}


def _local(at: float, zone: str) -> str:
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return iso_from_unix(at)
    return datetime.fromtimestamp(at, tz).strftime("%d.%m.%Y %H:%M") + f" ({zone})"


def mail(settings: dict[str, Any], message: EmailMessage, recipients: list[str]) -> None:
    """Hand one message for `recipients` to the SMTP server; raise Undelivered if it does not take it."""
    try:
        with smtplib.SMTP(
            settings["notify_smtp_host"], settings["notify_smtp_port"], timeout=TIMEOUT_S
        ) as smtp:
            refused = smtp.send_message(message, to_addrs=recipients)
    except (OSError, smtplib.SMTPException) as exc:
        raise Undelivered(f"e-mail: {type(exc).__name__}: {exc}") from None
    if refused:
        log.warning("the SMTP server refused %d of %d recipients", len(refused), len(recipients))


def run_forever(svc: Services) -> NoReturn:
    """Send due messages every few seconds, for as long as the controller runs."""
    every(POLL_S, lambda: send_due(svc), "the notifier")
