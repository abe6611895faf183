"""`build`: the packs of a selection into `out/`, skipping unchanged ones (the package docstring
says what is guaranteed and which module keeps each guarantee)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from pipeline.build.commit import sweep_temps
from pipeline.build.fingerprint import (
    build_inputs,
    common_fingerprint,
    current_manifest,
    fingerprint,
)
from pipeline.build.lock import build_lock
from pipeline.build.manifest import PRODUCT, product_version
from pipeline.build.progress import BuildReport, Progress
from pipeline.build.workers import (
    DEFAULT_COMPOSE,
    MAX_TASKS_PER_CHILD,
    PackJob,
    PackResult,
    PackTask,
    build_pack,
    parallel,
)
from pipeline.build.zips import ensure_zip, selection_zip
from pipeline.compose import ComposeOptions
from pipeline.layout import SPEEDUPS_OFF, SPEEDUPS_SWITCH, Layout, RenderOptions
from pipeline.model import Canon, Profile
from pipeline.render import Format


def stamped(options: RenderOptions) -> tuple[bool, int, RenderOptions]:
    """The options every file of a run is rendered with: the run's one timestamp (the caller's
    `SOURCE_DATE_EPOCH`, else now), this product's generator line and the speed-ups switch (off
    when the environment says `PACKS_WEASYPRINT_SPEEDUPS=off`); returned with whether the caller
    asked for a reproducible run (a timestamp of its own) and that timestamp."""
    switch = os.environ.get(SPEEDUPS_SWITCH, "").strip().lower()
    epoch = options.timestamp if options.timestamp is not None else int(time.time())
    return (
        options.timestamp is not None,
        epoch,
        RenderOptions(
            page_size=options.page_size,
            form_password=options.form_password,
            timestamp=epoch,
            generator=f"{PRODUCT} {product_version()}",
            speedups=options.speedups and switch not in SPEEDUPS_OFF,
        ),
    )


def handout_speedups(formats: Sequence[Format], options: RenderOptions) -> tuple[str, ...]:
    """The WeasyPrint speed-ups the run's handouts are drawn with (none without a PDF)."""
    if not options.speedups or not any(f.name == "pdf" for f in formats):
        return ()
    from pipeline.render import weasyprint70  # imports WeasyPrint: only for a run with handouts

    return weasyprint70.active(True)


def build(
    canon: Canon,
    profiles: Sequence[Profile],
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
    max_tasks_per_child: int = MAX_TASKS_PER_CHILD,
    cluster: str | None = None,
) -> BuildReport:
    """Build the packs of `profiles` into `out` (see the module docstring for the guarantees)."""
    start = time.monotonic()
    out = Path(os.path.abspath(out))  # workers may not share our working directory
    reproducible, epoch, options = stamped(options)
    formats = tuple({f.name: f for f in formats}.values())
    inputs = build_inputs(formats, layout, options, compose_options, reproducible)
    common = common_fingerprint(inputs, formats, options)
    digests = dict(canon.digests)
    report = Progress(progress, tty)

    with build_lock(out), contextlib.ExitStack() as stack:
        sweep_temps(out)
        tasks: list[PackTask] = []
        skipped = 0
        for profile in profiles:
            digest = digests[profile.id]
            task = PackTask(profile, digest, fingerprint(common, digest))
            current = None if force else current_manifest(out / profile.id, task.fingerprint)
            if current is not None and zip:
                current = ensure_zip(out, profile.id, current, epoch)
            if current is None:
                tasks.append(task)
            else:
                skipped += 1
        speedups = handout_speedups(formats, options) if tasks else ()
        job = PackJob(formats, layout, options, compose_options, out, epoch, inputs, zip, speedups)
        jobs = max(1, min(jobs, len(tasks)))
        if cluster is not None and tasks:
            from pipeline.build.cluster import cluster_results, session

            client, workers = stack.enter_context(session(cluster, progress))
            report.begin(len(tasks), skipped, workers)
            results: Iterator[PackResult] = cluster_results(job, tasks, client, workers)
        elif jobs == 1:
            report.begin(len(tasks), skipped, jobs)
            results = (build_pack(job, t) for t in tasks)
        else:
            report.begin(len(tasks), skipped, jobs)
            results = parallel(job, tasks, jobs, max_tasks_per_child)
        if tasks and any(f.name == "pdf" for f in formats):
            report.note("WeasyPrint speed-ups: " + (", ".join(speedups) or "off"))
        failed: list[tuple[str, str]] = []
        built = 0
        warned = 0
        for result in results:
            report.advance(result)
            warned += bool(result.warnings)
            if result.ok:
                built += 1
            else:
                failed.append((result.profile_id, result.error or "failed"))
        report.end()
        notes: list[str] = []
        if warned:
            notes.append(f"{warned} with warnings (see above)")
        if zip:
            notes.append(selection_zip(out, profiles, failed, epoch))
    failed.sort()
    return BuildReport(built, skipped, tuple(failed), time.monotonic() - start, tuple(notes))
