"""Sheet plans: frames -> a tracker sheet's columns and rows, no openpyxl yet.

Column scheme, by block type (never by frame kind):

- A frame made only of AREA records is a table: the heading column (`frame.columns[0]`), each
  remaining frame column whose fields are literal text (e.g. Standard), Source, then every input
  column of the layout (Baseline, Target, Due, Actual, Status, Comment). All input cells of a row
  are open; a placeholder column starts with its token (the record's own placeholder where it has
  one, so its key is kept), the others start empty.
- Any other frame has one row per field (GOAL/RESULTS records: No., Heading, Source, Field, Text)
  or per item (Groups: Group, Item, Source). An input column is open on a row only for a
  placeholder that row's line holds (starting with its token), and the free inputs (Actual,
  Status, Comment) are open on every row that holds a placeholder. Input columns no row opens are
  left out.

The writer (`xlsx_sheets`) ends every sheet with a hidden, locked Key column holding the row key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import assert_never

from pipeline.diagnostics import PacksError
from pipeline.model import (
    Frame,
    Group,
    Line,
    Placeholder,
    PlaceholderKind,
    Record,
    RecordStyle,
    line_text,
    only_placeholders,
    placeholders,
)
from pipeline.ooxml.tracker_contract import Role
from pipeline.render.xlsx_settings import InputSpec, Settings

#: Excel's sheet-name limits.
SHEET_NAME_MAX = 31
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class Column:
    title: str
    role: Role
    width: float
    spec: InputSpec | None = None


@dataclass(frozen=True)
class Input:
    """An open input cell: its starting value and the frame placeholder it stands for."""

    start: str | None
    placeholder_key: str = ""


@dataclass(frozen=True)
class Row:
    key: str
    #: Locked cells by column title (None = empty).
    cells: Mapping[str, str | int | None]
    #: Open input cells by column title.
    inputs: Mapping[str, Input]


@dataclass(frozen=True)
class SheetPlan:
    name: str
    frame: Frame
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]


def _spec_for(settings: Settings, kind: PlaceholderKind) -> InputSpec:
    for spec in settings.inputs:
        if spec.placeholder is kind:
            return spec
    raise PacksError(f"layout xlsx.inputs has no column for the {kind.token} placeholder")


def _open_inputs(
    key: str, line_holders: Sequence[Placeholder], settings: Settings
) -> dict[str, Input]:
    """The inputs a row holding these placeholders opens: one per placeholder, plus free ones."""
    opened: dict[str, Input] = {}
    for ph in line_holders:
        spec = _spec_for(settings, ph.kind)
        if spec.title in opened:
            raise ValueError(f"{key}: two {ph.token} placeholders in one tracker row")
        opened[spec.title] = Input(ph.token, ph.key)
    if opened:
        for spec in settings.inputs:
            if spec.placeholder is None:
                opened[spec.title] = Input(None)
    return opened


def _area_plan(name: str, frame: Frame, records: Sequence[Record], settings: Settings) -> SheetPlan:
    heading = frame.columns[0] if frame.columns else settings.columns["heading"].title
    labels = list(frame.columns[1:])
    for record in records:
        labels += [f.label for f in record.fields if f.label not in labels]
    pure = {
        label
        for label in labels
        if all(only_placeholders(f.line) for r in records for f in r.fields if f.label == label)
        and any(f.label == label for r in records for f in r.fields)
    }
    text_labels = [label for label in labels if label not in pure and label != heading]
    text_width = settings.area_widths.get("text", settings.columns["text"].width)
    columns = [
        Column(heading, Role.HEADING, settings.area_widths.get("heading", 48)),
        *(Column(label, Role.TEXT, text_width) for label in text_labels),
        Column(settings.columns["source"].title, Role.SOURCE, settings.columns["source"].width),
        *(Column(s.title, Role.INPUT, s.width, s) for s in settings.inputs),
    ]
    rows = []
    for record in records:
        cells: dict[str, str | int | None] = {heading: record.heading}
        for label in text_labels:
            found = [line_text(f.line) for f in record.fields if f.label == label]
            cells[label] = found[0] if found else None
        cells[settings.columns["source"].title] = record.source
        held = [ph for f in record.fields for ph in placeholders(f.line)]
        opened = _open_inputs(record.key, held, settings)
        for spec in settings.inputs:
            if spec.title not in opened:
                start = spec.placeholder.token if spec.placeholder is not None else None
                opened[spec.title] = Input(start)
        rows.append(Row(record.key, cells, {s.title: opened[s.title] for s in settings.inputs}))
    return SheetPlan(name, frame, tuple(columns), tuple(rows))


def _line_plan(name: str, frame: Frame, settings: Settings) -> SheetPlan:
    """One row per record field or group item (every frame that is not all AREA records)."""
    c = settings.columns
    only_groups = all(isinstance(b, Group) for b in frame.blocks)
    if only_groups:
        locked = [
            Column(c["group"].title, Role.HEADING, c["group"].width),
            Column(c["item"].title, Role.TEXT, c["item"].width),
            Column(c["source"].title, Role.SOURCE, c["source"].width),
        ]
    else:
        locked = [
            Column(c["number"].title, Role.NUMBER, c["number"].width),
            Column(c["heading"].title, Role.HEADING, c["heading"].width),
            Column(c["source"].title, Role.SOURCE, c["source"].width),
            Column(c["label"].title, Role.LABEL, c["label"].width),
            Column(c["text"].title, Role.TEXT, c["text"].width),
        ]
    by_role = {col.role: col.title for col in locked}
    rows: list[Row] = []

    def add(
        key: str, number: int | None, heading: str, source: str, label: str, line: Line
    ) -> None:
        cells: dict[str, str | int | None] = {
            by_role[Role.HEADING]: heading,
            by_role[Role.TEXT]: line_text(line),
            by_role[Role.SOURCE]: source,
        }
        if Role.NUMBER in by_role:
            cells[by_role[Role.NUMBER]] = number
            cells[by_role[Role.LABEL]] = label or None
        rows.append(Row(key, cells, _open_inputs(key, placeholders(line), settings)))

    for block in frame.blocks:
        match block:
            case Record():
                for f in block.fields:
                    add(f.key, block.number, block.heading, block.source, f.label, f.line)
            case Group():
                for item in block.items:
                    add(item.key, None, block.heading, item.source, "", item.line)
            case _:
                assert_never(block)
    used = {title for row in rows for title in row.inputs}
    inputs = [Column(s.title, Role.INPUT, s.width, s) for s in settings.inputs if s.title in used]
    return SheetPlan(name, frame, (*locked, *inputs), tuple(rows))


def sheet_plan(name: str, frame: Frame, settings: Settings) -> SheetPlan:
    records = [b for b in frame.blocks if isinstance(b, Record) and b.style is RecordStyle.AREA]
    if records and len(records) == len(frame.blocks):
        return _area_plan(name, frame, records, settings)
    return _line_plan(name, frame, settings)


def sheet_name(title: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name for a frame's short title."""
    base = _SHEET_NAME_BAD.sub("_", title).strip("'") or "Sheet"
    base = base[:SHEET_NAME_MAX]
    name, n = base, 2
    while name.casefold() in taken:
        suffix = f" ({n})"
        name = base[: SHEET_NAME_MAX - len(suffix)] + suffix
        n += 1
    taken.add(name.casefold())
    return name
