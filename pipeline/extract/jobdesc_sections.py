"""Place a job-description page's lines under the headings they follow (`packs import-jd`).

`SECTIONS` are the content headings a page has, in page order, each with the canon field its
lines go to; `CONTAINERS` only group them. `Placer` walks the numbered lines of `page_text` once,
a small state machine (header, section, container, unknown heading): the title, salary and tag
line of the header, each section's items (bullets or plain lines), and a warning with its line
number for whatever cannot be placed: an unknown heading and the lines under it, a repeated
heading, a line under a container, a missing or empty section, a last line cut off mid-sentence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from pipeline.diagnostics import Problem, Severity, quoted
from pipeline.extract.page_text import Hint, PageLine
from pipeline.model import JD_HEADINGS

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
# Classifying lines
# ---------------------------------------------------------------------------------------------

_BULLET_RE = re.compile(r"(?:[•‣◦▪●]\s*|[-*]\s+)(?P<text>\S.*)\Z", re.DOTALL)
#: Rules and empty bullets: decoration with no content.
_SEPARATOR_RE = re.compile(r"[-*_=~•‣◦▪●·#|.─━═\s]+\Z")
_SALARY_RE = re.compile(r"[$€£¥]\s*[\d.,]*\s*[kKmM]?\s*(?:-|–|—|to)\s*[$€£¥]\s*[\d.,]*\s*[kKmM]?\Z")
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


class Placer:
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
