"""`packs build --cluster ADDRESS`: render on Dask workers, commit here.

The client (this process) does what only it can: it has read and validated the canon, decided
what is stale, and it owns `out/`. Workers only render: a task takes one profile and returns its
files' bytes; the client commits them with the same atomic commits and manifests as a local
build, so the output is byte-identical to `--jobs N`.

- The job (formats, layout, options) goes to every worker once (a task every pack needs);
  a task carries only its profile.
- At most `in_flight` tasks are submitted at a time and each result is released once
  committed, so the client's memory does not grow with the number of packs.
- A worker that dies mid-task: the scheduler gives the task to another worker (Dask's own
  retry); a task that raises is retried `RETRIES` times, then reported `FAILED <ID>: …` while
  the others finish. Bad input (`PacksError`) is not retried: it would fail the same way.
- Every worker must run the same product version and code as the client (checked before any
  task is sent; a mismatch names both).
- `distributed` is imported here only, and only for `--cluster`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import signal
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar

from pipeline.build.fingerprint import code_digest
from pipeline.build.manifest import PackFile, product_version
from pipeline.build.workers import (
    PackJob,
    PackResult,
    PackTask,
    commit_rendered,
    largest_first,
    library_warnings,
    render_pack,
)
from pipeline.diagnostics import PacksError, UsageError

#: How often a task that raised is tried again before its pack is reported failed.
RETRIES = 2
#: Seconds to wait for a scheduler (and for a LocalCluster's workers) to answer.
CONNECT_TIMEOUT = 30
_AFTER = "the packs committed so far are complete; the next run builds the others"
INSTALL_HINT = "pip install 'jobframe-packs[cluster]' (python3 tasks.py setup installs it)"


@dataclass(frozen=True)
class Address:
    """`local:N` (a LocalCluster of N processes this command starts and stops) or a scheduler."""

    scheduler: str | None
    local_workers: int = 0

    @classmethod
    def parse(cls, text: str) -> Address:
        if text.startswith("local:"):
            count = text.removeprefix("local:")
            if not count.isdigit() or int(count) < 1:
                raise UsageError(f"--cluster {text}: expected local:N with N a whole number >= 1")
            return cls(None, int(count))
        if "://" not in text or text.endswith("://"):
            raise UsageError(
                f"--cluster {text}: expected a scheduler address such as tcp://host:8786, "
                "or local:N"
            )
        return cls(text)


def distributed_module() -> Any:
    """`distributed`, or a usage error (exit 2) that says how to install it."""
    try:
        import distributed
    except ImportError:
        raise UsageError(f"--cluster needs dask.distributed: {INSTALL_HINT}") from None
    return distributed


def worker_identity() -> tuple[str, str]:
    """(product version, code digest) of the process it runs in: compared with the client's."""
    return product_version(), code_digest()


def _identity(mine: tuple[str, str], code: Callable[[], str] | None) -> tuple[str, str]:
    if code is None:
        return mine
    combined = hashlib.sha256(f"{mine[1]}\n{code()}".encode()).hexdigest()
    return mine[0], f"sha256:{combined}"


def _remote_identity(code: Callable[[], str] | None = None) -> tuple[str, str]:
    """What `client.run` calls on each worker (by name, so each worker runs its own code)."""
    return _identity(worker_identity(), code)


@dataclass(frozen=True)
class Rendered:
    """What a worker sends back: the pack's files (bytes), or why it could not render them."""

    profile_id: str
    seconds: float
    files: tuple[PackFile, ...] = ()
    error: str | None = None
    warnings: tuple[str, ...] = ()


def _the_job(job: PackJob) -> PackJob:
    return job


def render_on_worker(job: PackJob, task: PackTask) -> Rendered:
    """The task a worker runs. Bad input comes back as an error; a bug raises (Dask retries)."""
    start = time.perf_counter()
    try:
        with library_warnings() as warned:
            files = render_pack(
                task.profile, task.digest, job.formats, job.layout, job.options, job.compose_options
            )
    except PacksError as exc:
        return Rendered(task.profile.id, time.perf_counter() - start, error=exc.report())
    return Rendered(
        task.profile.id,
        time.perf_counter() - start,
        files,
        warnings=tuple(dict.fromkeys(warned)),
    )


def preload(modules: Sequence[str]) -> None:
    """Import the renderers' modules on a worker (run there by `client.run`)."""
    for name in modules:
        importlib.import_module(name)


def dask_setup(worker: Any) -> None:
    """Run by each worker process of a `local:N` cluster as it starts (a Dask *preload*, so a
    worker restarted after a crash too): Ctrl-C goes to the whole foreground process group, and
    each worker would print its own KeyboardInterrupt traceback; the command alone handles it
    and stops the cluster on the way out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def connect(address: Address) -> Iterator[Any]:
    """A Client of the scheduler at `address` (starting and stopping a LocalCluster for local:N)."""
    distributed = distributed_module()
    if address.scheduler is None:
        with (
            distributed.LocalCluster(
                n_workers=address.local_workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",
                # Dask's own ERROR logs (tracebacks of a dead worker's connections) are not
                # for the user: the build reports what failed, pack by pack.
                silence_logs=logging.CRITICAL,
                preload=[__name__],  # dask_setup above
            ) as cluster,
            distributed.Client(cluster, timeout=CONNECT_TIMEOUT) as client,
        ):
            yield client
        return
    try:
        client = distributed.Client(address.scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise PacksError(
            f"cannot reach the Dask scheduler at {address.scheduler}: {exc}; is `dask scheduler` "
            "running there, and is the port open?"
        ) from None
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close()


def check_workers(client: Any, code: Callable[[], str] | None = None) -> int:
    """Refuse workers that run another version or other code (`code`: a digest of more code
    that must match, e.g. the cycle's); returns how many workers there are."""
    mine = _identity(worker_identity(), code)
    theirs = client.run(_remote_identity, code)
    if not theirs:
        raise PacksError("the Dask cluster has no workers; start some with `dask worker ADDRESS`")
    for worker, (version, digest) in sorted(theirs.items()):
        if (version, digest) != mine:
            raise PacksError(
                f"Dask worker {worker} runs jobframe-packs {version} (code {digest[:19]}), this "
                f"client {mine[0]} (code {mine[1][:19]}); install the same version on every "
                "worker"
            )
    return len(theirs)


@contextlib.contextmanager
def session(
    text: str, progress: TextIO | None = None, code: Callable[[], str] | None = None
) -> Iterator[tuple[Any, int]]:
    """`--cluster TEXT`: a checked Client and its number of workers, for the `with` block
    (the dashboard link said on `progress` when the scheduler serves one)."""
    address = Address.parse(text)
    with connect(address) as client:
        workers = check_workers(client, code)
        if progress is not None and address.scheduler is not None:
            dashboard = client.scheduler_info().get("services", {}).get("dashboard")
            if dashboard:
                progress.write(f"Dask dashboard: {client.dashboard_link}\n")
        yield client, workers


def cluster_results(
    job: PackJob, tasks: Sequence[PackTask], client: Any, workers: int
) -> Iterator[PackResult]:
    """Render `tasks` on the cluster and commit each pack here; yields as packs complete."""
    for task, start, value in run_on_cluster(
        client,
        workers,
        job,
        largest_first(tasks),
        render_on_worker,
        lambda task: f"pack-{task.profile.id}-{task.fingerprint[-12:]}",
    ):
        if isinstance(value, BaseException):
            yield failed_on_every_try(task.profile.id, start, value)
        elif value.error is not None:
            yield PackResult(task.profile.id, value.seconds, value.error)
        else:
            yield commit_rendered(job, task, value.files, start, value.warnings)


def failed_on_every_try(profile_id: str, start: float, exc: BaseException) -> PackResult:
    """The result of a task that raised on every try (or whose worker died every time)."""
    if type(exc).__name__ == "KilledWorker":  # Dask's: the render killed its process each time
        tries = getattr(exc, "allowed_failures", 0) + 1
        return PackResult(
            profile_id,
            time.perf_counter() - start,
            f"worker process died on every try ({tries} workers)",
        )
    return PackResult(
        profile_id,
        time.perf_counter() - start,
        f"{type(exc).__name__}: {exc} (failed on every try)",
        "".join(traceback.format_exception(exc)),
    )


Item = TypeVar("Item")


def run_on_cluster(
    client: Any,
    workers: int,
    job: Any,
    tasks: Sequence[Item],
    work: Callable[[Any, Item], Any],
    key: Callable[[Item], str],
    after: str = _AFTER,
) -> Iterator[tuple[Item, float, Any]]:
    """Run `work(job, task)` on the cluster for each of `tasks` (in that order, a bounded
    number in flight); yields (task, when it was submitted, its value or, for a task that
    failed on every try, the exception) as tasks complete. Each value is released when the
    caller asks for the next one, so the caller commits it first. The job goes to every worker
    once; the scheduler going away is a PacksError; on the way out (done, failed, Ctrl-C) every
    task still queued is cancelled. `after` ends the scheduler-lost message: what the caller
    has committed so far.

    A worker that dies takes the blame for every task it holds, the one it was running and the
    one queued behind it (Dask's `KilledWorker` after `allowed-failures` deaths): a pack that
    kills its worker on every try would take an innocent neighbour with it. So a task that
    ends in `KilledWorker` is tried once more at the end, alone on the cluster, where only it
    can kill its worker; what fails then is reported.
    """
    distributed = distributed_module()
    # A task rather than `scatter`: workers still fetch the job from each other (once per
    # worker, not per task), but if every worker holding it dies (a pack that kills its worker
    # on 2 workers) the scheduler computes it again; scattered data would be lost and every
    # task cancelled, read below as the scheduler going away.
    shared = client.submit(_the_job, job, key=f"job-{uuid.uuid4().hex}", pure=False)
    # Every worker imports the renderers now, all at once, not inside its first task (about
    # 0.7 s of WeasyPrint, python-docx, openpyxl): idempotent on a worker that already has.
    client.run(preload, sorted({f.module for f in getattr(job, "formats", ())}))
    queues: list[Any] = []
    suspects: list[Item] = []

    def run(
        items: Sequence[Item], in_flight: int, alone: bool
    ) -> Iterator[tuple[Item, float, Any]]:
        pending = list(reversed(items))  # pop() from the end: in the given order
        by_key: dict[str, tuple[Item, float]] = {}
        queue = distributed.as_completed()
        queues.append(queue)

        def submit() -> None:
            task = pending.pop()
            name = key(task) + ("-alone" if alone else "")
            future = client.submit(work, shared, task, key=name, retries=RETRIES, pure=False)
            by_key[future.key] = (task, time.perf_counter())
            queue.add(future)

        for _ in range(min(in_flight, len(pending))):
            submit()
        for future in queue:
            task, start = by_key.pop(future.key)
            # Not by `future.status`: a finished task's result can be lost with its worker
            # and computed again (or fail) before it is fetched; `result()` waits for that.
            try:
                value = future.result()
            except CancelledError:
                # Nothing here cancels a task before the end: the scheduler (or our
                # connection to it) went away and took the tasks with it.
                raise PacksError(
                    f"lost the Dask scheduler (its tasks were cancelled); {after}"
                ) from None
            except (OSError, TimeoutError, distributed.comm.core.CommClosedError):
                raise
            except Exception as exc:  # the task failed on every try
                value = exc
            if not alone and type(value).__name__ == "KilledWorker":
                suspects.append(task)  # perhaps its neighbour killed its workers
            else:
                yield task, start, value
            future.release()
            if pending:
                submit()

    try:
        yield from run(tasks, max(2, 2 * workers), alone=False)
        yield from run(suspects, 1, alone=True)
    except (OSError, TimeoutError, distributed.comm.core.CommClosedError) as exc:
        raise PacksError(
            f"lost the Dask scheduler ({type(exc).__name__}: {exc}); {after}"
        ) from None
    finally:  # done, failed or Ctrl-C: nothing of ours stays on the cluster
        with contextlib.suppress(Exception):
            client.cancel([*(f for q in queues for f in q.futures), shared])
