"""`cycle`: a roster into `OUT/cycles/NAME/`, one personalised form and tracker per person.

The work unit is a profile (`groups`): its frames are composed once, its handout rendered once,
its form and tracker rendered once as templates (`personal`), then every person on it who changed
gets their files patched from those. Files are staged beside their final place (0600) as they are
made; the cycle is committed as one unit with the build's `commit_staged`: the old `cycle.json`
moved aside, the new files renamed in, files of people no longer on the roster removed, the new
`cycle.json` renamed in last. A failure commits nothing.

Incremental: `cycle.json` keeps a fingerprint per person (the build-wide inputs, the profile's
canon digest, the person's row, their manager's name, the period, the cycle's secret), per
handout and per manager bundle; what is unchanged and still on disk is not rendered again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from pipeline.build.commit import commit_staged, discard, open_atomic, os_message, stage
from pipeline.build.lock import LOCK_FILE, build_lock
from pipeline.build.manifest import PRODUCT
from pipeline.build.progress import BuildReport, Progress
from pipeline.build.run import stamped
from pipeline.build.workers import DEFAULT_COMPOSE, MAX_TASKS_PER_CHILD, PackResult, parallel
from pipeline.build.zips import zip_bytes
from pipeline.compose import ComposeOptions
from pipeline.cycle.contract import (
    CYCLE_JSON,
    CycleRecord,
    IssuedFile,
    Period,
    PersonEntry,
    cycle_json,
    read_cycle_json,
)
from pipeline.cycle.groups import (
    FILE_MODE,
    CycleJob,
    GroupResult,
    GroupTask,
    Staged,
    build_group,
    mkdir,
)
from pipeline.cycle.identity import ensure_secret, seal
from pipeline.cycle.inputs import (
    HANDOUT_FORMAT,
    HANDOUTS,
    MANAGERS,
    PEOPLE,
    SETTINGS,
    build_common,
    bundle_fingerprint,
    bundle_members,
    cycle_code,
    cycle_common,
    digest,
    handout_fingerprint,
    person_fingerprint,
    present,
    settings_fingerprint,
)
from pipeline.cycle.roster import Person, Roster
from pipeline.diagnostics import PacksError
from pipeline.layout import Layout, RenderOptions
from pipeline.model import Canon
from pipeline.ooxml.archive import PACK_ENTRIES, ZipWriter
from pipeline.render import Format

#: The folder of every cycle under `--out`.
CYCLES = "cycles"
CYCLE_ZIP = "cycle.zip"


def cycle(
    canon: Canon,
    roster: Roster,
    name: str,
    period: Period,
    formats: Sequence[Format],
    out: Path,
    layout: Layout,
    options: RenderOptions,
    compose_options: ComposeOptions = DEFAULT_COMPOSE,
    *,
    jobs: int = 1,
    force: bool = False,
    zip: bool = False,
    progress: TextIO | None = None,
    tty: bool | None = None,
    cluster: str | None = None,
) -> BuildReport:
    """Build (or bring up to date) the cycle `name` for `roster` under `out/cycles/name/`;
    with `cluster` (`tcp://host:port` or `local:N`) the profile groups render on Dask workers
    and come back as bytes, this process stages and commits them (`pipeline.cycle.cluster`)."""
    start = time.monotonic()
    out = Path(os.path.abspath(out))
    root = out / CYCLES / name
    reproducible, epoch, options = stamped(options)
    formats = tuple({f.name: f for f in formats}.values())
    handout = next((f for f in formats if f.name == HANDOUT_FORMAT), None)
    digests = dict(canon.digests)
    profiles = {p.id: p for p in canon.profiles}
    by_id = roster.by_id()
    report = Progress(progress, tty)
    try:
        mkdir(out / CYCLES)
        mkdir(root)
    except OSError as exc:
        raise PacksError(f"cannot write to {root}: {os_message(exc)}") from None

    with build_lock(root):
        with contextlib.suppress(OSError):
            os.chmod(root / LOCK_FILE, FILE_MODE)
        secret = ensure_secret(root)
        common = cycle_common(
            build_common(formats, layout, options, compose_options, reproducible),
            name,
            period,
            secret,
        )
        old: CycleRecord | None = None
        old_inputs: Mapping[str, Any] = {}
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            old = read_cycle_json(root / CYCLE_JSON)
            old_inputs = dict((old.extra or {}).get("inputs") or {})
        if force:
            old_inputs = {}
        old_people = {p.employee_id: p for p in old.people} if old else {}
        old_fp = {k: dict(old_inputs.get(k) or {}) for k in (PEOPLE, HANDOUTS, MANAGERS)}

        # what is stale
        fps: dict[str, dict[str, str]] = {PEOPLE: {}, HANDOUTS: {}, MANAGERS: {}}
        stale_people: list[Person] = []
        entries: dict[str, PersonEntry] = {}
        for person in roster.people:
            manager = by_id.get(person.manager_id) if person.manager_id else None
            fp = person_fingerprint(
                common,
                digests[person.profile],
                person.employee_id,
                person.name,
                person.profile,
                person.manager_id,
                manager.name if manager else None,
            )
            fps[PEOPLE][person.employee_id] = fp
            previous = old_people.get(person.employee_id)
            if (
                previous is not None
                and old_fp[PEOPLE].get(person.employee_id) == fp
                and present(root, previous.files)
            ):
                entries[person.employee_id] = previous
            else:
                stale_people.append(person)
        handouts: dict[str, tuple[IssuedFile, ...]] = {}
        stale_handouts: set[str] = set()
        if handout is not None:
            for pid in sorted({p.profile for p in roster.people}):
                fps[HANDOUTS][pid] = handout_fingerprint(common, digests[pid])
                previous_files = old.handouts.get(pid) if old else None
                if (
                    previous_files is not None
                    and old_fp[HANDOUTS].get(pid) == fps[HANDOUTS][pid]
                    and present(root, previous_files)
                ):
                    handouts[pid] = previous_files
                else:
                    stale_handouts.add(pid)

        groups: dict[str, list[Person]] = {}
        for person in stale_people:
            groups.setdefault(person.profile, []).append(person)
        for pid in stale_handouts:
            groups.setdefault(pid, [])
        tasks = [
            GroupTask(
                profiles[pid],
                digests[pid],
                pid in stale_handouts,
                tuple((p, by_id[p.manager_id] if p.manager_id else None) for p in groups[pid]),
                # sealed here: the secret stays in this process (never sent to a worker)
                tuple(
                    seal(name, p.employee_id, pid, digests[pid], secret).line() for p in groups[pid]
                ),
            )
            for pid in sorted(groups)
        ]
        job = CycleJob(formats, layout, options, compose_options, root, name, period)
        jobs = max(1, min(jobs, len(tasks)))

        staged = Staged()
        try:
            with contextlib.ExitStack() as stack:
                skipped = len(roster.people) - len(stale_people)
                if cluster is not None and tasks:
                    from pipeline.build.cluster import session
                    from pipeline.cycle.cluster import cluster_groups, split_groups

                    client, workers = stack.enter_context(session(cluster, progress, cycle_code))
                    tasks = split_groups(tasks)
                    report.begin(len(tasks), skipped, workers)
                    results: Iterator[PackResult] = stack.enter_context(
                        contextlib.closing(cluster_groups(job, tasks, client, workers))
                    )
                else:
                    report.begin(len(tasks), skipped, jobs)
                    if jobs == 1:
                        results = (build_group(job, t) for t in tasks)
                    else:
                        results = parallel(job, tasks, jobs, MAX_TASKS_PER_CHILD, run=build_group)
                failed = _gather(results, report, staged, entries, handouts)
            report.end()
            if failed:
                discard((tmp, final) for final, tmp in staged.temps.items())
                return BuildReport(
                    0, 0, tuple(failed), time.monotonic() - start, ("nothing committed",)
                )

            managers: dict[str, tuple[IssuedFile, ...]] = {}
            written = 0
            if zip:
                written = _manager_bundles(
                    root, roster, entries, handouts, staged, old, old_fp, fps, managers, epoch
                )
            record = CycleRecord(
                cycle=name,
                period=period,
                canon_digest=digest(*sorted({digests[p.profile] for p in roster.people})),
                build_epoch=epoch,
                people=tuple(entries[p.employee_id] for p in roster.people),
                handouts=handouts,
                managers=managers,
                # sorted like `people`: cycle.json does not depend on the roster's row order
                extra={
                    "inputs": {k: dict(sorted(v.items())) for k, v in fps.items()},
                    SETTINGS: settings_fingerprint(options, compose_options, secret),
                },
            )
            data = cycle_json(record)
            new_paths = {
                f.path
                for files in (
                    *(e.files for e in record.people),
                    *handouts.values(),
                    *managers.values(),
                )
                for f in files
            }
            obsolete = _old_paths(old) - new_paths
            manifest_tmp = stage(root / CYCLE_JSON, data, FILE_MODE)
        except BaseException:
            discard((tmp, final) for final, tmp in staged.temps.items())
            raise
        commit_staged(
            root / CYCLE_JSON,
            manifest_tmp,
            [(tmp, final) for final, tmp in staged.temps.items()],
            [root / p for p in sorted(obsolete)],
        )
        _remove_empty_people(root, {e.employee_id for e in record.people})
        notes = [
            f"{len(roster.people)} people, {len(handouts)} handouts"
            + (f", {len(managers)} manager bundles ({written} written)" if zip else "")
        ]
        if zip:
            notes.append(_cycle_zip(root, record, data, epoch))
    built = len(stale_people)
    return BuildReport(
        built, len(roster.people) - built, (), time.monotonic() - start, tuple(notes)
    )


def _gather(
    results: Iterable[PackResult],
    report: Progress,
    staged: Staged,
    entries: dict[str, PersonEntry],
    handouts: dict[str, tuple[IssuedFile, ...]],
) -> list[tuple[str, str]]:
    """Take every group's staged files, entries and handout; return the groups that failed
    (one line per profile, its first error)."""
    failed: dict[str, str] = {}
    for result in results:
        report.advance(result)
        if not isinstance(result, GroupResult) or not result.ok:
            failed.setdefault(result.profile_id, result.error or "failed")
            continue
        for final, tmp in result.temps:
            staged.temps[Path(final)] = Path(tmp)
        for entry in result.entries:
            entries[entry.employee_id] = entry
        if result.handout:
            handouts[result.profile_id] = result.handout
    return sorted(failed.items())


def _old_paths(old: CycleRecord | None) -> set[str]:
    if old is None:
        return set()
    files = [f for p in old.people for f in p.files]
    files += [f for fs in old.handouts.values() for f in fs]
    files += [f for fs in old.managers.values() for f in fs]
    # only plain relative paths inside the cycle folder, never a `..` a hand-edited file names
    return {
        f.path for f in files if not Path(f.path).is_absolute() and ".." not in Path(f.path).parts
    }


def _remove_empty_people(root: Path, keep: set[str]) -> None:
    with contextlib.suppress(OSError):
        for entry in os.scandir(root / PEOPLE):
            if entry.is_dir(follow_symlinks=False) and entry.name not in keep:
                with contextlib.suppress(OSError):
                    os.rmdir(entry.path)  # only when empty: never a folder with foreign files


def _manager_bundles(
    root: Path,
    roster: Roster,
    entries: Mapping[str, PersonEntry],
    handouts: Mapping[str, tuple[IssuedFile, ...]],
    staged: Staged,
    old: CycleRecord | None,
    old_fp: Mapping[str, Mapping[str, str]],
    fps: dict[str, dict[str, str]],
    managers: dict[str, tuple[IssuedFile, ...]],
    epoch: int,
) -> int:
    """Write `managers/<id>.zip` for every manager whose bundle changed; return how many."""
    reports: dict[str, list[PersonEntry]] = {}
    for person in roster.people:
        if person.manager_id is not None:
            reports.setdefault(person.manager_id, []).append(entries[person.employee_id])
    written = 0
    for manager_id in sorted(reports):
        members = bundle_members(reports[manager_id], handouts)
        fp = bundle_fingerprint(members, epoch)
        fps[MANAGERS][manager_id] = fp
        rel = f"{MANAGERS}/{manager_id}.zip"
        previous = old.managers.get(manager_id) if old else None
        if (
            previous is not None
            and old_fp[MANAGERS].get(manager_id) == fp
            and present(root, previous)
        ):
            managers[manager_id] = previous
            continue
        data = zip_bytes([(m, staged.read(root, f.path)) for m, f in members], epoch)
        managers[manager_id] = (staged.add(root, rel, data),)
        written += 1
    return written


def _cycle_zip(root: Path, record: CycleRecord, manifest: bytes, epoch: int) -> str:
    """`cycle.zip`: every person's files, the handouts and `cycle.json`; rewritten only when
    `cycle.json` changed (its hash is the zip's comment)."""
    import zipfile

    target = root / CYCLE_ZIP
    comment = f"{PRODUCT} cycle sha256:{hashlib.sha256(manifest).hexdigest()}".encode()
    with contextlib.suppress(OSError, zipfile.BadZipFile), zipfile.ZipFile(target) as existing:
        if existing.comment == comment:
            return f"{CYCLE_ZIP} unchanged"
    paths = sorted(
        f.path
        for files in (*(e.files for e in record.people), *record.handouts.values())
        for f in files
    )
    try:
        with open_atomic(target, FILE_MODE) as fh, ZipWriter(fh, epoch, PACK_ENTRIES) as archive:
            for rel in [*paths, CYCLE_JSON]:
                archive.add(rel, (root / rel).read_bytes())
            archive.set_comment(comment)
    except OSError as exc:
        raise PacksError(f"cannot write {target}: {os_message(exc)}") from None
    return f"wrote {CYCLE_ZIP}"
