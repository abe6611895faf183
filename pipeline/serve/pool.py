"""The server's side of its worker processes (`Workers`): the pool, the builds this server
started, and their state as their job folders record it (`pipeline.serve.jobs`).

A build a worker took and whose worker is gone (killed with its server) is shown as stopped; one
whose worker still runs shows as running. A build no worker took when its server stopped is
dropped, by that server or by the next one (`jobs.claim`).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from pipeline.cycle.groups import DIR_MODE
from pipeline.cycle.run import CYCLES
from pipeline.serve.jobs import (
    BUILDS,
    FINAL,
    JOB_ID,
    STATUS,
    STOPPED_QUEUED,
    STOPPED_RUNNING,
    State,
    claim,
    make_folder,
    write_json,
)
from pipeline.serve.worker import (
    BuildRequest,
    HarvestRequest,
    RefreshRequest,
    run_build,
    run_harvest,
    run_refresh,
    watch_the_server,
)


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
                    initializer=watch_the_server,
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
        done (`watch_the_server`)."""
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
