"""Located problems and the one exception root for errors a user can fix.

A problem is data (`path:line: error: message [code]`); a stage collects every problem it finds and
raises them together as one `CanonError`, so a person fixes a whole run's worth at once. The CLI
catches `PacksError` only: anything else is a bug and keeps its traceback (exit 3).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

#: Control and bidi-override characters, shown escaped so a report cannot drive a terminal.
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def quoted(value: object, limit: int = 60, *, ascii_escapes: bool = False) -> str:
    """A value quoted in a message, in single quotes, cut to `limit` characters with "…".

    Text is folded to one line, control and bidi characters escaped (`\\u001b`). With
    `ascii_escapes` (the cell values of an imported table) it is kept as it is, white space
    included, and everything outside printable ASCII is escaped as Python's `unicode_escape`
    writes it (`\\xed`, `\\n`). A value that is not text is shown as `repr` shows it (`3.5`)."""
    if not isinstance(value, str):
        return repr(value)
    if ascii_escapes:
        return "'" + _cut(value.encode("unicode_escape").decode("ascii"), limit) + "'"
    flat = _cut(" ".join(value.split()), limit)
    return "'" + _UNSHOWABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", flat) + "'"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int
    message: str
    code: str = "canon"
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity.value}: {self.message} [{self.code}]"


class PacksError(Exception):
    """Root of every error caused by input a user can fix. Printed without a traceback."""

    exit_code = 1

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[Problem, ...] = tuple(problems)

    def report(self) -> str:
        if not self.problems:
            return str(self)
        lines = [str(p) for p in self.problems]
        errors = sum(1 for p in self.problems if p.severity is Severity.ERROR)
        lines.append(f"{errors} problem{'s' if errors != 1 else ''} found")
        return "\n".join(lines)


class CanonError(PacksError):
    """The canon (or an imported file) is invalid; carries every problem found."""


class UsageError(PacksError):
    """The command line asked for something that does not exist (e.g. an unknown profile id)."""

    exit_code = 2


class Collector:
    """Accumulates problems across a stage; `raise_if_any` ends the stage with all of them."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, path: str, line: int, message: str, code: str = "canon") -> None:
        self.problems.append(Problem(path, line, message, code))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    def __bool__(self) -> bool:
        return any(p.severity is Severity.ERROR for p in self.problems)

    def raise_if_any(self, summary: str = "the canon is invalid") -> None:
        if self:
            raise CanonError(summary, sorted(set(self.problems), key=_order))


def _order(p: Problem) -> tuple[str, int, str]:
    return (p.path, p.line, p.message)
