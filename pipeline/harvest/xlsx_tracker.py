"""Read a returned XLSX tracker back: `{row key: {input column: value}}`.

The tracker's `veryHidden` `_meta` sheet (`pipeline.ooxml.tracker_contract`) says which sheet,
column and row key every input cell belongs to. Rows are matched by the hidden Key column, never
by position, so a user may sort or filter; a row whose key cell was lost is matched by its locked
canon text when that text is unique. A returned file is untrusted: it is opened as a checked
package and refused when any part declares a DTD, before any part is parsed (`xlsx_cells.Book`,
which reads the values openpyxl would, by streaming the sheet XML).

Every value comes back as text, the way the form's do, so one filled value reads the same from
either (`pipeline.harvest.values`): a date as ISO `YYYY-MM-DD`, a number as its digits (`12.5`,
`40`), a percentage as typed (`80%`), text as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from openpyxl.utils import column_index_from_string

from pipeline.harvest.values import cell_text
from pipeline.harvest.xlsx_cells import TRACKER_PACKAGE, Book, TrackerError
from pipeline.ooxml.tracker_contract import (
    COLUMN_RECORD,
    FORMAT,
    FORMAT_KEY,
    FORMAT_VERSION,
    FORMAT_VERSION_KEY,
    META_RECORD,
    META_SHEET,
    ROW_RECORD,
    Role,
    signature,
)

__all__ = [
    "TRACKER_PACKAGE",
    "Book",
    "Contract",
    "SheetContract",
    "TrackerError",
    "contract_of",
    "read_contract",
    "read_tracker",
    "tracker_values",
]


@dataclass
class SheetContract:
    """What `_meta` says about one frame sheet."""

    #: Column title -> 1-based column index.
    columns: dict[str, int] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    #: Row key -> signature of its locked text, in sheet order.
    rows: dict[str, str] = field(default_factory=dict)
    #: Row key -> the input column titles open on that row.
    inputs: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Contract:
    meta: dict[str, object] = field(default_factory=dict)
    sheets: dict[str, SheetContract] = field(default_factory=dict)


def contract_of(book: Book) -> Contract:
    """The `_meta` contract of a workbook already opened as a `Book`."""
    if META_SHEET not in book.sheetnames:
        raise TrackerError(f"not a tracker: the {META_SHEET} sheet is missing")
    contract = Contract()
    for values in book.rows(META_SHEET)[1:]:
        record, sheet, name, value, text, inputs = (tuple(values) + (None,) * 6)[:6]
        if record == META_RECORD:
            contract.meta[str(name)] = value
            continue
        if record not in (COLUMN_RECORD, ROW_RECORD) or not isinstance(sheet, str):
            continue
        part = contract.sheets.setdefault(sheet, SheetContract())
        key = str(name)
        if record == COLUMN_RECORD:
            part.columns[key] = _column_index(str(value))
            part.roles[key] = str(text)
            continue
        part.rows[key] = "" if text is None else str(text)
        if inputs:
            part.inputs[key] = _input_titles(key, inputs)
    if contract.meta.get(FORMAT_KEY) != FORMAT:
        raise TrackerError(
            f"not a tracker: {META_SHEET} names format {contract.meta.get(FORMAT_KEY)!r}"
        )
    if contract.meta.get(FORMAT_VERSION_KEY) != FORMAT_VERSION:
        raise TrackerError(
            f"tracker format version {contract.meta.get(FORMAT_VERSION_KEY)!r} is not supported "
            f"(this version reads {FORMAT_VERSION})"
        )
    return contract


def _input_titles(key: str, raw: object) -> list[str]:
    try:
        inputs = json.loads(str(raw))
    except json.JSONDecodeError:
        inputs = None
    if not isinstance(inputs, dict):
        raise TrackerError(f"{META_SHEET}: the inputs of row {key} are not a JSON object")
    return [str(title) for title in inputs]


def _column_index(letter: str) -> int:
    try:
        index: int = column_index_from_string(letter)
    except ValueError:
        raise TrackerError(f"{META_SHEET}: bad column letter {letter!r}") from None
    return index


def _cell(values: Sequence[object], index: int) -> object:
    return values[index - 1] if index - 1 < len(values) else None


def _match_rows(
    part: SheetContract, rows: Iterable[Sequence[object]]
) -> dict[str, Sequence[object]]:
    """Row key -> the row holding it: by the Key column, else by unique locked text."""
    key_index = next((part.columns[t] for t, r in part.roles.items() if r == Role.KEY), None)
    locked = [part.columns[t] for t, r in part.roles.items() if r not in (Role.KEY, Role.INPUT)]
    found: dict[str, Sequence[object]] = {}
    strays: list[Sequence[object]] = []
    for values in rows:
        key = _cell(values, key_index) if key_index is not None else None
        if isinstance(key, str) and key in part.rows and key not in found:
            found[key] = values
        elif any(v is not None for v in values):
            strays.append(values)
    missing: dict[str, list[str]] = {}
    for key, sig in part.rows.items():
        if key not in found:
            missing.setdefault(sig, []).append(key)
    if strays and missing:
        by_sig: dict[str, list[Sequence[object]]] = {}
        for values in strays:
            by_sig.setdefault(signature([_cell(values, i) for i in locked]), []).append(values)
        for sig, keys in missing.items():
            candidates = by_sig.get(sig, [])
            if len(keys) == 1 and len(candidates) == 1:
                found[keys[0]] = candidates[0]
    return found


def read_contract(data: bytes) -> Contract:
    """The tracker's `_meta` contract alone (profile id, canon digest, rows, columns)."""
    return contract_of(Book(data))


def read_tracker(data: bytes) -> dict[str, dict[str, str | None]]:
    """Every input cell of a tracker by row key and column title, in the tracker's own order.

    Values are text (`values.cell_text`): what was typed, a date ISO, a number its digits, a
    percentage with `%` (a formula's last computed value likewise). An untouched placeholder
    comes back as its token (`⟨target⟩`), so a caller can tell "not filled" from "cleared"
    (None). A row that was deleted is absent.
    """
    book = Book(data)
    return tracker_values(book, contract_of(book))


def tracker_values(book: Book, contract: Contract) -> dict[str, dict[str, str | None]]:
    """`read_tracker` of a workbook already opened, with its contract already read."""
    out: dict[str, dict[str, str | None]] = {}
    for sheet, part in contract.sheets.items():
        if sheet not in book.sheetnames:
            raise TrackerError(f"tracker sheet {sheet!r} is missing (was it renamed?)")
        found = _match_rows(part, book.rows(sheet)[1:])
        for key in part.rows:
            if key in found and key in part.inputs:
                values = found[key]
                out[key] = {t: cell_text(_cell(values, part.columns[t])) for t in part.inputs[key]}
    return out
