"""Import a JobFrame goal-templates page (copied text or saved HTML) into canon records.

The page's "Copy / print as text" blocks are the fixed templates of our own composers wrapped
around canon text, so each canon field is read from the template line that quotes it: the goal
rows and their source labels from the SMART (else OKR, else Scorecard) block, the
complexity/problem-solving rubric from Achievable, the knowledge-application rubric (or the
decision rights) from the MBO standard, the level dimensions from KR2 and Role calibration,
component responsibilities from the MBO areas. A field the page does not quote stays absent.

Nothing is believed on the parser's word alone: the profile is composed again and every copy
block of the page must come back byte for byte (`verify`); a line that does not is an error. A
page cut off mid-way imports what its complete blocks state and says which frames are missing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from pipeline.compose import smart
from pipeline.compose.mbo import TITLE as MBO_TITLE
from pipeline.compose.okr import TITLE as OKR_TITLE
from pipeline.compose.scorecard import TITLE as SCORECARD_TITLE
from pipeline.diagnostics import CanonError, Collector, Problem, Severity
from pipeline.extract.canon import LEVEL_CODE_RE, PROFILE_ID_RE
from pipeline.extract.nodes import text_problem
from pipeline.extract.page_text import MAX_PAGE_BYTES, decode_page, looks_like_html
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

#: Frame title on the page -> frame kind, in page order.
FRAME_TITLES: dict[str, str] = {
    smart.TITLE: "smart",
    OKR_TITLE: "okr",
    MBO_TITLE: "mbo",
    SCORECARD_TITLE: "scorecard",
}
#: The track a level code's letter names (design.md §2: P professional, M management, …); used
#: only for a level that is not in levels.yaml yet, since the page does not print the track.
TRACK_OF_LETTER = {"P": "professional", "M": "management", "E": "executive", "S": "support"}

_COPY_RE = re.compile(r"\W*copy\s*/\s*print as text", re.IGNORECASE)
_SHOW_RE = re.compile(r"\W*(show|hide)\s*[▾▴]?\s*\Z", re.IGNORECASE)
_ID_IN_NAME_RE = re.compile(r"([A-Z][A-Z0-9]*\.[A-Z][A-Z0-9]*\.[PMES]\d)")
_GOAL_RE = re.compile(r"(\d+)\. (?!Area: )(.*)  \[source: (.*)\]\Z")
_OBJECTIVE_RE = re.compile(r"Objective (\d+): (.*)  \[source: (.*)\]\Z")
_AREA_RE = re.compile(r"(\d+)\. Area: (.*)  \[source: (.*)\]\Z")
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
_BREADCRUMB_RE = re.compile(r"(?P<path>.+) · (?P<code>[PMES]\d) — (?P<title>.+)\Z")
_DOC_TITLE_RE = re.compile(r"Goal templates — (?P<title>.+)\Z")
_DIMENSION_BY_NAME = {dimension_name(d): d for d in DIMENSIONS}


@dataclass(frozen=True)
class PageLine:
    number: int
    text: str


@dataclass(frozen=True)
class CopyBlock:
    """One frame's "Copy / print as text" block as the page shows it."""

    kind: str
    title: str
    #: The block's lines (blank lines kept inside, trailing ones dropped).
    lines: tuple[PageLine, ...]
    #: The page ends inside this block (nothing follows it).
    last: bool


@dataclass(frozen=True)
class GoalPage:
    """What a goal-templates page states, before it is checked against a re-composition."""

    display: str
    profile_id: str | None
    title: str | None
    breadcrumb: PageLine | None
    blocks: tuple[CopyBlock, ...]
    url: str | None = None


# ---------------------------------------------------------------------------------------------
# Page -> lines
# ---------------------------------------------------------------------------------------------


class _HtmlLines(HTMLParser):
    """Saved HTML as lines: a <pre> keeps its lines verbatim, other blocks become one line each
    (white space collapsed); scripts and styles are dropped; nothing is fetched."""

    _BLOCKS = frozenset(
        (
            *("address", "article", "aside", "blockquote", "br", "button", "caption", "dd"),
            *("details", "div", "dl", "dt", "figcaption", "figure", "footer", "form", "header"),
            *("h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "main", "nav", "ol", "p", "pre"),
            *("section", "summary", "table", "td", "th", "title", "tr", "ul"),
        )
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[PageLine] = []
        self.buffer: list[str] = []
        self.pre = 0
        self.skip = 0
        self.url: str | None = None

    def _flush(self) -> None:
        text = " ".join("".join(self.buffer).split())
        if text:
            self.lines.append(PageLine(self.getpos()[0], text))
        self.buffer = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("script", "style", "template", "noscript"):
            self.skip += 1
        elif tag == "link" and a.get("rel", "").lower() == "canonical":
            self.url = self.url or a.get("href")
        elif tag == "meta" and a.get("property", "").lower() == "og:url":
            self.url = self.url or a.get("content")
        if tag in self._BLOCKS:
            self._flush()
        if tag == "pre":
            self.pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template", "noscript"):
            self.skip = max(0, self.skip - 1)
        elif tag == "pre" and self.pre:
            self.pre -= 1
            text = "".join(self.buffer).removeprefix("\n")
            start = self.getpos()[0] - text.count("\n")
            self.lines.extend(
                PageLine(start + i, line.rstrip()) for i, line in enumerate(text.split("\n"))
            )
            self.buffer = []
            return
        if tag in self._BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.buffer.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def page_lines(text: str, html: bool) -> tuple[list[PageLine], str | None]:
    if html:
        parser = _HtmlLines()
        parser.feed(text)
        parser.close()
        return parser.lines, parser.url
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [PageLine(i, line.rstrip()) for i, line in enumerate(lines, 1)], None


# ---------------------------------------------------------------------------------------------
# Lines -> copy blocks
# ---------------------------------------------------------------------------------------------


def _block_grammar(kind: str, line: str) -> bool:
    """Whether `line` can belong to a copy block of `kind` (used to find where a block ends)."""
    if not line:
        return True
    if line.startswith(" "):
        return True
    if kind == "smart":
        return bool(_GOAL_RE.match(line))
    if kind == "okr":
        return bool(_OBJECTIVE_RE.match(line))
    if kind == "mbo":
        return bool(_AREA_RE.match(line))
    return not _COPY_RE.match(line) and line not in FRAME_TITLES


def copy_blocks(lines: Sequence[PageLine]) -> list[CopyBlock]:
    blocks: list[CopyBlock] = []
    current: tuple[str, str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.text in FRAME_TITLES:
            current = (line.text, FRAME_TITLES[line.text])
        elif current is not None and _COPY_RE.match(line.text):
            j = i + 1
            if j < len(lines) and _SHOW_RE.match(lines[j].text):
                j += 1
            title, kind = current
            body: list[PageLine] = []
            while j < len(lines) and _block_grammar(kind, lines[j].text):
                body.append(lines[j])
                j += 1
            rest = [ln for ln in lines[j:] if ln.text]
            if len(rest) == 1 and rest[0].text not in FRAME_TITLES and body:
                # The page's very last line, cut off mid-line: part of this block.
                body.append(rest[0])
                rest = []
                j = len(lines)
            elif kind == "scorecard":
                body = _trim_groups(body)
            while body and not body[-1].text:
                body.pop()
            blocks.append(CopyBlock(kind, title, tuple(body), last=not rest))
            current = None
            i = j
            continue
        i += 1
    return blocks


def _trim_groups(body: list[PageLine]) -> list[PageLine]:
    """Drop trailing lines that are no group: a heading must be followed by its items."""
    while body and (not body[-1].text or not body[-1].text.startswith("  - ")):
        if body[-1].text.startswith(" "):
            break
        body.pop()
    return body


# ---------------------------------------------------------------------------------------------
# Copy blocks -> canon fields
# ---------------------------------------------------------------------------------------------


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
            if (block.kind == "smart" and (m := _GOAL_RE.match(t))) or (
                block.kind == "okr" and (m := _OBJECTIVE_RE.match(t))
            ):
                rows.append((line, m.group(2), m.group(3)))
            elif block.kind == "mbo" and (m := _AREA_RE.match(t)):
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


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------


def profile_id_of(page_id: str | None, url: str | None, display: str) -> str | None:
    for source in (page_id, url, Path(display).name):
        if source:
            m = _ID_IN_NAME_RE.search(source)
            if m and PROFILE_ID_RE.match(m.group(1)):
                return m.group(1)
    return None


def parse_goal_page(data: bytes, display: str, profile_id: str | None) -> GoalPage:
    if len(data) > MAX_PAGE_BYTES:
        message = f"file is {len(data):,} bytes; pages are limited to {MAX_PAGE_BYTES:,} bytes"
        raise CanonError("the page is too large", [Problem(display, 0, message, "size")])
    text, _ = decode_page(data, display)
    lines, url = page_lines(text, looks_like_html(text, display))
    problems = Collector()
    if profile_id is not None and not PROFILE_ID_RE.match(profile_id):
        problems.error(
            display, 0, f"--profile {profile_id!r} is not a profile id (FUNCTION.FOCUS.LEVEL)", "id"
        )
    pid = profile_id or profile_id_of(None, url, display)
    if pid is None:
        problems.error(
            display,
            0,
            "no profile id: pass --profile ID (the page's saved HTML names none in its URL, and "
            "its file name has none, e.g. goal-templates-CLINIC.CLINICAL90BC.M4.txt)",
            "id",
        )
    title = breadcrumb = None
    for line in lines:
        if line.text in FRAME_TITLES:
            break
        if (m := _DOC_TITLE_RE.match(line.text)) and title is None:
            title = m.group("title")
        elif _BREADCRUMB_RE.match(line.text) and breadcrumb is None:
            breadcrumb = line
    blocks = copy_blocks(lines)
    if breadcrumb is None:
        problems.error(
            display,
            1,
            "no breadcrumb line ('Function · Focus · M4 — Title') before the first frame; is this "
            "a goal-templates page?",
            "page",
        )
    if not blocks:
        problems.error(
            display, 1, "no 'Copy / print as text' block of any frame on the page", "page"
        )
    problems.raise_if_any("the page cannot be imported")
    return GoalPage(display, pid, title, breadcrumb, tuple(blocks), url)


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
    crumb = _BREADCRUMB_RE.match(page.breadcrumb.text)
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


# ---------------------------------------------------------------------------------------------
# The check: every copy block comes back byte for byte
# ---------------------------------------------------------------------------------------------


def verify(page: GoalPage, rendered: dict[str, str]) -> tuple[list[Problem], list[Problem]]:
    """Compare the page's copy blocks with `rendered` (frame kind -> our copy block text).

    Returns (errors, warnings): a line that differs is an error; a last block the page cuts
    off is a warning when what it has is a prefix of ours; frames the page lacks are warnings.
    """
    errors: list[Problem] = []
    warnings: list[Problem] = []
    d = page.display
    on_page = {b.kind for b in page.blocks}
    for block in page.blocks:
        ours = rendered.get(block.kind)
        theirs = [ln.text for ln in block.lines]
        if ours is None:
            line = block.lines[0].number if block.lines else 0
            errors.append(
                Problem(
                    d,
                    line,
                    f"{block.title}: the page has this frame, but the imported canon gives none",
                    "page-verify",
                )
            )
            continue
        mine = ours.split("\n")
        if mine == theirs:
            continue
        cut = block.last and len(theirs) <= len(mine) and theirs[:-1] == mine[: len(theirs) - 1]
        if cut and (not theirs or mine[len(theirs) - 1].startswith(theirs[-1])):
            last = block.lines[-1].number if block.lines else 0
            warnings.append(
                Problem(
                    d,
                    last,
                    f"{block.title}: the page is cut off here, {len(mine) - len(theirs)} of its "
                    f"{len(mine)} block lines missing; imported from what is complete",
                    "page-cut",
                    Severity.WARNING,
                )
            )
            continue
        for i, (a, b) in enumerate(zip(theirs, mine, strict=False)):
            if a != b:
                errors.append(
                    Problem(
                        d,
                        block.lines[i].number,
                        f"{block.title}: this line does not come back from the imported canon "
                        f"(it would read {b!r})",
                        "page-verify",
                    )
                )
                break
        else:
            n = block.lines[-1].number if block.lines else 0
            errors.append(
                Problem(
                    d,
                    n,
                    f"{block.title}: the page's block has {len(theirs)} lines, the imported canon "
                    f"gives {len(mine)}",
                    "page-verify",
                )
            )
    missing = [
        title for title, kind in FRAME_TITLES.items() if kind in rendered and kind not in on_page
    ]
    if missing:
        warnings.append(
            Problem(
                d,
                0,
                f"the page has no copy block for {', '.join(missing)}; imported from the others",
                "page-cut",
                Severity.WARNING,
            )
        )
    return errors, warnings
