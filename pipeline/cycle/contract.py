"""`cycle.json`, the contract the tests, the harvest and the web page read, and the two command-line
values a cycle is named by: its name (a folder) and its review period.

```json
{"cycle": "2027-annual", "period": {"start": "2027-01-01", "end": "2027-12-31"},
 "canon_digest": "sha256:…", "build_time": "2023-11-14T22:13:20Z",
 "people": [{"employee_id", "name", "manager_id", "profile",
             "files": [{"path", "bytes", "sha256"}]}],
 "handouts": [{"profile", "files": [...]}], "managers": [{"manager_id", "files": [...]}]}
```
Every `path` is relative to the cycle folder (`OUT/cycles/NAME/`); `build_time` comes from
`SOURCE_DATE_EPOCH`. Lists are sorted (people by employee id, handouts by profile, managers by
manager id), so the same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pipeline.diagnostics import CanonError, Problem
from pipeline.ooxml.archive import iso_utc

CYCLE_JSON = "cycle.json"
#: A cycle's folder name: `2027-annual`, `2027-h1.engineering`.
_CYCLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def __str__(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


def cycle_name_problem(name: str) -> Problem | None:
    if _CYCLE_NAME.fullmatch(name) and not name.endswith("."):
        return None
    return Problem(
        "--name",
        0,
        f"{name!r} is not a safe folder name (expected 1–64 letters, digits, '.', '_' or '-', "
        "starting with a letter or digit, such as 2027-annual)",
        "cycle-name",
    )


def parse_period(text: str) -> Period | Problem:
    """`START/END`, both ISO dates, START on or before END."""
    start_text, sep, end_text = text.partition("/")
    dates: list[date] = []
    for part in (start_text, end_text):
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", part):
                raise ValueError
            dates.append(date.fromisoformat(part))
        except ValueError:
            return Problem(
                "--period",
                0,
                f"{text!r} is not START/END with ISO dates (such as 2027-01-01/2027-12-31)",
                "cycle-period",
            )
    if not sep:
        return Problem("--period", 0, f"{text!r} has no '/' between START and END", "cycle-period")
    start, end = dates
    if end < start:
        return Problem(
            "--period",
            0,
            f"{text!r} ends before it starts (END must not precede START)",
            "cycle-period",
        )
    return Period(start, end)


def check_arguments(name: str, period: str) -> Period:
    """The cycle name and period, or a CanonError with both problems."""
    problems = [p for p in (cycle_name_problem(name),) if p is not None]
    parsed = parse_period(period)
    if isinstance(parsed, Problem):
        problems.append(parsed)
    if problems or isinstance(parsed, Problem):
        raise CanonError("the cycle's arguments are invalid", problems)
    return parsed


# --- cycle.json -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedFile:
    """A file of the cycle: its path relative to the cycle folder, size and sha256."""

    path: str
    size: int
    sha256: str

    @classmethod
    def of(cls, path: str, data: bytes) -> IssuedFile:
        return cls(path, len(data), hashlib.sha256(data).hexdigest())

    def entry(self) -> dict[str, Any]:
        return {"path": self.path, "bytes": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class PersonEntry:
    employee_id: str
    name: str
    manager_id: str | None
    profile: str
    files: tuple[IssuedFile, ...]


@dataclass(frozen=True)
class CycleRecord:
    """What `cycle.json` says: one cycle as built."""

    cycle: str
    period: Period
    canon_digest: str
    build_epoch: int
    people: tuple[PersonEntry, ...]
    #: profile id -> its handout files
    handouts: Mapping[str, tuple[IssuedFile, ...]]
    #: manager id -> its bundle files
    managers: Mapping[str, tuple[IssuedFile, ...]]
    #: Extra keys (the inputs fingerprint incremental runs compare); not part of the contract.
    extra: Mapping[str, Any] | None = None


def _files(files: Sequence[IssuedFile]) -> list[dict[str, Any]]:
    return [f.entry() for f in sorted(files, key=lambda f: f.path)]


def cycle_json(record: CycleRecord) -> bytes:
    data: dict[str, Any] = {
        "cycle": record.cycle,
        "period": {"start": record.period.start.isoformat(), "end": record.period.end.isoformat()},
        "canon_digest": record.canon_digest,
        "build_time": iso_utc(record.build_epoch),
        "people": [
            {
                "employee_id": p.employee_id,
                "name": p.name,
                "manager_id": p.manager_id,
                "profile": p.profile,
                "files": _files(p.files),
            }
            for p in sorted(record.people, key=lambda p: p.employee_id)
        ],
        "handouts": [
            {"profile": profile, "files": _files(files)}
            for profile, files in sorted(record.handouts.items())
        ],
        "managers": [
            {"manager_id": manager, "files": _files(files)}
            for manager, files in sorted(record.managers.items())
        ],
    }
    if record.extra:
        data.update(record.extra)
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _issued(entries: Any) -> tuple[IssuedFile, ...]:
    return tuple(IssuedFile(str(f["path"]), int(f["bytes"]), str(f["sha256"])) for f in entries)


def read_cycle_json(path: Path) -> CycleRecord:
    """A `cycle.json` back as a record (ValueError, KeyError or OSError when it is not one)."""
    data = json.loads(path.read_bytes())
    period = Period(
        date.fromisoformat(data["period"]["start"]), date.fromisoformat(data["period"]["end"])
    )
    from datetime import datetime

    epoch = int(datetime.fromisoformat(data["build_time"].replace("Z", "+00:00")).timestamp())
    known = {"cycle", "period", "canon_digest", "build_time", "people", "handouts", "managers"}
    return CycleRecord(
        cycle=str(data["cycle"]),
        period=period,
        canon_digest=str(data["canon_digest"]),
        build_epoch=epoch,
        people=tuple(
            PersonEntry(
                str(p["employee_id"]),
                str(p["name"]),
                None if p["manager_id"] is None else str(p["manager_id"]),
                str(p["profile"]),
                _issued(p["files"]),
            )
            for p in data["people"]
        ),
        handouts={str(h["profile"]): _issued(h["files"]) for h in data["handouts"]},
        managers={str(m["manager_id"]): _issued(m["files"]) for m in data["managers"]},
        extra={k: v for k, v in data.items() if k not in known} or None,
    )
