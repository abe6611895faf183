"""The review cycles `packs serve` shows: `OUT/cycles/<NAME>/` as `packs cycle` wrote it.

A cycle is whatever `cycle.json` says (`pipeline.cycle.read_cycle_json`): a name from a URL is
checked against the safe-name rule and must be a folder holding a readable `cycle.json` that
names it; a manager id must be one of its `managers`. Only then is a file opened, by the path
the record gives it (`managers/<id>.zip`, checked to be exactly that), and its bytes are served
only when they match the record's sha256.

A bundle missing on disk, or stale for this server's canon and build settings (decided as
`packs cycle` decides, `pipeline.cycle.inputs.stale_bundle`), is brought up to date first by
`packs cycle`'s own code over the cycle as `cycle.json` records it (`refresh_request`, run in a
worker process under the cycle's build lock).

Who sees what: HR every cycle and every person; a manager only the cycles they have reports
in, only those reports (names included) and only their own bundle (`visible_people`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path

from pipeline.cycle import CYCLE_JSON, CycleRecord, PersonEntry, read_cycle_json
from pipeline.cycle.contract import cycle_name_problem
from pipeline.cycle.inputs import (
    MANAGERS,
    formats_of,
    other_settings,
    present,
    roster_of,
    stale_bundle,
    stamped_common,
)
from pipeline.cycle.run import CYCLES
from pipeline.diagnostics import CanonError, PacksError
from pipeline.serve.accounts import User
from pipeline.serve.packs import PackStore, ServedFile
from pipeline.serve.worker import RefreshRequest

#: Cycle names the web page cannot show: they are its own URLs (`/cycles/new`).
RESERVED_NAMES = frozenset({"new"})


def valid_name(name: str) -> bool:
    return cycle_name_problem(name) is None and name not in RESERVED_NAMES


def visible_people(user: User, record: CycleRecord) -> list[PersonEntry]:
    """The people of a cycle this user may see: everyone for HR, a manager's own reports."""
    if user.is_hr:
        return list(record.people)
    if user.manager_id is None:
        return []
    return [p for p in record.people if p.manager_id == user.manager_id]


def may_see(user: User, record: CycleRecord) -> bool:
    if user.is_hr:
        return True
    return bool(visible_people(user, record)) or (
        user.manager_id is not None and user.manager_id in record.managers
    )


class CycleStore:
    """The cycles under the packs' `out/`, built with the packs' canon and build settings."""

    def __init__(self, packs: PackStore) -> None:
        self.packs = packs
        self.out = packs.out
        self.root = self.out / CYCLES
        #: `stamped_common` per set of formats (it reads the layout's files).
        self._common: dict[tuple[str, ...], tuple[str, int | None]] = {}
        self._common_lock = threading.Lock()

    def folder(self, name: str) -> Path:
        """The folder of a checked name (call `record` first)."""
        assert valid_name(name)
        return self.root / name

    def names(self) -> list[str]:
        """Names of the folders that hold a `cycle.json` (not checked to be readable)."""
        try:
            found = [p.name for p in self.root.iterdir()]
        except OSError:
            return []
        return sorted(n for n in found if valid_name(n) and (self.root / n / CYCLE_JSON).is_file())

    def record(self, name: str) -> CycleRecord | None:
        """The cycle of a name from a URL, or None (an unsafe name touches no file)."""
        if not valid_name(name):
            return None
        try:
            record = read_cycle_json(self.root / name / CYCLE_JSON)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return record if record.cycle == name else None

    def records(self, user: User) -> list[CycleRecord]:
        """Every readable cycle this user may see, by name."""
        records = (self.record(n) for n in self.names())
        return [r for r in records if r is not None and may_see(user, r)]

    def stale(self, record: CycleRecord, manager_id: str) -> str | None:
        """Why a manager's bundle is missing or not what `packs cycle` would write now with
        this server's canon and settings; None when it is current."""
        formats = formats_of(record)
        key = tuple(f.name for f in formats)
        with self._common_lock:
            if key not in self._common:
                p = self.packs
                self._common[key] = stamped_common(formats, p.layout, p.options, p.compose_options)
            build, epoch = self._common[key]
        return stale_bundle(
            record, self.folder(record.cycle), manager_id, self.packs.canon, build, epoch
        )

    def other_settings(self, record: CycleRecord) -> str | None:
        """Why this server must not build the cycle again (it was built with other choices
        than the server's: page size, form password, salary line); None when it may."""
        p = self.packs
        return other_settings(record, self.folder(record.cycle), p.options, p.compose_options)

    def on_disk(self, record: CycleRecord, manager_id: str) -> bool:
        """Whether the manager's bundle is on disk as `cycle.json` records it."""
        return present(self.folder(record.cycle), record.managers.get(manager_id) or ())

    def refresh_request(self, record: CycleRecord) -> RefreshRequest:
        """`packs cycle` over this cycle as recorded, with this server's canon and settings;
        PacksError when the record is not a roster the canon can build."""
        try:
            roster = roster_of(record, self.packs.canon)
        except CanonError as exc:
            first = exc.problems[0].message if exc.problems else str(exc)
            raise PacksError(
                f"{record.cycle}: its cycle.json cannot be built again with this canon ({first}); "
                "build the cycle with `packs cycle`"
            ) from None
        p = self.packs
        return RefreshRequest(
            p.canon,
            roster,
            record.cycle,
            record.period,
            tuple(f.name for f in formats_of(record)),
            self.out,
            p.layout,
            p.options,
            p.compose_options,
        )

    def bundle(self, record: CycleRecord, manager_id: str) -> ServedFile | None:
        """`managers/<manager_id>.zip` as `packs cycle --zip` wrote it, checked against
        `cycle.json`; None when the cycle has no such bundle."""
        files = record.managers.get(manager_id)
        expected = f"{MANAGERS}/{manager_id}.zip"
        issued = next((f for f in files or () if f.path == expected), None)
        if issued is None:
            return None
        data = (self.folder(record.cycle) / expected).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != issued.sha256:
            raise PacksError(
                f"{record.cycle}/{expected} does not match cycle.json; build the cycle again"
            )
        return ServedFile(f"{manager_id}.zip", data, digest)


def managers_shown(user: User, record: CycleRecord) -> Sequence[str]:
    """The bundles a user may download in a cycle."""
    if user.is_hr:
        return sorted(record.managers)
    if user.manager_id is not None and user.manager_id in record.managers:
        return [user.manager_id]
    return []
