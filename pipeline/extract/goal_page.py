"""Import a JobFrame goal-templates page (copied text or saved HTML) into canon records.

The page's "Copy / print as text" blocks are the fixed templates of our own composers wrapped
around canon text, so each canon field is read from the template line that quotes it
(`goal_fields`). This module finds the page's title, breadcrumb and copy blocks (`GoalPage`) and
checks a re-composition against them.

Nothing is believed on the parser's word alone: the profile is composed again and every copy
block of the page must come back byte for byte (`verify`); a line that does not is an error. A
page cut off mid-way imports what its complete blocks state and says which frames are missing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from pipeline.compose import smart
from pipeline.compose.mbo import TITLE as MBO_TITLE
from pipeline.compose.okr import TITLE as OKR_TITLE
from pipeline.compose.scorecard import TITLE as SCORECARD_TITLE
from pipeline.diagnostics import CanonError, Collector, Problem, Severity
from pipeline.extract.canon import PROFILE_ID_RE
from pipeline.extract.page_text import MAX_PAGE_BYTES, decode_page, looks_like_html

#: Frame title on the page -> frame kind, in page order.
FRAME_TITLES: dict[str, str] = {
    smart.TITLE: "smart",
    OKR_TITLE: "okr",
    MBO_TITLE: "mbo",
    SCORECARD_TITLE: "scorecard",
}

_COPY_RE = re.compile(r"\W*copy\s*/\s*print as text", re.IGNORECASE)
_SHOW_RE = re.compile(r"\W*(show|hide)\s*[▾▴]?\s*\Z", re.IGNORECASE)
_ID_IN_NAME_RE = re.compile(r"([A-Z][A-Z0-9]*\.[A-Z][A-Z0-9]*\.[PMES]\d)")
#: The lines that start a goal row, an objective and an MBO area (block ends; `goal_fields`).
GOAL_RE = re.compile(r"(\d+)\. (?!Area: )(.*)  \[source: (.*)\]\Z")
OBJECTIVE_RE = re.compile(r"Objective (\d+): (.*)  \[source: (.*)\]\Z")
AREA_RE = re.compile(r"(\d+)\. Area: (.*)  \[source: (.*)\]\Z")
#: `Function · Focus · M4 — Title` above the first frame.
BREADCRUMB_RE = re.compile(r"(?P<path>.+) · (?P<code>[PMES]\d) — (?P<title>.+)\Z")
_DOC_TITLE_RE = re.compile(r"Goal templates — (?P<title>.+)\Z")


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
        return bool(GOAL_RE.match(line))
    if kind == "okr":
        return bool(OBJECTIVE_RE.match(line))
    if kind == "mbo":
        return bool(AREA_RE.match(line))
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
        elif BREADCRUMB_RE.match(line.text) and breadcrumb is None:
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
