"""The harvest's results: one workbook (Results, Returns, People, Summary) and optional CSVs.

Values are typed by what they hold, never by the route they came by (form or tracker): an ISO
date (or a tracker date) is a date, a plain number is a number, the rest is text. Text is always
a string cell, so `=HYPERLINK(...)` typed into a form stays text, never a formula. A value that
is still a placeholder token (`⟨target⟩`) is left empty and flagged in the `Placeholder` column.
The workbook is written atomically and, with `SOURCE_DATE_EPOCH`, byte for byte the same on a
re-run. CSVs are UTF-8 with a BOM (Excel) and guard against CSV injection the way OWASP
recommends: a cell starting with `=`, `+`, `-`, `@`, a tab or a CR gets a leading `'`.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import TYPE_STRING

from pipeline.build.commit import write_atomic
from pipeline.harvest.collect import COLUMNS, VERDICTS, Person, Return, Verdict
from pipeline.harvest.docx_form import TOKENS
from pipeline.render.to_xlsx import MemoryExcelWriter, PackageParts

RESULT_HEADER = (
    "Employee id",
    "Name",
    "Manager",
    "Profile",
    "Frame",
    "Key",
    "Canon text",
    *COLUMNS,
    "Value",
    "Placeholder",
    "File",
)
RETURN_HEADER = ("Path", "SHA-256", "Kind", "Employee id", "Verdict", "Message")
PEOPLE_HEADER = (
    "Employee id",
    "Name",
    "Manager",
    "Profile",
    "Form returned",
    "Tracker returned",
    "Verdicts",
    "Last file",
)
ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(T[0-9:.]+Z?)?$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
INJECTION = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | date | None


def typed(value: object) -> Cell:
    """One type per value whatever its route: date, number or text."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date() if value.time() == datetime.min.time() else value.replace(tzinfo=None)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return value
    text = str(value).strip()
    m = ISO_DATE.match(text)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return text
    if NUMBER.match(text):
        return int(text) if m is None and "." not in text else float(text)
    return str(value)


def is_placeholder(value: object) -> bool:
    return isinstance(value, str) and (value in TOKENS or any(t in value for t in TOKENS))


@dataclass(frozen=True)
class Row:
    person: Person
    key: str
    text: str
    values: Mapping[str, Cell]
    placeholders: tuple[str, ...]
    file: str

    def cells(self) -> list[Cell]:
        p = self.person
        frame = self.key.split(".", 1)[0]
        return [
            p.employee_id,
            p.name,
            p.manager,
            p.profile,
            frame,
            self.key,
            self.text,
            *(self.values.get(c) for c in COLUMNS),
            self.values.get("Value"),
            ", ".join(self.placeholders),
            self.file,
        ]


def result_rows(
    people: Sequence[Person],
    returns: Sequence[Return],
    texts: Mapping[str, Mapping[str, str]],
) -> Iterator[Row]:
    """One row per person per input key, the tracker's values beside the form's (a field both
    fill: the newer file's; an unfilled field never hides a filled one)."""
    by_person: dict[str, list[Return]] = {}
    for r in returns:
        if r.verdict is Verdict.OK:
            by_person.setdefault(r.employee_id, []).append(r)
    for person in people:
        taken = sorted(by_person.get(person.employee_id, []), key=lambda r: (r.modified, r.path))
        merged: dict[str, dict[str, tuple[object, str]]] = {}
        for r in taken:  # older first, so the newer wins
            for key, columns in r.values.items():
                slot = merged.setdefault(key, {})
                for column, value in columns.items():
                    empty = value is None or value == "" or is_placeholder(value)
                    if not (empty and column in slot):  # an unfilled copy loses to a filled one
                        slot[column] = (value, r.path)
        for key in sorted(merged, key=_natural):
            slot = merged[key]
            flagged = tuple(c for c, (v, _) in slot.items() if is_placeholder(v))
            values = {c: (None if c in flagged else typed(v)) for c, (v, _) in slot.items()}
            files = sorted({f for _, f in slot.values()})
            text = texts.get(person.profile, {}).get(key, "")
            yield Row(person, key, text, values, flagged, "; ".join(files))


def _natural(key: str) -> list[object]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", key)]


def people_rows(people: Sequence[Person], returns: Sequence[Return]) -> list[list[Cell]]:
    out: list[list[Cell]] = []
    for p in people:
        mine = [r for r in returns if r.employee_id == p.employee_id]
        ok = [r for r in mine if r.verdict is Verdict.OK]
        verdicts = Counter(r.verdict.value for r in mine)
        out.append(
            [
                p.employee_id,
                p.name,
                p.manager,
                p.profile,
                "yes" if any(r.kind == "docx" for r in ok) else "no",
                "yes" if any(r.kind == "xlsx" for r in ok) else "no",
                ", ".join(f"{v.value} {verdicts[v.value]}" for v in VERDICTS if verdicts[v.value]),
                max(ok, key=lambda r: (r.modified, r.path)).path if ok else "",
            ]
        )
    return out


def summary_rows(people: Sequence[Person], returns: Sequence[Return]) -> list[list[Cell]]:
    counts = Counter(r.verdict for r in returns)
    rows: list[list[Cell]] = [["Verdict", "Files"]]
    rows += [[v.value, counts[v]] for v in VERDICTS]
    rows.append(["total", len(returns)])
    returned = {r.employee_id for r in returns if r.verdict is Verdict.OK}
    rows += [
        [],
        ["Returned", len(returned & {p.employee_id for p in people})],
        ["Issued", len(people)],
    ]
    managers = sorted({p.manager for p in people if p.manager})
    if managers:
        rows += [[], ["Manager", "People", "Returned", *(v.value for v in VERDICTS)]]
        for m in managers:
            team = {p.employee_id for p in people if p.manager == m}
            theirs = Counter(r.verdict for r in returns if r.employee_id in team)
            rows.append([m, len(team), len(team & returned), *(theirs[v] for v in VERDICTS)])
    return rows


def _append(ws: object, values: Sequence[Cell]) -> None:
    ws.append(list(values))  # type: ignore[attr-defined]
    for cell in ws[ws.max_row]:  # type: ignore[attr-defined, index]
        if isinstance(cell.value, str):
            cell.data_type = TYPE_STRING  # never a formula, whatever it starts with
        elif isinstance(cell.value, date):
            cell.number_format = "yyyy-mm-dd"


def workbook_bytes(
    people: Sequence[Person],
    returns: Sequence[Return],
    texts: Mapping[str, Mapping[str, str]],
    epoch: int | None,
) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Results"
    _append(ws, RESULT_HEADER)
    for row in result_rows(people, returns, texts):
        _append(ws, row.cells())
    ws = wb.create_sheet("Returns")
    _append(ws, RETURN_HEADER)
    for r in returns:
        _append(ws, [r.path, r.sha256, r.kind, r.employee_id, r.verdict.value, r.message])
    ws = wb.create_sheet("People")
    _append(ws, PEOPLE_HEADER)
    for values in people_rows(people, returns):
        _append(ws, values)
    ws = wb.create_sheet("Summary")
    for values in summary_rows(people, returns):
        _append(ws, values)
    moment = datetime.fromtimestamp(epoch or 0, UTC).replace(tzinfo=None)
    props = wb.properties
    props.creator = props.lastModifiedBy = "jobframe-packs"
    props.created = props.modified = moment
    props.title = "Harvest results"
    parts = PackageParts()
    MemoryExcelWriter(wb, parts).save()
    return parts.package(epoch or 0)


def guarded(value: Cell) -> str:
    """A CSV cell: dates ISO, and text that a spreadsheet would run as a formula prefixed `'`."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, date) else str(value)
    if isinstance(value, str) and text.startswith(INJECTION):
        return "'" + text
    return text


def csv_bytes(rows: Sequence[Sequence[Cell]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([guarded(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def write_results(
    out: Path,
    csv_dir: Path | None,
    people: Sequence[Person],
    returns: Sequence[Return],
    texts: Mapping[str, Mapping[str, str]],
    epoch: int | None,
) -> None:
    write_atomic(out, workbook_bytes(people, returns, texts, epoch))
    if csv_dir is None:
        return
    header: list[Cell] = list(RESULT_HEADER)
    results = [header] + [r.cells() for r in result_rows(people, returns, texts)]
    listed: list[list[Cell]] = [list(RETURN_HEADER)]
    listed += [
        [r.path, r.sha256, r.kind, r.employee_id, r.verdict.value, r.message] for r in returns
    ]
    write_atomic(csv_dir / "results.csv", csv_bytes(results))
    write_atomic(csv_dir / "returns.csv", csv_bytes(listed))
    write_atomic(
        csv_dir / "people.csv", csv_bytes([list(PEOPLE_HEADER), *people_rows(people, returns)])
    )
