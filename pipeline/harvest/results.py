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
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell._writer import write_cell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, TYPE_STRING
from openpyxl.cell.cell import Cell as OpenpyxlCell
from openpyxl.compat import safe_string
from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.utils.exceptions import IllegalCharacterError
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.worksheet.dimensions import SheetDimension
from openpyxl.xml.functions import xmlfile

from pipeline.build.commit import write_atomic
from pipeline.harvest.collect import COLUMNS, VERDICTS, Person, Return, Verdict
from pipeline.harvest.docx_form import TOKENS
from pipeline.ooxml.xlsx_package import MemoryExcelWriter, PackageParts, workbook_package

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


class _Plain:
    """What openpyxl's cell writer reads of a text or number cell (no style, no link)."""

    __slots__ = ("_value", "coordinate", "data_type", "hyperlink")

    def __init__(self, coordinate: str, data_type: str, value: object) -> None:
        self.coordinate = coordinate
        self.data_type = data_type
        self._value = value
        self.hyperlink = None


#: Text that lxml refuses in XML (openpyxl's writer raises on it): left to that writer.
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


def _escaped(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _lxml_cell(cell: Any, styled: bool) -> str:
    """One cell as openpyxl's own (lxml) cell writer writes it."""
    buffer = io.BytesIO()
    with xmlfile(buffer) as xf, xf.element("x"):
        write_cell(xf, None, cell, styled)
    return buffer.getvalue()[3:-4].decode("ascii")


class _Rows:
    """One sheet's rows, kept as values rather than openpyxl cells (a harvest of 2,000 files is
    some 60,000 rows: `ws.append`, openpyxl's cells and its row writer were most of the run).
    `xml` writes the `sheetData` byte for byte as `ws.append` and openpyxl's writer did (text
    an inline string cell, never a formula; a date a number styled `yyyy-mm-dd`; ASCII with
    character references, as openpyxl's `xmlfile` writes), which `tests/test_harvest.py` checks
    against openpyxl itself."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.rows: list[list[Any]] = []

    def append(self, values: Sequence[Cell]) -> None:
        r = len(self.rows) + 1
        row: list[Any] = []
        for c, value in enumerate(values, 1):
            if value is None or type(value) in (int, float):
                row.append(value)
            elif isinstance(value, str):
                row.append(_check(value))
            else:  # dates (their number format registered now, as ws.append did) and the rest
                cell = OpenpyxlCell(self.ws, row=r, column=c, value=value)
                if isinstance(value, date):
                    cell.number_format = "yyyy-mm-dd"
                row.append(cell)
        self.rows.append(row)

    def dimension(self) -> str:
        """`Worksheet.calculate_dimension` of the cells `ws.append` would have made."""
        filled = [r for r, row in enumerate(self.rows, 1) if row]
        if not filled:
            return "A1:A1"
        width = max(len(self.rows[r - 1]) for r in filled)
        return f"A{filled[0]}:{get_column_letter(width)}{filled[-1]}"

    def xml(self) -> bytes:
        """The `sheetData` element; date styles are registered in writing order, as openpyxl's
        writer registers them."""
        epoch = self.ws.parent.epoch
        letters = [get_column_letter(c) for c in range(1, 1 + max(map(len, self.rows), default=0))]
        out = [b"<sheetData>"]
        for r, row in enumerate(self.rows, 1):
            if not row:
                continue
            parts = [f'<row r="{r}">']
            for letter, value in zip(letters, row, strict=False):
                if value is None:
                    continue
                ref = f"{letter}{r}"
                if isinstance(value, str):
                    if _NOT_XML.search(value):
                        parts.append(_lxml_cell(_Plain(ref, TYPE_STRING, value), False))
                    elif value == "":
                        parts.append(f'<c r="{ref}" t="inlineStr"></c>')
                    else:
                        space = ' xml:space="preserve"' if value != value.strip() else ""
                        text = _escaped(value)
                        parts.append(
                            f'<c r="{ref}" t="inlineStr"><is><t{space}>{text}</t></is></c>'
                        )
                elif isinstance(value, OpenpyxlCell):
                    parts.append(self._cell(value, ref, epoch))
                else:
                    parts.append(f'<c r="{ref}" t="n"><v>{safe_string(value)}</v></c>')
            parts.append("</row>")
            out.append("".join(parts).encode("ascii", "xmlcharrefreplace"))
        out.append(b"</sheetData>")
        return b"".join(out)

    @staticmethod
    def _cell(cell: Any, ref: str, epoch: Any) -> str:
        styled = cell.has_style
        style = f' s="{cell.style_id}"' if styled else ""
        if cell.data_type == "d" and isinstance(cell._value, date):
            value = to_excel(cell._value, epoch)
            return f'<c r="{ref}"{style} t="n"><v>{safe_string(value)}</v></c>'
        return _lxml_cell(cell, styled)


class _RowsWriter(WorksheetWriter):  # type: ignore[misc]
    """openpyxl's sheet writer with the rows written by `_Rows.xml` (spliced in by `_Writer`)."""

    def __init__(self, ws: Any, rows: _Rows, out: io.BytesIO) -> None:
        super().__init__(ws, out=out)
        self.values = rows
        self.sheet_data = b""

    def write_dimensions(self) -> None:
        self.xf.send(SheetDimension(self.values.dimension()).to_tree())

    def write_rows(self) -> None:
        self.sheet_data = self.values.xml()
        xf = self.xf.send(True)
        with xf.element("sheetData"):
            pass
        self.xf.send(None)


class _Writer(MemoryExcelWriter):
    def __init__(self, wb: Workbook, parts: PackageParts, sheets: Mapping[str, _Rows]) -> None:
        super().__init__(wb, parts)
        self.sheets = sheets

    def write_worksheet(self, ws: Any) -> None:
        if ws.title not in self.sheets:
            super().write_worksheet(ws)
            return
        ws._drawing = SpreadsheetDrawing()
        ws._drawing.charts = ws._charts
        ws._drawing.images = ws._images
        writer = _RowsWriter(ws, self.sheets[ws.title], io.BytesIO())
        writer.write()
        ws._rels = writer._rels
        xml = writer.read()
        empty = b"<sheetData></sheetData>"
        assert xml.count(empty) == 1
        self._archive.writestr(ws.path[1:], xml.replace(empty, writer.sheet_data))
        self.manifest.append(ws)


def _check(text: str) -> str:
    """openpyxl's `Cell.check_string`: at most 32,767 characters, no XML-illegal ones."""
    text = text[:32767]
    if ILLEGAL_CHARACTERS_RE.search(text):
        raise IllegalCharacterError(f"{text} cannot be used in worksheets.")
    return text


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
    sheets = {"Results": _Rows(ws)}
    sheets["Results"].append(RESULT_HEADER)
    for row in result_rows(people, returns, texts):
        sheets["Results"].append(row.cells())
    sheets["Returns"] = listed = _Rows(wb.create_sheet("Returns"))
    listed.append(RETURN_HEADER)
    for r in returns:
        listed.append([r.path, r.sha256, r.kind, r.employee_id, r.verdict.value, r.message])
    sheets["People"] = rows = _Rows(wb.create_sheet("People"))
    rows.append(PEOPLE_HEADER)
    for values in people_rows(people, returns):
        rows.append(values)
    sheets["Summary"] = summary = _Rows(wb.create_sheet("Summary"))
    for values in summary_rows(people, returns):
        summary.append(values)
    return workbook_package(
        wb, epoch, "jobframe-packs", "Harvest results", lambda wb, parts: _Writer(wb, parts, sheets)
    )


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
