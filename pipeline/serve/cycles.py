"""The review cycles `packs serve` shows: `OUT/cycles/<NAME>/` as `packs cycle` wrote it.

A cycle is whatever `cycle.json` says (`pipeline.cycle.read_cycle_json`): a name from a URL is
checked against the safe-name rule and must be a folder holding a readable `cycle.json` that
names it; a manager id must be one of its `managers`. Only then is a file opened, by the path
the record gives it (`managers/<id>.zip`, checked to be exactly that), and its bytes are served
only when they match the record's sha256.

Who sees what: HR every cycle and every person; a manager only the cycles they have reports
in, only those reports (names included) and only their own bundle (`visible_people`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from pipeline.cycle import CYCLE_JSON, CycleRecord, PersonEntry, read_cycle_json
from pipeline.cycle.contract import cycle_name_problem
from pipeline.cycle.run import CYCLES, MANAGERS
from pipeline.diagnostics import PacksError
from pipeline.serve.accounts import User
from pipeline.serve.packs import ServedFile

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
    """The cycles under one `out/`."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out).resolve()
        self.root = self.out / CYCLES

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
