"""Layouts: presentation as files (templates, CSS, reference .docx, page and column settings).

A layout is a folder under `layouts/` with a `layout.yaml`; code asks it for roles ("the handout
template", "page size"), never hard-codes presentation.

Every setting `layout.yaml` may hold is declared once below, as a field of a frozen dataclass per
section (in the manner of MkDocs' `config/defaults.py`): its type, its default (none = required)
and, where the type does not say it all, a check. `load_layout` reads the file with the line of
every node (the canon's YAML reader), validates the whole file and reports every problem at once
as `layouts/<name>/layout.yaml:LINE: error: key: what was expected [layout]`; renderers receive
the typed sections (`layout.config.handout`, `.docx`, `.xlsx`), never a dict.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import yaml

from pipeline.diagnostics import Collector, PacksError, quoted
from pipeline.extract.nodes import describe, line_of
from pipeline.extract.yamlsource import parse_source, read_source
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


# ---------------------------------------------------------------------------------------------
# Declaring a setting
# ---------------------------------------------------------------------------------------------

V = TypeVar("V")


class Table(Mapping[str, V], Generic[V]):
    """A mapping read from the layout: immutable, hashable, in the file's order."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, V]] = ()) -> None:
        self._items: dict[str, V] = dict(items)

    def __getitem__(self, key: str) -> V:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(self._items.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._items) == dict(other)

    def __repr__(self) -> str:
        return f"Table({self._items!r})"


#: A check beyond the type: the value -> what was expected, or None when it is fine.
Check = Callable[[Any], str | None]


def setting(default: Any = dataclasses.MISSING, *, check: Check | None = None) -> Any:
    """A declared setting: without a default it is required; `check` refines its type."""
    meta = {"check": check} if check else {}
    if isinstance(default, list | tuple | dict):
        frozen = _frozen(default)
        return field(default_factory=lambda: frozen, metadata=meta)
    return field(default=default, metadata=meta)


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return Table((k, _frozen(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def at_least(least: int) -> Check:
    def check(value: Any) -> str | None:
        return None if value >= least else f"a whole number of at least {least}"

    return check


def positive(values: Any) -> str | None:
    items = values if isinstance(values, tuple) else (values,)
    return None if all(v > 0 for v in items) else "positive whole numbers"


def keys(required: tuple[str, ...] = (), allowed: tuple[str, ...] | None = None) -> Check:
    """A table that must hold `required` keys and may hold only `allowed` (None: any)."""

    def check(table: Any) -> str | None:
        missing = [k for k in required if k not in table]
        unknown = [k for k in table if allowed is not None and k not in allowed]
        if missing or unknown:
            return f"the keys {', '.join(allowed or required)}" + (
                f" (missing {', '.join(missing)})" if missing else f" (not {', '.join(unknown)})"
            )
        return None

    return check


def _blank_run(value: Any) -> str | None:
    return None if value and set(value) == {BLANK_CHAR} else f"a run of '{BLANK_CHAR}' characters"


def _file(value: Any) -> str | None:
    return None  # marker: `_Reader` checks that the file exists inside the layout folder


# ---------------------------------------------------------------------------------------------
# The sections of layout.yaml
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageSettings:
    size: Literal["A4", "Letter"] = "A4"  # the --page-size option overrides


@dataclass(frozen=True)
class HandoutSettings:
    """The PDF handout (`pipeline/render/to_pdf.py`)."""

    template: str = setting(check=_file)
    stylesheet: str = setting(check=_file)
    author: str = setting()
    language: str = setting()
    #: --page-size -> CSS @page size.
    page_sizes: Table[str] = setting()
    #: Printed runs longer than this get invisible break points (U+200B).
    long_word: int = setting(check=at_least(1))
    #: Placeholders joined by at most this many characters share one fill-in mark.
    mark_join: int = setting(check=at_least(0))
    #: WeasyPrint's HTML defaults cut to the elements the template writes (None: WeasyPrint's).
    user_agent_stylesheet: str | None = setting(None, check=_file)
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
    format: str = "yyyy-MM-dd"
    locale: str = "en-GB"


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
    reference: str = setting("reference.docx", check=_file)
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
# Reading layout.yaml against the declarations
# ---------------------------------------------------------------------------------------------


class _Bad:
    """A value that failed its declaration (its problem is already recorded)."""


_BAD = _Bad()
_SCALARS: dict[type, tuple[str, tuple[str, ...]]] = {
    str: ("text", ("str",)),
    int: ("a whole number", ("int",)),
    float: ("a number", ("int", "float")),
    bool: ("true or false", ("bool",)),
    date: ("a date (YYYY-MM-DD)", ("timestamp",)),
}


def _expected(tp: Any) -> str:
    """What a declared type reads as in a message."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp in _SCALARS:
        return _SCALARS[tp][0]
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_expected(a) for a in args if a is not type(None))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_plural(args[0])}"
        return f"a list of {len(args)} {_plural(args[0])}"
    if origin is Table:
        return f"a mapping of names to {_plural(args[0])}"
    return "a mapping of settings"


def _plural(tp: Any) -> str:
    words = _expected(tp)
    return {
        "text": "texts",
        "a whole number": "whole numbers",
        "a number": "numbers",
        "a mapping of settings": "mappings",
    }.get(words, words)


class _Reader:
    def __init__(self, display: str, root: Path, problems: Collector) -> None:
        self.display = display
        self.root = root
        self.problems = problems
        self._construct = yaml.constructor.SafeConstructor()

    def error(self, node: yaml.Node, key: str, expected: str, found: str | None = None) -> None:
        message = f"{key}: expected {expected}" + (f", found {found}" if found else "")
        self.problems.error(self.display, line_of(node), message, "layout")

    def scalar(self, node: yaml.Node) -> Any:
        return self._construct.construct_object(node, deep=True)

    def shown(self, node: yaml.Node) -> str:
        if isinstance(node, yaml.ScalarNode) and node.value:
            return quoted(node.value) if node.tag.endswith(":str") else node.value
        return describe(node)

    def value(self, tp: Any, node: yaml.Node, key: str) -> Any:
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (typing.Union, types.UnionType):
            if type(None) in args and node.tag.endswith(":null"):
                return None
            members = [a for a in args if a is not type(None)]
            if len(members) == 1:
                return self.value(members[0], node, key)
            if all(m in _SCALARS for m in members):
                for member in members:
                    if self._is(member, node):
                        return self.scalar(node)
            self.error(node, key, _expected(tp), self.shown(node))
            return _BAD
        if tp in _SCALARS:
            if self._is(tp, node):
                value = self.scalar(node)
                return float(value) if tp is float else value
        elif origin is Literal:
            if isinstance(node, yaml.ScalarNode) and self.scalar(node) in args:
                return self.scalar(node)
        elif origin is tuple and isinstance(node, yaml.SequenceNode):
            each = args[0]
            fixed = len(args) != 2 or args[1] is not Ellipsis
            if fixed and len(node.value) != len(args):
                self.error(node, key, _expected(tp), f"{len(node.value)} items")
                return _BAD
            items = [self.value(each, n, f"{key}[{i}]") for i, n in enumerate(node.value)]
            return _BAD if any(i is _BAD for i in items) else tuple(items)
        elif origin is Table and isinstance(node, yaml.MappingNode):
            pairs = [(str(self.scalar(k)), v) for k, v in node.value]
            read = [(name, self.value(args[0], v, f"{key}.{name}")) for name, v in pairs]
            if self._duplicates(node, key, [name for name, _ in pairs]):
                return _BAD
            return _BAD if any(v is _BAD for _, v in read) else Table(read)
        elif dataclasses.is_dataclass(tp) and isinstance(node, yaml.MappingNode):
            return self.section(tp, node, key)
        self.error(node, key, _expected(tp), self.shown(node))
        return _BAD

    def _is(self, tp: type, node: yaml.Node) -> bool:
        tags = _SCALARS[tp][1]
        return isinstance(node, yaml.ScalarNode) and node.tag.rsplit(":", 1)[-1] in tags

    def _duplicates(self, node: yaml.MappingNode, key: str, names: list[str]) -> bool:
        first: dict[str, int] = {}
        for (k, _), name in zip(node.value, names, strict=True):
            if name in first:
                message = f"{_joined(key, name)}: duplicate setting (first at line {first[name]})"
                self.problems.error(self.display, line_of(k), message, "layout")
            first.setdefault(name, line_of(k))
        return len(first) != len(names)

    def section(self, cls: Any, node: yaml.MappingNode, key: str) -> Any:
        declared = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        given: dict[str, yaml.Node] = {}
        names = [
            str(self.scalar(k)) if isinstance(k, yaml.ScalarNode) else "" for k, _ in node.value
        ]
        bad = self._duplicates(node, key, names)
        for (k, v), name in zip(node.value, names, strict=True):
            if name not in declared:
                where = _joined(key, name or describe(k))
                known = ", ".join(sorted(declared))
                message = f"{where}: unknown setting (expected one of: {known})"
                self.problems.error(self.display, line_of(k), message, "layout")
                bad = True
            else:
                given[name] = v
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            where = _joined(key, name)
            if name not in given:
                if (
                    spec.default is dataclasses.MISSING
                    and spec.default_factory is dataclasses.MISSING
                ):
                    message = f"{where}: missing setting (expected {_expected(hints[name])})"
                    self.problems.error(self.display, line_of(node), message, "layout")
                    bad = True
                continue
            value = self.value(hints[name], given[name], where)
            if value is _BAD:
                bad = True
                continue
            check = spec.metadata.get("check")
            wanted = check(value) if check and value is not None else None
            if wanted is None and check is _file and value is not None:
                wanted = self._missing_file(value)
            if wanted is not None:
                found = None if check is _file else self.shown(given[name])
                self.error(given[name], where, wanted, found)
                bad = True
                continue
            values[name] = value
        if bad:
            return _BAD
        built = cls(**values)
        if hasattr(built, "problems"):
            for sub, wanted in built.problems():
                at = self._node_at(node, sub)
                self.error(at, _joined(key, sub), wanted)
                bad = True
        return _BAD if bad else built

    def _missing_file(self, name: str) -> str | None:
        candidate = (self.root / name).resolve()
        if not candidate.is_relative_to(self.root.resolve()):
            return "a file inside the layout folder"
        if not candidate.is_file():
            return f"a file of the layout folder ({name} is missing)"
        return None

    def _node_at(self, node: yaml.Node, path: str) -> yaml.Node:
        """The node at a dotted key path (`inputs[2].check`), or the deepest one that exists."""
        for part in path.replace("[", ".[").split("."):
            if part.startswith("[") and isinstance(node, yaml.SequenceNode):
                index = int(part[1:-1])
                if index >= len(node.value):
                    break
                node = node.value[index]
            elif isinstance(node, yaml.MappingNode):
                found = [v for k, v in node.value if getattr(k, "value", None) == part]
                if not found:
                    break
                node = found[0]
            else:
                break
        return node


def _joined(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def read_config(settings_file: Path, display: str, root: Path) -> LayoutConfig:
    """Validate a `layout.yaml` against the declarations; every problem at once."""
    problems = Collector()
    source = read_source(settings_file, display, problems)
    node = parse_source(source, problems) if source is not None else None
    config: Any = _BAD
    if node is not None:
        reader = _Reader(display, root, problems)
        if isinstance(node, yaml.MappingNode):
            config = reader.section(LayoutConfig, node, "")
        else:
            problems.error(display, line_of(node), "expected a mapping of settings", "layout")
    problems.raise_if_any(f"{display}: the layout is invalid")
    assert isinstance(config, LayoutConfig)
    return config


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
    config = read_config(settings_file, _display(settings_file), root.resolve())
    return Layout(root.resolve(), config)
