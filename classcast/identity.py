"""The panel's identity on disk: its CURVE key pair, its controller token and the controller's key.

The player and the agent of one panel share a data directory. The key pair is made on first start
and never leaves the panel but for its public half; the token and the controller's public key arrive
when the panel is enrolled (paired). Secrets are written 0600 through a temporary file and a rename,
so a power cut leaves either the old file or the new one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import zmq

_SECRET_KEY = "curve.secret"
_PUBLIC_KEY = "curve.public"
_TOKEN = "token"
_CONTROLLER_KEY = "controller.public"


@dataclass(frozen=True)
class PanelIdentity:
    public_key: str  # Z85, 40 characters
    secret_key: str
    token: str | None  # None until the panel is enrolled
    controller_key: str | None

    @property
    def enrolled(self) -> bool:
        return self.token is not None and self.controller_key is not None

    @property
    def fingerprint(self) -> str:
        """Return a short, readable digest of the public key, shown when a panel is approved."""
        return fingerprint(self.public_key)


def fingerprint(public_key: str) -> str:
    """Return a short, readable digest of a panel's public key: the panel and the controller show it."""
    import hashlib  # here, not at the top: it loads OpenSSL, 3.7 MB of the agent's RSS budget

    digest = hashlib.sha256(public_key.encode()).hexdigest()[:16]
    return ":".join(digest[i : i + 4] for i in range(0, 16, 4))


def identity_dir(data_dir: Path) -> Path:
    return data_dir / "identity"


def ensure_identity(data_dir: Path) -> PanelIdentity:
    """Return the panel's identity, making its key pair first if it has none."""
    folder = identity_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not (folder / _SECRET_KEY).exists():
        public, secret = zmq.curve_keypair()
        write_secret(folder / _SECRET_KEY, secret.decode())
        write_secret(folder / _PUBLIC_KEY, public.decode())
    return load_identity(data_dir)


def load_identity(data_dir: Path) -> PanelIdentity:
    """Return the identity stored under `data_dir`; FileNotFoundError if there is no key pair yet."""
    folder = identity_dir(data_dir)
    return PanelIdentity(
        public_key=(folder / _PUBLIC_KEY).read_text().strip(),
        secret_key=(folder / _SECRET_KEY).read_text().strip(),
        token=_read_optional(folder / _TOKEN),
        controller_key=_read_optional(folder / _CONTROLLER_KEY),
    )


def save_enrollment(data_dir: Path, *, token: str, controller_key: str) -> None:
    """Keep the credentials the controller gave this panel when it was enrolled."""
    folder = identity_dir(data_dir)
    write_secret(folder / _TOKEN, token)
    write_secret(folder / _CONTROLLER_KEY, controller_key)


def forget_enrollment(data_dir: Path) -> PanelIdentity:
    """Return a fresh, unenrolled identity, the credentials and the key pair of the old one deleted.

    For a revoked panel: it may be a stolen device, so its old key must never be admitted again. The
    token goes first, so a power cut half way leaves an unenrolled panel, never a half-enrolled one;
    the new public key is written before its secret half, because `ensure_identity` makes a whole new
    pair whenever the secret key is missing.
    """
    folder = identity_dir(data_dir)
    for name in (_TOKEN, _CONTROLLER_KEY, _SECRET_KEY):
        (folder / name).unlink(missing_ok=True)
    public, secret = zmq.curve_keypair()
    write_secret(folder / _PUBLIC_KEY, public.decode())
    write_secret(folder / _SECRET_KEY, secret.decode())
    return load_identity(data_dir)


def _read_optional(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def write_secret(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
