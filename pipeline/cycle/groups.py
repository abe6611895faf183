"""A cycle's profile groups, the unit of work: one profile composed once, its handout rendered once,
its form and tracker rendered once as templates, every stale person on it personalised from them.

`make_group` has no effect but handing each file to its sink; `build_group` (a local worker)
stages the files beside their final place (0600, in folders 0700) and returns them for
`pipeline.cycle.run.cycle` to commit; `pipeline.cycle.cluster` runs `make_group` on Dask workers
and stages what comes back with the same `Staged`.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.build.commit import discard, os_message, stage
from pipeline.build.workers import PackResult, library_warnings
from pipeline.compose import ComposeOptions, compose_profile
from pipeline.cycle.contract import IssuedFile, Period, PersonEntry
from pipeline.cycle.inputs import HANDOUT_FORMAT, HANDOUTS, PEOPLE, PERSONAL_FORMATS
from pipeline.cycle.personal import Template, person_options, personalise, template
from pipeline.cycle.roster import Person
from pipeline.diagnostics import PacksError
from pipeline.layout import Layout, RenderOptions
from pipeline.model import Profile
from pipeline.ooxml.form_contract import EMPLOYEE_KEY, MANAGER_KEY, PERIOD_END_KEY, PERIOD_START_KEY
from pipeline.render import Format

FILE_MODE, DIR_MODE = 0o600, 0o700


def review_fields(person: Person, manager: Person | None, period: Period) -> dict[str, str]:
    """The review-field values of one person's form and tracker, by field key."""
    values = {
        EMPLOYEE_KEY: person.name,
        PERIOD_START_KEY: period.start.isoformat(),
        PERIOD_END_KEY: period.end.isoformat(),
    }
    if manager is not None:
        values[MANAGER_KEY] = manager.name
    return dict(sorted(values.items()))


def mkdir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)


@dataclass
class Staged:
    """Files made in this run: final path -> temp path, and their records."""

    temps: dict[Path, Path] = field(default_factory=dict)
    issued: dict[str, IssuedFile] = field(default_factory=dict)

    def add(self, root: Path, rel: str, data: bytes) -> IssuedFile:
        final = root / rel
        folder = root
        for part in Path(rel).parts[:-1]:
            folder = folder / part
            if not folder.is_dir():
                mkdir(folder)
        self.temps[final] = stage(final, data, FILE_MODE)
        record = IssuedFile.of(rel, data)
        self.issued[rel] = record
        return record

    def read(self, root: Path, rel: str) -> bytes:
        final = root / rel
        return self.temps.get(final, final).read_bytes()

    def result(self, profile_id: str, seconds: float, made: GroupFiles) -> GroupResult:
        """A group's result: what `made` holds and the files staged here."""
        return GroupResult(
            profile_id,
            seconds,
            warnings=made.warnings,
            entries=made.entries,
            handout=made.handout,
            temps=tuple((str(final), str(tmp)) for final, tmp in self.temps.items()),
        )


@dataclass(frozen=True)
class CycleJob:
    """Everything a worker needs besides the profile group; pickled once per worker."""

    #: Every format of the cycle (the worker server preloads their renderers).
    formats: tuple[Format, ...]
    layout: Layout
    options: RenderOptions
    compose: ComposeOptions
    root: Path
    name: str
    period: Period


@dataclass(frozen=True)
class GroupTask:
    """One profile's work: its handout (when stale) and its stale people with their managers
    and their sealed identity lines (sealed by the caller: the secret is not in the task)."""

    profile: Profile
    digest: str
    handout: bool
    people: tuple[tuple[Person, Person | None], ...]
    identities: tuple[str, ...]


@dataclass(frozen=True)
class GroupResult(PackResult):
    """What a group made, staged on disk: (final path, temporary path) pairs to commit."""

    entries: tuple[PersonEntry, ...] = ()
    handout: tuple[IssuedFile, ...] = ()
    temps: tuple[tuple[str, str], ...] = ()


#: Where a group's files go as they are made: (path relative to the cycle folder, bytes) ->
#: its record. Staged on disk by a local worker, kept in memory on a Dask worker.
Sink = Callable[[str, bytes], IssuedFile]


@dataclass(frozen=True)
class GroupFiles:
    """What `make_group` made: every person's entry, the handout's record, what was warned."""

    entries: tuple[PersonEntry, ...]
    handout: tuple[IssuedFile, ...]
    warnings: tuple[str, ...]


def make_group(job: CycleJob, task: GroupTask, add: Sink) -> GroupFiles:
    """Compose a profile once, render its handout and its form and tracker templates once,
    personalise every stale person's files; each file goes to `add` as it is made (no other
    effect: no files, no clock)."""
    pid = task.profile.id
    formats = {f.name: f for f in job.formats}
    personal = [formats[n] for n in PERSONAL_FORMATS if n in formats]
    with library_warnings() as warned:
        frames = compose_profile(task.profile, task.digest, job.compose)
        handout: tuple[IssuedFile, ...] = ()
        if task.handout and HANDOUT_FORMAT in formats:
            fmt = formats[HANDOUT_FORMAT]
            data = fmt.renderer()(frames, job.layout, job.options)
            handout = (add(f"{HANDOUTS}/{fmt.file_name(pid)}", data),)
    templates: dict[tuple[str, tuple[str, ...]], Template] = {}
    entries = []
    for (person, manager), identity in zip(task.people, task.identities, strict=True):
        eid = person.employee_id
        values = review_fields(person, manager, job.period)
        files = []
        for fmt in personal:
            key = (fmt.name, tuple(values))
            if key not in templates:
                templates[key] = template(fmt, frames, job.layout, job.options, tuple(values))
            data_or_none = personalise(templates[key], values, identity)
            if data_or_none is None:  # only a full render is exact for this person
                data_or_none = fmt.renderer()(
                    frames, job.layout, person_options(job.options, values, identity)
                )
            files.append(add(f"{PEOPLE}/{eid}/{fmt.file_name(eid)}", data_or_none))
        files.sort(key=lambda f: f.path)
        entries.append(PersonEntry(eid, person.name, person.manager_id, pid, tuple(files)))
    return GroupFiles(tuple(entries), handout, tuple(dict.fromkeys(warned)))


def build_group(job: CycleJob, task: GroupTask) -> PackResult:
    """`make_group`, its files staged beside their final place; never raises for this group's
    failure (its staged files are removed then)."""
    start = time.perf_counter()
    pid = task.profile.id
    staged = Staged()
    try:
        made = make_group(job, task, lambda rel, data: staged.add(job.root, rel, data))
    except PacksError as exc:
        discard((tmp, final) for final, tmp in staged.temps.items())
        return PackResult(pid, time.perf_counter() - start, exc.report())
    except OSError as exc:
        discard((tmp, final) for final, tmp in staged.temps.items())
        return PackResult(pid, time.perf_counter() - start, f"cannot write: {os_message(exc)}")
    except Exception as exc:
        discard((tmp, final) for final, tmp in staged.temps.items())
        return PackResult(
            pid, time.perf_counter() - start, f"{type(exc).__name__}: {exc}", traceback.format_exc()
        )
    return staged.result(pid, time.perf_counter() - start, made)
