"""Writing a tracker's sheets with openpyxl: the Read me, each frame sheet from its plan (with
its checks, placeholder highlighting and defined names), and the `veryHidden` `_meta` sheet that
`pipeline.ooxml.tracker_contract` declares; row heights fitted to wrapped text, print setup and
sheet protection.

Every sheet ends with a hidden, locked Key column holding the row key, so rows can be re-sorted.
Every string is written as a literal string (never a formula or an error code), whatever its
first character.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from copy import copy
from typing import Any

from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Protection
from openpyxl.utils import absolute_coordinate, get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.protection import SheetProtection

from pipeline.diagnostics import PacksError
from pipeline.layout import RenderOptions
from pipeline.model import ProfileFrames
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
    PERSONAL_LINES,
    PROFILE_KEY,
    ROW_RECORD,
    Role,
    defined_name,
    signature,
)
from pipeline.render.xlsx_plan import Column, SheetPlan
from pipeline.render.xlsx_settings import Settings

PAPER_SIZES = {"A4": 9, "Letter": 1}
#: Excel's limit on a page header's text (the list validation's: `layout.LIST_MAX`).
HEADER_MAX = 250
#: Excel's tallest row, in points.
ROW_HEIGHT_MAX = 409.0


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


def print_setup(ws: Any, settings: Settings, options: RenderOptions, header: str | None) -> None:
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


def protect(ws: Any, settings: Settings, options: RenderOptions) -> None:
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
        validate(ws, plan.name, inputs, letters, last, s, wb)
    return meta


def validate(
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
