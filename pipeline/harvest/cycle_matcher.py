"""`packs harvest CYCLE_DIR RETURNED...`: each returned file matched to the person its sealed
identity names.

A file belongs to whom its identity (`pipeline.cycle.identity`) says, never to its file name;
then it gets the canon checks of `collect.CanonMatcher`, against the file as the cycle issued it
to that person (from one render per profile with markers for the review fields, or rendered in
full where a marker cannot stand for a value).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from pipeline.cycle.personal import marker
from pipeline.harvest.collect import (
    CanonMatcher,
    Issued,
    Matched,
    Person,
    Verdict,
    check_returned,
    issued_file,
)
from pipeline.harvest.verify import Cells, Claim, FileKind, Returned, open_returned
from pipeline.layout import RenderOptions
from pipeline.model import ProfileFrames
from pipeline.ooxml.form_contract import (
    EMPLOYEE_KEY,
    MANAGER_KEY,
    PERIOD_END_KEY,
    PERIOD_START_KEY,
)
from pipeline.render import get_format


class CycleMatcher:
    """A review cycle (`CYCLE_DIR`): a file belongs to the person its sealed identity names
    (`pipeline.cycle.identity`), never to its file name. No identity, or one of another cycle or
    of someone not issued in it: `unknown`; a seal that does not verify, or a profile claim that
    is not the sealed one: `tampered`; then the canon checks of `CanonMatcher`."""

    def __init__(self, cycle_dir: Path, canon: CanonMatcher) -> None:
        from pipeline.cycle import load_secret, read_cycle_json

        self.record = read_cycle_json(cycle_dir / "cycle.json")
        self.secret = load_secret(cycle_dir)
        self.canon = canon
        self._people = {
            p.employee_id: Person(p.employee_id, p.name, p.manager_id or "", p.profile)
            for p in self.record.people
        }
        self._names = {p.employee_id: p.name for p in self.record.people}
        #: One render per profile, kind and set of review fields, with markers for the values.
        self._templates: dict[tuple[str, FileKind, tuple[str, ...]], Issued] = {}
        self._nonce = secrets.token_hex(6)

    def people(self) -> list[Person]:
        return list(self._people.values())

    def __call__(self, data: bytes, said: Claim) -> Matched:
        return self.match(replace(open_returned(data), claim=said))

    def match(self, returned: Returned) -> Matched:
        from pipeline.cycle import read_identity, verify

        said = returned.claim
        identity = read_identity(returned.data)
        if identity is None:
            return Matched(None, Verdict.UNKNOWN, "no cycle identity: not a file of this cycle")
        if identity.cycle != self.record.cycle:
            return Matched(
                None,
                Verdict.UNKNOWN,
                f"from cycle {identity.cycle!r}, not {self.record.cycle!r}",
            )
        if not verify(identity, self.secret):
            return Matched(
                None, Verdict.TAMPERED, "its identity does not verify (the seal was edited)"
            )
        person = self._people.get(identity.employee_id)
        if person is None:
            return Matched(
                None, Verdict.UNKNOWN, f"{identity.employee_id} was not issued in this cycle"
            )
        if said.profile_id != identity.profile_id or identity.profile_id != person.profile:
            return Matched(
                person,
                Verdict.TAMPERED,
                f"sealed for {identity.profile_id} but claims {said.profile_id} "
                f"({person.employee_id} was issued {person.profile})",
            )
        frames = self.canon.frames(said.profile_id)
        if frames is None:
            return Matched(person, Verdict.UNKNOWN, f"{said.profile_id} is not in the canon")
        matched = check_returned(returned, frames, self._from_template(person), person)
        if matched.verdict is Verdict.TAMPERED:  # confirmed against a full render of theirs
            matched = check_returned(returned, frames, self._issued_for(person), person)
        return matched

    def _fields(self, person: Person) -> dict[str, str]:
        """The review fields of `cycle.groups.review_fields`: what the person's Read me lines and
        form show."""
        fields = {
            EMPLOYEE_KEY: person.name,
            PERIOD_START_KEY: self.record.period.start.isoformat(),
            PERIOD_END_KEY: self.record.period.end.isoformat(),
        }
        if person.manager in self._names:
            fields[MANAGER_KEY] = self._names[person.manager]
        return dict(sorted(fields.items()))

    def _issued_for(self, person: Person) -> Callable[[ProfileFrames, FileKind], Issued]:
        """The person's file as the cycle issued it (its Read me lines name them), rendered in
        full for this one check."""
        options = RenderOptions(fields=tuple(self._fields(person).items()))

        def issued(frames: ProfileFrames, kind: FileKind) -> Issued:
            data = get_format(kind.value).renderer()(frames, self.canon.layout, options)
            return issued_file(data, kind)

        return issued

    def _from_template(self, person: Person) -> Callable[[ProfileFrames, FileKind], Issued]:
        """The person's file as issued, from one render per profile with a marker standing for
        each review field: the markers in its paragraphs and cells replaced by this person's
        values. Only for values a render writes as they are (printable, no edge spaces, no
        `_x` escape, no marker character); anything else is rendered in full. A file found
        tampered this way is checked again against the full render (`match`)."""
        fields = self._fields(person)
        if not all(_plain(v) for v in fields.values()):
            return self._issued_for(person)
        keys = tuple(fields)
        replacements = [(marker(k, self._nonce), v) for k, v in fields.items()]

        def issued(frames: ProfileFrames, kind: FileKind) -> Issued:
            key = (frames.profile_id, kind, keys)
            if key not in self._templates:
                markers = tuple((k, marker(k, self._nonce)) for k in keys)
                options = RenderOptions(fields=markers)
                data = get_format(kind.value).renderer()(frames, self.canon.layout, options)
                self._templates[key] = issued_file(data, kind)
            t = self._templates[key]
            if kind is FileKind.FORM:
                return Issued(t.data, [_put(p, replacements) for p in t.paragraphs])
            assert t.cells is not None
            return Issued(t.data, [], _Filled(t.cells, replacements), t.contract)

        return issued


def _plain(value: str) -> bool:
    return (
        value.isprintable()
        and value == value.strip()
        and "_x" not in value
        and "\u00a7" not in value
    )


def _put(text: str, replacements: Sequence[tuple[str, str]]) -> str:
    if "\u00a7" not in text:
        return text
    for old, new in replacements:
        text = text.replace(old, new)
    return text


class _Filled:
    """A template's cells with the markers replaced (rows computed when first asked for)."""

    def __init__(self, cells: Cells, replacements: Sequence[tuple[str, str]]) -> None:
        self.cells = cells
        self.replacements = replacements
        self._rows: dict[str, list[tuple[object, ...]]] = {}

    @property
    def sheetnames(self) -> list[str]:
        return self.cells.sheetnames

    def rows(self, name: str) -> list[tuple[object, ...]]:
        if name not in self._rows:
            self._rows[name] = [
                tuple(_put(v, self.replacements) if isinstance(v, str) else v for v in row)
                for row in self.cells.rows(name)
            ]
        return self._rows[name]
