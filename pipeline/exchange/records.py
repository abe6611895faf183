"""Rows -> records: the import half of the canon's table contract (`table` declares the sheets,
their columns and kinds of line, and the export). Every problem of a workbook or CSV folder is
collected with its cell (`FILE.xlsx:Sheet!A1`), all at once; nothing here knows the file format.
The cells themselves are read by `rows`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.diagnostics import Collector
from pipeline.exchange.rows import (
    Lines,
    Sheet,
    collect,
    in_order,
    shown,
    single_text,
    suggest,
)
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
    CellValue,
    Table,
    level_order,
    sorted_levels,
)
from pipeline.extract.canon import SLUG_RE
from pipeline.extract.nodes import RESERVED_NAMES
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


def _levels(table: Table, problems: Collector) -> dict[str, Level]:
    sheet = Sheet(table, problems)
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
                f"{shown(track)} is not a track (expected {', '.join(TRACKS)})"
                f"{suggest(track, TRACKS)}",
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
    sheet: Sheet, row: int, cells: tuple[CellValue, ...]
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
    profiles: dict[str, Lines] = field(default_factory=dict)


def _profiles(
    table: Table, levels: dict[str, Level] | None, levels_where: str, problems: Collector
) -> list[Profile]:
    sheet = Sheet(table, problems)
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
                    f"{shown(name)} differs from {shown(seen[1])} at row {seen[0]} "
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
                f"level '{level}' is not on the {levels_where} sheet{suggest(level, levels)}",
                "unknown-level",
            )
            continue
        collect(sheet, PROFILE_KINDS, row, cells, rows.profiles.setdefault(level, Lines(row)))
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


def _profile(sheet: Sheet, lines: Lines, function: Function, focus: Focus, level: Level) -> Profile:
    confidence = None
    band = single_text(lines, "confidence band")
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
        title=single_text(lines, "title"),
        status=single_text(lines, "status"),
        confidence=confidence,
        region=single_text(lines, "region"),
        version=single_text(lines, "version"),
        core_outputs=in_order(lines, "core output"),
        responsibilities=in_order(lines, "responsibility"),
        rubrics=tuple(
            (k, text) for k in RUBRIC_KINDS if (text := single_text(lines, f"rubric {k}"))
        ),
        components=Components(
            **{name: in_order(lines, kind) for kind, name in COMPONENT_FIELDS.items()}
        ),
        pay=pay,
    )


def _job_descriptions(table: Table, problems: Collector) -> list[JobDescription]:
    sheet = Sheet(table, problems)
    if not sheet.ok:
        return []
    owners: dict[str, Lines] = {}
    for row, cells in table.rows:
        slug = sheet.text(row, cells, "job description")
        if slug is None:
            sheet.required(row, "job description", sheet.raw(row, cells, "job description"))
            continue
        if not SLUG_RE.match(slug) or slug.upper() in RESERVED_NAMES:
            sheet.error(
                row,
                "job description",
                f"{shown(slug)} is not a safe file name (lower-case letters, digits and '-', "
                "e.g. 'clinical-trials-director')",
                "unsafe-id",
            )
            continue
        collect(sheet, JD_KINDS, row, cells, owners.setdefault(slug, Lines(row)))
    out: list[JobDescription] = []
    for slug in sorted(owners):
        lines = owners[slug]
        title = single_text(lines, "title")
        if title is None:
            sheet.error(lines.first_row, "kind", f"job description '{slug}' has no title row")
            continue
        profile = single_text(lines, "profile")
        if profile is not None and not PROFILE_ID_RE.match(profile):
            sheet.error(
                lines.singles["profile"][0],
                "text",
                f"profile: {shown(profile)} is not a profile id (FUNCTION.FOCUS.LEVEL)",
                "unsafe-id",
            )
            continue
        lists: dict[str, Any] = {n: in_order(lines, k) for k, n in JD_LIST_FIELDS.items()}
        career = CareerPath(**{n: in_order(lines, k) for k, n in CAREER_FIELDS.items()})
        out.append(
            JobDescription(
                slug=slug,
                title=title,
                profile=profile,
                salary=single_text(lines, "salary"),
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
