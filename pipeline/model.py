"""Canon records and the one intermediate form (frames of blocks).

Canon records are what the extract stage produces from YAML; frames are what the compose stage
produces from canon records and the only thing renderers ever see. Everything here is a frozen
dataclass of tuples so a composed frame can be shared between renderers and processes and can
never be edited on its way through the pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias

# ---------------------------------------------------------------------------------------------
# Canon records
# ---------------------------------------------------------------------------------------------

#: The level dimensions in the order the model fixes (design.md §2), as canon keys.
DIMENSIONS: tuple[str, ...] = (
    "scope",
    "autonomy",
    "complexity",
    "impact",
    "decision_rights",
    "leadership",
)

#: Rubric kinds the canon knows.
RUBRIC_KINDS: tuple[str, ...] = ("complexity/problem-solving", "knowledge-application")

TRACKS: tuple[str, ...] = ("professional", "management", "executive", "support")

GENERAL_FOCUS = "GEN"


def dimension_name(key: str) -> str:
    """`decision_rights` -> `decision rights` (the lower-case name templates use)."""
    return key.replace("_", " ")


def dimension_label(key: str) -> str:
    """`decision_rights` -> `Decision rights` (the title-case name source labels use)."""
    name = dimension_name(key)
    return name[:1].upper() + name[1:]


@dataclass(frozen=True)
class Located:
    """Where a canon value came from, for diagnostics and digests."""

    path: str
    line: int


@dataclass(frozen=True)
class Level:
    code: str
    title: str
    track: str
    years: str | None = None
    description: str | None = None
    #: (dimension key, canon text) in the fixed model order; missing dimensions are absent.
    dimensions: tuple[tuple[str, str], ...] = ()
    where: Located | None = field(default=None, compare=False)

    def dimension(self, key: str) -> str | None:
        for k, v in self.dimensions:
            if k == key:
                return v
        return None


@dataclass(frozen=True)
class Confidence:
    band: str
    score: float | None = None


@dataclass(frozen=True)
class Pay:
    median: int | None = None
    low: int | None = None
    high: int | None = None
    currency: str | None = None


@dataclass(frozen=True)
class Components:
    responsibilities: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    knowledge: tuple[str, ...] = ()
    competencies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Function:
    code: str
    name: str


@dataclass(frozen=True)
class Focus:
    code: str
    name: str
    description: str | None = None


@dataclass(frozen=True)
class Profile:
    """One function x focus x level, as the canon states it."""

    function: Function
    focus: Focus
    level: Level
    title: str | None = None
    status: str | None = None
    confidence: Confidence | None = None
    region: str | None = None
    version: str | None = None
    core_outputs: tuple[str, ...] = ()
    responsibilities: tuple[str, ...] = ()
    #: (rubric kind, canon text), in RUBRIC_KINDS order.
    rubrics: tuple[tuple[str, str], ...] = ()
    components: Components = Components()
    pay: Pay | None = None
    job_description: JobDescription | None = None
    where: Located | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        return f"{self.function.code}.{self.focus.code}.{self.level.code}"

    @property
    def is_general(self) -> bool:
        return self.focus.code == GENERAL_FOCUS

    def rubric(self, kind: str) -> str | None:
        for k, v in self.rubrics:
            if k == kind:
                return v
        return None


CAREER_PATH_FIELDS = frozenset({"entry_points", "advancement", "lateral_moves"})


@dataclass(frozen=True)
class CareerPath:
    entry_points: tuple[str, ...] = ()
    advancement: tuple[str, ...] = ()
    lateral_moves: tuple[str, ...] = ()


#: A job description's content headings by field, as the page spells them (without the colon),
#: in the order the role profile prints them (design.md §4). The importer reads a page's
#: headings against these; the role composer heads its groups with them.
JD_HEADINGS: Mapping[str, str] = MappingProxyType(
    {
        "role_definition": "Role Definition",
        "primary_functions": "Primary Functions",
        "secondary_functions": "Secondary Functions",
        "hard_skills": "Hard Skills (Technical)",
        "soft_skills": "Soft Skills",
        "minimum_education": "Minimum Education",
        "preferred_education": "Preferred Education",
        "fields_of_study": "Relevant Fields of Study",
        "typical_experience": "Typical Experience Range",
        "preferred_experience": "Preferred Experience",
        "entry_points": "Entry Point From",
        "advancement": "Advancement To",
        "lateral_moves": "Lateral Moves",
    }
)


@dataclass(frozen=True)
class JobDescription:
    """A job-description page in canon form (design.md §3)."""

    slug: str
    title: str
    profile: str | None = None
    salary: str | None = None
    tags: tuple[str, ...] = ()
    role_definition: tuple[str, ...] = ()
    career_path: CareerPath = CareerPath()
    primary_functions: tuple[str, ...] = ()
    secondary_functions: tuple[str, ...] = ()
    hard_skills: tuple[str, ...] = ()
    soft_skills: tuple[str, ...] = ()
    minimum_education: tuple[str, ...] = ()
    preferred_education: tuple[str, ...] = ()
    fields_of_study: tuple[str, ...] = ()
    typical_experience: tuple[str, ...] = ()
    preferred_experience: tuple[str, ...] = ()
    where: Located | None = field(default=None, compare=False)

    def items(self, name: str) -> tuple[str, ...]:
        """The items under one of `JD_HEADINGS`' fields (career path fields included)."""
        source = self.career_path if name in CAREER_PATH_FIELDS else self
        items: tuple[str, ...] = getattr(source, name)
        return items


@dataclass(frozen=True)
class Canon:
    """The whole validated canon of one directory."""

    root: str
    levels: tuple[Level, ...]
    profiles: tuple[Profile, ...]
    job_descriptions: tuple[JobDescription, ...] = ()
    #: profile id -> "sha256:<hex>" over the normalized records that profile draws on.
    digests: tuple[tuple[str, str], ...] = ()

    def profile(self, profile_id: str) -> Profile | None:
        for p in self.profiles:
            if p.id == profile_id:
                return p
        return None

    def digest(self, profile_id: str) -> str:
        for k, v in self.digests:
            if k == profile_id:
                return v
        raise KeyError(profile_id)


# ---------------------------------------------------------------------------------------------
# Frames: the one intermediate form
# ---------------------------------------------------------------------------------------------


class PlaceholderKind(StrEnum):
    """What the manager fills in. The token is the exact text shown in every format."""

    TARGET = "target"
    BASELINE = "baseline"
    DATE = "date"

    @property
    def token(self) -> str:
        return f"⟨{self.value}⟩"


@dataclass(frozen=True)
class Text:
    """Literal text: verbatim canon or a fixed template's words. Always rendered inertly."""

    text: str


@dataclass(frozen=True)
class Placeholder:
    """A fill-in field. `key` is stable across builds (e.g. `mbo.4.due`) and unique per pack."""

    kind: PlaceholderKind
    key: str
    #: A readable name for the field (e.g. "MBO 4 – Due"), shown as a form control's title.
    label: str

    @property
    def token(self) -> str:
        return self.kind.token


Segment: TypeAlias = Text | Placeholder
#: A line of content: literal text interleaved with placeholders.
Line: TypeAlias = tuple[Segment, ...]


def line_text(line: Line) -> str:
    """The plain-text form of a line (placeholders as their tokens)."""
    return "".join(s.text if isinstance(s, Text) else s.token for s in line)


def placeholders(line: Line) -> tuple[Placeholder, ...]:
    return tuple(s for s in line if isinstance(s, Placeholder))


def only_placeholders(line: Line) -> bool:
    """True for a line that is nothing but fill-in fields (an MBO "Target" or "Due" cell)."""
    return bool(line) and all(isinstance(s, Placeholder) for s in line)


@dataclass(frozen=True)
class Field:
    """One labelled line of a record (e.g. `Specific`, `KR2`, `Standard`, `Due`)."""

    key: str
    label: str
    line: Line


class RecordStyle(StrEnum):
    """How a numbered record is laid out; a closed set renderers switch on.

    - GOAL: heading, then each field on its own labelled line (SMART).
    - RESULTS: heading as an objective, fields as numbered key results (OKRs).
    - AREA: a table row: heading as the area, then the fields as columns (MBO).
    """

    GOAL = "goal"
    RESULTS = "results"
    AREA = "area"


@dataclass(frozen=True)
class Record:
    """A numbered row of a frame: a canon heading with its source label and fields."""

    key: str
    number: int
    heading: str
    source: str
    fields: tuple[Field, ...]
    style: RecordStyle


@dataclass(frozen=True)
class Item:
    """One bullet of a group: a line with its source label."""

    key: str
    line: Line
    source: str


@dataclass(frozen=True)
class Group:
    """A headed list of items (a Scorecard perspective, a role-profile section)."""

    key: str
    heading: str
    items: tuple[Item, ...]


Block: TypeAlias = Record | Group


@dataclass(frozen=True)
class Frame:
    """One goal-setting format filled from canon. A frame with no blocks is never composed."""

    kind: str
    title: str
    #: Short name for tabs, sheet names and bookmarks ("SMART", "OKRs", "MBO", "Scorecard").
    short_title: str
    intro: str | None
    blocks: tuple[Block, ...]
    #: Column headings for AREA records (heading column first), used by tabular renderers.
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Badge:
    name: str
    value: str


@dataclass(frozen=True)
class ProfileFrames:
    """Everything the renderers need for one profile: header, frames, provenance."""

    profile_id: str
    #: `{focus} — {level}` (General: the profile title).
    page_title: str
    #: `Goal templates — {page_title}`.
    document_title: str
    #: `{function} · {focus} · {level} — {title}`.
    breadcrumb: str
    intro: str
    frames: tuple[Frame, ...]
    canon_digest: str
    canon_version: str
    badges: tuple[Badge, ...] = ()

    def frame(self, kind: str) -> Frame | None:
        for f in self.frames:
            if f.kind == kind:
                return f
        return None

    @property
    def goal_frames(self) -> tuple[Frame, ...]:
        """The four goal frames that `--frame all` prints (never the role profile)."""
        return tuple(f for f in self.frames if f.kind != "role")
