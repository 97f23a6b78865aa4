"""The usage report written on a schedule: every `stats_export_every_days` days, into the operator's folder.

Each run writes, for the last two complete weeks, an XLSX of every region and of every municipality into
`<stats_export_dir>/<last day of the period>/`, each file whole or not at all (written aside, then
renamed). A run is recorded in `stats_export_run`; the next is due that many days after the last one
that succeeded, so a controller restarted in between neither skips nor repeats one.
"""

from __future__ import annotations

import logging
import os
import re
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NoReturn

from controller.rounds import every
from controller.stats import export
from controller.stats.period import Period, monday
from controller.stats.tally import Node

log = logging.getLogger(__name__)

LOOK_EVERY_S = 3600.0


def due(db: Any, every_days: float, now: float) -> bool:
    last = db.execute("SELECT max(started_at) FROM stats_export_run WHERE error IS NULL").fetchone()[0]
    return last is None or now - last >= every_days * 86400


def fortnight(today: date) -> Period:
    """The two complete weeks before this one: what a bi-weekly review files."""
    end = monday(today) - timedelta(days=1)
    return Period(end - timedelta(days=13), end)


def write_reports(db: Any, settings: dict[str, Any], folder: Path, today: date) -> list[Path]:
    """Write the XLSX of every region and municipality for the last fortnight; return the files."""
    period = fortnight(today)
    target = folder / period.end.isoformat()
    target.mkdir(parents=True, exist_ok=True)
    nodes = [
        ("region", row[0], f"{row[1]} {row[2]}") for row in db.execute("SELECT id, code, name FROM region")
    ]
    nodes += [
        ("municipality", row[0], f"{row[1]} {row[2]}")
        for row in db.execute(
            "SELECT m.id, r.code, m.name FROM municipality m JOIN region r ON r.id = m.region_id"
            " WHERE m.archived_at IS NULL"
        )
    ]
    written = []
    for level, node_id, name in nodes:
        header, parts = export.sheets(db, Node(level, node_id), period, settings, today)
        path = target / f"{_file_name(name)}.xlsx"
        partial = path.with_suffix(".xlsx.part")
        partial.write_bytes(export.write_xlsx(header, parts))
        os.replace(partial, path)
        written.append(path)
    return written


def run_once(svc: Any, now: float | None = None) -> list[Path] | None:
    """Write the reports if a run is due; return the files, or None when none was due or none is set."""
    folder, now = svc.settings["stats_export_dir"], now if now is not None else time.time()
    if not folder or not due(svc.db.read, svc.settings["stats_export_every_days"], now):
        return None
    period = fortnight(date.fromtimestamp(now))
    try:
        # On the reading thread: a region's reports are seconds of work the hub must not wait for.
        files = svc.db.read_aside(write_reports, svc.settings, Path(folder), date.fromtimestamp(now))
    except OSError as exc:
        log.error("usage reports: cannot write into %s: %s", folder, exc)
        svc.db.write(_record, now, period, 0, str(exc)[:200])
        return []
    svc.db.write(_record, now, period, len(files), None)
    log.info(
        "usage reports: wrote %d files for %s – %s into %s", len(files), period.start, period.end, folder
    )
    return files


def run_forever(svc: Any) -> NoReturn:
    every(LOOK_EVERY_S, lambda: run_once(svc), "the scheduled usage reports")


def _record(db: Any, now: float, period: Period, files: int, error: str | None) -> None:
    db["stats_export_run"].insert(
        {
            "started_at": now,
            "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(),
            "files": files,
            "error": error,
        }
    )


def _file_name(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\x00-\x1f\x7f]+', " ", name).strip()[:120] or "report"
