"""One pack rendered and committed, in-process or in a pool of worker processes.

Workers come from a forkserver that has imported the renderers once; each worker renders and
writes whole packs, keeps its per-process caches (CSS, fonts, templates) and is replaced after a
bounded number of packs so memory stays flat. The heaviest packs go first (`largest_first`), so
the workers finish together.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.forkserver
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pipeline.build.commit import commit_pack, os_message, write_atomic
from pipeline.build.manifest import MANIFEST, PackFile, manifest
from pipeline.build.zips import pack_members, zip_bytes
from pipeline.compose import ComposeOptions, compose_profile
from pipeline.diagnostics import PacksError
from pipeline.layout import Layout, RenderOptions
from pipeline.model import Profile
from pipeline.render import FORMATS, Format

DEFAULT_COMPOSE = ComposeOptions()


#: A worker is replaced after this many packs, so leaks in a library cannot accumulate.
MAX_TASKS_PER_CHILD = 64


@dataclass(frozen=True)
class PackJob:
    """Everything a worker needs besides the profile; pickled once per worker."""

    formats: tuple[Format, ...]
    layout: Layout
    options: RenderOptions
    compose_options: ComposeOptions
    out: Path
    epoch: int
    inputs: Mapping[str, Any]
    zip: bool = False
    #: The WeasyPrint speed-ups active for the handouts (recorded in each manifest's generator).
    speedups: tuple[str, ...] = ()


class WorkJob(Protocol):
    """What the pool needs of a job: the formats whose renderers the worker server preloads."""

    @property
    def formats(self) -> tuple[Format, ...]: ...


class WorkTask(Protocol):
    """What the pool needs of a task: the profile it renders (to order the work, to name it)."""

    @property
    def profile(self) -> Profile: ...


Task = TypeVar("Task", bound=WorkTask)


@dataclass(frozen=True)
class PackTask:
    profile: Profile
    digest: str
    fingerprint: str


@dataclass(frozen=True)
class PackResult:
    profile_id: str
    seconds: float
    error: str | None = None
    #: Traceback of an unexpected exception (a bug), for the log.
    detail: str | None = None
    #: What a library warned about while rendering (e.g. a character no font can draw).
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


def render_pack(
    profile: Profile,
    digest: str,
    formats: Iterable[Format],
    layout: Layout,
    options: RenderOptions,
    compose_options: ComposeOptions = DEFAULT_COMPOSE,
) -> tuple[PackFile, ...]:
    """Render one profile in every format, in memory (pure: no files, no clock)."""
    frames = compose_profile(profile, digest, compose_options)
    return tuple(
        PackFile(fmt.file_name(profile.id), fmt.renderer()(frames, layout, options))
        for fmt in formats
    )


def build_pack(job: PackJob, task: PackTask) -> PackResult:
    """Render and commit one pack; never raises for a failure of this one profile."""
    start = time.perf_counter()
    pid = task.profile.id
    try:
        with library_warnings() as warned:
            files = render_pack(
                task.profile, task.digest, job.formats, job.layout, job.options, job.compose_options
            )
    except PacksError as exc:
        return PackResult(pid, time.perf_counter() - start, exc.report())
    except Exception as exc:
        return PackResult(
            pid, time.perf_counter() - start, f"{type(exc).__name__}: {exc}", traceback.format_exc()
        )
    return commit_rendered(job, task, files, start, tuple(dict.fromkeys(warned)))


def commit_rendered(
    job: PackJob,
    task: PackTask,
    files: Sequence[PackFile],
    start: float,
    warnings: tuple[str, ...] = (),
) -> PackResult:
    """Write one rendered pack (manifest, files, zip) atomically: the step only the process that
    owns `out/` does (a local worker, or the client of a cluster build)."""
    pid = task.profile.id
    inputs = {**job.inputs, "fingerprint": task.fingerprint}
    data = manifest(pid, task.digest, files, job.epoch, inputs, job.speedups)
    try:
        others = (f.file_name(pid) for f in FORMATS.values())
        commit_pack(job.out / pid, files, data, others)
        if job.zip:
            write_atomic(
                job.out / f"{pid}.zip", zip_bytes(pack_members(pid, files, data), job.epoch)
            )
    except OSError as exc:
        return PackResult(pid, time.perf_counter() - start, f"cannot write: {os_message(exc)}")
    return PackResult(pid, time.perf_counter() - start, warnings=warnings)


#: Loggers of libraries whose warnings mean the output is not what the reader should get.
WARNING_LOGGERS = ("weasyprint",)


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


@contextlib.contextmanager
def library_warnings() -> Iterator[list[str]]:
    """Collect what the rendering libraries warn about (WeasyPrint only logs a missing glyph:
    left alone, a handout would print boxes and the build would say nothing)."""
    messages: list[str] = []
    handler = _Collect(messages)
    loggers = [logging.getLogger(name) for name in WARNING_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield messages
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


#: What a worker runs per task: `build_pack` for packs; a cycle passes its own (`run=`).
TaskRunner = Callable[[Any, Any], PackResult]


def _build_pack(job: Any, task: Any) -> PackResult:
    return build_pack(job, task)


def _worker_main(
    conn: Connection, job: WorkJob, max_tasks: int, run: TaskRunner | None = None
) -> None:
    """Worker loop: one pack per message until told to stop, the parent is gone, or the quota."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    for _ in range(max_tasks):
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send((run or _build_pack)(job, task))


@dataclass
class _Slot:
    process: Any  # multiprocessing.context.ForkServerProcess (untyped in typeshed's context API)
    conn: Connection
    task: WorkTask | None = None
    done: int = 0


def _worker_context(formats: Sequence[Format]) -> Any:
    """The forkserver context, its server importing this module and the renderers once."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["pipeline.build", *sorted({f.module for f in formats})])
    return ctx


def start_workers_early(formats: Sequence[Format], out: Path, force: bool) -> bool:
    """Launch the forkserver now, before the canon is read, when the build will render.

    Its imports (WeasyPrint, python-docx, openpyxl: about 0.7 s) then run on another core while
    this process reads the canon, instead of after. Only for a forced build or an `out/` holding
    no pack yet: a rebuild may find nothing to render, and an unused server would still hold
    this command's output open until its imports finish (0.5 s more for whoever reads it).
    """
    if not force and next(out.glob(f"*/{MANIFEST}"), None) is not None:
        return False
    _worker_context(formats)
    with contextlib.suppress(OSError):  # the first worker start tries again and reports it
        multiprocessing.forkserver.ensure_running()
    return True


def render_weight(profile: Profile) -> int:
    """Roughly how long a profile's pack takes to render, to order the work: the characters of
    the canon text its frames repeat (core outputs and responsibilities, in several frames) and
    of its job description. Over 40 synthetic profiles it follows the DOCX + PDF render time
    (200-500 ms) with a correlation of 0.92."""
    texts = profile.core_outputs + profile.responsibilities
    description = profile.job_description
    return sum(map(len, texts)) + (len(repr(description)) if description is not None else 0)


def largest_first(tasks: Sequence[Task]) -> list[Task]:
    """The heaviest packs first, so that the last ones to finish are light and the workers end
    together (longest-processing-time-first scheduling); ties keep their order."""
    return sorted(tasks, key=lambda task: -render_weight(task.profile))


def parallel(
    job: WorkJob,
    tasks: Sequence[WorkTask],
    jobs: int,
    max_tasks: int,
    run: TaskRunner | None = None,
) -> Iterator[PackResult]:
    """Render in `jobs` worker processes; yields results as they finish, in completion order.

    A small hand-made pool rather than multiprocessing.Pool (hangs when a worker dies mid-task)
    or ProcessPoolExecutor (its max_tasks_per_child deadlocks on 3.11, CPython gh-115634): the
    parent knows which profile each worker holds, so a crashed worker fails just that profile.
    `run` replaces `build_pack` for other work units with a `profile` (a cycle's profile groups;
    their job has the `formats` to preload).
    """
    ctx = _worker_context(job.formats)
    pending = deque(largest_first(tasks))

    def start() -> _Slot:
        parent_end, child_end = ctx.Pipe()
        process = ctx.Process(
            target=_worker_main,
            args=(child_end, job, max_tasks, run),
            name="packs-worker",
            daemon=True,
        )
        process.start()
        child_end.close()
        return _Slot(process, parent_end)

    def feed(slot: _Slot) -> None:
        slot.task = pending.popleft()
        slot.done += 1
        slot.conn.send(slot.task)

    def retire(slot: _Slot) -> None:
        with contextlib.suppress(OSError):
            slot.conn.send(None)
        slot.conn.close()
        slot.process.join(timeout=10)
        if slot.process.exitcode is None:
            slot.process.kill()
            slot.process.join()

    slots = [start() for _ in range(min(jobs, len(pending)))]
    try:
        for slot in slots:
            feed(slot)
        while any(s.task is not None for s in slots):
            active = [s for s in slots if s.task is not None]
            wait([s.conn for s in active] + [s.process.sentinel for s in active])
            for index, slot in enumerate(slots):
                task = slot.task
                if task is None:
                    continue
                result = _receive(slot)
                if result is None:
                    if slot.process.is_alive():
                        continue  # not ready yet
                    code = slot.process.exitcode
                    result = PackResult(
                        task.profile.id, 0.0, f"worker process died ({_exit_reason(code)})"
                    )
                    slot.done = max_tasks  # replace it below
                slot.task = None
                if slot.done >= max_tasks or not slot.process.is_alive():
                    retire(slot)
                    if pending:
                        slots[index] = slot = start()
                if pending:
                    feed(slot)
                yield result
    finally:
        for slot in slots:
            if slot.task is not None:  # interrupted: stop now, the pack is rebuilt next time
                slot.process.kill()
            retire(slot)


def _receive(slot: _Slot) -> PackResult | None:
    try:
        if not slot.conn.poll():
            return None
        result = slot.conn.recv()
    except (EOFError, OSError):
        return None
    return result if isinstance(result, PackResult) else None


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"
