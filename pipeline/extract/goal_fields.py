"""The canon records a goal-templates page states (`packs import-page`).

Each canon field is read from the template line of `goal_page`'s copy blocks that quotes it: the
goal rows and their source labels from the SMART (else OKR, else Scorecard) block, the
complexity/problem-solving rubric from Achievable, the knowledge-application rubric (or the
decision rights) from the MBO standard, the level dimensions from KR2 and Role calibration,
component responsibilities from the MBO areas. A field the page does not quote stays absent; a
value the page states twice must agree, and a level the canon has already must agree with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.diagnostics import Collector, Problem
from pipeline.extract.canon import LEVEL_CODE_RE
from pipeline.extract.goal_page import (
    AREA_RE,
    BREADCRUMB_RE,
    GOAL_RE,
    OBJECTIVE_RE,
    GoalPage,
    PageLine,
)
from pipeline.extract.nodes import text_problem
from pipeline.model import (
    DIMENSIONS,
    GENERAL_FOCUS,
    Components,
    Focus,
    Function,
    Level,
    Profile,
    dimension_name,
)

#: The track a level code's letter names (design.md §2: P professional, M management, …); used
#: only for a level that is not in levels.yaml yet, since the page does not print the track.
TRACK_OF_LETTER = {"P": "professional", "M": "management", "E": "executive", "S": "support"}

_ACHIEVABLE_RE = re.compile(
    r"   Achievable:  Scoped to this level's jfm complexity/problem-solving rubric: \"(.*)\"\Z"
)
_KR2_RE = re.compile(r"  KR2\. Evidence at this level's (.+?) bar: \"(.*)\" — ⟨target⟩ by ⟨date⟩\Z")
_STANDARD_RUBRIC_RE = re.compile(
    r"   Standard: Consistent with this level's jfm knowledge-application rubric: \"(.*)\"\Z"
)
_STANDARD_RIGHTS_RE = re.compile(
    r"   Standard: Consistent with this level's decision rights: \"(.*)\"\Z"
)
_PROCESS_RE = re.compile(r"  - \"(.*)\"  →  ⟨target⟩ by ⟨date⟩   \[source: (.*)\]\Z")
_CALIBRATION_RE = re.compile(
    r"  - Meets the (.+?) bar: \"(.*)\"  →  ⟨target⟩ by ⟨date⟩   \[source: level dimension .*\]\Z"
)
_DIMENSION_BY_NAME = {dimension_name(d): d for d in DIMENSIONS}


@dataclass
class _Found:
    """Canon fields read off the page, each with the page line that states it."""

    goal_rows: list[tuple[PageLine, str, str]] | None = None
    components: list[tuple[PageLine, str]] | None = None
    reused: list[tuple[PageLine, str]] | None = None
    rubrics: dict[str, tuple[PageLine, str]] = field(default_factory=dict)
    dimensions: dict[str, tuple[PageLine, str]] = field(default_factory=dict)


def _set(
    found: dict[str, tuple[PageLine, str]],
    key: str,
    line: PageLine,
    value: str,
    what: str,
    display: str,
    problems: Collector,
) -> None:
    seen = found.get(key)
    if seen is None:
        found[key] = (line, value)
    elif seen[1] != value:
        problems.error(
            display,
            line.number,
            f"{what}: '{value}' differs from '{seen[1]}' on line {seen[0].number}",
            "page-conflict",
        )


def _dimension(name: str) -> str | None:
    return _DIMENSION_BY_NAME.get(name)


def read_fields(page: GoalPage, problems: Collector) -> _Found:
    found = _Found()
    d = page.display
    for block in page.blocks:
        rows: list[tuple[PageLine, str, str]] = []
        for line in block.lines:
            t = line.text
            if (block.kind == "smart" and (m := GOAL_RE.match(t))) or (
                block.kind == "okr" and (m := OBJECTIVE_RE.match(t))
            ):
                rows.append((line, m.group(2), m.group(3)))
            elif block.kind == "mbo" and (m := AREA_RE.match(t)):
                if m.group(3) == "responsibility (component)":
                    found.components = (found.components or []) + [(line, m.group(2))]
                else:
                    found.reused = (found.reused or []) + [(line, m.group(2))]
            elif block.kind == "scorecard" and (m := _PROCESS_RE.match(t)):
                rows.append((line, m.group(1), m.group(2)))
            elif m := _ACHIEVABLE_RE.match(t):
                _set(
                    found.rubrics,
                    "complexity/problem-solving",
                    line,
                    m.group(1),
                    "rubric",
                    d,
                    problems,
                )
            elif m := _STANDARD_RUBRIC_RE.match(t):
                _set(
                    found.rubrics, "knowledge-application", line, m.group(1), "rubric", d, problems
                )
            elif m := _STANDARD_RIGHTS_RE.match(t):
                _set(
                    found.dimensions, "decision_rights", line, m.group(1), "dimension", d, problems
                )
            elif (m := _KR2_RE.match(t)) or (m := _CALIBRATION_RE.match(t)):
                key = _dimension(m.group(1))
                if key is None:
                    problems.error(
                        d, line.number, f"unknown level dimension '{m.group(1)}'", "page"
                    )
                else:
                    _set(found.dimensions, key, line, m.group(2), "dimension", d, problems)
        if (
            block.kind == "scorecard"
            and page.profile_id
            and page.profile_id.split(".")[1] == GENERAL_FOCUS
        ):
            # A general profile's scorecard lists its component responsibilities.
            if rows and found.components is None:
                found.components = [(ln, text) for ln, text, _ in rows]
            continue
        if rows and found.goal_rows is None:
            found.goal_rows = rows
    return found


@dataclass(frozen=True)
class ImportedProfile:
    profile: Profile
    #: The level as the page states it (dimensions it quotes only); merged by the caller.
    level: Level
    warnings: tuple[Problem, ...]


def page_profile(page: GoalPage, levels: dict[str, Level]) -> ImportedProfile:
    """The profile (and level) a page states; raises `CanonError` with every problem."""
    problems = Collector()
    d = page.display
    assert page.profile_id is not None and page.breadcrumb is not None
    function_code, focus_code, code = page.profile_id.split(".")
    crumb = BREADCRUMB_RE.match(page.breadcrumb.text)
    assert crumb is not None
    if crumb.group("code") != code:
        problems.error(
            d,
            page.breadcrumb.number,
            f"the page is for level {crumb.group('code')}, not {code} of {page.profile_id}",
            "id",
        )
    level_title = crumb.group("title")
    path = crumb.group("path")
    focus_name = None
    profile_title = None
    if page.title and page.title.endswith(f" — {code}") and focus_code != GENERAL_FOCUS:
        focus_name = page.title.removesuffix(f" — {code}")
    if focus_name and path.endswith(f" · {focus_name}"):
        function_name = path.removesuffix(f" · {focus_name}")
    else:
        function_name, _, focus_name = path.rpartition(" · ")
        if focus_code == GENERAL_FOCUS and page.title and page.title != f"{focus_name} — {code}":
            profile_title = page.title
    found = read_fields(page, problems)
    for name, value in (("function name", function_name), ("focus name", focus_name)):
        if not value:
            problems.error(d, page.breadcrumb.number, f"no {name} in the breadcrumb", "page")
    texts: list[tuple[PageLine, str]] = [(page.breadcrumb, level_title)]
    core: list[str] = []
    resp: list[str] = []
    for line, text, source in found.goal_rows or []:
        texts.append((line, text))
        if source == f"core output ({code})":
            core.append(text)
        elif source == f"JFM responsibility ({code})":
            resp.append(text)
        else:
            problems.error(d, line.number, f"unknown source label '{source}'", "page")
    if found.goal_rows is None and found.reused:
        resp = [text for _, text in found.reused]
    components = [text for _, text in found.components or []]
    texts += [(ln, v) for ln, v in found.rubrics.values()]
    texts += [(ln, v) for ln, v in found.dimensions.values()]
    texts += [(ln, v) for ln, v in found.components or []]
    for line, value in texts:
        problem = text_problem(value)
        if problem:
            problems.error(d, line.number, problem, "text")
    if not LEVEL_CODE_RE.match(code):
        problems.error(d, 0, f"unknown level code {code}", "unknown-level")
    problems.raise_if_any("the page cannot be imported")
    stated = Level(
        code,
        level_title,
        TRACK_OF_LETTER[code[0]],
        dimensions=tuple((k, found.dimensions[k][1]) for k in DIMENSIONS if k in found.dimensions),
    )
    level = merged_level(stated, levels.get(code), page, found, problems)
    problems.raise_if_any("the page conflicts with the canon")
    profile = Profile(
        function=Function(function_code, function_name),
        focus=Focus(focus_code, focus_name),
        level=level,
        title=profile_title,
        core_outputs=tuple(core),
        responsibilities=tuple(resp),
        rubrics=tuple(
            (k, found.rubrics[k][1])
            for k in ("complexity/problem-solving", "knowledge-application")
            if k in found.rubrics
        ),
        components=Components(responsibilities=tuple(components)),
    )
    return ImportedProfile(profile, stated, ())


def merged_level(
    stated: Level, known: Level | None, page: GoalPage, found: _Found, problems: Collector
) -> Level:
    """The canon's level when it has one: every value the page states must agree with it."""
    if known is None:
        return stated
    where = f"{known.where.path}:{known.where.line}" if known.where else "levels.yaml"
    assert page.breadcrumb is not None
    if known.title != stated.title:
        problems.error(
            page.display,
            page.breadcrumb.number,
            f"level {stated.code}: the page's title '{stated.title}' differs from "
            f"'{known.title}' in {where}",
            "level-conflict",
        )
    for key, value in stated.dimensions:
        canon = known.dimension(key)
        if canon is not None and canon != value:
            problems.error(
                page.display,
                found.dimensions[key][0].number,
                f"level {stated.code} {dimension_name(key)}: the page's '{value}' differs from "
                f"'{canon}' in {where}",
                "level-conflict",
            )
    return known
