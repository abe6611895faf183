"""Work `packs serve` hands to worker processes: building a cycle from an uploaded roster, and
harvesting a cycle's returned files. The event loop never renders.

A cycle build is `pipeline.cycle.run.cycle`, called as `packs cycle ROSTER --zip` calls it, in
a process of a spawned pool (so under the cycle folder's build lock like the command line; a
second build of one cycle, here or from a terminal, is refused by that lock). Its progress lines
(`pipeline.build.progress`) are turned into `OUT/cycles/.builds/<job>/status.json`, written
atomically, which the status page and its JSON endpoint read: a reload, or another tab, shows the
same state. A job folder holds the roster under a name the server chose (`roster.csv` or
`roster.xlsx`), never the client's.

A build is taken by whoever creates its `claimed` file first (`claim`): the worker about to run
it, or a server dropping it (one that stops while the build still waits for a worker, or one that
finds such a build of a stopped server): a dropped build says so in its status ("stopped at
shutdown") and no worker runs it later. A build a worker took and whose worker is gone (killed
with its server) is shown as stopped too; one whose worker still runs shows as running.

A harvest is `packs harvest CYCLE_DIR RETURNED...`'s work (`pipeline.harvest.collect`,
`pipeline.harvest.results`) over the files uploaded into `CYCLE/returns/files/`, each shown
under the name the client gave it (as text) but stored under a random one.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import secrets
import threading
import traceback
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.build import write_atomic
from pipeline.compose import ComposeOptions
from pipeline.cycle import Period, Roster, read_roster
from pipeline.cycle.groups import DIR_MODE, FILE_MODE
from pipeline.cycle.run import CYCLES, cycle
from pipeline.diagnostics import PacksError
from pipeline.layout import Layout, RenderOptions
from pipeline.model import Canon
from pipeline.render import get_format

#: The formats of a cycle built from the web page: all three, as `packs cycle` defaults to.
CYCLE_FORMATS = ("docx", "xlsx", "pdf")
BUILDS = ".builds"
STATUS = "status.json"
CLAIM = "claimed"
STOPPED_QUEUED = (
    "stopped at shutdown: the server stopped before a worker started this build; start it again"
)
STOPPED_RUNNING = "stopped: its worker process ended before the build did; start it again"
JOB_ID = re.compile(r"[0-9a-f]{32}")
ROSTER_SUFFIXES = (".csv", ".xlsx")
#: Where a cycle's uploads, their index and the harvest's outputs live.
RETURNS = "returns"
RETURNED_FILES = "files"
INDEX = "index.json"
RESULTS = "results.xlsx"
SUMMARY = "summary.json"


class State:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


FINAL = (State.DONE, State.FAILED)


def make_folder(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode(), FILE_MODE)


# --- a cycle build --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildRequest:
    """Everything the worker needs; pickled once into the spawned process."""

    job: str
    folder: Path
    roster: Path
    canon: Canon
    name: str
    period: Period
    out: Path
    layout: Layout
    options: RenderOptions
    compose: ComposeOptions
    jobs: int
    #: A new cycle gets `CYCLE_FORMATS`; an update keeps the cycle's own (`inputs.formats_of`).
    formats: tuple[str, ...] = CYCLE_FORMATS


class _StatusLines(io.StringIO):
    """The build's progress stream, one line at a time, into the job's status file."""

    _BEGIN = re.compile(r"building (\d+) pack")
    _STEP = re.compile(r"\[\s*(\d+)/(\d+)\]")

    def __init__(self, folder: Path, status: dict[str, Any]) -> None:
        super().__init__()
        self.folder = folder
        self.status = status
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self.line(line)
        return len(text)

    def line(self, line: str) -> None:
        if begin := self._BEGIN.match(line):
            self.status["total"] = int(begin.group(1))
        elif step := self._STEP.match(line):
            self.status["done"], self.status["total"] = int(step.group(1)), int(step.group(2))
        elif line.startswith("FAILED "):
            self.status["problems"].append(line)
        else:
            return
        write_json(self.folder / STATUS, self.status)


#: Held while a worker runs a task: a worker whose server is gone exits only once it is free.
_BUSY = threading.Lock()


def _watch_the_server() -> None:
    """Initializer of every worker process: exit once the server process is gone (killed, or
    stopped by a signal before it could shut the pool down) and no task is running, so a build
    under way still finishes and commits, and no worker outlives its server for long."""
    server = multiprocessing.parent_process()
    if server is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([server.sentinel])
        with _BUSY:
            os._exit(0)

    threading.Thread(target=watch, name="watch-the-server", daemon=True).start()


def claim(folder: Path, by: str) -> bool:
    """Take the build of a job folder (True) unless another took it first (False)."""
    try:
        fd = os.open(folder / CLAIM, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write(by + "\n")
    return True


def run_build(request: BuildRequest) -> None:
    """The worker's side of a cycle build; every outcome ends in the status file. A build its
    server dropped (`claim`) is left as it is."""
    with _BUSY:
        if claim(request.folder, f"worker {os.getpid()}"):
            _run_build(request)


def _run_build(request: BuildRequest) -> None:
    status: dict[str, Any] = {
        "job": request.job,
        "cycle": request.name,
        "period": str(request.period),
        "state": State.RUNNING,
        "done": 0,
        "total": 0,
        "message": "",
        "problems": [],
        "pid": os.getpid(),
    }
    write_json(request.folder / STATUS, status)
    try:
        roster = read_roster(
            request.roster, [p.id for p in request.canon.profiles], request.roster.name
        )
        report = cycle(
            request.canon,
            roster,
            request.name,
            request.period,
            [get_format(n) for n in request.formats],
            request.out,
            request.layout,
            request.options,
            request.compose,
            jobs=request.jobs,
            zip=True,
            progress=_StatusLines(request.folder, status),
            tty=False,
        )
        status["message"] = report.line()
        status["state"] = State.FAILED if report.failed else State.DONE
    except PacksError as exc:
        status["state"] = State.FAILED
        status["problems"] += exc.report().splitlines()
        status["message"] = "the cycle was not built"
    except Exception as exc:  # a bug: say so, keep the trace with the job
        status["state"] = State.FAILED
        status["message"] = f"internal error (a bug): {type(exc).__name__}"
        # owner-only, as every file of the job: a trace may quote roster text
        write_atomic(request.folder / "traceback.txt", traceback.format_exc().encode(), FILE_MODE)
    write_json(request.folder / STATUS, status)


# --- a cycle brought up to date (a manager's bundle missing or stale) -----------------------------


@dataclass(frozen=True)
class RefreshRequest:
    """`packs cycle` again over a cycle as its `cycle.json` records it (its roster, name, period
    and formats) with this server's canon and build settings: only what is stale is rebuilt."""

    canon: Canon
    roster: Roster
    name: str
    period: Period
    formats: tuple[str, ...]
    out: Path
    layout: Layout
    options: RenderOptions
    compose: ComposeOptions


class Refreshed:
    DONE = "done"
    #: The cycle's build lock is held (a build from the page or a terminal): try again later.
    BUSY = "busy"
    FAILED = "failed"


def run_refresh(request: RefreshRequest) -> tuple[str, str]:
    """The worker's side: `cycle(..., zip=True)` under the cycle's build lock; (outcome, line)."""
    with _BUSY:
        try:
            report = cycle(
                request.canon,
                request.roster,
                request.name,
                request.period,
                [get_format(n) for n in request.formats],
                request.out,
                request.layout,
                request.options,
                request.compose,
                jobs=1,
                zip=True,
            )
        except PacksError as exc:
            busy = "in use by another build" in str(exc)
            return (Refreshed.BUSY if busy else Refreshed.FAILED), str(exc)
        return (Refreshed.FAILED if report.failed else Refreshed.DONE), report.line()


# --- a harvest ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HarvestRequest:
    cycle_dir: Path
    canon: Canon
    layout: Layout
    epoch: int | None
    #: (stored path, name shown) of every uploaded file, in upload order.
    files: tuple[tuple[Path, str], ...]


def run_harvest(request: HarvestRequest) -> dict[str, Any]:
    """`packs harvest CYCLE_DIR FILES...` over the uploads; writes `returns/results.xlsx` and
    `returns/summary.json`, and returns that summary."""
    with _BUSY:
        return _run_harvest(request)


def _run_harvest(request: HarvestRequest) -> dict[str, Any]:
    from pipeline.harvest.collect import (
        SUFFIXES,
        VERDICTS,
        CanonMatcher,
        Return,
        Verdict,
        canon_texts,
        examine,
        settle_duplicates,
    )
    from pipeline.harvest.cycle_matcher import CycleMatcher
    from pipeline.harvest.results import write_results

    by_profile = CanonMatcher(request.canon, request.layout)
    matcher = CycleMatcher(request.cycle_dir, by_profile)
    returns: list[Return] = []
    for path, shown in request.files:
        if path.suffix.lower() in SUFFIXES:
            returns.append(examine(path, shown, matcher))
        else:
            returns.append(Return(shown, "", "", Verdict.SKIPPED, "not a .docx or .xlsx file"))
    settle_duplicates(returns)
    people = matcher.people()
    texts: dict[str, dict[str, str]] = {}
    for person in people:
        frames = by_profile.frames(person.profile)
        if frames is not None:
            canon_texts(frames, request.layout, texts)
    folder = request.cycle_dir / RETURNS
    write_results(folder / RESULTS, None, people, returns, texts, request.epoch)
    os.chmod(folder / RESULTS, FILE_MODE)
    summary = {
        "counts": {v.value: sum(r.verdict is v for r in returns) for v in VERDICTS},
        "files": [
            {
                "name": r.path,
                "kind": r.kind,
                "employee_id": r.employee_id,
                "verdict": r.verdict.value,
                "message": r.message,
            }
            for r in returns
        ],
        "returned": sorted({r.employee_id for r in returns if r.verdict is Verdict.OK}),
        "issued": len(people),
    }
    write_json(folder / SUMMARY, summary)
    return summary


def read_index(cycle_dir: Path) -> list[dict[str, Any]]:
    try:
        return list(json.loads((cycle_dir / RETURNS / INDEX).read_bytes()))
    except (OSError, ValueError):
        return []


def read_summary(cycle_dir: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads((cycle_dir / RETURNS / SUMMARY).read_bytes()))
    except (OSError, ValueError):
        return None


def store_returned(cycle_dir: Path, shown: str, data: bytes) -> str | None:
    """Keep one uploaded file under `CYCLE/returns/files/` (a random name, mode 0600) when it is
    an office package the harvest can open; else the reason it was refused (nothing stored).
    Call under one lock per server: the index is read, extended and written back."""
    from pipeline.harvest.collect import MAX_FILE_BYTES, SUFFIXES
    from pipeline.harvest.package import open_package
    from pipeline.harvest.verify import RETURNED_PACKAGE

    suffix = Path(shown).suffix.lower()
    if suffix not in SUFFIXES:
        return "not a .docx or .xlsx file; not stored"
    if len(data) > MAX_FILE_BYTES:
        return f"over {MAX_FILE_BYTES // (1024 * 1024)} MiB; not stored"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    index = read_index(cycle_dir)
    if any(entry["sha256"] == digest for entry in index):
        return "uploaded before (the same bytes); not stored again"
    try:
        with open_package(data, RETURNED_PACKAGE):
            pass
    except PacksError as exc:
        return f"{exc}; not stored"
    folder = cycle_dir / RETURNS / RETURNED_FILES
    make_folder(folder.parent)
    make_folder(folder)
    stored = f"{secrets.token_hex(16)}{suffix}"
    write_atomic(folder / stored, data, FILE_MODE)
    index.append({"file": stored, "name": shown, "bytes": len(data), "sha256": digest})
    write_json(cycle_dir / RETURNS / INDEX, index)
    return None


def returned_files(cycle_dir: Path) -> tuple[tuple[Path, str], ...]:
    """(stored path, name shown) of the cycle's uploads; only names this server chose."""
    folder = cycle_dir / RETURNS / RETURNED_FILES
    found = []
    for entry in read_index(cycle_dir):
        name = str(entry["file"])
        if re.fullmatch(r"[0-9a-f]{32}\.(docx|xlsx)", name):
            found.append((folder / name, str(entry["name"])))
    return tuple(found)


# --- the server's side ----------------------------------------------------------------------------


class Workers:
    """The server's worker processes (spawned: the server's threads are not forked) and the
    builds it started. One cycle build at a time; harvests beside it."""

    def __init__(self, out: Path, processes: int = 2) -> None:
        self.builds = Path(out).resolve() / CYCLES / BUILDS
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    def pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_watch_the_server,
                )
            return self._pool

    def new_job(self) -> tuple[str, Path]:
        job = secrets.token_hex(16)
        make_folder(self.builds.parent)
        make_folder(self.builds)
        folder = self.builds / job
        folder.mkdir(mode=DIR_MODE)
        return job, folder

    def running(self) -> str | None:
        """The cycle a build of this server is building now, if any."""
        for job, future in self._futures.items():
            if not future.done():
                status = self.status(job)
                return str(status["cycle"]) if status else "?"
        return None

    def start(self, request: BuildRequest) -> None:
        write_json(
            request.folder / STATUS,
            {
                "job": request.job,
                "cycle": request.name,
                "period": str(request.period),
                "state": State.QUEUED,
                "done": 0,
                "total": 0,
                "message": "",
                "problems": [],
            },
        )
        self._futures[request.job] = self.pool().submit(run_build, request)

    def status(self, job: str) -> dict[str, Any] | None:
        """A job's status (None for an id that is no job of this `out/`)."""
        if not JOB_ID.fullmatch(job):
            return None
        try:
            status = dict(json.loads((self.builds / job / STATUS).read_bytes()))
        except (OSError, ValueError):
            return None
        if status.get("state") in FINAL:
            return status
        future = self._futures.get(job)
        if future is None:  # a build of a server that stopped
            if status.get("state") == State.QUEUED:
                return self._drop(job, STOPPED_QUEUED) or status
            if not _alive(status.get("pid")):
                status |= {"state": State.FAILED, "message": STOPPED_RUNNING}
                write_json(self.builds / job / STATUS, status)
        elif future.done() and future.exception() is not None:
            status["state"] = State.FAILED
            status["message"] = f"the build's worker process failed: {future.exception()}"
        return status

    def wait(self, job: str, timeout: float) -> None:
        """Block until a build of this server ends (tests, shutdown)."""
        future = self._futures.get(job)
        if future is not None:
            future.result(timeout=timeout)

    def refresh(self, request: RefreshRequest) -> Future[tuple[str, str]]:
        return self.pool().submit(run_refresh, request)

    def harvest(self, request: HarvestRequest) -> Future[dict[str, Any]]:
        return self.pool().submit(run_harvest, request)

    def _drop(self, job: str, message: str) -> dict[str, Any] | None:
        """Take a build no worker has taken, and record why it will not run; its new status,
        or None when a worker had taken it."""
        folder = self.builds / job
        if not claim(folder, f"server {os.getpid()}"):
            return None
        try:
            status = dict(json.loads((folder / STATUS).read_bytes()))
        except (OSError, ValueError):
            status = {"job": job, "cycle": "?", "period": "", "done": 0, "total": 0}
        status |= {"state": State.FAILED, "message": message, "problems": []}
        write_json(folder / STATUS, status)
        return status

    def close(self, wait: bool = True) -> None:
        """End the pool (queued work is cancelled, and a build no worker took yet is marked
        stopped). Without `wait`, a running build goes on in its worker, which exits when it is
        done (`_watch_the_server`)."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=wait, cancel_futures=True)
                self._pool = None
            for job, future in self._futures.items():
                if not future.done() or future.cancelled():
                    self._drop(job, STOPPED_QUEUED)


def _alive(pid: object) -> bool:
    """Whether a worker's process id (as its status records it) is a running process."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def shown_name(name: str | None, fallback: str) -> str:
    """A client's file name as text to show: its last part, printable, at most 120 chars."""
    base = re.split(r"[/\\]", name or "")[-1]
    text = "".join(c for c in base if c.isprintable()).strip()[:120]
    return text or fallback
