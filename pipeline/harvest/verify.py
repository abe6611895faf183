"""Is a returned form or tracker still what was issued? Its locked canon text, checked.

Form protection and locked cells are a guard, not security: anyone can switch them off and edit
the canon text, and `read_form`/`read_tracker` would still hand back the filled values as if the
edited sentences were canon. So a returned file is checked before its values are used:

1. its *claim* (profile id and canon digest: DOCX custom properties, the tracker's `_meta`) names
   the profile it was issued for;
2. a digest other than the profile's current one means the canon changed since (or the claim
   was edited): the file is STALE, never accepted silently;
3. the file's locked text is compared with what this canon and layout produce for that profile:
   every paragraph outside the form's fill-in fields, every tracker cell outside the input
   columns, and the tracker's hidden `_meta` sheet (its identity and column contract; only the
   generator row may differ). Each difference is a TAMPERED place (`paragraph 12`, `MBO!A3`).

Only an INTACT file gives its values back (`read_returned`).
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from openpyxl.utils import get_column_letter

from pipeline.compose import ComposeOptions, compose_profile
from pipeline.diagnostics import PacksError, Problem, quoted
from pipeline.harvest.docx_form import (
    FormDocument,
    form_values,
    open_form,
    parse_part,
    read_form,
)
from pipeline.harvest.package import Package, PackageError, PackageKind, open_package
from pipeline.harvest.xlsx_tracker import (
    Book,
    Contract,
    contract_of,
    read_tracker,
    tracker_values,
)
from pipeline.layout import Layout, RenderOptions
from pipeline.model import Canon, ProfileFrames
from pipeline.ooxml.form_contract import CANON_DIGEST_PROPERTY, PROFILE_ID_PROPERTY
from pipeline.ooxml.ns import CORE_PART, CP_NS, CUSTOM_NS, CUSTOM_PART, w
from pipeline.ooxml.tracker_contract import (
    CANON_DIGEST_KEY,
    GENERATOR_KEY,
    META_RECORD,
    META_SHEET,
    PROFILE_KEY,
    Role,
)
from pipeline.render import get_format

#: Stands for a fill-in field inside a paragraph (canon text can never hold a NUL).
FIELD = "\x00"
#: What a paragraph's text is made of (inside a form field, none of it is canon).
TEXT_TAGS = frozenset({w("sdt"), w("t"), w("tab"), w("br"), w("cr")})
RETURNED_PACKAGE = PackageKind("a review form or tracker", "file")


class Status(StrEnum):
    INTACT = "intact"
    TAMPERED = "tampered"
    STALE = "stale"


class FileKind(StrEnum):
    FORM = "docx"
    TRACKER = "xlsx"


@dataclass(frozen=True)
class Claim:
    """What a returned file says it is."""

    kind: FileKind
    profile_id: str
    canon_digest: str


@dataclass(frozen=True)
class Change:
    """One place where the file's locked text is not what was issued (None: absent)."""

    where: str
    expected: str | None
    found: str | None

    def message(self) -> str:
        if self.found is None:
            return f"{self.where}: canon text removed: {_paragraph(self.expected)}"
        if self.expected is None:
            found = _paragraph(self.found)
            return f"{self.where}: text added where the issued file has none: {found}"
        return (
            f"{self.where}: canon text changed: expected {_paragraph(self.expected)}, "
            f"found {_paragraph(self.found)}"
        )


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    #: The digest of the profile the file was checked against (the current canon's).
    canon_digest: str
    changes: tuple[Change, ...]

    @property
    def status(self) -> Status:
        if self.claim.canon_digest != self.canon_digest:
            return Status.STALE
        return Status.TAMPERED if self.changes else Status.INTACT

    def problems(self, display: str) -> tuple[Problem, ...]:
        out = [Problem(display, 0, c.message(), "tampered") for c in self.changes]
        if self.status is Status.STALE:
            out.insert(
                0,
                Problem(
                    display,
                    0,
                    f"issued from canon {self.claim.canon_digest} but {self.claim.profile_id} is "
                    f"now {self.canon_digest}: the canon changed since (or the file's record of "
                    "it was edited); issue a new one",
                    "stale",
                ),
            )
        return tuple(out)


class TamperedError(PacksError):
    """A returned file whose canon text was edited, or that no longer matches the canon."""


@dataclass(frozen=True)
class Harvest:
    """The values of an intact returned file: `read_form`'s or `read_tracker`'s result."""

    claim: Claim
    values: Mapping[str, Any]


def _paragraph(text: str | None) -> str:
    return quoted((text or "").replace(FIELD, "[field]"), 80)


# --- the claim ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Returned:
    """A returned file opened once: its bytes, its claim and, for a tracker, its cells and
    contract (so the claim, the tamper check and the values read it one time, not three)."""

    data: bytes
    claim: Claim
    book: Book | None = None
    contract: Contract | None = None
    #: A form's main part, parsed once for the tamper check and the values.
    form: FormDocument | None = None

    def values(self) -> Mapping[str, Any]:
        """`read_form`'s or `read_tracker`'s result."""
        if self.book is not None and self.contract is not None:
            return tracker_values(self.book, self.contract)
        return form_values(self.form if self.form is not None else open_form(self.data))

    def paragraphs(self) -> list[str]:
        """A form's `form_paragraphs`."""
        return paragraphs_of(self.form if self.form is not None else open_form(self.data))


def open_returned(data: bytes) -> Returned:
    """A returned form or tracker with the profile id and canon digest it carries."""
    with open_package(data, RETURNED_PACKAGE) as package:
        is_tracker = "xl/workbook.xml" in package.names()
        properties = {} if is_tracker else _docx_properties(package)
    book = contract = form = None
    if is_tracker:
        book = Book(data)
        contract = contract_of(book)
        meta = contract.meta
        kind, profile, digest = FileKind.TRACKER, meta.get(PROFILE_KEY), meta.get(CANON_DIGEST_KEY)
    else:
        kind = FileKind.FORM
        profile = properties.get(PROFILE_ID_PROPERTY) or properties.get("keywords")
        digest = properties.get(CANON_DIGEST_PROPERTY)
    if not profile or not digest:
        raise PackageError("not a review pack file: it names no profile or canon digest")
    if kind is FileKind.FORM:
        with contextlib.suppress(PacksError):  # said again, where it was, by whoever reads it
            form = open_form(data)
    return Returned(data, Claim(kind, str(profile), str(digest)), book, contract, form)


def claim(data: bytes) -> Claim:
    """The profile id and canon digest a returned form or tracker carries."""
    return open_returned(data).claim


def _docx_properties(package: Package) -> dict[str, str]:
    """Custom properties by name, and the core `keywords` (the profile id too: LibreOffice 7.4
    drops the first custom property when it saves a form)."""
    out: dict[str, str] = {}
    try:
        for prop in parse_part(package.read(CUSTOM_PART)).iter(f"{{{CUSTOM_NS}}}property"):
            out[str(prop.get("name"))] = "".join(prop.itertext()).strip()
    except KeyError:
        pass
    try:
        core = parse_part(package.read(CORE_PART))
    except KeyError:
        return out
    out["keywords"] = (core.findtext(f"{{{CP_NS}}}keywords") or "").strip()
    return out


# --- forms ----------------------------------------------------------------------------------------


def _locked_text(p: Any) -> str:
    """A paragraph as issued: its text, with each fill-in field (a content control, or a text
    form field from its begin to its end character) as one FIELD mark."""
    parts: list[str] = []
    #: One entry per open complex field: whether it is a form field (its text is not canon).
    open_fields: list[bool] = []

    def walk(el: Any) -> None:
        for child in el:
            if not isinstance(child.tag, str):
                continue
            if child.tag == w("fldChar"):
                kind = child.get(w("fldCharType"))
                if kind == "begin":
                    form = child.find(f"{w('ffData')}/{w('textInput')}") is not None
                    if form and not any(open_fields):
                        parts.append(FIELD)
                    open_fields.append(form)
                elif kind == "end" and open_fields:
                    open_fields.pop()
            elif any(open_fields) and child.tag in TEXT_TAGS:
                continue  # inside a form field: what the user typed
            elif child.tag == w("sdt"):
                parts.append(FIELD)
            elif child.tag == w("t"):
                parts.append(child.text or "")
            elif child.tag == w("tab"):
                parts.append("\t")
            elif child.tag in (w("br"), w("cr")):
                parts.append("\n")
            elif child.tag != w("p"):
                walk(child)

    walk(p)
    return "".join(parts)


def form_paragraphs(data: bytes) -> list[str]:
    """The locked text of every body paragraph in document order (table cells included;
    paragraphs typed inside a block-level content control are field content, left out)."""
    return paragraphs_of(open_form(data))


def paragraphs_of(form: FormDocument) -> list[str]:
    """`form_paragraphs` of a form already opened with `open_form`."""
    found = [
        _locked_text(p)
        for p in form.document.iter(w("p"))
        if not any(a.tag == w("sdtContent") for a in p.iterancestors())
    ]
    while found and not found[-1]:  # the empty closing paragraph(s) after the sign-off table
        found.pop()
    return found


def sequence_changes(expected: Sequence[str], found: Sequence[str]) -> Iterator[Change]:
    matcher = difflib.SequenceMatcher(None, expected, found, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        pairs = max(i2 - i1, j2 - j1)
        for k in range(pairs):
            old = expected[i1 + k] if i1 + k < i2 else None
            new = found[j1 + k] if j1 + k < j2 else None
            if not old and not new:  # an empty paragraph added or removed: no canon text
                continue
            where = f"paragraph {j1 + k + 1}" if new is not None else f"after paragraph {j2}"
            yield Change(where, old, new)


# --- trackers -------------------------------------------------------------------------------------


class Cells(Protocol):
    """A workbook's values by sheet (`xlsx_cells.Book`, or an issued one with names put in)."""

    @property
    def sheetnames(self) -> list[str]: ...

    def rows(self, name: str) -> list[tuple[Any, ...]]: ...


def _same(a: object, b: object) -> bool:
    if a in (None, "") and b in (None, ""):
        return True
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return a == b


def _cell(values: Sequence[object], index: int) -> object:
    return values[index - 1] if 0 < index <= len(values) else None


def _text(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def tracker_changes(data: bytes, expected: bytes) -> list[Change]:
    """Locked cells of `data` that differ from the issued tracker `expected`, by row key."""
    issued = Book(expected)
    return book_changes(Book(data), issued, contract_of(issued))


def book_changes(returned: Cells, issued: Cells, contract: Contract) -> list[Change]:
    """`tracker_changes` of workbooks already read (`contract`: the issued one's)."""
    changes: list[Change] = []
    for name in issued.sheetnames:
        if name not in returned.sheetnames:
            changes.append(Change(f"sheet {name!r}", "the sheet", None))
            continue
        want, got = issued.rows(name), returned.rows(name)
        part = contract.sheets.get(name)
        if name == META_SHEET:  # the identity: LibreOffice lets anyone unhide and edit it
            changes += _grid_changes(name, _meta_rows(want), _meta_rows(got))
        elif part is None:  # the Read me: every cell is locked
            changes += _grid_changes(name, want, got)
        else:
            changes += _keyed_changes(name, part.columns, part.roles, want, got)
    return changes


def _meta_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """`_meta` as the check compares it: every cell but the generator's name and version.

    The generator row says which build wrote the file, not what it is; a file issued by an
    older release is not tampered with because the checker is newer.
    """
    return [
        (*r[:3], None, *r[4:]) if r[:1] == (META_RECORD,) and r[2:3] == (GENERATOR_KEY,) else r
        for r in rows
    ]


def _grid_changes(
    sheet: str, want: list[tuple[Any, ...]], got: list[tuple[Any, ...]]
) -> Iterator[Change]:
    for r in range(max(len(want), len(got))):
        a = want[r] if r < len(want) else ()
        b = got[r] if r < len(got) else ()
        for c in range(max(len(a), len(b))):
            x, y = _cell(a, c + 1), _cell(b, c + 1)
            if not _same(x, y):
                yield Change(f"{sheet}!{get_column_letter(c + 1)}{r + 1}", _text(x), _text(y))


def _keyed_changes(
    sheet: str,
    columns: Mapping[str, int],
    roles: Mapping[str, str],
    want: list[tuple[Any, ...]],
    got: list[tuple[Any, ...]],
) -> Iterator[Change]:
    key_index = next(columns[t] for t, r in roles.items() if r == Role.KEY)
    locked = [columns[t] for t, r in roles.items() if r not in (Role.KEY, Role.INPUT)]
    if want and got:  # the header row: fixed titles
        for i in sorted(columns.values()):
            if not _same(_cell(want[0], i), _cell(got[0], i)):
                where = f"{sheet}!{get_column_letter(i)}1"
                yield Change(where, _text(_cell(want[0], i)), _text(_cell(got[0], i)))
    issued = {str(_cell(v, key_index)): v for v in want[1:]}
    found: dict[str, tuple[int, tuple[Any, ...]]] = {}
    for number, values in enumerate(got[1:], 2):
        key = _cell(values, key_index)
        if isinstance(key, str) and key in issued and key not in found:
            found[key] = (number, values)
        elif any(_text(_cell(values, i)) for i in locked):
            text = " | ".join(t for i in locked if (t := _text(_cell(values, i))))
            yield Change(f"{sheet} row {number}", None, text)
    for key, values in issued.items():
        if key not in found:
            text = " | ".join(t for i in locked if (t := _text(_cell(values, i))))
            yield Change(f"{sheet} row {key}", text, None)
            continue
        number, row = found[key]
        for i in locked:
            if not _same(_cell(values, i), _cell(row, i)):
                where = f"{sheet}!{get_column_letter(i)}{number}"
                yield Change(where, _text(_cell(values, i)), _text(_cell(row, i)))


# --- the checks -----------------------------------------------------------------------------------


def verify(
    data: bytes, frames: ProfileFrames, layout: Layout, options: RenderOptions | None = None
) -> Verdict:
    """Compare a returned file with what `frames` render to (the profile it claims to be)."""
    return _verify(data, claim(data), frames, layout, options or RenderOptions())


def _verify(
    data: bytes, said: Claim, frames: ProfileFrames, layout: Layout, options: RenderOptions
) -> Verdict:
    if said.profile_id != frames.profile_id:
        raise PacksError(f"the file was issued for {said.profile_id}, not {frames.profile_id}")
    issued = get_format(said.kind.value).renderer()(frames, layout, options)
    if said.kind is FileKind.FORM:
        changes = list(sequence_changes(form_paragraphs(issued), form_paragraphs(data)))
    else:
        changes = tracker_changes(data, issued)
    return Verdict(said, frames.canon_digest, tuple(changes))


def read_returned(
    data: bytes,
    canon: Canon,
    layout: Layout,
    display: str = "returned file",
    compose: ComposeOptions | None = None,
) -> Harvest:
    """The filled values of a returned form or tracker, only once it is verified INTACT.

    Raises `TamperedError` (a `PacksError`: `path: error: … [tampered]`/`[stale]` lines) for an
    edited or stale file, and `PacksError` for one that is unusable or names an unknown profile.
    """
    said = claim(data)
    profile = canon.profile(said.profile_id)
    if profile is None:
        raise PacksError(f"{display}: issued for {said.profile_id}, which is not in the canon")
    frames = compose_profile(profile, canon.digest(profile.id), compose or ComposeOptions())
    verdict = _verify(data, said, frames, layout, RenderOptions())
    if verdict.status is not Status.INTACT:
        raise TamperedError(f"{display}: {verdict.status.value}", verdict.problems(display))
    values: Mapping[str, Any] = (
        read_form(data) if said.kind is FileKind.FORM else read_tracker(data)
    )
    return Harvest(said, values)
