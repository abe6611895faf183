"""One build per `out/` at a time: an flock'ed lock file holding the builder's pid."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from pipeline.diagnostics import PacksError

LOCK_FILE = ".packs-build.lock"


class BuildBusy(PacksError):
    """Another process holds the lock: nothing is wrong with the input, try again later. Callers
    that answer differently (`packs serve`: 503 and Retry-After) catch this type, never the text."""


@contextlib.contextmanager
def build_lock(out: Path) -> Iterator[None]:
    """Hold `out/.packs-build.lock` for the whole build; a second build refuses at once
    (`BuildBusy`)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise PacksError(f"cannot write to {out}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            raise BuildBusy(
                f"{out} is in use by another build (pid {holder}); wait for it to finish "
                "or build into another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)
