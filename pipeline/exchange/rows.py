"""A canon table's rows read by column name: header matching, each cell's value checked and
reported at its cell (`FILE.xlsx:Sheet!A1`), and a row-owner's lines collected by kind. The
importer (`records`) turns what this reads into canon records.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.diagnostics import Collector, quoted
from pipeline.exchange.table import SHEETS, CellValue, Kind, Table
from pipeline.extract.canon import LEVEL_CODE_RE, LEVEL_CODES_HINT
from pipeline.extract.nodes import CODE_RE, RESERVED_NAMES, text_problem


def _header_key(text: str) -> str:
    return " ".join(text.replace("_", " ").replace("-", " ").split()).casefold()


def suggest(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value.casefold(), list(choices), n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


#: A cell value quoted in a message: white space kept, control and non-ASCII characters escaped.
shown = functools.partial(quoted, ascii_escapes=True)


class Sheet:
    """Reads one table's rows by column name, reporting against each cell's location."""

    def __init__(self, table: Table, problems: Collector) -> None:
        self.table = table
        self.problems = problems
        columns, required = SHEETS[table.name]
        self.index: dict[str, int] = {}
        found = [h for h in table.header if h]
        for i, raw in enumerate(table.header):
            key = _header_key(raw) if raw else ""
            if key in columns and key not in self.index:
                self.index[key] = i
            elif key in columns:
                self._error_at(table.where, f"column '{raw}' appears twice", "header")
        missing = [c for c in required if c not in self.index]
        if missing:
            self._error_at(
                table.where,
                f"missing column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(repr(c) for c in missing)} (found: "
                f"{', '.join(repr(h) for h in found) or 'no header'}; expected "
                f"{', '.join(repr(c) for c in columns)})",
                "header",
            )
        self.ok = not missing

    def _error_at(self, where: tuple[str, int], message: str, code: str) -> None:
        self.problems.error(where[0], where[1], message, code)

    def error(self, row: int, column: str, message: str, code: str = "cell") -> None:
        col = self.index.get(column, 0)
        path, line = self.table.locate(row, col)
        self.problems.error(path, line, f"{column}: {message}", code)

    def raw(self, row: int, cells: tuple[CellValue, ...], column: str) -> CellValue:
        i = self.index.get(column)
        if i is None or i >= len(cells):
            return None
        value = cells[i]
        if isinstance(value, str) and not value.strip():
            return None
        return value

    def text(self, row: int, cells: tuple[CellValue, ...], column: str) -> str | None:
        value = self.raw(row, cells, column)
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(
                row,
                column,
                f"expected text, got the number {value!r} (format the cell as Text)",
                "type",
            )
            return None
        problem = text_problem(value)
        if problem:
            self.error(row, column, problem, "text")
            return None
        return value

    def code(self, row: int, cells: tuple[CellValue, ...], column: str) -> str | None:
        value = self.text(row, cells, column)
        if value is None:
            return None
        if not CODE_RE.match(value) or value in RESERVED_NAMES:
            self.error(
                row,
                column,
                f"{shown(value)} is not a valid code (upper-case letters and digits, starting "
                "with a letter, not a Windows device name, e.g. 'CLINIC')",
                "unsafe-id",
            )
            return None
        return value

    def level_code(self, row: int, cells: tuple[CellValue, ...], column: str) -> str | None:
        value = self.text(row, cells, column)
        if value is None:
            return None
        if not LEVEL_CODE_RE.match(value):
            self.error(
                row,
                column,
                f"unknown level code {shown(value)} (expected {LEVEL_CODES_HINT})",
                "unknown-level",
            )
            return None
        return value

    def position(self, row: int, cells: tuple[CellValue, ...]) -> int | None:
        value = self.raw(row, cells, "position")
        if value is None:
            return None
        number = _whole(value)
        if number is None or number < 1:
            self.error(row, "position", f"expected a whole number from 1, got {shown(value)}")
            return None
        return number

    def required(self, row: int, column: str, value: object) -> bool:
        if value is None:
            self.error(row, column, "required, but the cell is empty", "missing")
            return False
        return True


def _whole(value: CellValue) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,9}\s*", value):
        return int(value)
    return None


def _number(value: CellValue) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    text = value.strip()
    if re.fullmatch(r"[-+]?\d+(?:[.,]\d+)?", text):
        return float(text.replace(",", "."))
    return None


@dataclass
class Lines:
    """The lines one row-owner (a profile, a job description) collects, with their cells."""

    first_row: int
    singles: dict[str, tuple[int, str | int | float]] = field(default_factory=dict)
    lists: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)
    #: (kind, position) -> row, to report a repeated position at once.
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    marker: bool = False


def collect(
    sheet: Sheet,
    kinds: dict[str, Kind],
    row: int,
    cells: tuple[CellValue, ...],
    lines: Lines,
) -> None:
    """Place one row's line into `lines`, reporting bad kinds, positions, values and repeats."""
    kind_raw = sheet.text(row, cells, "kind")
    if kind_raw is None:
        sheet.required(row, "kind", sheet.raw(row, cells, "kind"))
        return
    kind = kinds.get(" ".join(kind_raw.split()).casefold())
    if kind is None:
        sheet.error(
            row,
            "kind",
            f"unknown kind {shown(kind_raw)}{suggest(kind_raw, kinds)}",
            "kind",
        )
        return
    position = sheet.position(row, cells)
    if kind.shape == "marker":
        if sheet.raw(row, cells, "text") is not None:
            sheet.error(row, "text", "a 'profile' row marks an empty profile; leave text empty")
        lines.marker = True
        return
    value: str | int | float | None
    if kind.shape in ("number", "integer"):
        raw = sheet.raw(row, cells, "text")
        if not sheet.required(row, "text", raw):
            return
        value = _number(raw) if kind.shape == "number" else _whole(raw)
        if value is None:
            what = "a number" if kind.shape == "number" else "a whole number"
            sheet.error(row, "text", f"{kind.name}: expected {what}, got {shown(raw)}", "type")
            return
    else:
        value = sheet.text(row, cells, "text")
        if value is None:
            if sheet.raw(row, cells, "text") is None:
                sheet.required(row, "text", None)
            return
    if kind.shape == "list":
        assert isinstance(value, str)
        if position is None:
            sheet.error(row, "position", f"{kind.name}: a list line needs its position (1, 2, …)")
            return
        other_row = lines.positions.setdefault((kind.name, position), row)
        if other_row != row:
            sheet.error(
                row, "position", f"{kind.name} {position} is also at row {other_row}", "duplicate"
            )
            return
        lines.lists.setdefault(kind.name, []).append((row, position, value))
        return
    if position not in (None, 1):
        sheet.error(row, "position", f"{kind.name} is a single value; leave position empty")
        return
    if kind.name in lines.singles:
        other = lines.singles[kind.name][0]
        sheet.error(row, "kind", f"{kind.name} is also given at row {other}", "duplicate")
        return
    lines.singles[kind.name] = (row, value)


def in_order(lines: Lines, kind: str) -> tuple[str, ...]:
    return tuple(text for _, _, text in sorted(lines.lists.get(kind, []), key=lambda t: t[1]))


def single_text(lines: Lines, kind: str) -> str | None:
    entry = lines.singles.get(kind)
    return None if entry is None else str(entry[1])
