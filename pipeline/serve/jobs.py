"""The job folders of `packs serve`'s cycle builds, on disk: `OUT/cycles/.builds/<job>/`.

A job folder holds the roster under a name the server chose (`roster.csv` or `roster.xlsx`), never
the client's, and the build's `status.json`, written atomically by the worker as the build goes
(`pipeline.serve.worker`), which the status page and its JSON endpoint read
(`pipeline.serve.pool`): a reload, or another tab, shows the same state.

A build is taken by whoever creates its `claimed` file first (`claim`): the worker about to run
it, or a server dropping it (one that stops while the build still waits for a worker, or one that
finds such a build of a stopped server): a dropped build says so in its status ("stopped at
shutdown") and no worker runs it later.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from pipeline.build import write_atomic
from pipeline.cycle.groups import DIR_MODE, FILE_MODE

BUILDS = ".builds"
STATUS = "status.json"
CLAIM = "claimed"
STOPPED_QUEUED = (
    "stopped at shutdown: the server stopped before a worker started this build; start it again"
)
STOPPED_RUNNING = "stopped: its worker process ended before the build did; start it again"
JOB_ID = re.compile(r"[0-9a-f]{32}")
ROSTER_SUFFIXES = (".csv", ".xlsx")


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


def claim(folder: Path, by: str) -> bool:
    """Take the build of a job folder (True) unless another took it first (False)."""
    try:
        fd = os.open(folder / CLAIM, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write(by + "\n")
    return True


def shown_name(name: str | None, fallback: str) -> str:
    """A client's file name as text to show: its last part, printable, at most 120 chars."""
    base = re.split(r"[/\\]", name or "")[-1]
    text = "".join(c for c in base if c.isprintable()).strip()[:120]
    return text or fallback
