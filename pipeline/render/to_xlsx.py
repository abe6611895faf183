"""The XLSX MBO tracker (design.md §6): canon cells locked, placeholder cells editable.

Sheets: `Read me`, one sheet per frame (named by `frame.short_title`), and a `veryHidden` `_meta`
sheet that is the read-back contract of `pipeline.harvest.xlsx_tracker`.

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

Every sheet ends with a hidden, locked Key column holding the row key, so rows can be re-sorted.
Every string is written as a literal string (never a formula or an error code), whatever its
first character.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from copy import copy
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any, assert_never

from openpyxl import Workbook
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import absolute_coordinate, get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.protection import SheetProtection

from pipeline.diagnostics import PacksError
from pipeline.layout import Layout, RenderOptions, XlsxCheck, XlsxReadme, XlsxSettings
from pipeline.model import (
    Frame,
    Group,
    Line,
    Placeholder,
    PlaceholderKind,
    ProfileFrames,
    Record,
    RecordStyle,
    line_text,
    only_placeholders,
    placeholders,
)
from pipeline.ooxml.archive import utc_moment
from pipeline.ooxml.tracker_contract import (
    CANON_DIGEST_KEY,
    CANON_VERSION_KEY,
    COLUMN_RECORD,
    FORMAT,
    FORMAT_KEY,
    FORMAT_VERSION,
    FORMAT_VERSION_KEY,
    GENERATOR_KEY,
    META_HEADER,
    META_KEYS,
    META_RECORD,
    META_SHEET,
    PERSONAL_LINES,
    PROFILE_KEY,
    ROW_RECORD,
    Role,
    defined_name,
    signature,
)
from pipeline.ooxml.xlsx_package import MemoryExcelWriter, PackageParts

#: Excel's sheet-name limits.
SHEET_NAME_MAX = 31
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
PAPER_SIZES = {"A4": 9, "Letter": 1}
#: Excel's limit on a page header's text (the list validation's: `layout.LIST_MAX`).
HEADER_MAX = 250
#: Excel's tallest row, in points.
ROW_HEIGHT_MAX = 409.0


# ---------------------------------------------------------------------------------------------
# Layout settings (parsed once per distinct `xlsx:` section)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnStyle:
    title: str
    width: float


@dataclass(frozen=True)
class InputSpec:
    """One unlocked column: its title, the placeholder kind it takes (if any) and its check."""

    title: str
    placeholder: PlaceholderKind | None
    check: str | None
    width: float
    number_format: str | None


@dataclass(frozen=True)
class Check:
    """A data validation, ready for openpyxl."""

    type: str
    formula1: str
    formula2: str | None
    error: str
    style: str


@dataclass(frozen=True)
class Settings:
    columns: Mapping[str, ColumnStyle]
    area_widths: Mapping[str, float]
    inputs: tuple[InputSpec, ...]
    checks: Mapping[str, Check]
    orientation: str
    margins: Mapping[str, float]
    footer: str
    autofilter: bool
    allow: tuple[str, ...]
    readme: XlsxReadme
    line_height: float
    chars_per_width: float
    header_font: Font
    body_font: Font
    title_font: Font
    header_fill: PatternFill
    input_fill: PatternFill
    placeholder_fill: PatternFill
    placeholder_font: Font
    wrap: Alignment = field(default_factory=lambda: Alignment(wrap_text=True, vertical="top"))


def _excel_date(value: object) -> str:
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        value = date.fromisoformat(str(value))
    return f"DATE({value.year},{value.month},{value.day})"


def _check(name: str, raw: XlsxCheck) -> Check:
    """A check as openpyxl takes it (`layout.XlsxSettings.problems` has validated it)."""
    if name == "date":
        return Check("date", _excel_date(raw.min), _excel_date(raw.max), raw.error, raw.style)
    if name == "decimal":
        return Check("decimal", str(raw.min), str(raw.max), raw.error, raw.style)
    formula = '"' + ",".join(raw.values or ()) + '"'
    return Check("list", formula, None, raw.error, raw.style)


@lru_cache(maxsize=8)
def _settings(raw: XlsxSettings) -> Settings:
    """The layout's `xlsx:` section with its openpyxl styles; once per process."""
    name, size = raw.font.name, raw.font.size
    colours = raw.colours
    return Settings(
        columns={
            f.name: ColumnStyle(
                getattr(raw.columns, f.name).title, getattr(raw.columns, f.name).width
            )
            for f in dataclasses.fields(raw.columns)
        },
        area_widths=raw.area_widths,
        inputs=tuple(
            InputSpec(
                title=i.title,
                placeholder=PlaceholderKind(i.placeholder) if i.placeholder else None,
                check=i.check,
                width=i.width,
                number_format=i.number_format,
            )
            for i in raw.inputs
        ),
        checks={k: _check(k, v) for k, v in raw.checks.items()},
        orientation=raw.orientation,
        margins=raw.margins,
        footer=raw.footer,
        autofilter=raw.autofilter,
        allow=raw.allow,
        readme=raw.readme,
        line_height=raw.row_height.line_height,
        chars_per_width=raw.row_height.chars_per_width,
        header_font=Font(name=name, size=size, bold=True),
        body_font=Font(name=name, size=size),
        title_font=Font(name=name, size=size + 3, bold=True),
        header_fill=PatternFill("solid", fgColor=colours.header_fill),
        input_fill=PatternFill("solid", fgColor=colours.input_fill),
        placeholder_fill=PatternFill("solid", bgColor=colours.placeholder_fill),
        placeholder_font=Font(color=colours.placeholder_font),
    )


def settings_for(layout: Layout) -> Settings:
    return _settings(layout.config.xlsx)


# ---------------------------------------------------------------------------------------------
# Sheet plans: frames -> columns and rows, no openpyxl yet
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def wrapped_lines(text: str, width: float, chars_per_width: float) -> int:
    """How many lines a wrapped cell needs (greedy word wrap on an average character width)."""
    capacity = max(1, int(width * chars_per_width))
    if len(text) <= capacity and "\n" not in text:
        return 1
    lines = 0
    for paragraph in text.split("\n"):
        lines += 1
        used = 0
        for word in paragraph.split(" "):
            size = len(word)
            if used and used + 1 + size > capacity:
                lines += 1
                used = 0
            used += size + (1 if used else 0)
            while used > capacity:
                lines += 1
                used -= capacity
    return lines


def fit_row(ws: Any, row: int, cells: Sequence[tuple[object, float]], s: Settings) -> None:
    """Give a row the height its wrapped text needs; Excel and LibreOffice keep it as set."""
    lines = max(
        (wrapped_lines(v, w, s.chars_per_width) for v, w in cells if isinstance(v, str)),
        default=1,
    )
    if lines > 1:
        ws.row_dimensions[row].height = min(lines * s.line_height, ROW_HEIGHT_MAX)


class CellStyles:
    """Named cell styles for one workbook, applied by copying the style-id array.

    openpyxl hashes every font, fill and alignment object on each assignment; styling a cell
    once per name and copying its style ids afterwards is several times faster and gives the
    same file.
    """

    def __init__(self, s: Settings) -> None:
        self.attrs: dict[str, dict[str, object]] = {
            "title": {"font": s.title_font, "alignment": s.wrap},
            "label": {"font": s.header_font},
            "header": {"font": s.header_font, "fill": s.header_fill, "alignment": s.wrap},
            "body": {"font": s.body_font, "alignment": s.wrap},
            "input": {
                "font": s.body_font,
                "fill": s.input_fill,
                "alignment": s.wrap,
                "protection": Protection(locked=False),
            },
        }
        self.arrays: dict[tuple[str, str | None], Any] = {}

    def apply(self, cell: Any, name: str, number_format: str | None = None) -> None:
        array = self.arrays.get((name, number_format))
        if array is not None:
            cell._style = copy(array)
            return
        for attr, value in self.attrs[name].items():
            setattr(cell, attr, value)
        if number_format:
            cell.number_format = number_format
        self.arrays[(name, number_format)] = copy(cell._style)


def put(ws: Any, row: int, col: int, value: object) -> Any:
    """Set a cell; a string stays a literal string even when it looks like a formula."""
    cell = ws.cell(row=row, column=col)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def _print_setup(ws: Any, settings: Settings, options: RenderOptions, header: str | None) -> None:
    ws.page_setup.orientation = settings.orientation
    ws.page_setup.paperSize = PAPER_SIZES.get(options.page_size, PAPER_SIZES["A4"])
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    for side, inches in settings.margins.items():
        setattr(ws.page_margins, side, inches)
    # A header is a courtesy: never cut or alter canon text for it. `&` is Excel's code letter
    # (escaped as `&&`), but openpyxl rewrites `&[Page]`-style names even after an escaped `&`,
    # so a title holding `&[` gets no header rather than a wrong one.
    if header and "&[" not in header and len(header) <= HEADER_MAX:
        ws.oddHeader.center.text = header.replace("&", "&&")
    if settings.footer:
        ws.oddFooter.center.text = settings.footer


def _protect(ws: Any, settings: Settings, options: RenderOptions) -> None:
    protection = SheetProtection(sheet=True)
    for flag in settings.allow:
        setattr(protection, flag, False)
    if options.form_password:
        protection.set_password(options.form_password)
    ws.protection = protection


def personal_lines(fields: Mapping[str, str]) -> list[tuple[str, str]]:
    """(label, text) of the Read me's personal lines; a line whose fields are unset is omitted."""
    out = []
    for label, keys in PERSONAL_LINES:
        values = [fields[k] for k in keys if k in fields]
        if len(values) == len(keys):
            out.append((label, " to ".join(values)))
    return out


def write_readme(
    ws: Any,
    frames: ProfileFrames,
    plans: Sequence[SheetPlan],
    s: Settings,
    styles: CellStyles,
    fields: Mapping[str, str] | None = None,
) -> None:
    r = s.readme
    widths = list(r.widths)
    for col, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(col)].width = width
    row = 1

    def line(label: str | None, text: str | None, style: str = "body") -> None:
        nonlocal row
        if label:
            styles.apply(put(ws, row, 1, label), "label")
        if text is not None:
            styles.apply(put(ws, row, 2, text), style)
            fit_row(ws, row, [(text, widths[1])], s)
        row += 1

    line(None, frames.page_title, "title")
    line(None, frames.breadcrumb)
    line(None, frames.intro)
    row += 1
    line(r.profile_label, frames.profile_id)
    line(r.version_label, frames.canon_version)
    line(r.digest_label, frames.canon_digest)
    for badge in frames.badges:
        line(badge.name, badge.value)
    personal = personal_lines(fields or {})
    if personal:
        row += 1
        for label, text in personal:
            line(label, text)
    row += 1
    line(r.how_to_title, None)
    for text in r.how_to:
        line(None, text)
    row += 1
    line(r.sheets_title, None)
    for plan in plans:
        line(plan.name, plan.frame.title, "label")
        if plan.frame.intro:
            line(None, plan.frame.intro)


def write_frame_sheet(
    ws: Any, plan: SheetPlan, s: Settings, styles: CellStyles, wb: Any
) -> list[tuple[object, ...]]:
    """Write one frame sheet; return its `_meta` records."""
    meta: list[tuple[object, ...]] = []
    columns = (*plan.columns, Column(s.columns["key"].title, Role.KEY, s.columns["key"].width))
    letters = {col.title: get_column_letter(i) for i, col in enumerate(columns, 1)}
    if len(letters) != len(columns):
        raise PacksError(f"sheet {plan.name}: two columns share a title; rename one in the layout")
    for i, col in enumerate(columns, 1):
        styles.apply(put(ws, 1, i, col.title), "header")
        dim = ws.column_dimensions[letters[col.title]]
        dim.width = col.width
        if col.role is Role.KEY:
            dim.hidden = True
        meta.append((COLUMN_RECORD, plan.name, col.title, letters[col.title], col.role.value))
    fit_row(ws, 1, [(c.title, c.width) for c in plan.columns], s)
    for r, row in enumerate(plan.rows, 2):
        locked_values: list[object] = []
        fit_row(ws, r, [(row.cells.get(c.title), c.width) for c in plan.columns], s)
        for i, col in enumerate(columns, 1):
            if col.role is Role.KEY:
                value: object = row.key
            elif col.role is Role.INPUT:
                opened = row.inputs.get(col.title)
                if opened is not None:
                    number_format = col.spec.number_format if col.spec is not None else None
                    styles.apply(put(ws, r, i, opened.start), "input", number_format)
                continue
            else:
                value = row.cells.get(col.title)
                locked_values.append(value)
            styles.apply(put(ws, r, i, value), "body")
        held = {title: opened.placeholder_key for title, opened in row.inputs.items()}
        meta.append(
            (
                ROW_RECORD,
                plan.name,
                row.key,
                r,
                signature(locked_values),
                json.dumps(held) if held else "",
            )
        )
    last = len(plan.rows) + 1
    ws.freeze_panes = "A2"
    ws.print_title_rows = "1:1"
    if s.autofilter and plan.rows:
        ws.auto_filter.ref = f"A1:{letters[columns[-2].title]}{last}"
    inputs = [c for c in columns if c.role is Role.INPUT]
    if plan.rows and inputs:
        _validate(ws, plan.name, inputs, letters, last, s, wb)
    return meta


def _validate(
    ws: Any,
    sheet: str,
    inputs: Sequence[Column],
    letters: Mapping[str, str],
    last: int,
    s: Settings,
    wb: Any,
) -> None:
    """Checks, placeholder highlighting and a defined name for each input column."""
    by_check: dict[str, list[str]] = {}
    for col in inputs:
        letter = letters[col.title]
        ref = f"{letter}2:{letter}{last}"
        if col.spec is not None and col.spec.check is not None:
            by_check.setdefault(col.spec.check, []).append(ref)
        name = defined_name(sheet, col.title)
        wb.defined_names[name] = DefinedName(
            name, attr_text=f"{quote_sheetname(sheet)}!{absolute_coordinate(ref)}"
        )
    for check_name, refs in by_check.items():
        check = s.checks[check_name]
        dv = DataValidation(
            type=check.type,
            operator="between" if check.type != "list" else None,
            formula1=check.formula1,
            formula2=check.formula2,
            allow_blank=True,
            showErrorMessage=True,
            errorStyle=check.style,
            errorTitle=check_name.capitalize() if check.error else None,
            error=check.error or None,
        )
        for ref in refs:
            dv.add(ref)
        ws.add_data_validation(dv)
    first, last_col = letters[inputs[0].title], letters[inputs[-1].title]
    ws.conditional_formatting.add(
        f"{first}2:{last_col}{last}",
        FormulaRule(
            formula=[f'LEFT({first}2,1)="⟨"'],
            fill=s.placeholder_fill,
            font=s.placeholder_font,
        ),
    )


def write_meta(ws: Any, frames: ProfileFrames, options: RenderOptions, records: list[Any]) -> None:
    rows: list[Sequence[object]] = [META_HEADER]
    meta: dict[str, object] = {
        FORMAT_KEY: FORMAT,
        FORMAT_VERSION_KEY: FORMAT_VERSION,
        PROFILE_KEY: frames.profile_id,
        CANON_DIGEST_KEY: frames.canon_digest,
        CANON_VERSION_KEY: frames.canon_version,
        GENERATOR_KEY: options.generator,
    }
    rows += [(META_RECORD, "", name, meta[name]) for name in META_KEYS]
    rows += records
    for r, values in enumerate(rows, 1):
        for c, value in enumerate(values, 1):
            if value != "":
                put(ws, r, c, value)
    ws.sheet_state = "veryHidden"


def render(frames: ProfileFrames, layout: Layout, options: RenderOptions) -> bytes:
    s = settings_for(layout)
    wb = Workbook()
    readme = wb.active
    readme.title = s.readme.sheet
    taken = {readme.title.casefold(), META_SHEET.casefold()}
    plans = [sheet_plan(sheet_name(f.short_title, taken), f, s) for f in frames.frames]
    styles = CellStyles(s)
    write_readme(readme, frames, plans, s, styles, dict(options.fields))
    _print_setup(readme, s, options, frames.document_title)
    _protect(readme, s, options)
    records: list[Any] = []
    for plan in plans:
        ws = wb.create_sheet(plan.name)
        records += write_frame_sheet(ws, plan, s, styles, wb)
        _print_setup(ws, s, options, plan.frame.title)
        _protect(ws, s, options)
    meta = wb.create_sheet(META_SHEET)
    write_meta(meta, frames, options, records)
    _protect(meta, s, options)

    security = WorkbookProtection(lockStructure=True)
    if options.form_password:
        security.set_workbook_password(options.form_password)
    wb.security = security
    epoch = options.timestamp or 0
    moment = utc_moment(epoch).replace(tzinfo=None)
    props = wb.properties
    props.creator = props.lastModifiedBy = options.generator
    props.created = props.modified = moment
    props.title = frames.document_title
    props.identifier = frames.profile_id
    props.version = frames.canon_version
    if options.identity is not None:
        props.category = options.identity
    parts = PackageParts()
    MemoryExcelWriter(wb, parts).save()
    return parts.package(epoch)
