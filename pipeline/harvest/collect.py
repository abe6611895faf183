"""`packs harvest`: every returned file found, read, checked and given one verdict.

Files are read only (never moved or rewritten), one at a time, so memory stays bounded by one
file plus the values taken. Each file gets exactly one `Return` with a verdict and a message;
nothing is dropped. Files are matched by what they carry (the profile claim; in a cycle the
sealed identity), never by their names.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TextIO

from lxml import etree

from pipeline.compose import ComposeOptions, compose_profile
from pipeline.diagnostics import PacksError
from pipeline.harvest.package import open_package
from pipeline.harvest.verify import (
    RETURNED_PACKAGE,
    Cells,
    Change,
    Claim,
    FileKind,
    Returned,
    Status,
    book_changes,
    form_paragraphs,
    open_returned,
    sequence_changes,
)
from pipeline.harvest.verify import Verdict as VerifyVerdict
from pipeline.harvest.xlsx_tracker import Book, Contract, contract_of
from pipeline.layout import Layout, RenderOptions
from pipeline.model import Canon, ProfileFrames
from pipeline.ooxml.ns import CORE_PART, DCTERMS_NS
from pipeline.ooxml.tracker_contract import Role
from pipeline.render import get_format

#: Returned files larger than this are not read (no pack file comes near it).
MAX_FILE_BYTES = 64 * 1024 * 1024
SUFFIXES = {".docx": FileKind.FORM, ".xlsx": FileKind.TRACKER}


class Verdict(StrEnum):
    OK = "ok"
    TAMPERED = "tampered"
    STALE = "stale"
    UNKNOWN = "unknown"
    UNREADABLE = "unreadable"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"


#: The order verdicts are counted in (Summary sheet, messages).
VERDICTS = tuple(Verdict)


@dataclass(frozen=True)
class Person:
    """Who a returned file can belong to: a cycle's person, or (profile packs) the profile."""

    employee_id: str
    name: str
    manager: str
    profile: str


@dataclass
class Return:
    """One returned file and what became of it."""

    path: str
    sha256: str
    kind: str
    verdict: Verdict
    message: str
    employee_id: str = ""
    #: The file's own modified time (core properties), else the file system's, as UTC.
    modified: datetime | None = None
    #: row key -> column -> value (only for files that may be taken).
    values: Mapping[str, Mapping[str, object]] = field(default_factory=dict)


@dataclass(frozen=True)
class Matched:
    """What a matcher says of a readable file: whose it is, or the verdict and why not."""

    person: Person | None
    verdict: Verdict
    message: str
    claim: Claim | None = None


Matcher = Callable[[bytes, Claim], Matched]


def discover(sources: Sequence[Path]) -> Iterator[tuple[Path, bool]]:
    """(path, readable kind?) of every file under `sources`, in a stable order."""
    seen: set[Path] = set()
    for source in sources:
        found = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
        for path in found:
            key = path.resolve()
            if key in seen:
                continue
            seen.add(key)
            yield path, path.suffix.lower() in SUFFIXES and not path.name.startswith("~$")


def _modified(data: bytes) -> datetime | None:
    """dcterms:modified of the package's core properties (what Word and LibreOffice set)."""
    try:
        with open_package(data, RETURNED_PACKAGE) as package:
            core = package.read(CORE_PART)
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        text = etree.fromstring(core, parser).findtext(f"{{{DCTERMS_NS}}}modified")
    except (KeyError, PacksError, etree.XMLSyntaxError):
        return None
    if not text:
        return None
    try:
        stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _read_values(returned: Returned) -> dict[str, dict[str, object]]:
    """row key -> column -> value; a form's `smart.1.measurable.target` is row
    `smart.1.measurable`, column `Target`; a single field (`review.employee`) is column Value."""
    values = returned.values()
    if returned.claim.kind is FileKind.TRACKER:
        return {k: dict(v) for k, v in values.items()}
    out: dict[str, dict[str, object]] = {}
    for key, value in values.items():
        row, _, last = key.rpartition(".")
        if row and last.capitalize() in COLUMNS:
            out.setdefault(row, {})[last.capitalize()] = value
        else:
            out.setdefault(key, {})["Value"] = value
    return out


COLUMNS = ("Baseline", "Target", "Due", "Actual", "Status", "Comment")


class CanonMatcher:
    """Profile packs (`--canon DIR`): a file belongs to the profile it claims, checked against
    this canon's current render of it (tamper and stale checks of `verify`)."""

    def __init__(self, canon: Canon, layout: Layout, compose: ComposeOptions | None = None):
        self.canon = canon
        self.layout = layout
        self.compose = compose or ComposeOptions()
        self._frames: dict[str, ProfileFrames] = {}
        self._issued: dict[tuple[str, FileKind], Issued] = {}

    def frames(self, profile_id: str) -> ProfileFrames | None:
        if profile_id not in self._frames:
            profile = self.canon.profile(profile_id)
            if profile is None:
                return None
            self._frames[profile_id] = compose_profile(
                profile, self.canon.digest(profile_id), self.compose
            )
        return self._frames[profile_id]

    def people(self) -> list[Person]:
        return [Person(p.id, "", "", p.id) for p in self.canon.profiles]

    def __call__(self, data: bytes, said: Claim) -> Matched:
        return self.match(replace(open_returned(data), claim=said))

    def match(self, returned: Returned) -> Matched:
        said = returned.claim
        frames = self.frames(said.profile_id)
        if frames is None:
            return Matched(
                None, Verdict.UNKNOWN, f"issued for {said.profile_id}, which is not in the canon"
            )
        person = Person(said.profile_id, "", "", said.profile_id)
        return check_returned(returned, frames, self.issued, person)

    def issued(self, frames: ProfileFrames, kind: FileKind) -> Issued:
        """The file as issued for `frames`, rendered and read once per profile and kind."""
        key = (frames.profile_id, kind)
        if key not in self._issued:
            data = get_format(kind.value).renderer()(frames, self.layout, RenderOptions())
            self._issued[key] = issued_file(data, kind)
        return self._issued[key]


@dataclass(frozen=True)
class Issued:
    data: bytes
    #: A form's locked paragraphs (`verify.form_paragraphs`), computed once.
    paragraphs: list[str]
    #: A tracker's values and `_meta` contract, read once.
    cells: Cells | None = None
    contract: Contract | None = None


def issued_file(data: bytes, kind: FileKind) -> Issued:
    """An issued file with what the checks compare read from it once."""
    if kind is FileKind.FORM:
        return Issued(data, form_paragraphs(data))
    book = Book(data)
    return Issued(data, [], book, contract_of(book))


def check_against(
    data: bytes,
    said: Claim,
    frames: ProfileFrames,
    issued: Callable[[ProfileFrames, FileKind], Issued],
    person: Person,
) -> Matched:
    """The tamper/stale verdict of `data` against `frames` (`verify`'s checks, with the issued
    file rendered once per profile rather than once per returned file)."""
    return check_returned(replace(open_returned(data), claim=said), frames, issued, person)


def _changes(returned: Returned, original: Issued) -> list[Change]:
    if returned.claim.kind is FileKind.FORM:
        return list(sequence_changes(original.paragraphs, returned.paragraphs()))
    if returned.book is None or original.cells is None or original.contract is None:
        raise PacksError("not a tracker: its cells could not be read")
    return book_changes(returned.book, original.cells, original.contract)


def check_returned(
    returned: Returned,
    frames: ProfileFrames,
    issued: Callable[[ProfileFrames, FileKind], Issued],
    person: Person,
) -> Matched:
    """`check_against` of a file already opened (read once for claim, check and values)."""
    said = returned.claim
    if said.profile_id != frames.profile_id:
        raise PacksError(f"the file was issued for {said.profile_id}, not {frames.profile_id}")
    found = _changes(returned, issued(frames, said.kind))
    verdict = VerifyVerdict(said, frames.canon_digest, tuple(found))
    if verdict.status is Status.STALE:
        problems = verdict.problems("")
        return Matched(person, Verdict.STALE, problems[0].message, said)
    if verdict.status is Status.TAMPERED:
        shown = [c.message() for c in verdict.changes[:3]]
        more = len(verdict.changes) - len(shown)
        text = "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
        return Matched(person, Verdict.TAMPERED, f"canon text edited: {text}", said)
    return Matched(person, Verdict.OK, "", said)


def examine(path: Path, display: str, matcher: Matcher) -> Return:
    """One returned file, read only, to one `Return`."""
    kind = SUFFIXES[path.suffix.lower()]
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return Return(display, "", kind.value, Verdict.UNREADABLE, f"{size} bytes; too large")
        data = path.read_bytes()
    except OSError as exc:
        return Return(display, "", kind.value, Verdict.UNREADABLE, f"cannot read: {exc.strerror}")
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    modified = _modified(data) or datetime.fromtimestamp(int(path.stat().st_mtime), UTC)
    base = Return(display, digest, kind.value, Verdict.UNREADABLE, "", modified=modified)
    try:
        opened = open_returned(data)
    except PacksError as exc:
        text = _one_line(str(exc))
        if "names no profile" in text:
            return replace(base, verdict=Verdict.UNKNOWN, message=text)
        return replace(base, message=text)
    base.kind = opened.claim.kind.value
    try:
        match = getattr(matcher, "match", None)  # a matcher that takes the file as opened
        matched = match(opened) if callable(match) else matcher(data, opened.claim)
    except PacksError as exc:
        return replace(base, message=_one_line(str(exc)))
    person = matched.person
    base = replace(
        base,
        verdict=matched.verdict,
        message=matched.message,
        employee_id=person.employee_id if person else "",
    )
    if matched.verdict is not Verdict.OK:
        return base
    try:
        return replace(base, values=_read_values(opened))
    except PacksError as exc:
        return replace(base, verdict=Verdict.UNREADABLE, message=_one_line(str(exc)))


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def conflicts(a: Return, b: Return) -> list[str]:
    """Fields whose values differ between two returns of one person and kind."""
    out = []
    for row in sorted(set(a.values) | set(b.values)):
        x, y = a.values.get(row, {}), b.values.get(row, {})
        for column in sorted(set(x) | set(y)):
            if x.get(column) != y.get(column):
                out.append(f"{row} {column}: {x.get(column)!r} vs {y.get(column)!r}")
    return out


def settle_duplicates(returns: list[Return]) -> None:
    """Of two or more `ok` returns for one person and kind, the newest is taken; the others are
    `duplicate`, their differing fields named (the taken one's message says so too)."""
    groups: dict[tuple[str, str], list[Return]] = {}
    for r in returns:
        if r.verdict is Verdict.OK:
            groups.setdefault((r.employee_id, r.kind), []).append(r)
    for group in groups.values():
        if len(group) < 2:
            continue
        epoch = datetime.fromtimestamp(0, UTC)
        group.sort(key=lambda r: (r.modified or epoch, r.path), reverse=True)
        taken = group[0]
        for other in group[1:]:
            differing = conflicts(taken, other)
            other.verdict = Verdict.DUPLICATE
            when = other.modified.isoformat() if other.modified else "unknown"
            other.message = f"an older return (modified {when}) than {taken.path}, which is taken"
            if differing:
                shown = "; ".join(differing[:5])
                more = f"; and {len(differing) - 5} more" if len(differing) > 5 else ""
                other.message += f"; conflicting values: {shown}{more}"
                taken.message = _join(
                    taken.message, f"taken over {other.path}, whose values conflict: {shown}{more}"
                )
            other.values = {}


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b


class Bar:
    """A one-line progress bar on a terminal (stderr); silent otherwise."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.done = 0

    def step(self) -> None:
        self.done += 1
        if self.tty and (self.done == self.total or self.done % 10 == 0):
            width = 30
            filled = width * self.done // max(self.total, 1)
            bar = "#" * filled + "-" * (width - filled)
            self.stream.write(f"\rharvest [{bar}] {self.done}/{self.total} files")
            if self.done == self.total:
                self.stream.write("\n")
            self.stream.flush()


def harvest(
    sources: Sequence[Path], matcher: Matcher, stream: TextIO | None = None, jobs: int = 1
) -> list[Return]:
    """Every file under `sources` examined (on `jobs` forked worker processes when more than
    one: each file is read and checked on its own, so the returns are the same, in the same
    order, whatever `jobs` is); duplicates settled."""
    found = list(discover(sources))
    bar = Bar(len(found), stream)
    todo = [(str(path), path) for path, readable in found if readable]
    examined = _examine_all(todo, matcher, jobs)
    returns: list[Return] = []
    for path, readable in found:
        if readable:
            returns.append(next(examined))
        else:
            returns.append(
                Return(str(path), _sha(path), "", Verdict.SKIPPED, "not a .docx or .xlsx file")
            )
        bar.step()
    settle_duplicates(returns)
    return returns


#: The matcher of a forked worker (inherited from the parent, never pickled).
_WORKER_MATCHER: list[Matcher] = []


def _examine_in_worker(item: tuple[str, Path]) -> Return:
    return examine(item[1], item[0], _WORKER_MATCHER[0])


def _examine_all(todo: list[tuple[str, Path]], matcher: Matcher, jobs: int) -> Iterator[Return]:
    if jobs <= 1 or len(todo) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        for display, path in todo:
            yield examine(path, display, matcher)
        return
    _WORKER_MATCHER[:] = [matcher]
    try:
        with multiprocessing.get_context("fork").Pool(min(jobs, len(todo))) as pool:
            yield from pool.imap(_examine_in_worker, todo, chunksize=4)
    finally:
        _WORKER_MATCHER.clear()


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return ""
    return "sha256:" + digest.hexdigest()


def canon_texts(
    frames: ProfileFrames, layout: Layout, cache: dict[str, dict[str, str]]
) -> dict[str, str]:
    """Row key -> the canon text of that row (the tracker's locked cells, as issued)."""
    if frames.profile_id not in cache:
        book = Book(get_format("xlsx").renderer()(frames, layout, RenderOptions()))
        contract = contract_of(book)
        texts: dict[str, str] = {}
        for sheet, part in contract.sheets.items():
            key_index = next((part.columns[t] for t, r in part.roles.items() if r == Role.KEY), 0)
            locked = [
                part.columns[t] for t, r in part.roles.items() if r not in (Role.KEY, Role.INPUT)
            ]
            for row in book.rows(sheet)[1:]:
                if not key_index or key_index > len(row):
                    continue
                key = row[key_index - 1]
                cells = [row[i - 1] for i in locked if i <= len(row) and row[i - 1]]
                if isinstance(key, str):
                    texts[key] = " | ".join(str(c) for c in cells)
        cache[frames.profile_id] = texts
    return cache[frames.profile_id]
