"""The command-line side of docs/operations.md: backup, restore, the first operator, panel credentials.

Each is a `classcast-controller` command. `backup` and `restore` read only the settings (the data
folder), never opening the database through the app: a backup must not migrate the database it copies.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path
from typing import Any

from controller.backup import backup, restore

_CLI_ACTOR = ("cli", "operator")  # whoever has the server's shell is its operator


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the operations commands to `classcast-controller`'s sub-command parser."""
    cmd = commands.add_parser("backup", parents=[common], help="copy the live database (online)")
    cmd.add_argument("--to", type=Path, required=True, metavar="FILE", help="where the copy goes")
    cmd.set_defaults(run=_backup)

    cmd = commands.add_parser(
        "restore", parents=[common], help="replace the database of a stopped controller with a backup"
    )
    cmd.add_argument("--from", dest="source", type=Path, required=True, metavar="FILE")
    cmd.set_defaults(run=_restore)

    cmd = commands.add_parser(
        "create-operator",
        parents=[common],
        help="make the first operator account with a random password printed once; nothing if one exists",
    )
    cmd.add_argument("--login", default="operator")
    cmd.add_argument("--full-name", default="Оператор системы")
    cmd.set_defaults(run=_create_operator)

    cmd = commands.add_parser(
        "rotate-panel", parents=[common], help="give a panel a new token (and key); prints its credentials"
    )
    cmd.add_argument("--panel-id", type=int, required=True)
    cmd.add_argument("--public-key", help="the panel's new CURVE public key (Z85), if it made a new pair")
    cmd.set_defaults(run=_rotate_panel)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {"data_dir": args.data_dir}


def _data_dir(args: argparse.Namespace) -> Path:
    """Return the data folder the settings name, without opening (or migrating) the database."""
    from controller.config import load_config

    return Path(load_config(args.config, _overrides(args))["data_dir"])


def _backup(args: argparse.Namespace) -> int:
    print(json.dumps(backup(_data_dir(args), args.to), ensure_ascii=False))
    return 0


def _restore(args: argparse.Namespace) -> int:
    print(json.dumps(restore(args.source, _data_dir(args)), ensure_ascii=False))
    return 0


def _services(args: argparse.Namespace) -> Any:
    from controller.app import create_app

    return create_app(_overrides(args), args.config).extensions["classcast"]


def _create_operator(args: argparse.Namespace) -> int:
    from controller.store import audit, users

    svc = _services(args)
    query = "SELECT count(*) FROM user WHERE role = 'operator' AND archived_at IS NULL"
    if svc.db.read.execute(query).fetchone()[0]:  # the installer runs this on every install: once is enough
        print(json.dumps({"created": False}))
        return 0
    password = secrets.token_urlsafe(18)  # never a default: made here, shown once, stored only hashed
    user_id = svc.db.write(users.create_user, args.login, password, args.full_name, "operator", None, None)
    actor = audit.Actor(None, *_CLI_ACTOR, None)
    svc.db.write(audit.record, actor, "create", "ok", "user", user_id, None, {"login": args.login})
    print(json.dumps({"created": True, "login": args.login, "password": password}, ensure_ascii=False))
    return 0


def _rotate_panel(args: argparse.Namespace) -> int:
    from controller import access
    from controller.ingest import server_keys
    from controller.store import audit, panels

    if args.public_key is not None and len(args.public_key) != 40:
        return _fail("ключ панели должен быть 40 символов Z85")
    svc = _services(args)
    token = svc.db.write(panels.rotate_credentials, args.panel_id, args.public_key)
    if token is None:
        return _fail(f"активная панель {args.panel_id} не найдена")
    place = access.place_of(svc.db.read, "panel", args.panel_id)
    detail = {"rotated": "token and key" if args.public_key else "token"}
    actor = audit.Actor(None, *_CLI_ACTOR, None)
    svc.db.write(audit.record, actor, "update", "ok", "panel", args.panel_id, place, detail)
    public_key, _ = server_keys(svc.data_dir)
    print(json.dumps({"panel_id": args.panel_id, "token": token, "controller_key": public_key}))
    return 0


def _fail(message: str) -> int:
    print(f"classcast-controller: {message}", file=sys.stderr)
    return 2
