"""Layout files through `packs build`: a broken `layout.yaml` is refused with every problem
located (`layout.yaml:LINE: error: key: what was expected [layout]`), at once, with no
traceback and nothing written.

The cases and their exact lines are the table in `cases.py` (LAYOUT_FILE_CASES).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.adversarial.cases import (
    BASE_LAYOUT,
    FOCUS_PATH,
    LAYOUT_FILE_CASES,
    LEVELS,
    LayoutCase,
    focus,
)
from tests.adversarial.conftest import PROFILE
from tests.adversarial.support import run_cli, write_tree
from tests.conftest import REPO

BUILD = ["build", "--canon", "canon", "--out", "out", "--layout", "layouts/test"]


def layout_folder(work: Path, text: str, removed: tuple[str, ...] = ()) -> Path:
    """The default layout's files with `text` as layout.yaml, some files removed."""
    folder = work / "layouts" / "test"
    shutil.copytree(REPO / "layouts" / "default", folder)
    (folder / "layout.yaml").write_text(text, encoding="utf-8")
    for name in removed:
        (folder / name).unlink()
    write_tree(work / "canon", {"levels.yaml": LEVELS, FOCUS_PATH: focus()})
    return folder


@pytest.mark.parametrize("case", LAYOUT_FILE_CASES, ids=[c.name for c in LAYOUT_FILE_CASES])
def test_a_bad_layout_is_refused_with_exact_lines(case: LayoutCase, tmp_path: Path) -> None:
    layout_folder(tmp_path, case.text(), case.removed)
    done = run_cli(BUILD, tmp_path)
    count = len(case.expect)
    assert done.err.splitlines() == [
        *case.expect,
        f"{count} problem{'s' if count != 1 else ''} found",
    ]
    assert (done.code, done.out) == (1, "")
    assert "Traceback" not in done.err
    assert not (tmp_path / "out").exists(), "a refused layout must write nothing"


def test_the_base_layout_of_those_cases_builds_every_format(tmp_path: Path) -> None:
    """The cases edit a layout that is valid as it stands: each refusal is the edit's doing."""
    layout_folder(tmp_path, BASE_LAYOUT)
    done = run_cli(BUILD, tmp_path)
    assert done.code == 0, done.err
    names = sorted(p.name for p in (tmp_path / "out" / PROFILE).iterdir())
    assert names == sorted(
        [
            "manifest.json",
            f"{PROFILE}.goal-templates.txt",
            f"{PROFILE}.handout.pdf",
            f"{PROFILE}.mbo-tracker.xlsx",
            f"{PROFILE}.review-form.docx",
        ]
    )
