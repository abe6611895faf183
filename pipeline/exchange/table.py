"""The canon as three tables (levels, profile lines, job-description lines): the contract.

This is the contract of `packs export-canon` / `packs import-canon`: the sheets' names, their
columns, the kinds of line, and how canon records become rows (`canon_tables`); rows become
records again in `records`. The workbook and the CSV folder are only two ways of carrying these
tables (`workbook`, `csvfolder`); neither knows what a row means.

Row order never matters: levels are ordered by their code (P, M, E, S, then the number),
profiles by function, focus and level, and the lines of one list by their `position` (gaps
allowed). So sorting a sheet in Excel, or adding blank rows, imports the same canon.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from pipeline.model import (
    DIMENSIONS,
    RUBRIC_KINDS,
    Canon,
    JobDescription,
    Level,
    Profile,
    dimension_name,
)

#: What a cell can hold once read: text, a number, or nothing. (Dates, booleans, errors and
#: formulas are refused by the readers with their location.)
CellValue: TypeAlias = "str | int | float | None"

# ---------------------------------------------------------------------------------------------
# The sheets
# ---------------------------------------------------------------------------------------------

LEVELS = "Levels"
PROFILES = "Profiles"
JOB_DESCRIPTIONS = "Job descriptions"
README = "Read me"

LEVEL_COLUMNS: tuple[str, ...] = (
    "code",
    "title",
    "track",
    "years",
    "description",
    *(dimension_name(d) for d in DIMENSIONS),
)
PROFILE_COLUMNS: tuple[str, ...] = (
    "function",
    "function name",
    "focus",
    "focus name",
    "level",
    "kind",
    "position",
    "text",
)
JD_COLUMNS: tuple[str, ...] = ("job description", "kind", "position", "text")

#: Sheet name -> (its columns, the columns a sheet must have).
SHEETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    LEVELS: (LEVEL_COLUMNS, ("code", "title", "track")),
    PROFILES: (PROFILE_COLUMNS, ("function", "focus", "level", "kind", "text")),
    JOB_DESCRIPTIONS: (JD_COLUMNS, ("job description", "kind", "text")),
}
#: The sheets an import needs (a canon without job descriptions has no such sheet).
REQUIRED_SHEETS = (LEVELS, PROFILES)


@dataclass(frozen=True)
class Kind:
    """A kind of line: the `kind` column's value and what it holds."""

    name: str
    #: "list" (one row per item, ordered by position), "text" or "number"/"integer" (one row).
    shape: str
    help: str


def _kinds(*rows: tuple[str, str, str]) -> dict[str, Kind]:
    return {name: Kind(name, shape, help) for name, shape, help in rows}


PROFILE_KINDS = _kinds(
    ("profile", "marker", "a profile that states nothing else (text left empty)"),
    ("focus description", "text", "the focus's description (level left empty)"),
    ("title", "text", "the profile's own title"),
    ("status", "text", "badge: status (e.g. approved)"),
    ("confidence band", "text", "badge: confidence band (e.g. high)"),
    ("confidence score", "number", "badge: confidence score, a number (needs a band)"),
    ("region", "text", "badge: region"),
    ("version", "text", "badge: version"),
    ("core output", "list", "a core output, in position order"),
    ("responsibility", "list", "a responsibility, in position order"),
    *((f"rubric {k}", "text", f"the level's {k} rubric") for k in RUBRIC_KINDS),
    ("component responsibility", "list", "a component responsibility"),
    ("component task", "list", "a component task"),
    ("component skill", "list", "a component skill"),
    ("component knowledge", "list", "a component knowledge item"),
    ("component competency", "list", "a component competency"),
    ("pay median", "integer", "pay: median, a whole number"),
    ("pay low", "integer", "pay: low end, a whole number"),
    ("pay high", "integer", "pay: high end, a whole number"),
    ("pay currency", "text", "pay: currency code"),
)
COMPONENT_FIELDS = {
    "component responsibility": "responsibilities",
    "component task": "tasks",
    "component skill": "skills",
    "component knowledge": "knowledge",
    "component competency": "competencies",
}
JD_KINDS = _kinds(
    ("title", "text", "the page's title (required)"),
    ("profile", "text", "the profile id it describes (FUNCTION.FOCUS.LEVEL)"),
    ("salary", "text", "the salary range as the page shows it"),
    ("tag", "list", "a tag line"),
    ("role definition", "list", "a paragraph of the role definition"),
    ("entry point", "list", "career path: entry point from"),
    ("advancement", "list", "career path: advancement to"),
    ("lateral move", "list", "career path: lateral move"),
    ("primary function", "list", "a primary function"),
    ("secondary function", "list", "a secondary function"),
    ("hard skill", "list", "a hard (technical) skill"),
    ("soft skill", "list", "a soft skill"),
    ("minimum education", "list", "minimum education"),
    ("preferred education", "list", "preferred education"),
    ("field of study", "list", "a relevant field of study"),
    ("typical experience", "list", "typical experience range"),
    ("preferred experience", "list", "preferred experience"),
)
JD_LIST_FIELDS = {
    "tag": "tags",
    "role definition": "role_definition",
    "primary function": "primary_functions",
    "secondary function": "secondary_functions",
    "hard skill": "hard_skills",
    "soft skill": "soft_skills",
    "minimum education": "minimum_education",
    "preferred education": "preferred_education",
    "field of study": "fields_of_study",
    "typical experience": "typical_experience",
    "preferred experience": "preferred_experience",
}
CAREER_FIELDS = {
    "entry point": "entry_points",
    "advancement": "advancement",
    "lateral move": "lateral_moves",
}
PROFILE_ID_RE = re.compile(r"[A-Z][A-Z0-9]*\.[A-Z][A-Z0-9]*\.(P[1-8]|M[1-6]|E[1-5]|S1)\Z")

# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """One sheet's rows as read: a header and data rows, each with where its cells are."""

    name: str
    header: tuple[str, ...]
    #: (row number as the user sees it, the cells' values); blank rows are left out.
    rows: Sequence[tuple[int, tuple[CellValue, ...]]]
    #: (row, column index) -> (path, line) of a Problem, e.g. ("roles.xlsx:Profiles!F14", 0).
    locate: Callable[[int, int], tuple[str, int]]
    #: Where the sheet itself is (for problems of the whole sheet).
    where: tuple[str, int]


@dataclass(frozen=True)
class Tables:
    levels: tuple[tuple[CellValue, ...], ...]
    profiles: tuple[tuple[CellValue, ...], ...]
    job_descriptions: tuple[tuple[CellValue, ...], ...]


def level_order(code: str) -> tuple[int, int]:
    """P1…P8, M1…M6, E1…E5, S1: the order of the level guide."""
    return ("PMES".index(code[0]), int(code[1:]))


def sorted_levels(levels: Iterable[Level]) -> list[Level]:
    return sorted(levels, key=lambda lv: level_order(lv.code))


def profile_order(p: Profile) -> tuple[str, str, tuple[int, int]]:
    return (p.function.code, p.focus.code, level_order(p.level.code))


def canon_tables(canon: Canon) -> Tables:
    """The rows `packs export-canon` writes, in a fixed order."""
    levels = tuple(
        (
            lv.code,
            lv.title,
            lv.track,
            lv.years,
            lv.description,
            *(lv.dimension(d) for d in DIMENSIONS),
        )
        for lv in sorted_levels(canon.levels)
    )
    profiles: list[tuple[CellValue, ...]] = []
    described: set[tuple[str, str]] = set()
    for p in sorted(canon.profiles, key=profile_order):
        head = (p.function.code, p.function.name, p.focus.code, p.focus.name)
        key = (p.function.code, p.focus.code)
        if key not in described:
            described.add(key)
            if p.focus.description is not None:
                profiles.append((*head, None, "focus description", None, p.focus.description))
        lines = list(_profile_lines(p))
        if not lines:
            lines = [("profile", None, None)]
        profiles.extend((*head, p.level.code, kind, pos, text) for kind, pos, text in lines)
    jds: list[tuple[CellValue, ...]] = []
    for jd in sorted(canon.job_descriptions, key=lambda j: j.slug):
        jds.extend((jd.slug, kind, pos, text) for kind, pos, text in _jd_lines(jd))
    return Tables(levels, tuple(profiles), tuple(jds))


Line: TypeAlias = "tuple[str, int | None, str | int | float | None]"


def _numbered(kind: str, items: Sequence[str]) -> Iterator[Line]:
    for i, text in enumerate(items, 1):
        yield kind, i, text


def _profile_lines(p: Profile) -> Iterator[Line]:
    for kind, value in (("title", p.title), ("status", p.status)):
        if value is not None:
            yield kind, None, value
    if p.confidence is not None:
        yield "confidence band", None, p.confidence.band
        if p.confidence.score is not None:
            yield "confidence score", None, p.confidence.score
    for kind, value in (("region", p.region), ("version", p.version)):
        if value is not None:
            yield kind, None, value
    yield from _numbered("core output", p.core_outputs)
    yield from _numbered("responsibility", p.responsibilities)
    for rubric, text in p.rubrics:
        yield f"rubric {rubric}", None, text
    for kind, name in COMPONENT_FIELDS.items():
        yield from _numbered(kind, getattr(p.components, name))
    if p.pay is not None:
        pay: tuple[tuple[str, str | int | None], ...] = (
            ("pay median", p.pay.median),
            ("pay low", p.pay.low),
            ("pay high", p.pay.high),
            ("pay currency", p.pay.currency),
        )
        for kind, amount in pay:
            if amount is not None:
                yield kind, None, amount


def _jd_lines(jd: JobDescription) -> Iterator[Line]:
    yield "title", None, jd.title
    if jd.profile is not None:
        yield "profile", None, jd.profile
    if jd.salary is not None:
        yield "salary", None, jd.salary
    for kind in JD_KINDS:
        if kind in JD_LIST_FIELDS:
            yield from _numbered(kind, getattr(jd, JD_LIST_FIELDS[kind]))
        elif kind in CAREER_FIELDS:
            yield from _numbered(kind, getattr(jd.career_path, CAREER_FIELDS[kind]))
