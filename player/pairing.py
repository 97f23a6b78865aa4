"""Pairing from the panel's side: ask for a code, show it, wait for school IT, keep the credentials.

The panel asks the controller for a one-time code with its public key and a secret of its own, and
shows the code (with a QR code of the approval page) until someone approves it. Then it collects its
token, once, with the secret. The pairing in progress is kept on disk (0600, beside the key pair), so
a panel that restarts after being approved still collects its credentials instead of asking again.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gevent
import gevent.event
import requests

from classcast.identity import PanelIdentity, ensure_identity, identity_dir, save_enrollment, write_secret
from player import device

log = logging.getLogger(__name__)

POLL_S = 2.0  # how soon the panel leaves the pairing screen once approved
_FILE = "pairing.json"


class Pairing:
    """The pairing loop of one unenrolled panel; `run` returns its identity once it has credentials."""

    def __init__(
        self,
        data_dir: Path,
        controller_url: str,
        show: Callable[[dict[str, Any] | None], None],
        retry_min: float = 1.0,
        retry_max: float = 60.0,
        facts: Callable[[], dict[str, Any]] = device.facts,
    ) -> None:
        self.data_dir, self.url = data_dir, controller_url.rstrip("/")
        self.show, self.retry_min, self.retry_max, self.facts = show, retry_min, retry_max, facts
        self.http = requests.Session()

    def run(self, stop: gevent.event.Event) -> PanelIdentity | None:
        """Return the enrolled identity, or None if told to stop first."""
        identity = ensure_identity(self.data_dir)
        delay = self.retry_min
        while not identity.enrolled:
            identity = ensure_identity(self.data_dir)  # enrolled by hand meanwhile (enroll-panel)?
            if identity.enrolled:
                break
            try:
                identity = self._step(identity)
                delay = self.retry_min
                wait = POLL_S
            except (requests.RequestException, ValueError) as exc:
                log.warning("pairing: cannot reach the controller at %s: %s", self.url, exc)
                self._show_offline()
                wait, delay = delay * random.uniform(0.8, 1.2), min(delay * 2, self.retry_max)
            if not identity.enrolled and stop.wait(wait):
                return None
        self.show(None)
        return identity

    def _step(self, identity: PanelIdentity) -> PanelIdentity:
        pending = self._pending()
        if pending is None:
            pending = self._ask(identity)
        answer = self.http.get(
            f"{self.url}/api/panel/v1/pairings/{quote(pending['id'])}",
            headers={"Authorization": f"Bearer {pending['secret']}"},
            timeout=10,
        )
        if answer.status_code in (404, 410):  # expired, spent or forgotten: ask for a new code
            log.info("pairing code %s is no longer valid; asking for a new one", pending["code"])
            self._forget()
            return identity
        answer.raise_for_status()
        body = answer.json()
        if body.get("state") == "approved":
            save_enrollment(self.data_dir, token=body["token"], controller_key=body["controller_key"])
            self._forget()
            log.info("paired as panel %s (%s)", body.get("panel_id"), body.get("name"))
            return ensure_identity(self.data_dir)
        self._show(pending, identity)
        return identity

    def _ask(self, identity: PanelIdentity) -> dict[str, Any]:
        secret = secrets.token_urlsafe(32)
        facts = self.facts()
        answer = self.http.post(
            f"{self.url}/api/panel/v1/pairings",
            json={"public_key": identity.public_key, "secret": secret, **facts},
            timeout=10,
        )
        if answer.status_code == 409:
            # This key belongs to an active panel: school IT must revoke it before it pairs again.
            raise ValueError(answer.json().get("message", "already registered"))
        answer.raise_for_status()
        body = answer.json()
        pending = {
            "id": body["id"],
            "code": body["code"],
            "expires_at": body["expires_at"],
            "secret": secret,
            "serial": facts.get("serial"),
            "mac": facts.get("mac"),
        }
        write_secret(identity_dir(self.data_dir) / _FILE, json.dumps(pending))
        log.info("pairing code %s shown (key fingerprint %s)", body["code"], identity.fingerprint)
        return pending

    def _pending(self) -> dict[str, Any] | None:
        try:
            pending = json.loads((identity_dir(self.data_dir) / _FILE).read_text())
        except (OSError, ValueError):
            return None
        return pending if isinstance(pending, dict) and {"id", "code", "secret"} <= pending.keys() else None

    def _forget(self) -> None:
        forget_pending(self.data_dir)

    def _show(self, pending: dict[str, Any], identity: PanelIdentity) -> None:
        self.show(
            {
                "code": pending["code"],
                "approve_url": approve_url(self.url, pending["code"]),
                "controller": self.url,
                "serial": pending.get("serial"),
                "mac": pending.get("mac"),
                "fingerprint": identity.fingerprint,
                "expires_in": max(0, round(pending.get("expires_at", 0) - time.time())),
                "online": True,
            }
        )

    def _show_offline(self) -> None:
        identity = ensure_identity(self.data_dir)
        pending = self._pending() or {"code": None}
        shown = {
            "code": pending.get("code"),
            "approve_url": approve_url(self.url, pending["code"]) if pending.get("code") else None,
            "controller": self.url,
            "serial": pending.get("serial"),
            "mac": pending.get("mac"),
            "fingerprint": identity.fingerprint,
            "online": False,
        }
        self.show(shown)


def forget_pending(data_dir: Path) -> None:
    """Forget the pairing in progress, if any: the next `Pairing.run` asks for a new code."""
    (identity_dir(data_dir) / _FILE).unlink(missing_ok=True)


def approve_url(controller_url: str, code: str) -> str:
    """Return the address of the approval page with the code filled in: what the QR code holds."""
    return f"{controller_url.rstrip('/')}/admin/pair?code={quote(code)}"
