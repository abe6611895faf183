"""The job-description importer on hostile files (binary, empty and script-only pages are in
tests/test_jobdesc.py): a 50 MB page is refused without being read, and an HTML page's scripts
never become canon while markup written as text stays literal all the way to the role profile.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.extract import load_canon
from pipeline.extract.page_text import MAX_PAGE_BYTES
from pipeline.render.to_text import frame_text
from tests.adversarial.support import run_cli
from tests.conftest import CANON_DIR, SEED_ID
from tests.test_jobdesc import seed_html

FIFTY_MB = 50 * 1024 * 1024


class CountingFile(io.RawIOBase):
    """A file object that counts the bytes handed out (to prove the page was not read whole)."""

    def __init__(self, inner: Any, counter: list[int]) -> None:
        self.inner, self.counter = inner, counter

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.inner.read(size)
        self.counter.append(len(data))
        return data

    def close(self) -> None:
        self.inner.close()
        super().close()


def test_a_50_mb_page_is_refused_without_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "big.txt"
    with page.open("wb") as fh:  # sparse: costs nothing on disk
        fh.truncate(FIFTY_MB)
    read: list[int] = []
    real_open = Path.open

    def counting_open(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, mode, *args, **kwargs)
        return CountingFile(handle, read) if self.name == page.name and "b" in mode else handle

    monkeypatch.setattr(Path, "open", counting_open)
    done = run_cli(["import-jd", "big.txt", "--out", "jd"], tmp_path)
    monkeypatch.undo()
    assert done.code == 1
    assert done.err.splitlines() == [
        f"big.txt: error: file is {FIFTY_MB:,} bytes; job-description pages are limited to "
        f"{MAX_PAGE_BYTES:,} bytes [size]",
        "1 problem found",
    ]
    assert "Traceback" not in done.err
    assert read, "the page was not read through Path.open"
    assert sum(read) <= MAX_PAGE_BYTES + 1, "the importer read more than the limit"
    assert not (tmp_path / "jd").exists()


ITEM = "<script>alert(1)</script> =SUM(A1) <img src=x onerror=alert(2)> &amp; Pharmacy"


def test_html_scripts_are_dropped_and_markup_stays_text(tmp_path: Path) -> None:
    """Escaped markup in an item is text; live markup around it (scripts, styles, handlers,
    images) is not. The item survives the YAML, the loader and the role profile verbatim."""
    escaped = ITEM.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    page = seed_html().replace(
        "<li>Pharmacy, Pharmacology",
        f'<li onclick="alert(3)"><script>alert(4)</script><style>li{{color:red}}</style>'
        f"{escaped}<img src=x onerror=alert(5)>, Pharmacology",
        1,
    )
    assert escaped in page
    (tmp_path / "page.html").write_text(page, encoding="utf-8")
    canon = tmp_path / "canon"
    shutil.copytree(CANON_DIR / "focuses", canon / "focuses")
    shutil.copy(CANON_DIR / "levels.yaml", canon / "levels.yaml")
    done = run_cli(["import-jd", "page.html", "--canon", "canon", "--profile", SEED_ID], tmp_path)
    assert done.code == 0, done.err
    (written,) = (canon / "job-descriptions").glob("*.yaml")
    data = yaml.safe_load(written.read_text(encoding="utf-8"))
    item = f"{ITEM}, Pharmacology"
    fields = data["education"]["fields_of_study"]
    assert item in fields, fields
    everything = written.read_text(encoding="utf-8")
    for live in ("alert(3)", "alert(4)", "alert(5)", "color:red"):
        assert live not in everything, f"{live} leaked from the page's markup into the canon"
    profile = load_canon(canon).profile(SEED_ID)
    assert profile is not None and profile.job_description is not None
    assert item in profile.job_description.fields_of_study
    from pipeline.compose import compose_profile

    role = compose_profile(profile, "sha256:" + "0" * 64).frame("role")
    assert role is not None
    assert f"  - {item}   [source: job description (Relevant Fields of Study)]" in frame_text(role)
