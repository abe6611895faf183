"""Import a job-description page (plain text or saved HTML) into the canon format (design.md §3).

The page is untrusted and comes in variants: `  • ` or `- ` bullets, with or without blank lines,
with or without the "Back to Home" line, the tag line or a salary, emoji before headings, and
sometimes cut off. Both input kinds are first reduced to the same numbered lines (an HTML page by
the standard library's parser: scripts and styles dropped, entities decoded, nothing fetched), then
one state machine places each line under the heading it follows.

The promise is the product's: every imported text is a line of the page, verbatim (bullet marker
and surrounding white space removed, nothing else). What cannot be placed is reported with its
line number, never dropped silently and never guessed: tags glued together stay one raw line, an
unknown heading and the lines under it are reported, a section the page lacks is reported as
missing, and a last line that the page cuts off mid-sentence is left out and reported.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from html.parser import HTMLParser
from pathlib import Path

from pipeline.diagnostics import CanonError, Collector, Problem, Severity, quoted
from pipeline.extract.canon import FORMAT_VERSION, SLUG_RE, job_description_from_source
from pipeline.extract.nodes import RESERVED_NAMES, text_problem
from pipeline.extract.yamlsource import Source
from pipeline.extract.yamlwrite import Value, emit
from pipeline.model import JD_HEADINGS, CareerPath, JobDescription, Located

#: Larger pages are refused before reading (a job-description page is about 13 kB).
MAX_PAGE_BYTES = 2 * 1024 * 1024

# ---------------------------------------------------------------------------------------------
# The headings a page has, in page order
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """A content heading of the page and the canon field its lines go to."""

    field: str
    #: Accepted spellings, normalized (see `_norm`).
    names: tuple[str, ...]
    #: Paragraphs rather than a list: a short unpunctuated line here is a heading, not text.
    prose: bool = False

    @property
    def heading(self) -> str:
        """The heading as the seed page and the role profile spell it (without the colon)."""
        return JD_HEADINGS[self.field]


SECTIONS: tuple[Section, ...] = (
    Section("role_definition", ("role definition",), prose=True),
    Section("entry_points", ("entry point from", "entry points")),
    Section("advancement", ("advancement to",)),
    Section("lateral_moves", ("lateral moves",)),
    Section("primary_functions", ("primary functions",)),
    Section("secondary_functions", ("secondary functions",)),
    Section("hard_skills", ("hard skills (technical)", "hard skills")),
    Section("soft_skills", ("soft skills",)),
    Section("minimum_education", ("minimum education",)),
    Section("preferred_education", ("preferred education",)),
    Section("fields_of_study", ("relevant fields of study",)),
    Section("typical_experience", ("typical experience range",)),
    # The page's "Preferred:" list under Experience Requirements (see `_lookup`).
    Section("preferred_experience", ("preferred experience",)),
)

#: Headings that only group sections; a line directly under one belongs nowhere.
CONTAINERS: tuple[str, ...] = (
    "career progression",
    "typical career path",
    "core responsibilities",
    "required skills & competencies",
    "education & experience",
    "educational background",
    "experience requirements",
)

_BY_NAME = {name: s for s in SECTIONS for name in s.names}
_PREFERRED = next(s for s in SECTIONS if s.field == "preferred_experience")
_TYPICAL = next(s for s in SECTIONS if s.field == "typical_experience")

# ---------------------------------------------------------------------------------------------
# Lines
# ---------------------------------------------------------------------------------------------


class Hint(Enum):
    """What the markup said about a line (HTML only); plain text lines carry NONE."""

    NONE = "none"
    BULLET = "bullet"
    HEADING = "heading"


@dataclass(frozen=True)
class PageLine:
    number: int
    text: str
    hint: Hint = Hint.NONE


_BULLET_RE = re.compile(r"(?:[•‣◦▪●]\s*|[-*]\s+)(?P<text>\S.*)\Z", re.DOTALL)
#: Rules and empty bullets: decoration with no content.
_SEPARATOR_RE = re.compile(r"[-*_=~•‣◦▪●·#|.─━═\s]+\Z")
_SALARY_RE = re.compile(r"[$€£¥]\s*[\d.,]*\s*[kKmM]?\s*(?:-|–|—|to)\s*[$€£¥]\s*[\d.,]*\s*[kKmM]?\Z")
_TITLE_RE = re.compile(
    r"key responsibilities (?:and|&) required skills for (?:an? |the )?(?P<title>\S.*)\Z",
    re.IGNORECASE | re.DOTALL,
)
_NAV_RE = re.compile(r"back to\b", re.IGNORECASE)
_INLINE_RE = re.compile(r"(?P<label>[^:]{1,60}):\s+(?P<rest>\S.*)\Z", re.DOTALL)
_TERMINAL = ".!?…"
_CLOSERS = "\"')]}”’»"
#: Unicode categories of the emoji and arrows that decorate headings (`🎯 Role Definition`).
_DECORATION = frozenset({"So", "Sk", "Sm", "Cf", "Mn", "Me"})
_MONEY_BAG = "\U0001f4b0"


def _undecorated(text: str) -> tuple[str, bool]:
    """`text` without leading emoji/symbols, and whether any were there."""
    i = 0
    decorated = False
    while i < len(text) and (text[i].isspace() or unicodedata.category(text[i]) in _DECORATION):
        decorated = decorated or not text[i].isspace()
        i += 1
    return text[i:], decorated


def _norm(text: str) -> str:
    """A heading for lookup: no decoration, no colon, one space, case-folded, `and` as `&`."""
    bare = _undecorated(text)[0].strip().rstrip(":").strip()
    return " ".join(bare.split()).casefold().replace(" and ", " & ")


def _ends_sentence(text: str) -> bool:
    return text.rstrip().rstrip(_CLOSERS)[-1:] in _TERMINAL


def text_lines(text: str) -> list[PageLine]:
    """The numbered non-blank lines of a plain-text page (CRLF and CR line ends accepted)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [PageLine(n, raw.strip()) for n, raw in enumerate(lines, 1) if raw.strip()]


_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
#: Elements that end a line of text, as a browser's block layout would.
_BLOCK_TAGS = _HEADING_TAGS | {
    "address", "article", "aside", "blockquote", "body", "br", "dd", "details", "dialog", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "hr",
    "html", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
#: Elements whose content is never page text.
_IGNORED_TAGS = frozenset({
    "script", "style", "template", "noscript", "title", "head", "svg", "math", "iframe",
    "object", "select", "textarea",
})  # fmt: skip
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")


class _PageHTML(HTMLParser):
    """Saved HTML -> the same numbered lines a text page gives; block elements end lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[PageLine] = []
        self._parts: list[str] = []
        self._number = 0
        self._ignored: list[str] = []
        self._heading_depth = 0
        self._in_heading = False
        self._bullet = False
        self._pre_depth = 0

    def _flush(self) -> None:
        text = _HTML_SPACE.sub(" ", "".join(self._parts)).strip(" ")
        self._parts = []
        if text:
            hint = Hint.HEADING if self._in_heading else Hint.BULLET if self._bullet else Hint.NONE
            self.lines.append(PageLine(self._number, text, hint))
            self._bullet = False
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._ignored.clear()  # an unclosed <head> ends where <body> starts
        if self._ignored or tag in _IGNORED_TAGS:
            if tag in _IGNORED_TAGS:
                self._ignored.append(tag)
            return
        if tag in _BLOCK_TAGS:
            self._flush()
        if tag == "li":
            self._bullet = True
        elif tag in _HEADING_TAGS:
            self._heading_depth += 1
        elif tag == "pre":
            self._pre_depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self._ignored and tag in _BLOCK_TAGS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if self._ignored:
            if tag in self._ignored:
                while self._ignored.pop() != tag:
                    pass
            return
        if tag in _BLOCK_TAGS:
            self._flush()
        if tag == "li":
            self._bullet = False
        elif tag in _HEADING_TAGS:
            self._heading_depth = max(0, self._heading_depth - 1)
        elif tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self._ignored:
            return
        line = self.getpos()[0]
        chunks = data.split("\n") if self._pre_depth else [data]
        for i, chunk in enumerate(chunks):
            if i:
                self._flush()
                line += 1
            if not chunk.strip(" \t\r\f\n"):
                if not self._pre_depth:
                    line += chunk.count("\n")
                self._parts.append(chunk)
                continue
            if not "".join(self._parts).strip(" \t\r\f\n"):
                lead = len(chunk) - len(chunk.lstrip(" \t\r\f\n"))
                self._number = line + chunk[:lead].count("\n")
            if self._heading_depth:
                self._in_heading = True
            self._parts.append(chunk)
            if not self._pre_depth:
                line += chunk.count("\n")

    def close(self) -> None:
        super().close()
        self._flush()


def html_lines(text: str) -> list[PageLine]:
    """The numbered text lines of a saved HTML page (never fetches anything it references)."""
    parser = _PageHTML()
    parser.feed(text)
    parser.close()
    return parser.lines


def looks_like_html(text: str, name: str = "") -> bool:
    if name.lower().endswith((".html", ".htm", ".xhtml")):
        return True
    head = text[:1024].lstrip().lower()
    return head.startswith(("<!doctype html", "<html", "<?xml")) or "<body" in head


# ---------------------------------------------------------------------------------------------
# Placing lines
# ---------------------------------------------------------------------------------------------


class _State(Enum):
    HEADER = "header"
    SECTION = "section"
    CONTAINER = "container"
    UNKNOWN = "unknown"


@dataclass
class _Unknown:
    """An unknown heading (or a stray line that starts a block) and the lines under it."""

    line: PageLine
    heading_like: bool
    #: The line of the first heading of that name, when this heading repeats it.
    repeats: int = 0
    under: list[PageLine] = field(default_factory=list)


@dataclass(frozen=True)
class ImportedPage:
    """A parsed page: the canon record, the counts per heading, and what was not imported."""

    job_description: JobDescription
    #: (heading, number of items) for every section, in page order.
    counts: tuple[tuple[str, int], ...]
    #: Warnings: missing sections, unplaced lines, unknown headings, a cut-off last line.
    problems: tuple[Problem, ...]
    html: bool = False

    def report(self) -> str:
        jd = self.job_description
        out = [f'imported "{jd.title}" ({"HTML" if self.html else "text"} page)']
        if jd.salary:
            out.append(f"  salary: {jd.salary} (printed only with --include-salary)")
        if jd.tags:
            out.append(f"  tags: {len(jd.tags)} line(s), kept as on the page")
        out += [f"  {heading}: {n}" for heading, n in self.counts]
        if jd.profile:
            out.append(f"  profile: {jd.profile}")
        out += [str(p) for p in self.problems]
        warnings = len(self.problems)
        out.append(
            f"{warnings} warning{'s' if warnings != 1 else ''}"
            if warnings
            else "nothing missing or left unplaced"
        )
        return "\n".join(out)


class _Placer:
    """Walks the lines once, placing each under the heading it follows."""

    def __init__(self, display: str, lines: Sequence[PageLine]) -> None:
        self.display = display
        self.lines = lines
        self.warnings: list[Problem] = []
        self.state = _State.HEADER
        self.section: Section | None = None
        self.container: PageLine | None = None
        self.unknown: _Unknown | None = None
        self.title: PageLine | None = None
        self.salary: str | None = None
        self.salary_seen = False
        self.salary_line = 0
        self.tags: list[str] = []
        self.tags_line = 0
        self.items: dict[str, list[PageLine]] = {}
        self.bulleted: dict[str, bool] = {}
        self.headings: dict[str, PageLine] = {}

    def warn(self, line: int, message: str, code: str) -> None:
        self.warnings.append(Problem(self.display, line, message, code, Severity.WARNING))

    # -- classification --------------------------------------------------------------------

    def _lookup(self, text: str) -> Section | str | None:
        """The section or container a heading names; `Preferred` only under Experience."""
        name = _norm(text)
        if name in _BY_NAME:
            return _BY_NAME[name]
        if name in CONTAINERS:
            return name
        container = _norm(self.container.text) if self.container else None
        if name == "preferred" and (
            container == "experience requirements" or self.section is _TYPICAL
        ):
            return _PREFERRED
        return None

    @staticmethod
    def _heading_like(line: PageLine) -> bool:
        bare, decorated = _undecorated(line.text)
        short = len(bare) <= 80 and len(bare.split()) <= 10
        return line.hint is Hint.HEADING or decorated or (short and bare.endswith(":"))

    # -- the walk ----------------------------------------------------------------------------

    def run(self) -> None:
        for line in self.lines:
            if _SEPARATOR_RE.match(line.text):
                continue
            self._place(line)
        self._close_unknown()

    def _place(self, line: PageLine) -> None:
        bullet = None
        if line.hint is Hint.BULLET:
            bullet = line.text
        elif line.hint is Hint.NONE:
            m = _BULLET_RE.match(line.text)
            bullet = m.group("text").strip() if m else None
        if bullet is None:
            target = self._lookup(line.text)
            if target is not None:
                self._open(target, line)
                return
            inline = _INLINE_RE.match(line.text)
            target = self._lookup(inline.group("label")) if inline else None
            if inline and isinstance(target, Section):  # "Typical Experience Range: 10–15…"
                if self._open(target, line):
                    self._add(PageLine(line.number, inline.group("rest").strip()), bullet=False)
                return
        if self.state is _State.HEADER:
            self._header(line, bullet)
        elif self.state is _State.SECTION:
            self._content(line, bullet)
        elif self.state is _State.CONTAINER:
            assert self.container is not None
            self.warn(
                line.number,
                f"{quoted(line.text)} is under {quoted(self.container.text)}, not under a "
                "section heading; not imported",
                "jd-unplaced",
            )
        else:
            assert self.unknown is not None
            if bullet is None and self._heading_like(line):
                self._start_unknown(line, heading_like=True)
            else:
                self.unknown.under.append(line)

    def _open(self, target: Section | str, line: PageLine) -> bool:
        """Start the section or container `line` names; a repeated section is not merged."""
        self._close_unknown()
        if isinstance(target, str):
            self.state, self.container, self.section = _State.CONTAINER, line, None
            return True
        if target.field in self.items:
            self._start_unknown(line, heading_like=True, repeats=self.headings[target.field].number)
            return False
        self.state, self.section = _State.SECTION, target
        self.items[target.field] = []
        self.headings[target.field] = line
        return True

    def _header(self, line: PageLine, bullet: str | None) -> None:
        bare = _undecorated(line.text)[0].strip()
        if self.title is None and _NAV_RE.match(bare) and len(bare.split()) <= 6:
            return  # the navigation line ("Back to Home")
        if (
            bullet is None
            and not self.salary_seen
            and (line.text.startswith(_MONEY_BAG) or _SALARY_RE.match(bare))
        ):
            self.salary_seen, self.salary_line = True, line.number
            if any(ch.isdigit() for ch in bare):
                self.salary = bare
            else:
                self.warn(
                    line.number,
                    f"salary: the page's salary line {quoted(line.text)} has no figures; "
                    "no salary imported",
                    "jd-missing",
                )
            return
        if bullet is None and self.title is None:
            self.title = line
            return
        if bullet is None and not self.tags and not self._heading_like(line):
            self.tags.append(line.text)
            self.tags_line = line.number
            return
        if bullet is None and self._heading_like(line):
            self._start_unknown(line, heading_like=True)
            return
        self.warn(
            line.number,
            f"{quoted(line.text)} is in the page header, where only the title, the salary and "
            "one tag line are expected; not imported",
            "jd-unplaced",
        )

    def _content(self, line: PageLine, bullet: str | None) -> None:
        section = self.section
        assert section is not None
        if bullet is not None:
            self._add(PageLine(line.number, bullet), bullet=True)
            return
        if self._heading_like(line):
            self._start_unknown(line, heading_like=True)
            return
        title_like = not _ends_sentence(line.text) and len(line.text.split()) <= 8
        after_bullets = self.bulleted.get(section.field, False)
        if (section.prose and title_like) or (not section.prose and after_bullets):
            # After a bulleted list a plain line is not one of its items: a heading we do not
            # know, or page furniture. Either way it is reported, with what follows it.
            self._start_unknown(line, heading_like=False)
            return
        self._add(line, bullet=False)  # a paragraph, or an item of a list without bullets

    def _add(self, line: PageLine, bullet: bool) -> None:
        assert self.section is not None
        key = self.section.field
        if not self.items[key]:
            self.bulleted[key] = bullet
        self.items[key].append(line)

    def _start_unknown(self, line: PageLine, heading_like: bool, repeats: int = 0) -> None:
        self._close_unknown()
        self.state, self.section = _State.UNKNOWN, None
        self.unknown = _Unknown(line, heading_like, repeats)

    def _close_unknown(self) -> None:
        u = self.unknown
        if u is None:
            return
        self.unknown = None
        under = u.under
        tail = ""
        if under:
            n = len(under)
            span = (
                f"line {under[0].number}"
                if n == 1
                else f"lines {under[0].number}–{under[-1].number}"
            )
            tail = f", nor the {n} line{'s' if n != 1 else ''} under it ({span})"
        if u.repeats:
            what = f"{quoted(u.line.text)} repeats the heading of line {u.repeats}"
        elif u.heading_like:
            what = f"unknown heading {quoted(u.line.text)}"
        else:
            what = f"{quoted(u.line.text)} does not belong to the list above it"
        self.warn(u.line.number, f"{what}: not imported{tail}", "jd-unplaced")

    # -- the result --------------------------------------------------------------------------

    def drop_cut_last_line(self) -> None:
        """Leave out the page's last line when the page visibly ends mid-sentence."""
        if not self.lines or self.section is None or self.state is not _State.SECTION:
            return
        placed = self.items[self.section.field]
        last = self.lines[-1]
        if not placed or placed[-1].number != last.number:
            return
        text = placed[-1].text
        siblings = placed[:-1]
        if _ends_sentence(text):
            return
        if self.section.prose:
            cut = True
        else:
            ended = sum(1 for s in siblings if _ends_sentence(s.text))
            cut = bool(siblings) and ended * 2 >= len(siblings)
        if cut:
            placed.pop()
            self.warn(
                last.number,
                f"{self.section.heading}: the page ends mid-sentence; the incomplete last item "
                f"{quoted(text)} was not imported",
                "jd-cut",
            )
        elif SECTIONS[-1].field not in self.items:
            self.warn(
                last.number,
                f"{self.section.heading}: the page ends in this item, which may be incomplete; "
                f"imported as the page has it: {quoted(text)}",
                "jd-cut",
            )

    def report_missing(self) -> None:
        found = [s for s in SECTIONS if s.field in self.items]
        if not found:
            return
        last = max(found, key=lambda s: self.headings[s.field].number)
        last_index = SECTIONS.index(last)
        end_line = self.lines[-1].number if self.lines else 0
        for index, s in enumerate(SECTIONS):
            if s.field not in self.items:
                why = f" (page ends after {last.heading})" if index > last_index else ""
                self.warn(end_line, f"{s.heading}: section missing{why}", "jd-missing")
            elif not self.items[s.field]:
                self.warn(
                    self.headings[s.field].number,
                    f"{s.heading}: the heading has no text under it",
                    "jd-missing",
                )


def parse_page(text: str, display: str, html: bool | None = None) -> ImportedPage:
    """Place a decoded page's lines; raise `CanonError` when nothing usable is there."""
    is_html = looks_like_html(text, display) if html is None else html
    lines = html_lines(text) if is_html else text_lines(text)
    problems = Collector()
    if not lines:
        problems.error(display, 1, "the page has no text", "jd-empty")
        problems.raise_if_any("nothing to import")
    placer = _Placer(display, lines)
    placer.run()
    placer.report_missing()
    placer.drop_cut_last_line()
    if placer.title is None:
        first = next(iter(placer.headings.values()), lines[0])
        problems.error(display, first.number, "no title line before the first heading", "jd-title")
    if not placer.items:
        problems.error(
            display,
            lines[0].number,
            "no job-description headings found (expected e.g. 'Role Definition', "
            "'Primary Functions', 'Soft Skills'); is this a job-description page?",
            "jd-empty",
        )
    title = ""
    if placer.title is not None:
        m = _TITLE_RE.match(placer.title.text)
        title = m.group("title").strip() if m else placer.title.text
    texts = [(placer.title.number if placer.title else 1, title)]
    texts += [(placer.salary_line, t) for t in (placer.salary,) if t is not None]
    texts += [(placer.tags_line, t) for t in placer.tags]
    texts += [(ln.number, ln.text) for lines_ in placer.items.values() for ln in lines_]
    for number, t in texts:
        problem = text_problem(t)
        if problem:
            problems.error(display, number, problem, "text")
    problems.raise_if_any("the page cannot be imported")
    got = {k: tuple(ln.text for ln in v) for k, v in placer.items.items()}
    jd = JobDescription(
        slug=slug_for(title, display),
        title=title,
        salary=placer.salary,
        tags=tuple(placer.tags),
        role_definition=got.get("role_definition", ()),
        career_path=CareerPath(
            entry_points=got.get("entry_points", ()),
            advancement=got.get("advancement", ()),
            lateral_moves=got.get("lateral_moves", ()),
        ),
        primary_functions=got.get("primary_functions", ()),
        secondary_functions=got.get("secondary_functions", ()),
        hard_skills=got.get("hard_skills", ()),
        soft_skills=got.get("soft_skills", ()),
        minimum_education=got.get("minimum_education", ()),
        preferred_education=got.get("preferred_education", ()),
        fields_of_study=got.get("fields_of_study", ()),
        typical_experience=got.get("typical_experience", ()),
        preferred_experience=got.get("preferred_experience", ()),
        where=Located(display, 1),
    )
    found = sorted(
        (s for s in SECTIONS if s.field in got), key=lambda s: placer.headings[s.field].number
    )
    return ImportedPage(
        job_description=jd,
        counts=tuple((s.heading, len(got[s.field])) for s in found),
        problems=tuple(sorted(placer.warnings, key=lambda p: p.line)),
        html=is_html,
    )


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def decode_page(data: bytes, display: str) -> tuple[str, tuple[Problem, ...]]:
    """Bytes -> text, refusing what is not a UTF-8 text page (binary, empty, other encodings).

    A page cut off inside a multi-byte character keeps its complete part, with a warning.
    """
    problems = Collector()
    notes: list[Problem] = []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        problems.error(display, 1, "the page is UTF-16; save it as UTF-8", "encoding")
    elif b"\x00" in data:
        at = data.index(b"\x00")
        problems.error(
            display,
            data[:at].count(b"\n") + 1,
            f"binary file (NUL byte at offset {at}); expected a text or HTML page",
            "binary",
        )
    problems.raise_if_any("not a text page")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.end == len(data) and exc.reason == "unexpected end of data":
            text = data[: exc.start].decode("utf-8")
            notes.append(
                Problem(
                    display,
                    text.count("\n") + 1,
                    "the page ends inside a character (it was cut off); the incomplete "
                    "character was left out",
                    "jd-cut",
                    Severity.WARNING,
                )
            )
        else:
            line = data[: exc.start].count(b"\n") + 1
            message = (
                f"invalid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                "expected a text or HTML page saved as UTF-8"
            )
            problem = Problem(display, line, message, "encoding")
            raise CanonError("not a text page", [problem]) from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        problems.error(display, 1, "the page is empty", "jd-empty")
        problems.raise_if_any("nothing to import")
    return text, tuple(notes)


def _too_large(display: str, size: int) -> CanonError:
    message = (
        f"file is {size:,} bytes; job-description pages are limited to {MAX_PAGE_BYTES:,} bytes"
    )
    return CanonError("the page is too large", [Problem(display, 0, message, "size")])


def import_page(data: bytes, display: str, html: bool | None = None) -> ImportedPage:
    """Bytes of a page -> an imported job description; raises `CanonError` if unusable."""
    if len(data) > MAX_PAGE_BYTES:
        raise _too_large(display, len(data))
    text, notes = decode_page(data, display)
    page = parse_page(text, display, html)
    if notes:
        page = replace(page, problems=tuple(sorted((*page.problems, *notes), key=lambda p: p.line)))
    return page


def read_page(path: Path, display: str | None = None) -> ImportedPage:
    """Read a page file (never more than the size limit) and import it."""
    display = display if display is not None else str(path)
    try:
        if not path.is_file():
            what = "no such file" if not path.exists() else "not a regular file"
            raise CanonError("cannot read the page", [Problem(display, 0, what, "io")])
        with path.open("rb") as fh:
            data = fh.read(MAX_PAGE_BYTES + 1)
    except OSError as exc:
        raise CanonError(
            "cannot read the page",
            [Problem(display, 0, f"cannot read file: {exc.strerror or exc}", "io")],
        ) from None
    if len(data) > MAX_PAGE_BYTES:
        raise _too_large(display, path.stat().st_size)
    return import_page(data, display)


def slug_for(title: str, display: str = "") -> str:
    """The canon file name for a title: lower-case ASCII letters, digits and '-' only."""
    ascii_title = (
        unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii").lower()
    )
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title).strip("-")[:80].rstrip("-")
    why = None
    if not SLUG_RE.match(slug):
        why = "gives no file name (it needs letters a–z or digits)"
    elif slug.upper() in RESERVED_NAMES:
        why = f"gives the file name '{slug}', which Windows reserves for a device"
    if why is not None:
        problem = Problem(display, 0, f"the title {quoted(title)} {why}", "jd-title")
        raise CanonError("no file name for this title", [problem])
    return slug


# ---------------------------------------------------------------------------------------------
# Canon YAML
# ---------------------------------------------------------------------------------------------

COMMENT = (
    "yaml-language-server: $schema=../../pipeline/schema/job-description.schema.json\n"
    "Job description imported with `packs import-jd`: every text is verbatim from the page.\n"
    "Edit with care: the role profile prints these lines as they are."
)


def job_description_data(jd: JobDescription) -> dict[str, Value]:
    """The canon document of a job description, keys in the order of design.md §3."""
    doc: dict[str, Value] = {"canon": FORMAT_VERSION, "title": jd.title}
    if jd.profile:
        doc["profile"] = jd.profile
    if jd.salary:
        doc["salary"] = jd.salary
    doc["tags"] = jd.tags
    doc["role_definition"] = jd.role_definition
    doc["career_path"] = {
        "entry_points": jd.career_path.entry_points,
        "advancement": jd.career_path.advancement,
        "lateral_moves": jd.career_path.lateral_moves,
    }
    doc["primary_functions"] = jd.primary_functions
    doc["secondary_functions"] = jd.secondary_functions
    doc["hard_skills"] = jd.hard_skills
    doc["soft_skills"] = jd.soft_skills
    doc["education"] = {
        "minimum": jd.minimum_education,
        "preferred": jd.preferred_education,
        "fields_of_study": jd.fields_of_study,
    }
    doc["experience"] = {"typical": jd.typical_experience, "preferred": jd.preferred_experience}
    return doc


def job_description_yaml(jd: JobDescription) -> str:
    """Canon YAML for `jd`, checked by reading it back with the canon loader before returning."""
    text = emit(job_description_data(jd), COMMENT)
    display = f"job-descriptions/{jd.slug}.yaml"
    problems = Collector()
    again = job_description_from_source(Source(display, text), jd.slug, problems)
    if again != jd:
        detail = "; ".join(str(p) for p in problems.problems) or "the text read back differs"
        raise AssertionError(f"canon YAML for {jd.slug} does not read back: {detail}")
    return text
