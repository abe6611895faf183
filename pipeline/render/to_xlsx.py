"""The XLSX MBO tracker (design.md §6): canon cells locked, placeholder cells editable.

Sheets: `Read me`, one sheet per frame (named by `frame.short_title`), and a `veryHidden` `_meta`
sheet, the read-back contract of `pipeline.harvest.xlsx_tracker`
(`pipeline.ooxml.tracker_contract`). The layout's `xlsx:` settings are `xlsx_settings`; which
columns and rows each frame's sheet has (by block type, never by frame kind) is `xlsx_plan`;
writing the sheets is `xlsx_sheets`; the package is kept in memory and zipped deterministically
by `pipeline.ooxml.xlsx_package`.
"""

from __future__ import annotations

from typing import Any

from openpyxl import Workbook
from openpyxl.workbook.protection import WorkbookProtection

from pipeline.layout import Layout, RenderOptions
from pipeline.model import ProfileFrames
from pipeline.ooxml.tracker_contract import META_SHEET
from pipeline.ooxml.xlsx_package import workbook_package
from pipeline.render.xlsx_plan import sheet_name, sheet_plan
from pipeline.render.xlsx_settings import settings_for
from pipeline.render.xlsx_sheets import (
    CellStyles,
    print_setup,
    protect,
    write_frame_sheet,
    write_meta,
    write_readme,
)


def render(frames: ProfileFrames, layout: Layout, options: RenderOptions) -> bytes:
    s = settings_for(layout)
    wb = Workbook()
    readme = wb.active
    readme.title = s.readme.sheet
    taken = {readme.title.casefold(), META_SHEET.casefold()}
    plans = [sheet_plan(sheet_name(f.short_title, taken), f, s) for f in frames.frames]
    styles = CellStyles(s)
    write_readme(readme, frames, plans, s, styles, dict(options.fields))
    print_setup(readme, s, options, frames.document_title)
    protect(readme, s, options)
    records: list[Any] = []
    for plan in plans:
        ws = wb.create_sheet(plan.name)
        records += write_frame_sheet(ws, plan, s, styles, wb)
        print_setup(ws, s, options, plan.frame.title)
        protect(ws, s, options)
    meta = wb.create_sheet(META_SHEET)
    write_meta(meta, frames, options, records)
    protect(meta, s, options)

    security = WorkbookProtection(lockStructure=True)
    if options.form_password:
        security.set_workbook_password(options.form_password)
    wb.security = security
    props = wb.properties
    props.identifier = frames.profile_id
    props.version = frames.canon_version
    if options.identity is not None:
        props.category = options.identity
    return workbook_package(wb, options.timestamp or 0, options.generator, frames.document_title)
