"""Layouts: presentation as files (templates, CSS, reference .docx, page and column settings).

A layout is a folder under `layouts/` with a `layout.yaml`; code asks it for roles ("the handout
template", "page size"), never hard-codes presentation.

Every setting `layout.yaml` may hold is declared once below, as a field of a frozen dataclass per
section (in the manner of MkDocs' `config/defaults.py`): its type, its default (none = required)
and, where the type does not say it all, a check (the mechanism, `setting`, `Table` and the
reader, is `pipeline.config`). `load_layout` reads the file with the line of
every node (the canon's YAML reader), validates the whole file and reports every problem at once
as `layouts/<name>/layout.yaml:LINE: error: key: what was expected [layout]`; renderers receive
the typed sections (`layout.config.handout`, `.docx`, `.xlsx`), never a dict.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, Literal

from pipeline.config import Table, at_least, folder_file, keys, positive, read_config, setting
from pipeline.diagnostics import PacksError
from pipeline.model import PlaceholderKind
from pipeline.ooxml.form_contract import BLANK_CHAR

#: The layouts folder. In a checkout it is the repository's `layouts/` (where presentation is
#: edited); a wheel carries a copy inside the package (`setup.py` copies it to
#: `pipeline/layouts/`), so an installed `packs` finds its layouts from any directory.
_PACKAGED = Path(__file__).resolve().parent / "layouts"
LAYOUTS_DIR = (
    _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parent.parent / "layouts"
)
PAGE_SIZES = ("A4", "Letter")
#: The longest list Excel's data validation takes (the quoted, comma-joined values).
LIST_MAX = 255


#: The environment variable that turns the WeasyPrint speed-ups off for a run (read by the build).
SPEEDUPS_SWITCH = "PACKS_WEASYPRINT_SPEEDUPS"
SPEEDUPS_OFF = frozenset({"0", "off", "no", "false"})


@dataclass(frozen=True)
class RenderOptions:
    """Choices that change how (not what) a pack is rendered. Frozen, passed everywhere."""

    page_size: str = "A4"
    form_password: str | None = None
    #: Seconds since the epoch stamped into files (from SOURCE_DATE_EPOCH); None = now.
    timestamp: int | None = None
    #: The product version written into file metadata.
    generator: str = "jobframe-packs"
    #: Review fields filled in for one person (`review.employee` -> text, dates ISO); a cycle
    #: sets them, a pack leaves every field empty.
    fields: tuple[tuple[str, str], ...] = ()
    #: The sealed identity line of an issued file (`pipeline.cycle.identity`), written into the
    #: core property `cp:category`; None for a pack.
    identity: str | None = None
    #: The WeasyPrint speed-ups (`pipeline.render.weasyprint70`) around each handout render;
    #: False renders with WeasyPrint's own code (the same bytes, slower).
    speedups: bool = True


def _blank_run(value: Any) -> str | None:
    return None if value and set(value) == {BLANK_CHAR} else f"a run of '{BLANK_CHAR}' characters"


# ---------------------------------------------------------------------------------------------
# The sections of layout.yaml
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageSettings:
    size: Literal["A4", "Letter"] = "A4"  # the --page-size option overrides


@dataclass(frozen=True)
class HandoutSettings:
    """The PDF handout (`pipeline/render/to_pdf.py`)."""

    template: str = setting(check=folder_file)
    stylesheet: str = setting(check=folder_file)
    author: str = setting()
    language: str = setting()
    #: --page-size -> CSS @page size.
    page_sizes: Table[str] = setting()
    #: Printed runs longer than this get invisible break points (U+200B).
    long_word: int = setting(check=at_least(1))
    #: Placeholders joined by at most this many characters share one fill-in mark.
    mark_join: int = setting(check=at_least(0))
    #: WeasyPrint's HTML defaults cut to the elements the template writes (None: WeasyPrint's).
    user_agent_stylesheet: str | None = setting(None, check=folder_file)
    markup: Literal["html", "xhtml"] = "html"
    pdf_variant: str | None = None


@dataclass(frozen=True)
class DocxStyles:
    """Role -> style id in the reference document."""

    title: str = setting()
    breadcrumb: str = setting()
    intro: str = setting()
    badges: str = setting()
    frame_title: str = setting()
    frame_intro: str = setting()
    record_heading: str = setting()
    source_line: str = setting()
    field: str = setting()
    key_result: str = setting()
    group_heading: str = setting()
    item: str = setting()
    table: str = setting()
    table_heading: str = setting()
    table_text: str = setting()
    form_line: str = setting()
    field_label: str = setting()
    source_label: str = setting()
    placeholder: str = setting()


@dataclass(frozen=True)
class DocxDate:
    """The date fields' format (`w:format` of a FORMTEXT field of type date)."""

    #: `locale` was the date content control's `w:lid`; a text form field has no such language.
    RETIRED: ClassVar[Mapping[str, str]] = {
        "locale": "the date fields are text form fields, which carry no date language; Word "
        "reads a typed date by the computer's regional settings, and the form's language is its "
        "reference document's",
    }

    format: str = "yyyy-MM-dd"


@dataclass(frozen=True)
class DocxSettings:
    """The review form (`pipeline/render/to_docx.py`)."""

    styles: DocxStyles
    #: Width, height in twips.
    page_sizes: Table[tuple[int, int]] = setting(check=lambda t: positive(sum(t.values(), ())))
    margins: Table[int] = setting(
        check=keys(
            ("top", "right", "bottom", "left"),
            ("top", "right", "bottom", "left", "header", "footer", "gutter"),
        )
    )
    reference: str = setting("reference.docx", check=folder_file)
    date: DocxDate = DocxDate()
    source_label: str = "Source: {source}"
    text_field: str = setting(BLANK_CHAR * 16, check=_blank_run)
    area_column_weights: tuple[int, ...] = setting((1,), check=positive)
    signoff_column_weights: tuple[int, ...] = setting((1,), check=positive)


@dataclass(frozen=True)
class XlsxFont:
    name: str = "Calibri"
    size: float = 11.0


@dataclass(frozen=True)
class XlsxColours:
    """RGB hex."""

    header_fill: str = setting()
    input_fill: str = setting()
    placeholder_fill: str = setting()
    placeholder_font: str = setting()


@dataclass(frozen=True)
class XlsxColumn:
    title: str = setting()
    width: float = 12.0


@dataclass(frozen=True)
class XlsxColumns:
    """The locked columns by role."""

    number: XlsxColumn
    heading: XlsxColumn
    label: XlsxColumn
    text: XlsxColumn
    group: XlsxColumn
    item: XlsxColumn
    source: XlsxColumn
    key: XlsxColumn


@dataclass(frozen=True)
class XlsxInput:
    """An unlocked column: its title, the placeholder it takes (if any) and its check."""

    title: str = setting()
    placeholder: Literal["target", "baseline", "date"] | None = None
    check: str | None = None
    width: float = 12.0
    number_format: str | None = None


@dataclass(frozen=True)
class XlsxCheck:
    """A data validation: `date` and `decimal` take min and max, any other name a list."""

    min: int | float | date | None = None
    max: int | float | date | None = None
    values: tuple[str, ...] | None = None
    error: str = ""
    style: Literal["stop", "warning", "information"] = "stop"


@dataclass(frozen=True)
class XlsxRowHeight:
    line_height: float = 15.0
    chars_per_width: float = 1.0


@dataclass(frozen=True)
class XlsxReadme:
    sheet: str = setting()
    profile_label: str = setting()
    digest_label: str = setting()
    version_label: str = setting()
    how_to_title: str = setting()
    sheets_title: str = setting()
    widths: tuple[float, float] = (18.0, 110.0)
    how_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class XlsxSettings:
    """The MBO tracker (`pipeline/render/to_xlsx.py`)."""

    colours: XlsxColours
    columns: XlsxColumns
    inputs: tuple[XlsxInput, ...]
    readme: XlsxReadme
    font: XlsxFont = XlsxFont()
    orientation: Literal["landscape", "portrait"] = "landscape"
    margins: Table[float] = setting(
        {}, check=keys(allowed=("left", "right", "top", "bottom", "header", "footer"))
    )
    footer: str = ""
    autofilter: bool = True
    row_height: XlsxRowHeight = XlsxRowHeight()
    allow: tuple[str, ...] = ()
    area_widths: Table[float] = setting({}, check=keys(allowed=("heading", "text")))
    checks: Table[XlsxCheck] = setting({})

    def problems(self) -> Iterator[tuple[str, str]]:
        """(key, what was expected) for what no single setting's type can say."""
        for index, spec in enumerate(self.inputs):
            if spec.check is not None and spec.check not in self.checks:
                yield f"inputs[{index}].check", f"one of the checks {', '.join(self.checks)}"
        for name, check in self.checks.items():
            key = f"checks.{name}"
            if name == "date":
                if not (isinstance(check.min, date) and isinstance(check.max, date)):
                    yield key, "min and max dates (YYYY-MM-DD)"
            elif name == "decimal":
                bounds = (check.min, check.max)
                if not all(isinstance(b, int | float) for b in bounds):
                    yield key, "min and max numbers"
            elif check.values is None:
                yield key, "date, decimal, or a check with a list of values"
            elif any("," in v or '"' in v for v in check.values):
                yield f"{key}.values", "values without ',' or '\"'"
            elif len('"' + ",".join(check.values) + '"') > LIST_MAX:
                yield f"{key}.values", f"a list of at most {LIST_MAX} characters, as Excel allows"
        kinds = [spec.placeholder for spec in self.inputs if spec.placeholder]
        for kind in PlaceholderKind:
            if kinds.count(kind.value) != 1:
                yield "inputs", f"one column for the {kind.token} placeholder"


@dataclass(frozen=True)
class LayoutConfig:
    """The whole `layout.yaml`."""

    handout: HandoutSettings
    docx: DocxSettings
    xlsx: XlsxSettings
    name: str | None = None
    page: PageSettings = PageSettings()

    def problems(self) -> Iterator[tuple[str, str]]:
        for size in PAGE_SIZES:
            if size not in self.handout.page_sizes:
                yield "handout.page_sizes", f"a CSS size for each of {', '.join(PAGE_SIZES)}"
                break
        for size in PAGE_SIZES:
            if size not in self.docx.page_sizes:
                yield "docx.page_sizes", f"[width, height] for each of {', '.join(PAGE_SIZES)}"
                break


# ---------------------------------------------------------------------------------------------
# The layout folder
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    root: Path
    config: LayoutConfig

    def path(self, name: str) -> Path:
        """A file of this layout; never outside the layout folder."""
        candidate = (self.root / name).resolve()
        if not candidate.is_relative_to(self.root.resolve()):
            raise PacksError(f"layout file '{name}' is outside the layout folder {self.root}")
        return candidate

    def files(self) -> tuple[Path, ...]:
        """Every file of the layout, sorted (for digests and incremental builds)."""
        return tuple(sorted(p for p in self.root.rglob("*") if p.is_file()))

    def replaced(self, section: str, **changes: Any) -> Layout:
        """The same layout with some settings of one section changed (tests, benchmarks)."""
        current = getattr(self.config, section)
        config = dataclasses.replace(
            self.config, **{section: dataclasses.replace(current, **changes)}
        )
        return dataclasses.replace(self, config=config)


def _display(settings_file: Path) -> str:
    """The file as messages name it: `layouts/<name>/layout.yaml` for the bundled layouts."""
    try:
        return str(settings_file.resolve().relative_to(LAYOUTS_DIR.resolve().parent))
    except ValueError:
        return str(settings_file)


def load_layout(name_or_path: str | Path = "default") -> Layout:
    root = Path(name_or_path)
    if not root.is_dir():
        root = LAYOUTS_DIR / str(name_or_path)
    settings_file = root / "layout.yaml"
    if not settings_file.is_file():
        raise PacksError(f"{settings_file}: layout not found (expected a folder with layout.yaml)")
    config = read_config(LayoutConfig, settings_file, _display(settings_file), root.resolve())
    return Layout(root.resolve(), config)
