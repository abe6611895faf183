"""Work `packs serve` hands to worker processes: building a cycle from an uploaded roster,
bringing a cycle up to date (a manager's bundle missing or stale), and harvesting a cycle's
returned files. The event loop never renders.

A cycle build is `pipeline.cycle.run.cycle`, called as `packs cycle ROSTER --zip` calls it, in
a process of a spawned pool (`pipeline.serve.pool`), so under the cycle folder's build lock like
the command line; a second build of one cycle, here or from a terminal, is refused by that lock.
Its progress lines (`pipeline.build.progress`) are turned into its job folder's `status.json`
(`pipeline.serve.jobs`). A worker runs a build only once it has claimed it (`jobs.claim`).

A harvest is `packs harvest CYCLE_DIR RETURNED...`'s work (`pipeline.harvest.collect`,
`pipeline.harvest.results`) over the files uploaded into `CYCLE/returns/files/`
(`pipeline.serve.returns`), each shown under the name the client gave it (as text).
"""

from __future__ import annotations

import io
import multiprocessing
import multiprocessing.connection
import os
import re
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pipeline.build import BuildReport, write_atomic
from pipeline.build.lock import BuildBusy
from pipeline.compose import ComposeOptions
from pipeline.cycle import Period, Roster, read_roster
from pipeline.cycle.groups import FILE_MODE
from pipeline.cycle.run import cycle
from pipeline.diagnostics import PacksError
from pipeline.layout import Layout, RenderOptions
from pipeline.model import Canon
from pipeline.render import get_format
from pipeline.serve.jobs import STATUS, State, claim, write_json
from pipeline.serve.returns import RESULTS, RETURNS, SUMMARY

#: The formats of a cycle built from the web page: all three, as `packs cycle` defaults to.
CYCLE_FORMATS = ("docx", "xlsx", "pdf")


#: Held while a worker runs a task: a worker whose server is gone exits only once it is free.
_BUSY = threading.Lock()


def watch_the_server() -> None:
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


def _cycle(
    request: BuildRequest | RefreshRequest,
    roster: Roster,
    jobs: int,
    progress: TextIO | None = None,
    tty: bool | None = None,
) -> BuildReport:
    """`packs cycle ROSTER --zip` as a request asks for it (a new build, an update or a
    refresh): the one call of `cycle()` here."""
    return cycle(
        request.canon,
        roster,
        request.name,
        request.period,
        [get_format(n) for n in request.formats],
        request.out,
        request.layout,
        request.options,
        request.compose,
        jobs=jobs,
        zip=True,
        progress=progress,
        tty=tty,
    )


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
        report = _cycle(
            request, roster, request.jobs, _StatusLines(request.folder, status), tty=False
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
    """The worker's side: `cycle(..., zip=True)` under the cycle's build lock; (outcome, line).
    BUSY when the lock is held (`BuildBusy`, by its type: the lock's wording may change)."""
    with _BUSY:
        try:
            report = _cycle(request, request.roster, jobs=1)
        except BuildBusy as exc:
            return Refreshed.BUSY, str(exc)
        except PacksError as exc:
            return Refreshed.FAILED, str(exc)
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
