"""The layout's `xlsx:` settings as the tracker writer uses them: column titles and widths, the
input columns and their checks (ready for openpyxl's data validations), print setup, and the
openpyxl fonts and fills, built once per process per distinct `xlsx:` section (`settings_for`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache

from openpyxl.styles import Alignment, Font, PatternFill

from pipeline.layout import Layout, XlsxCheck, XlsxReadme, XlsxSettings
from pipeline.model import PlaceholderKind


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
