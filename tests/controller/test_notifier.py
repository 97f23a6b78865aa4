"""The notifier against real servers on loopback: an HTTP server for the webhook, an SMTP server for mail.

Each incident event goes out once per channel, in order; a failure is retried with capped exponential
backoff and given up after a day; e-mail reaches exactly the school's live IT staff with an address.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import logging
import math
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP

from classcast.identity import ensure_identity
from controller import notifier
from controller.app import Services
from controller.store import incidents, panels, users

from .conftest import PASSWORD, World

DAY = 86400.0


class Webhook(ThreadingHTTPServer):
    """An HTTP server that records each POST and answers with the next of `answers` (the last repeats)."""

    def __init__(self, answers: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), _WebhookHandler)
        self.answers = answers
        self.calls: list[tuple[str, dict[str, str], Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/classcast"


class _WebhookHandler(BaseHTTPRequestHandler):
    server: Webhook

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.calls.append((self.path, dict(self.headers), json.loads(body)))
        status = self.server.answers.pop(0) if len(self.server.answers) > 1 else self.server.answers[0]
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def webhook(svc: Services) -> Iterator[Any]:
    """Return a function that starts a webhook with the given answers and points the settings at it."""
    servers: list[Webhook] = []

    def start(*answers: int) -> Webhook:
        server = Webhook(list(answers))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        svc.settings["notify_webhook_url"] = server.url
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class SmtpServer:
    """aiosmtpd on a loopback port of its own, on an asyncio loop in a thread; it keeps what it gets."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        make = self.loop.create_server(lambda: SMTP(self, hostname="smtp.test"), "127.0.0.1", 0)
        self.server = asyncio.run_coroutine_threadsafe(make, self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def smtp(svc: Services) -> Iterator[SmtpServer]:
    server = SmtpServer()
    svc.settings.update(
        notify_smtp_host="127.0.0.1", notify_smtp_port=server.port, notify_email_from="classcast@school.test"
    )
    yield server
    server.close()


def closed_port() -> int:
    """Return a loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def outbox(svc: Services) -> list[dict[str, Any]]:
    return list(svc.db.read.query("SELECT * FROM notification_outbox ORDER BY id"))


def open_offline(svc: Services, panel_id: int, *channels: str) -> int:
    detail = {"last_seen_at": "2026-09-01T03:00:00Z", "status": "offline"}
    return svc.db.write(incidents.open_incident, panel_id, "offline", detail, channels)


def resolve_offline(svc: Services, panel_id: int, *channels: str) -> int:
    return svc.db.write(incidents.resolve_incident, panel_id, "offline", channels)


def created_at(svc: Services) -> float:
    return outbox(svc)[0]["created_at"]


def test_the_webhook_gets_each_event_as_json_once(svc: Services, world: World, webhook: Any) -> None:
    hook = webhook(204)
    svc.db.write(lambda db: db["panel"].update(world.panel_a, {"serial": "SN-0001"}))
    incident_id = open_offline(svc, world.panel_a, "webhook")

    assert notifier.send_due(svc) == 1
    assert notifier.send_due(svc) == 0  # sent: never again
    resolve_offline(svc, world.panel_a, "webhook")
    assert notifier.send_due(svc) == 1

    [(path, headers, opened), (_, _, resolved)] = hook.calls
    assert path == "/hooks/classcast"
    assert headers["Content-Type"] == "application/json"
    assert opened["event"] == "opened" and resolved["event"] == "resolved"
    assert opened["incident"]["id"] == incident_id
    assert opened["incident"]["kind"] == "offline"
    assert opened["incident"]["opened_at"].endswith("Z")
    assert opened["incident"]["resolved_at"] is None
    assert opened["incident"]["detail"] == {"last_seen_at": "2026-09-01T03:00:00Z", "status": "offline"}
    assert resolved["incident"]["resolved_at"].endswith("Z")
    assert opened["panel"] == {"id": world.panel_a, "name": "Панель 101", "serial": "SN-0001"}
    assert opened["room"] == "101"
    assert opened["school"] == {"id": world.school_a, "name": "Школа № 1"}
    assert opened["message"] == "Панель «Панель 101» не на связи"
    assert resolved["message"] == "Решено: Панель «Панель 101» не на связи"
    assert [(r["attempts"], r["last_error"]) for r in outbox(svc)] == [(1, None), (1, None)]
    assert all(r["sent_at"] is not None for r in outbox(svc))


def test_a_failing_webhook_is_retried_with_backoff_until_it_answers(
    svc: Services, world: World, webhook: Any
) -> None:
    hook = webhook(500, 503, 200)
    open_offline(svc, world.panel_a, "webhook")
    now = created_at(svc)

    assert notifier.send_due(svc, now) == 0
    [row] = outbox(svc)
    assert (row["attempts"], row["sent_at"], row["last_error"]) == (1, None, "webhook answered HTTP 500")
    first_delay = row["next_attempt_at"] - now
    assert 0.8 * notifier.RETRY_FIRST_S <= first_delay <= notifier.RETRY_FIRST_S

    assert notifier.send_due(svc, now + first_delay - 1) == 0  # not yet due: not tried
    assert len(hook.calls) == 1
    later = now + first_delay
    assert notifier.send_due(svc, later) == 0
    [row] = outbox(svc)
    assert (row["attempts"], row["last_error"]) == (2, "webhook answered HTTP 503")
    assert 1.6 * notifier.RETRY_FIRST_S <= row["next_attempt_at"] - later <= 2 * notifier.RETRY_FIRST_S

    assert notifier.send_due(svc, row["next_attempt_at"]) == 1
    [row] = outbox(svc)
    assert row["sent_at"] is not None and row["attempts"] == 3
    assert len(hook.calls) == 3 and hook.calls[0][2] == hook.calls[2][2]


def test_resolved_waits_until_opened_went_out(svc: Services, world: World, webhook: Any) -> None:
    hook = webhook(500, 200)
    open_offline(svc, world.panel_a, "webhook")
    resolve_offline(svc, world.panel_a, "webhook")
    now = created_at(svc)

    assert notifier.send_due(svc, now) == 0
    assert [call[2]["event"] for call in hook.calls] == ["opened"]
    assert [r["attempts"] for r in outbox(svc)] == [1, 0]
    assert notifier.send_due(svc, now + notifier.RETRY_FIRST_S) == 2
    assert [call[2]["event"] for call in hook.calls] == ["opened", "opened", "resolved"]


def test_redirects_are_not_followed(svc: Services, world: World, webhook: Any) -> None:
    hook = webhook(302)
    open_offline(svc, world.panel_a, "webhook")
    assert notifier.send_due(svc) == 0
    assert [call[0] for call in hook.calls] == ["/hooks/classcast"]
    assert outbox(svc)[0]["last_error"] == "webhook answered HTTP 302 (redirects are not followed)"


def test_backoff_is_capped_and_the_message_is_given_up_after_a_day(
    svc: Services, world: World, webhook: Any, caplog: pytest.LogCaptureFixture
) -> None:
    hook = webhook(500)
    open_offline(svc, world.panel_a, "webhook")
    start = now = created_at(svc)
    delays = []
    with caplog.at_level(logging.WARNING, logger="controller.notifier"):
        while True:
            notifier.send_due(svc, now)
            [row] = outbox(svc)
            if math.isinf(row["next_attempt_at"]):
                break
            delays.append(row["next_attempt_at"] - now)
            now = row["next_attempt_at"]
            assert len(delays) < 100
    assert now == start + DAY  # the last try is at the 24 h mark, not later
    assert max(delays) <= notifier.RETRY_MAX_S
    assert delays[:5] == sorted(delays[:5])  # growing: 30, 60, 120, 240, 480 s (less their jitter)
    assert row["sent_at"] is None
    assert row["attempts"] == len(delays) + 1 == len(hook.calls)
    assert row["last_error"] == "gave up: webhook answered HTTP 500"
    assert any("giving up" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert notifier.send_due(svc, start + 30 * DAY) == 0
    assert len(hook.calls) == row["attempts"]  # given up: never tried again


def test_an_unreachable_webhook_keeps_its_secret_out_of_the_logs_and_database(
    svc: Services, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    svc.settings["notify_webhook_url"] = f"http://127.0.0.1:{closed_port()}/hooks/s3cret-path?token=t0ken"
    open_offline(svc, world.panel_a, "webhook")
    with caplog.at_level(logging.WARNING, logger="controller.notifier"):
        assert notifier.send_due(svc) == 0
    [row] = outbox(svc)
    assert row["last_error"].startswith("webhook: ") and row["next_attempt_at"] > row["created_at"]
    assert "retrying in" in caplog.text
    for secret in ("s3cret", "t0ken"):
        assert secret not in row["last_error"] and secret not in caplog.text


def add_school_it(svc: Services, login: str, school_id: int, email_address: str | None, **more: Any) -> int:
    user_id = svc.db.write(users.create_user, login, PASSWORD, login, "school_it", "school", school_id)
    svc.db.write(lambda db: db["user"].update(user_id, {"email": email_address, **more}))
    return user_id


def test_email_goes_once_to_the_schools_live_it_staff_with_an_address(
    svc: Services, world: World, smtp: SmtpServer
) -> None:
    svc.db.write(lambda db: db["school"].update(world.school_a, {"timezone": "Asia/Novosibirsk"}))
    add_school_it(svc, "it.a1", world.school_a, "it1@school1.test")
    add_school_it(svc, "it.a2", world.school_a, "it2@school1.test")
    add_school_it(svc, "it.a3", world.school_a, None)  # no address: not mailed
    add_school_it(svc, "it.old", world.school_a, "old@school1.test", archived_at="2026-01-01T00:00:00Z")
    add_school_it(svc, "it.b", world.school_b, "it@school2.test")  # another school's
    teacher = svc.db.read.execute("SELECT id FROM user WHERE login = 'teacher_a'").fetchone()[0]
    svc.db.write(lambda db: db["user"].update(teacher, {"email": "teacher@school1.test"}))

    open_offline(svc, world.panel_a, "email")
    assert notifier.send_due(svc) == 1
    resolve_offline(svc, world.panel_a, "email")
    assert notifier.send_due(svc) == 1
    assert notifier.send_due(svc) == 0

    [(sender, recipients, raw), (_, _, raw_resolved)] = smtp.received
    assert sender == "classcast@school.test"
    assert sorted(recipients) == ["it1@school1.test", "it2@school1.test"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "Панель «Панель 101» не на связи"
    assert message["From"] == "classcast@school.test"
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    assert b"school1.test" not in head  # the recipients do not see each other's addresses
    body = message.get_content()
    assert "Школа: Школа № 1" in body
    assert "Кабинет: 101" in body
    assert "(Asia/Novosibirsk)" in body
    assert "Закончилось" not in body
    resolved = email.message_from_bytes(raw_resolved, policy=email.policy.default)
    assert resolved["Subject"] == "Решено: Панель «Панель 101» не на связи"
    assert "Закончилось: " in resolved.get_content()
    assert [(r["attempts"], r["last_error"]) for r in outbox(svc)] == [(1, None), (1, None)]


def test_a_school_without_it_addresses_is_logged_and_not_retried(
    svc: Services, world: World, smtp: SmtpServer, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    add_school_it(svc, "it.b", world.school_b, None)
    key = ensure_identity(tmp_path / "panel-b").public_key
    panel_b, _ = svc.db.write(panels.enroll_panel, world.room_b, "Панель 201", key)
    open_offline(svc, panel_b, "email")
    with caplog.at_level(logging.WARNING, logger="controller.notifier"):
        assert notifier.send_due(svc) == 1
    [row] = outbox(svc)
    assert row["sent_at"] is not None and row["last_error"] == "no recipients"
    assert smtp.received == []
    assert "no school IT account with an e-mail address" in caplog.text


def test_mail_is_retried_while_the_smtp_server_is_down(svc: Services, world: World, smtp: SmtpServer) -> None:
    add_school_it(svc, "it.a1", world.school_a, "it1@school1.test")
    svc.settings["notify_smtp_port"] = closed_port()
    open_offline(svc, world.panel_a, "email")
    now = created_at(svc)
    assert notifier.send_due(svc, now) == 0
    [row] = outbox(svc)
    assert row["last_error"].startswith("e-mail: ConnectionRefusedError")
    assert row["sent_at"] is None and row["next_attempt_at"] > now
    svc.settings["notify_smtp_port"] = smtp.port  # the server is back
    assert notifier.send_due(svc, row["next_attempt_at"]) == 1
    assert [recipients for _, recipients, _ in smtp.received] == [["it1@school1.test"]]


def test_a_channel_turned_off_since_is_not_tried(svc: Services, world: World, webhook: Any) -> None:
    hook = webhook(204)
    open_offline(svc, world.panel_a, "webhook")
    svc.settings["notify_webhook_url"] = ""  # the operator removed the webhook before it went out
    assert notifier.send_due(svc) == 1
    [row] = outbox(svc)
    assert row["sent_at"] is not None and row["last_error"] == "channel not configured"
    assert hook.calls == []
