"""`packs cycle --cluster ADDRESS`: the profile groups render on Dask workers, this process
stages and commits.

What only the client does stays here: the roster, what is stale, the seals (the cycle's secret
never leaves this process: each task carries its people's sealed identity lines), staging every
file beside its final place and the one commit under `cycle.json` (`pipeline.cycle.run`). A
worker runs `make_group` and sends the files' bytes back (`render_group_on_worker`); the bytes
are those of `--jobs N`, since it is the same function with another sink.

A profile with many people is split into tasks of at most `PEOPLE_PER_TASK` people (each renders
the profile's templates again, about 0.1 s, then about 10 ms a person), so one large profile
spreads over the workers and a result stays a few megabytes; the handout goes with the first.
The cluster machinery (bounded tasks in flight, retries, the job sent once per worker, lost
scheduler, cancel on the way out) is the build's `pipeline.build.cluster.run_on_cluster`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pipeline.build.cluster import failed_on_every_try, run_on_cluster
from pipeline.build.commit import discard, os_message
from pipeline.build.workers import PackResult
from pipeline.cycle.contract import IssuedFile
from pipeline.cycle.groups import CycleJob, GroupFiles, GroupTask, Staged, make_group
from pipeline.diagnostics import PacksError

#: People per task at most: a larger group is split (its templates rendered once per part).
PEOPLE_PER_TASK = 64
#: What the scheduler-lost message says about the output: a cycle commits all or nothing.
NOTHING_COMMITTED = "nothing of this run was committed; the cycle is as it was before"


@dataclass(frozen=True)
class RenderedGroup:
    """What a worker sends back: every file's (path in the cycle folder, bytes) and what
    `make_group` made, or why the group could not be rendered (bad input)."""

    profile_id: str
    seconds: float
    files: tuple[tuple[str, bytes], ...] = ()
    made: GroupFiles | None = None
    error: str | None = None


def render_group_on_worker(job: CycleJob, task: GroupTask) -> RenderedGroup:
    """The task a worker runs. Bad input comes back as an error; a bug raises (Dask retries)."""
    start = time.perf_counter()
    files: list[tuple[str, bytes]] = []

    def keep(rel: str, data: bytes) -> IssuedFile:
        files.append((rel, data))
        return IssuedFile.of(rel, data)

    try:
        made = make_group(job, task, keep)
    except PacksError as exc:
        return RenderedGroup(task.profile.id, time.perf_counter() - start, error=exc.report())
    return RenderedGroup(task.profile.id, time.perf_counter() - start, tuple(files), made)


def split_groups(tasks: Sequence[GroupTask], size: int | None = None) -> list[GroupTask]:
    """Every group in parts of at most `size` (`PEOPLE_PER_TASK`) people, largest first (the
    handout, the heaviest single file, with the first part of its profile)."""
    size = size or PEOPLE_PER_TASK
    parts: list[GroupTask] = []
    for task in tasks:
        count = len(task.people)
        for first in range(0, max(count, 1), size):
            parts.append(
                replace(
                    task,
                    handout=task.handout and first == 0,
                    people=task.people[first : first + size],
                    identities=task.identities[first : first + size],
                )
            )
    return sorted(parts, key=lambda t: -(len(t.people) + 40 * t.handout))


def _stage(job: CycleJob, rendered: RenderedGroup, made: GroupFiles, start: float) -> PackResult:
    """Stage a worker's files beside their final place (0600), as a local worker would have."""
    staged = Staged()
    try:
        for rel, data in rendered.files:
            staged.add(job.root, rel, data)
    except OSError as exc:
        discard((tmp, final) for final, tmp in staged.temps.items())
        return PackResult(
            rendered.profile_id, time.perf_counter() - start, f"cannot write: {os_message(exc)}"
        )
    return staged.result(rendered.profile_id, time.perf_counter() - start, made)


def cluster_groups(
    job: CycleJob, tasks: Sequence[GroupTask], client: Any, workers: int
) -> Generator[PackResult, None, None]:
    """Render `tasks` on the cluster and stage each group's files here; yields as they come."""
    run = uuid.uuid4().hex[:12]
    keys = {id(task): f"cycle-{task.profile.id}-{i}-{run}" for i, task in enumerate(tasks)}
    for task, start, value in run_on_cluster(
        client,
        workers,
        job,
        tasks,
        render_group_on_worker,
        lambda task: keys[id(task)],
        after=NOTHING_COMMITTED,
    ):
        if isinstance(value, BaseException):
            yield failed_on_every_try(task.profile.id, start, value)
        elif value.made is None:
            yield PackResult(task.profile.id, value.seconds, value.error or "rendered nothing")
        else:
            yield _stage(job, value, value.made, start)
