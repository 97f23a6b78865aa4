"""`classcast-controller report`: any usage report as a file, from the server's shell, with a progress bar."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from controller.stats.tally import LEVELS


def add_command(commands: Any, common: argparse.ArgumentParser) -> None:
    cmd = commands.add_parser(
        "report", parents=[common], help="write a usage statistics report (XLSX or CSV) of any node"
    )
    cmd.add_argument("--level", choices=LEVELS, default="all", help="the node's level (default: all regions)")
    cmd.add_argument("--id", type=int, default=0, help="the node's id (not needed for --level all)")
    cmd.add_argument("--start", help="first day, YYYY-MM-DD (default: the last complete week)")
    cmd.add_argument("--end", help="last day, YYYY-MM-DD")
    cmd.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    cmd.add_argument(
        "--csv-level", choices=LEVELS, help="the level a CSV lists (default: the node's children)"
    )
    cmd.add_argument("--output", "-o", type=Path, required=True, help="the file to write")
    cmd.set_defaults(run=_report)


def _report(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from controller.app import create_app
    from controller.stats import export, report
    from controller.stats.period import Period, PeriodError
    from controller.stats.tally import CHILD, Node

    svc = create_app({"data_dir": args.data_dir}, args.config).extensions["classcast"]
    node = Node(args.level, 0 if args.level == "all" else args.id)
    try:
        period = Period.parse(args.start, args.end, date.today())
        report.node_name(svc.db.read, node, str)
    except PeriodError as exc:
        return _fail(exc.message)
    except report.NodeNotFound:
        return _fail(f"узел {args.level} {args.id} не найден")
    only = (args.csv_level or CHILD.get(node.level, node.level)) if args.format == "csv" else None
    with tqdm(total=None, desc="подсчёт", unit=" уровней", leave=False) as bar:
        header, parts = export.sheets(svc.db.read, node, period, svc.settings, date.today(), only=only)
        bar.update(len(parts))
    with tqdm(total=sum(len(part.rows) for part in parts), desc="запись", unit=" строк") as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        data = (
            export.write_xlsx(header, parts, progress)
            if args.format == "xlsx"
            else export.write_csv(header, parts[0])
        )
        bar.update(bar.total - bar.n)
    try:
        args.output.write_bytes(data)
    except OSError as exc:
        return _fail(f"не удалось записать {args.output}: {exc.strerror}")
    print(f"Отчёт за {period.start} — {period.end}: {args.output} ({len(data)} байт)")
    return 0


def _fail(message: str) -> int:
    print(f"classcast-controller report: {message}", file=sys.stderr)
    return 1
