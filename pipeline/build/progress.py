"""What a build says while it runs (a bar on a terminal, a line per pack otherwise) and the
one-line report that also decides the exit code."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from pipeline.build.workers import PackResult


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Profiles done / total with rate and ETA: a bar redrawn in place on a terminal, one plain
    line per pack otherwise (CI logs). Failures always get their own line."""

    WIDTH = 24
    REDRAW_SECONDS = 0.1

    def __init__(self, stream: TextIO | None, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = bool(stream is not None and (stream.isatty() if tty is None else tty))
        self.total = 0
        self.done = 0
        self.start = time.monotonic()
        self.drawn = 0.0
        self.tracebacks = 0

    def _write(self, text: str) -> None:
        if self.stream is not None:
            self.stream.write(text)
            self.stream.flush()

    def begin(self, total: int, skipped: int, jobs: int) -> None:
        self.total, self.start = total, time.monotonic()
        if not total:
            self._write(
                f"nothing to build: {skipped} pack{'s' if skipped != 1 else ''} unchanged\n"
            )
            return
        parts = [f"building {total} pack{'s' if total != 1 else ''}"]
        if skipped:
            parts.append(f"{skipped} unchanged (skipped)")
        parts.append(f"{jobs} job{'s' if jobs != 1 else ''}")
        self._write(", ".join(parts) + "\n")

    def note(self, line: str) -> None:
        """A line said once per build (e.g. which WeasyPrint speed-ups are on)."""
        self._write(line + "\n")

    def _rate(self) -> tuple[float, float]:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        return rate, eta

    def advance(self, result: PackResult) -> None:
        self.done += 1
        rate, eta = self._rate()
        clear = "\r\x1b[K" if self.tty else ""
        for warning in result.warnings:
            self._write(f"{clear}warning: {result.profile_id}: {warning}\n")
        if not result.ok:
            self._write(f"{clear}FAILED {result.profile_id}: {result.error}\n")
            if result.detail and self.tracebacks == 0:  # a bug: show the first trace in full
                self.tracebacks += 1
                self._write(result.detail.rstrip("\n") + "\n")
        if self.tty:
            now = time.monotonic()
            if not result.ok or self.done == self.total or now - self.drawn >= self.REDRAW_SECONDS:
                self.drawn = now
                filled = self.WIDTH * self.done // max(self.total, 1)
                bar = "#" * filled + "-" * (self.WIDTH - filled)
                self._write(
                    f"\r\x1b[K[{bar}] {self.done}/{self.total}  {rate:.1f}/s  "
                    f"ETA {_duration(eta)}  {result.profile_id}"
                )
        elif result.ok:
            width = len(str(self.total))
            self._write(
                f"[{self.done:>{width}}/{self.total}] built {result.profile_id} "
                f"({result.seconds:.2f}s; {rate:.1f}/s, ETA {_duration(eta)})\n"
            )

    def end(self) -> None:
        if self.tty and self.total:
            self._write("\n")


@dataclass(frozen=True)
class BuildReport:
    built: int
    skipped: int
    failed: tuple[tuple[str, str], ...]
    seconds: float
    notes: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def line(self) -> str:
        text = (
            f"built {self.built}, skipped {self.skipped}, failed {len(self.failed)} "
            f"in {self.seconds:.1f}s"
        )
        if self.failed:
            ids = [pid for pid, _ in self.failed]
            text += f" ({', '.join(ids[:5])}{', …' if len(ids) > 5 else ''})"
        return "; ".join((text, *self.notes))


def console_is_tty(stream: TextIO = sys.stderr) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
