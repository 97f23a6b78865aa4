"""How long a whole region's import takes: 2,000 schools and 60,000 staff, previewed and applied.

Generates a realistic region (40 municipalities, 2,000 schools with valid OGRN and INN check digits,
60,000 accounts) as CSV and as XLSX in a temporary folder, and runs the same code the API runs
(controller.store.imports: preview, then apply) on a real controller database: the first import,
a re-import of the same files (nothing to do), and one with 1 % of rows changed and 1 % removed.
In the same run it measures the floor of the work: sqlite-utils insert_all of the same 60,000
account rows in one transaction. The last line holds the figures (docs/imports.md quotes them).

    .venv/bin/python bench/import_bench.py
"""

from __future__ import annotations

import csv
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
from tqdm import tqdm

from controller import db as controller_db
from controller.app import create_app
from controller.migrations import migrations
from controller.store import imports, orgs, users
from controller.timeutil import now_iso

MUNICIPALITIES = 40
SCHOOLS_PER_MUNICIPALITY = 50
STAFF_PER_SCHOOL = 30  # a school IT coordinator and 29 teachers: 60,000 in all

_ROOTS = (
    "Барабинский Бердский Болотнинский Венгеровский Доволенский Здвинский Искитимский Карасукский "
    "Каргатский Колыванский Коченевский Кочковский Краснозёрский Куйбышевский Купинский Кыштовский "
    "Маслянинский Мошковский Новосибирский Ордынский"
).split()
_SURNAMES = (
    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов Волков".split()
)
_NAMES = "Анна Мария Елена Ольга Татьяна Ирина Наталья Светлана Алексей Сергей Андрей Дмитрий".split()
_PATRONYMICS = "Ивановна Петровна Сергеевна Алексеевна Андреевна Владимировна Николаевна Юрьевна".split()


def check_digit_ogrn(base12: str) -> str:
    return base12 + str(int(base12) % 11 % 10)


def check_digit_inn(base9: str) -> str:
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    return base9 + str(sum(w * int(d) for w, d in zip(weights, base9, strict=True)) % 11 % 10)


def region() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Return (schools, staff) of a generated region, as rows of the import files."""
    rng = random.Random(54)
    municipalities = [f"{root} район" for root in _ROOTS] + [f"город {root[:-3]}ск" for root in _ROOTS]
    schools, staff = [], []
    for m, municipality in enumerate(municipalities[:MUNICIPALITIES]):
        for k in range(SCHOOLS_PER_MUNICIPALITY):
            n = m * SCHOOLS_PER_MUNICIPALITY + k + 1
            ogrn = check_digit_ogrn(f"10254{n:07d}")
            schools.append(
                {
                    "Муниципалитет": municipality,
                    "Наименование": f"Муниципальное бюджетное общеобразовательное учреждение «Средняя "
                    f"общеобразовательная школа № {n}»",
                    "Краткое наименование": f"МБОУ СОШ № {n}",
                    "ОГРН": ogrn,
                    "ИНН": check_digit_inn(f"54{n:07d}"),
                    "Адрес": f"630{n % 1000:03d}, Новосибирская обл., ул. Ленина, д. {k + 1}",
                    "Часовой пояс": "Asia/Novosibirsk",
                }
            )
            staff += [_person(rng, n, ogrn, p) for p in range(STAFF_PER_SCHOOL)]
    return schools, staff


def _person(rng: random.Random, school: int, ogrn: str, p: int) -> dict[str, str]:
    login = f"s{school:04d}.{p:02d}"
    name = f"{rng.choice(_SURNAMES)}а {rng.choice(_NAMES)} {rng.choice(_PATRONYMICS)}"
    role = "Администратор ОО" if p == 0 else "Учитель"
    return {
        "Логин": login,
        "ФИО": name,
        "E-mail": f"{login}@school{school}.edu54.ru",
        "Роль": role,
        "ОГРН школы": ogrn,
    }


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:  # as Russian Excel saves it: BOM and ";"
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[dict[str, str]]) -> Path:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(list(rows[0]))
    for row in rows:
        sheet.append(list(row.values()))
    book.save(path)
    return path


def progress_bar(desc: str) -> tuple[Any, Callable[[int, int | None], None]]:
    bar = tqdm(desc=desc, unit=" строк", file=sys.stderr, leave=False)

    def progress(done: int, total: int | None) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return bar, progress


class Controller:
    """A fresh controller database with a region and its regional coordinator, who imports."""

    def __init__(self, folder: Path) -> None:
        self.app = create_app({"data_dir": str(folder), "secure_cookies": False})
        self.db = self.app.extensions["classcast"].db
        region_id = self.db.write(orgs.create_region, "54", "Новосибирская область")
        user_id = self.db.write(
            users.create_user, "region54", "bench-password-1", "Координатор", "regional", "region", region_id
        )
        self.user = self.db.read["user"].get(user_id)

    def run(self, kind: str, path: Path) -> tuple[float, float, dict[str, int]]:
        """Return (preview seconds, apply seconds, counts) of importing the file at `path`."""
        data = path.read_bytes()
        bar, progress = progress_bar(f"{kind}: предпросмотр")
        started = time.perf_counter()
        scope = imports.resolve_scope(self.db.read, self.user, kind, None, None)
        preview = imports.preview(self.db, self.user, kind, data, scope, progress)
        previewed = time.perf_counter()
        bar.close()
        bar, progress = progress_bar(f"{kind}: применение")
        imports.apply(self.db, self.user, preview["id"], progress=progress)
        applied = time.perf_counter()
        bar.close()
        return previewed - started, applied - previewed, preview["counts"]

    def close(self) -> None:
        self.db.close()


def floor(folder: Path, staff: list[dict[str, str]]) -> float:
    """Return the seconds of a raw insert_all of the accounts an import creates, in one transaction."""
    db = controller_db.connect(folder / "floor.sqlite")
    migrations.apply(db)
    created = now_iso()
    rows = [
        {
            "login": p["Логин"],
            "full_name": p["ФИО"],
            "email": p["E-mail"],
            "role": "teacher",
            "node_type": "school",
            "node_id": 1,
            "created_at": created,
            "password_hash": None,
        }
        for p in staff
    ]
    started = time.perf_counter()
    with db.atomic():
        db["user"].insert_all(rows, batch_size=500)
    seconds = time.perf_counter() - started
    db.close()
    return seconds


def altered(rows: list[dict[str, str]], name_column: str, share: float = 0.01) -> list[dict[str, str]]:
    """Return the rows with `share` of them changed (a new name) and another `share` removed."""
    step = round(1 / share)
    kept = [row for i, row in enumerate(rows) if i % step != step - 1]
    return [
        {**row, name_column: row[name_column] + " (изм.)"} if i % step == 0 else row
        for i, row in enumerate(kept)
    ]


def report(what: str, seconds: tuple[float, float, dict[str, int]]) -> None:
    preview_s, apply_s, counts = seconds
    shown = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    print(f"{what}: preview {preview_s:.2f}s apply {apply_s:.2f}s ({shown})", flush=True)


def main() -> None:
    schools, staff = region()
    with tempfile.TemporaryDirectory(prefix="classcast-import-bench-") as tmp:
        folder = Path(tmp)
        files = {
            "schools.csv": write_csv(folder / "schools.csv", schools),
            "staff.csv": write_csv(folder / "staff.csv", staff),
            "schools.xlsx": write_xlsx(folder / "schools.xlsx", schools),
            "staff.xlsx": write_xlsx(folder / "staff.xlsx", staff),
            "schools-1pc.csv": write_csv(folder / "schools-1pc.csv", altered(schools, "Наименование")),
            "staff-1pc.csv": write_csv(folder / "staff-1pc.csv", altered(staff, "ФИО")),
        }
        for name, path in files.items():
            print(f"{name}: {path.stat().st_size / 2**20:.1f} MB", flush=True)
        csv_run = Controller(folder / "csv")
        figures = {kind: csv_run.run(kind, files[f"{kind}.csv"]) for kind in ("schools", "staff")}
        for kind, seconds in figures.items():
            report(f"csv {kind} first import", seconds)
        for kind in ("schools", "staff"):
            report(f"csv {kind} re-import, unchanged", csv_run.run(kind, files[f"{kind}.csv"]))
        # Staff first: once the schools file archives 20 schools, rows naming them are bad rows.
        for kind in ("staff", "schools"):
            report(f"csv {kind} 1% changed, 1% removed", csv_run.run(kind, files[f"{kind}-1pc.csv"]))
        csv_run.close()
        xlsx_run = Controller(folder / "xlsx")
        for kind in ("schools", "staff"):
            report(f"xlsx {kind} first import", xlsx_run.run(kind, files[f"{kind}.xlsx"]))
        xlsx_run.close()
        floor_s = floor(folder, staff)
    (sp, sa, _), (tp, ta, _) = figures["schools"], figures["staff"]
    print(
        f"import: schools {len(schools)} preview {sp:.1f}s apply {sa:.1f}s; "
        f"staff {len(staff)} preview {tp:.1f}s apply {ta:.1f}s; "
        f"floor insert_all {len(staff)} rows {floor_s:.1f}s; ratio {(tp + ta) / floor_s:.1f}x"
    )


if __name__ == "__main__":
    main()
