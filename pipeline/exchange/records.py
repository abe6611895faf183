"""Rows -> records: the import half of the canon's table contract (`table` declares the sheets,
their columns and kinds of line, and the export). Every problem of a workbook or CSV folder is
collected with its cell (`FILE.xlsx:Sheet!A1`), all at once; nothing here knows the file format.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pipeline.diagnostics import Collector, quoted
from pipeline.exchange.table import (
    CAREER_FIELDS,
    COMPONENT_FIELDS,
    JD_KINDS,
    JD_LIST_FIELDS,
    JOB_DESCRIPTIONS,
    LEVELS,
    PROFILE_ID_RE,
    PROFILE_KINDS,
    PROFILES,
    REQUIRED_SHEETS,
    SHEETS,
    CellValue,
    Kind,
    Table,
    level_order,
    sorted_levels,
)
from pipeline.extract.canon import LEVEL_CODE_RE, LEVEL_CODES_HINT, SLUG_RE
from pipeline.extract.nodes import CODE_RE, RESERVED_NAMES, text_problem
from pipeline.model import (
    DIMENSIONS,
    RUBRIC_KINDS,
    TRACKS,
    CareerPath,
    Components,
    Confidence,
    Focus,
    Function,
    JobDescription,
    Level,
    Pay,
    Profile,
    dimension_name,
)


@dataclass(frozen=True)
class ImportedCanon:
    """What a workbook or CSV folder states, as canon records (not yet linked or written)."""

    levels: tuple[Level, ...]
    profiles: tuple[Profile, ...]
    job_descriptions: tuple[JobDescription, ...]


def _header_key(text: str) -> str:
    return " ".join(text.replace("_", " ").replace("-", " ").split()).casefold()


def _suggest(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value.casefold(), list(choices), n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


#: A cell value quoted in a message: white space kept, control and non-ASCII characters escaped.
_cell = functools.partial(quoted, ascii_escapes=True)


class _Sheet:
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
                f"{_cell(value)} is not a valid code (upper-case letters and digits, starting "
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
                f"unknown level code {_cell(value)} (expected {LEVEL_CODES_HINT})",
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
            self.error(row, "position", f"expected a whole number from 1, got {_cell(value)}")
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
class _Lines:
    """The lines one row-owner (a profile, a job description) collects, with their cells."""

    first_row: int
    singles: dict[str, tuple[int, str | int | float]] = field(default_factory=dict)
    lists: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)
    #: (kind, position) -> row, to report a repeated position at once.
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    marker: bool = False


def _collect(
    sheet: _Sheet,
    kinds: dict[str, Kind],
    row: int,
    cells: tuple[CellValue, ...],
    lines: _Lines,
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
            f"unknown kind {_cell(kind_raw)}{_suggest(kind_raw, kinds)}",
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
            sheet.error(row, "text", f"{kind.name}: expected {what}, got {_cell(raw)}", "type")
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


def _in_order(lines: _Lines, kind: str) -> tuple[str, ...]:
    return tuple(text for _, _, text in sorted(lines.lists.get(kind, []), key=lambda t: t[1]))


def _single_text(lines: _Lines, kind: str) -> str | None:
    entry = lines.singles.get(kind)
    return None if entry is None else str(entry[1])


def _levels(table: Table, problems: Collector) -> dict[str, Level]:
    sheet = _Sheet(table, problems)
    out: dict[str, Level] = {}
    first: dict[str, int] = {}
    if not sheet.ok:
        return out
    for row, cells in table.rows:
        code = sheet.level_code(row, cells, "code")
        if code is None:
            sheet.required(row, "code", sheet.raw(row, cells, "code"))
        title = sheet.text(row, cells, "title")
        track = sheet.text(row, cells, "track")
        if title is None:
            sheet.required(row, "title", sheet.raw(row, cells, "title"))
        if track is None:
            sheet.required(row, "track", sheet.raw(row, cells, "track"))
        elif track not in TRACKS:
            sheet.error(
                row,
                "track",
                f"{_cell(track)} is not a track (expected {', '.join(TRACKS)})"
                f"{_suggest(track, TRACKS)}",
            )
            track = None
        dims = tuple(
            (d, text)
            for d in DIMENSIONS
            if (text := sheet.text(row, cells, dimension_name(d))) is not None
        )
        years = sheet.text(row, cells, "years")
        description = sheet.text(row, cells, "description")
        if code is None or title is None or track is None:
            continue
        if code in first:
            sheet.error(row, "code", f"level {code} is also at row {first[code]}", "duplicate")
            continue
        first[code] = row
        out[code] = Level(code, title, track, years, description, dims)
    return out


def _owner_key(
    sheet: _Sheet, row: int, cells: tuple[CellValue, ...]
) -> tuple[str, str, str | None] | None:
    function = sheet.code(row, cells, "function")
    focus = sheet.code(row, cells, "focus")
    level_raw = sheet.raw(row, cells, "level")
    level = sheet.level_code(row, cells, "level") if level_raw is not None else None
    for column, value in (("function", function), ("focus", focus)):
        if value is None:
            sheet.required(row, column, sheet.raw(row, cells, column))
    if function is None or focus is None or (level_raw is not None and level is None):
        return None
    return function, focus, level


@dataclass
class _FocusRows:
    names: dict[str, tuple[int, str]] = field(default_factory=dict)
    description: tuple[int, str] | None = None
    profiles: dict[str, _Lines] = field(default_factory=dict)


def _profiles(
    table: Table, levels: dict[str, Level] | None, levels_where: str, problems: Collector
) -> list[Profile]:
    sheet = _Sheet(table, problems)
    if not sheet.ok:
        return []
    focuses: dict[tuple[str, str], _FocusRows] = {}
    for row, cells in table.rows:
        key = _owner_key(sheet, row, cells)
        if key is None:
            continue
        function, focus, level = key
        rows = focuses.setdefault((function, focus), _FocusRows())
        for column in ("function name", "focus name"):
            name = sheet.text(row, cells, column)
            if name is None:
                continue
            seen = rows.names.get(column)
            if seen is None:
                rows.names[column] = (row, name)
            elif seen[1] != name:
                sheet.error(
                    row,
                    column,
                    f"{_cell(name)} differs from {_cell(seen[1])} at row {seen[0]} "
                    f"(one name per {'function' if column == 'function name' else 'focus'})",
                    "conflict",
                )
        if level is None:
            kind = sheet.text(row, cells, "kind")
            if kind is None or " ".join(kind.split()).casefold() != "focus description":
                sheet.error(
                    row,
                    "level",
                    "required, but the cell is empty (only a 'focus description' row has no level)",
                    "missing",
                )
                continue
            text = sheet.text(row, cells, "text")
            if text is None:
                sheet.required(row, "text", sheet.raw(row, cells, "text"))
            elif rows.description is not None:
                sheet.error(
                    row,
                    "kind",
                    f"focus description is also given at row {rows.description[0]}",
                    "duplicate",
                )
            else:
                rows.description = (row, text)
            continue
        kind_raw = sheet.text(row, cells, "kind")
        if kind_raw is not None and " ".join(kind_raw.split()).casefold() == "focus description":
            sheet.error(row, "level", "a focus description has no level; leave it empty")
            continue
        if levels is not None and level not in levels:
            sheet.error(
                row,
                "level",
                f"level '{level}' is not on the {levels_where} sheet{_suggest(level, levels)}",
                "unknown-level",
            )
            continue
        _collect(sheet, PROFILE_KINDS, row, cells, rows.profiles.setdefault(level, _Lines(row)))
    out: list[Profile] = []
    if levels is None:
        return out
    for (function_code, focus_code), rows in sorted(focuses.items()):
        names = {c: rows.names.get(c) for c in ("function name", "focus name")}
        function_name, focus_name = names["function name"], names["focus name"]
        if not rows.profiles:
            where = rows.description[0] if rows.description else 0
            path, line = table.locate(where, 0) if where else table.where
            problems.error(
                path,
                line,
                f"{function_code}.{focus_code}: a focus needs at least one profile row",
                "missing",
            )
            continue
        first_row = min(lines.first_row for lines in rows.profiles.values())
        if function_name is None or focus_name is None:
            for column in [c for c, v in names.items() if v is None]:
                sheet.error(
                    first_row,
                    column,
                    f"{function_code}.{focus_code} has no {column} on any row",
                    "missing",
                )
            continue
        owner = Function(function_code, function_name[1])
        area = Focus(focus_code, focus_name[1], rows.description[1] if rows.description else None)
        for code in sorted(rows.profiles, key=level_order):
            out.append(_profile(sheet, rows.profiles[code], owner, area, levels[code]))
    return out


def _profile(
    sheet: _Sheet, lines: _Lines, function: Function, focus: Focus, level: Level
) -> Profile:
    confidence = None
    band = _single_text(lines, "confidence band")
    score_entry = lines.singles.get("confidence score")
    if band is not None:
        confidence = Confidence(band, float(score_entry[1]) if score_entry else None)
    elif score_entry is not None:
        sheet.error(
            score_entry[0], "kind", "confidence score needs a 'confidence band' row too", "missing"
        )
    pay = None
    pay_values = {k: lines.singles.get(f"pay {k}") for k in ("median", "low", "high", "currency")}
    if any(v is not None for v in pay_values.values()):
        pay = Pay(
            median=int(pay_values["median"][1]) if pay_values["median"] else None,
            low=int(pay_values["low"][1]) if pay_values["low"] else None,
            high=int(pay_values["high"][1]) if pay_values["high"] else None,
            currency=str(pay_values["currency"][1]) if pay_values["currency"] else None,
        )
    return Profile(
        function=function,
        focus=focus,
        level=level,
        title=_single_text(lines, "title"),
        status=_single_text(lines, "status"),
        confidence=confidence,
        region=_single_text(lines, "region"),
        version=_single_text(lines, "version"),
        core_outputs=_in_order(lines, "core output"),
        responsibilities=_in_order(lines, "responsibility"),
        rubrics=tuple(
            (k, text) for k in RUBRIC_KINDS if (text := _single_text(lines, f"rubric {k}"))
        ),
        components=Components(
            **{name: _in_order(lines, kind) for kind, name in COMPONENT_FIELDS.items()}
        ),
        pay=pay,
    )


def _job_descriptions(table: Table, problems: Collector) -> list[JobDescription]:
    sheet = _Sheet(table, problems)
    if not sheet.ok:
        return []
    owners: dict[str, _Lines] = {}
    for row, cells in table.rows:
        slug = sheet.text(row, cells, "job description")
        if slug is None:
            sheet.required(row, "job description", sheet.raw(row, cells, "job description"))
            continue
        if not SLUG_RE.match(slug) or slug.upper() in RESERVED_NAMES:
            sheet.error(
                row,
                "job description",
                f"{_cell(slug)} is not a safe file name (lower-case letters, digits and '-', "
                "e.g. 'clinical-trials-director')",
                "unsafe-id",
            )
            continue
        _collect(sheet, JD_KINDS, row, cells, owners.setdefault(slug, _Lines(row)))
    out: list[JobDescription] = []
    for slug in sorted(owners):
        lines = owners[slug]
        title = _single_text(lines, "title")
        if title is None:
            sheet.error(lines.first_row, "kind", f"job description '{slug}' has no title row")
            continue
        profile = _single_text(lines, "profile")
        if profile is not None and not PROFILE_ID_RE.match(profile):
            sheet.error(
                lines.singles["profile"][0],
                "text",
                f"profile: {_cell(profile)} is not a profile id (FUNCTION.FOCUS.LEVEL)",
                "unsafe-id",
            )
            continue
        lists: dict[str, Any] = {n: _in_order(lines, k) for k, n in JD_LIST_FIELDS.items()}
        career = CareerPath(**{n: _in_order(lines, k) for k, n in CAREER_FIELDS.items()})
        out.append(
            JobDescription(
                slug=slug,
                title=title,
                profile=profile,
                salary=_single_text(lines, "salary"),
                career_path=career,
                **lists,
            )
        )
    return out


def imported_canon(
    tables: dict[str, Table], source: str, problems: Collector, report_missing: bool = True
) -> ImportedCanon:
    """Records from the tables of one workbook or folder; every problem goes to `problems`.

    Without a levels table (missing, or unreadable and already reported) the profile rows are
    still checked, but not against the levels."""
    for name in REQUIRED_SHEETS:
        if name not in tables and report_missing:
            problems.error(
                source,
                0,
                f"no '{name}' sheet (found: {', '.join(repr(n) for n in tables) or 'none'})",
                "sheet",
            )
    levels = _levels(tables[LEVELS], problems) if LEVELS in tables else {}
    known = levels if LEVELS in tables else None
    profiles = _profiles(tables[PROFILES], known, LEVELS, problems) if PROFILES in tables else []
    jds = (
        _job_descriptions(tables[JOB_DESCRIPTIONS], problems) if JOB_DESCRIPTIONS in tables else []
    )
    ids = {p.id for p in profiles}
    linked: dict[str, str] = {}
    for jd in jds:
        if jd.profile is None:
            continue
        if jd.profile not in ids and PROFILES in tables and known is not None:
            problems.error(
                tables[JOB_DESCRIPTIONS].where[0],
                0,
                f"job description '{jd.slug}': profile {jd.profile} is not on the {PROFILES} sheet",
                "link",
            )
        elif jd.profile in linked:
            problems.error(
                tables[JOB_DESCRIPTIONS].where[0],
                0,
                f"job description '{jd.slug}': {jd.profile} already has '{linked[jd.profile]}'",
                "link",
            )
        else:
            linked[jd.profile] = jd.slug
    return ImportedCanon(tuple(sorted_levels(levels.values())), tuple(profiles), tuple(jds))
