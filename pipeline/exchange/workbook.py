"""The canon workbook: written with openpyxl, read back by streaming its sheet XML.

Writing: one sheet per table (`table.SHEETS`) plus `Read me`; every text a string cell (never a
formula, whatever it starts with), frozen header row, filters, and list validation on the kind and
level columns. Bytes are reproducible: openpyxl's parts are zipped by the tracker's in-memory
package (`ooxml.xlsx_package.PackageParts`) with the time from SOURCE_DATE_EPOCH.

Reading streams each sheet's XML with lxml (`iterparse`, elements cleared as it goes) instead of
openpyxl: openpyxl's read-only mode gives a formula and a text that starts with '=' as the same
value, and took about 45 s for a 100,000-row sheet here. The reader refuses, with the cell's
location, what a canon cell cannot be: a formula, a date, a true/false, an error value, a merged
range; a hidden or very hidden canon sheet is refused too (its rows would be imported unseen).
Sheets it does not know (a user's notes) are ignored.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator, Sequence
from typing import IO, Any

from lxml import etree
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from pipeline.diagnostics import Collector
from pipeline.exchange.table import (
    JD_KINDS,
    JOB_DESCRIPTIONS,
    LEVELS,
    PROFILE_KINDS,
    PROFILES,
    README,
    SHEETS,
    CellValue,
    Table,
    Tables,
)
from pipeline.ooxml.ns import PKG_REL_NS, R_NS, SML_NS
from pipeline.ooxml.xlsx_package import workbook_package

#: Refused before reading: a canon workbook of 20,000 profiles is about 15 MB.
MAX_WORKBOOK_BYTES = 200 * 1024 * 1024
#: Refused while reading: the uncompressed size of one part, and its ratio to the compressed one
#: (a zip bomb); text-only parts of a real workbook stay well under both.
MAX_PART_BYTES = 1024 * 1024 * 1024
MAX_RATIO = 200

_WIDTHS = {
    LEVELS: (8, 22, 14, 8, 50, 40, 40, 40, 40, 40, 40),
    PROFILES: (10, 28, 14, 34, 7, 26, 9, 90),
    JOB_DESCRIPTIONS: (30, 22, 9, 90),
}

README_LINES: tuple[tuple[str, str], ...] = (
    (
        "Canon workbook",
        "The job-architecture canon, one line of canon per row. Edit the texts, "
        "add or remove rows, sort or filter as you like: row order never matters. Import it back "
        "with `packs import-canon FILE.xlsx`, which reports every problem with its cell.",
    ),
    (
        "Every text is verbatim",
        "The packs print these texts exactly as written here; nothing "
        "is generated. A row left out means the canon does not state that line.",
    ),
    (
        LEVELS,
        "One row per level: code (P1–P8, M1–M6, E1–E5, S1), title, track (professional, "
        "management, executive or support), years, description and the six dimensions (scope, "
        "autonomy, complexity, impact, decision rights, leadership); an empty cell is a "
        "dimension the level does not state.",
    ),
    (
        PROFILES,
        "One row per canon line of a profile: function code and name, focus code and "
        "name (the same name on every row of a code), level code, kind (see below), position "
        "(1, 2, … for the lines of a list; empty for a single value) and text.",
    ),
    (
        JOB_DESCRIPTIONS,
        "One row per line of a job description: its file name (lower-case "
        "letters, digits and '-'), kind (see below), position and text.",
    ),
    (
        "Numbers",
        "confidence score is a number; pay values are whole numbers. Every other cell "
        "is text: format a cell as Text if Excel turns it into a number or a date.",
    ),
)


#: OOXML's escape for characters XML cannot carry (`_x0007_`); Excel and LibreOffice read it.
_ESCAPE_RE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _escaped(text: str) -> str:
    """A literal `_x0041_` in canon text, escaped so that a reader does not take it for 'A'."""
    return _ESCAPE_RE.sub(lambda m: "_x005F" + m.group(0), text)


def _unescaped(text: str) -> str:
    return _ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def _put(ws: Any, row: int, col: int, value: CellValue, wrap: Alignment | None = None) -> None:
    if value is None:
        return
    cell = ws.cell(row=row, column=col, value=_escaped(value) if isinstance(value, str) else value)
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula, whatever the text starts with
    if wrap is not None:
        cell.alignment = wrap


def _sheet(
    wb: Workbook,
    name: str,
    rows: Sequence[Sequence[CellValue]],
    validations: Sequence[tuple[int, str]],
) -> None:
    ws = wb.create_sheet(name)
    columns = SHEETS[name][0]
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    for c, title in enumerate(columns, 1):
        _put(ws, 1, c, title)
        ws.cell(row=1, column=c).font = bold
    for r, values in enumerate(rows, 2):
        for c, value in enumerate(values, 1):
            _put(ws, r, c, value, wrap if isinstance(value, str) and len(value) > 40 else None)
    for c, width in enumerate(_WIDTHS[name], 1):
        ws.column_dimensions[get_column_letter(c)].width = width
    last = max(len(rows) + 1, 2)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{last}"
    for col, source in validations:
        dv = DataValidation(type="list", formula1=source, allow_blank=True)
        dv.error = "Choose a value from the list (see the Read me sheet)."
        dv.errorTitle = "Not a known value"
        dv.showErrorMessage = True
        letter = get_column_letter(col)
        dv.add(f"{letter}2:{letter}{max(last, 1000)}")
        ws.add_data_validation(dv)


def workbook_bytes(tables: Tables, epoch: int | None, generator: str) -> bytes:
    """The canon workbook; the same tables and epoch give the same bytes."""
    wb = Workbook()
    readme = wb.active
    readme.title = README
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    row = 1
    for title, text in README_LINES:
        _put(readme, row, 1, title)
        readme.cell(row=row, column=1).font = bold
        _put(readme, row, 2, text, wrap)
        row += 1
    row += 1
    lists: dict[str, tuple[int, int]] = {}
    for heading, kinds in (("Profiles: kind", PROFILE_KINDS), ("Job descriptions: kind", JD_KINDS)):
        _put(readme, row, 1, heading)
        _put(readme, row, 2, "what the row holds")
        readme.cell(row=row, column=1).font = bold
        readme.cell(row=row, column=2).font = bold
        row += 1
        start = row
        for kind in kinds.values():
            _put(readme, row, 1, kind.name)
            _put(readme, row, 2, kind.help)
            row += 1
        lists[heading] = (start, row - 1)
        row += 1
    readme.column_dimensions["A"].width = 32
    readme.column_dimensions["B"].width = 100
    p_start, p_end = lists["Profiles: kind"]
    j_start, j_end = lists["Job descriptions: kind"]
    _sheet(wb, LEVELS, tables.levels, [(3, '"professional,management,executive,support"')])
    _sheet(
        wb,
        PROFILES,
        tables.profiles,
        [(6, f"'{README}'!$A${p_start}:$A${p_end}"), (5, f"{LEVELS}!$A$2:$A$1000")],
    )
    _sheet(
        wb, JOB_DESCRIPTIONS, tables.job_descriptions, [(2, f"'{README}'!$A${j_start}:$A${j_end}")]
    )
    return workbook_package(wb, epoch, generator, "Canon workbook")


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

_NS = {"m": SML_NS, "r": R_NS, "pr": PKG_REL_NS}
_M = "{" + _NS["m"] + "}"
_R_ID = "{" + _NS["r"] + "}id"
_REF_RE = re.compile(r"([A-Z]{1,3})(\d+)\Z")
_PARSER_OPTIONS: dict[str, Any] = {"resolve_entities": False, "no_network": True, "huge_tree": True}


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


class _Book:
    def __init__(self, archive: zipfile.ZipFile, display: str, problems: Collector) -> None:
        self.archive = archive
        self.display = display
        self.problems = problems

    def open(self, name: str) -> IO[bytes] | None:
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            return None
        if info.file_size > MAX_PART_BYTES or (
            info.compress_size and info.file_size / info.compress_size > MAX_RATIO
        ):
            self.problems.error(
                self.display,
                0,
                f"part {name} unpacks to {info.file_size:,} bytes from {info.compress_size:,}: "
                "not a workbook a person saved (a zip bomb?)",
                "workbook",
            )
            return None
        return self.archive.open(info)

    def tree(self, name: str) -> Any:
        fh = self.open(name)
        if fh is None:
            return None
        with fh:
            return etree.parse(fh, etree.XMLParser(**_PARSER_OPTIONS))

    def sheets(self) -> list[tuple[str, str, str]]:
        """(name, part path, state) of each sheet, in workbook order."""
        wb = self.tree("xl/workbook.xml")
        rels = self.tree("xl/_rels/workbook.xml.rels")
        if wb is None or rels is None:
            return []
        targets = {
            r.get("Id"): r.get("Target", "")
            for r in rels.getroot().iterfind("pr:Relationship", _NS)
        }
        out = []
        for sheet in wb.getroot().iterfind("m:sheets/m:sheet", _NS):
            target = targets.get(sheet.get(_R_ID), "")
            part = (
                target.lstrip("/")
                if target.startswith("/")
                else posixpath.normpath(posixpath.join("xl", target))
            )
            out.append((sheet.get("name", ""), part, sheet.get("state", "visible")))
        return out

    def shared_strings(self) -> list[str]:
        fh = self.open("xl/sharedStrings.xml")
        if fh is None:
            return []
        out: list[str] = []
        with fh:
            for _, si in etree.iterparse(fh, events=("end",), tag=f"{_M}si", **_PARSER_OPTIONS):
                # Rich text runs concatenate; phonetic guides (rPh) are not part of the text.
                out.append(
                    _unescaped(
                        "".join(
                            t.text or ""
                            for t in si.iter(f"{_M}t")
                            if t.getparent() is not None and t.getparent().tag != f"{_M}rPh"
                        )
                    )
                )
                si.clear()
        return out


def _cells(
    row: Any, strings: Sequence[str], sheet: str, display: str, problems: Collector, number: int
) -> Iterator[tuple[int, CellValue]]:
    position = 0
    for c in row.iterfind(f"{_M}c"):
        ref = c.get("r")
        match = _REF_RE.match(ref) if ref else None
        col = _column_index(match.group(1)) if match else position
        position = col + 1
        where = f"{display}:{sheet}!{ref or get_column_letter(col + 1) + str(number)}"
        kind = c.get("t", "n")
        if c.find(f"{_M}f") is not None:
            problems.error(where, 0, "a formula; canon cells hold text or numbers", "formula")
            continue
        v = c.find(f"{_M}v")
        text = v.text if v is not None else None
        if kind == "s":
            try:
                yield col, strings[int(text or "")]
            except (ValueError, IndexError):
                problems.error(where, 0, "a shared string the workbook does not have", "workbook")
        elif kind == "inlineStr":
            yield col, _unescaped("".join(t.text or "" for t in c.iter(f"{_M}t")))
        elif kind == "str":
            yield col, _unescaped(text or "")
        elif kind == "n" and text is not None:
            value = float(text)
            yield (
                col,
                int(value)
                if value.is_integer() and "." not in text and "E" not in text.upper()
                else value,
            )
        elif kind in ("b", "e", "d"):
            what = {"b": "a true/false value", "e": "an error value", "d": "a date"}[kind]
            problems.error(where, 0, f"{what}; canon cells hold text", "type")


def _read_sheet(
    book: _Book, name: str, part: str, strings: Sequence[str], problems: Collector
) -> Table | None:
    fh = book.open(part)
    display = book.display
    if fh is None:
        problems.error(f"{display}:{name}", 0, f"the sheet's part {part} is missing", "workbook")
        return None
    header: tuple[str, ...] | None = None
    rows: list[tuple[int, tuple[CellValue, ...]]] = []
    width = len(SHEETS[name][0]) + 8
    with fh:
        events = etree.iterparse(
            fh, events=("end",), tag=(f"{_M}row", f"{_M}mergeCell"), **_PARSER_OPTIONS
        )
        for _, elem in events:
            if elem.tag == f"{_M}mergeCell":
                problems.error(
                    f"{display}:{name}!{elem.get('ref', '')}",
                    0,
                    "merged cells; unmerge them so each row states its own values",
                    "merged",
                )
                continue
            number = int(elem.get("r") or (rows[-1][0] + 1 if rows else 1))
            values: list[CellValue] = []
            for col, value in _cells(elem, strings, name, display, problems, number):
                if col >= width:
                    continue
                values.extend([None] * (col - len(values)))
                values.append(value)
            elem.clear()
            while elem.getprevious() is not None:
                del elem.getparent()[0]
            if header is None:
                header = tuple(str(v).strip() if v is not None else "" for v in values)
                continue
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            rows.append((number, tuple(values)))

    def locate(row: int, col: int) -> tuple[str, int]:
        return f"{display}:{name}!{get_column_letter(col + 1)}{row}", 0

    return Table(name, header or (), rows, locate, (f"{display}:{name}", 0))


def read_workbook(source: IO[bytes], display: str, problems: Collector) -> dict[str, Table]:
    """The canon sheets of a workbook; problems (located as FILE:Sheet!A1) go to `problems`."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError):
        problems.error(display, 0, "not an .xlsx workbook (it is not a zip package)", "workbook")
        return {}
    with archive:
        book = _Book(archive, display, problems)
        try:
            sheets = book.sheets()
            if not sheets:
                problems.error(display, 0, "not an .xlsx workbook (no xl/workbook.xml)", "workbook")
                return {}
            strings = book.shared_strings()
            tables: dict[str, Table] = {}
            for name, part, state in sheets:
                if name not in SHEETS:
                    continue
                if state != "visible":
                    problems.error(
                        f"{display}:{name}",
                        0,
                        f"the sheet is {'very ' if state == 'veryHidden' else ''}hidden; show it "
                        "(or delete it) so that what is imported is what you see",
                        "hidden",
                    )
                    continue
                table = _read_sheet(book, name, part, strings, problems)
                if table is not None:
                    tables[name] = table
            return tables
        except (etree.XMLSyntaxError, zipfile.BadZipFile, KeyError, OSError, EOFError) as exc:
            problems.error(display, 0, f"a damaged workbook: {exc}", "workbook")
            return {}
