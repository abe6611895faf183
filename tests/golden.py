"""Golden files as readable dumps, with one switch to accept new output.

`pytest --accept` (or ACCEPT_GOLDEN=1) rewrites the expected files; a mismatch prints a diff and
the command that accepts it.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest


def assert_golden(expected_path: Path, actual: str, accept: bool) -> None:
    if accept:
        expected_path.parent.mkdir(parents=True, exist_ok=True)
        expected_path.write_text(actual, encoding="utf-8", newline="\n")
        return
    if not expected_path.is_file():
        pytest.fail(f"no golden file {expected_path}; run `pytest --accept` to create it")
    expected = expected_path.read_text(encoding="utf-8")
    if expected != actual:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                str(expected_path),
                "actual",
            )
        )
        pytest.fail(
            f"output differs from {expected_path}:\n{diff}\n"
            "If the change is intended: .venv/bin/pytest --accept, then review the diff in git."
        )
