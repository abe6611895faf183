"""Canon files through `packs build`: hostile YAML is refused with exact located lines, writes
nothing and shows no traceback; odd but valid files (BOM, CRLF, very long sentences) build.

The cases and their exact lines are the table in `cases.py` (CANON_FILE_CASES).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.adversarial.cases import CANON_FILE_CASES, FOCUS_PATH, LEVELS, CanonCase, focus
from tests.adversarial.conftest import LONG_SENTENCE, PROFILE, Built
from tests.adversarial.support import (
    docx_paragraphs,
    environment,
    pdf_pages,
    pdf_text,
    poppler_text,
    run_cli,
    squeeze,
    tree,
    write_tree,
    xlsx_cells,
)
from tests.conftest import FIXED_EPOCH

BUILD = ["build", "--canon", "canon", "--out", "out"]
#: What "does not explode" means for a profile whose one sentence is 10,000 characters long.
MAX_PAGES = 40
#: Excel's tallest row, in points.
MAX_ROW_POINTS = 409
#: The long sentence's words: page headers and footers cut a printed sentence, never its words.
WORD = re.compile(r"Plans,|word\d+")


def printed_count(printed: str) -> int:
    """How often the long sentence prints whole, page furniture between its words ignored."""
    return " ".join(WORD.findall(printed)).count(" ".join(WORD.findall(LONG_SENTENCE)))


def base_canon(work: Path) -> Path:
    return write_tree(work / "canon", {"levels.yaml": LEVELS, FOCUS_PATH: focus()})


@pytest.mark.parametrize("case", CANON_FILE_CASES, ids=[c.name for c in CANON_FILE_CASES])
def test_bad_canon_is_refused_with_exact_lines(case: CanonCase, tmp_path: Path) -> None:
    write_tree(base_canon(tmp_path), case.files)
    done = run_cli(BUILD, tmp_path)
    count = len(case.expect)
    assert done.err.splitlines() == [
        *case.expect,
        f"{count} problem{'s' if count != 1 else ''} found",
    ]
    assert (done.code, done.out) == (1, "")
    assert "Traceback" not in done.err
    assert not (tmp_path / "out").exists(), "a refused canon must write nothing"
    if case.must_not_exist:
        assert not (tmp_path / case.must_not_exist).exists(), "canon content was executed"


def test_the_base_canon_of_those_cases_builds(tmp_path: Path) -> None:
    """The cases edit a canon that is valid as it stands: each refusal is the edit's doing."""
    base_canon(tmp_path)
    done = run_cli([*BUILD, "--formats", "txt"], tmp_path)
    assert done.code == 0, done.err
    assert (tmp_path / "out" / PROFILE / f"{PROFILE}.goal-templates.txt").is_file()


def test_bom_and_crlf_build_the_same_packs(tmp_path: Path) -> None:
    plain, odd = tmp_path / "plain", tmp_path / "odd"
    for work in (plain, odd):
        base_canon(work)
    for path in (odd / "canon" / "levels.yaml", odd / "canon" / FOCUS_PATH):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    with environment(SOURCE_DATE_EPOCH=str(FIXED_EPOCH)):
        for work in (plain, odd):
            done = run_cli([*BUILD, "--formats", "txt,docx,xlsx"], work)
            assert done.code == 0, done.err
    built = tree(plain / "out" / PROFILE)
    assert len(built) == 4  # three formats and the manifest
    assert tree(odd / "out" / PROFILE) == built


# --- a 10,000-character sentence ------------------------------------------------------------------


def test_a_10000_character_sentence_renders_everywhere(long_build: Built) -> None:
    """Accepted, and every format holds it whole without exploding (pages, row heights)."""
    assert len(LONG_SENTENCE) == 10_000
    text = long_build.data("txt").decode("utf-8")
    assert text.count(LONG_SENTENCE) >= 5  # SMART, OKR, MBO, Scorecard, role calibration
    pdf = long_build.data("pdf")
    assert printed_count(pdf_text(pdf)) >= 5
    assert pdf_pages(pdf) <= MAX_PAGES
    assert long_build.logged == []
    paragraphs = docx_paragraphs(long_build.data("docx"))
    assert sum(p.count(LONG_SENTENCE) for p in paragraphs) >= 5
    cells = xlsx_cells(long_build.data("xlsx"))
    assert sum(1 for v in cells.values() if v == LONG_SENTENCE) >= 2  # SMART and MBO headings
    from openpyxl import load_workbook

    wb = load_workbook(long_build.file("xlsx"))
    for ws in wb.worksheets:
        heights = [d.height for d in ws.row_dimensions.values() if d.height is not None]
        assert all(h <= MAX_ROW_POINTS for h in heights), (ws.title, max(heights))
    manifest = json.loads((long_build.folder / "manifest.json").read_text())
    assert len(manifest["files"]) == 4


@pytest.mark.office
def test_the_long_sentence_prints_in_libreoffice_without_exploding(
    office_pdfs: dict[str, Path],
) -> None:
    """LibreOffice lays the DOCX table and the XLSX rows out: pages stay few, and the DOCX
    prints the sentence whole. A spreadsheet row stops at 409 pt (Excel's limit), so the
    tracker prints the sentence's start and keeps the whole of it in the cell."""
    for name in ("long-form.docx", "long-tracker.xlsx"):
        assert pdf_pages(office_pdfs[name].read_bytes()) <= MAX_PAGES, name
    assert printed_count(poppler_text(office_pdfs["long-form.docx"])) >= 2
    start = " ".join(WORD.findall(LONG_SENTENCE[:300]))
    assert start in " ".join(WORD.findall(poppler_text(office_pdfs["long-tracker.xlsx"])))


def test_a_long_unbreakable_word_stays_on_the_pdf_page(tmp_path: Path) -> None:
    word = "Pneumonoultramicroscopicsilicovolcanoconiosis" * 7  # 315 letters, no break point
    write_tree(base_canon(tmp_path), {FOCUS_PATH: focus(f'"See {word} first"')})
    done = run_cli([*BUILD, "--formats", "pdf"], tmp_path)
    assert done.code == 0, done.err
    path = tmp_path / "out" / PROFILE / f"{PROFILE}.handout.pdf"
    layer = pdf_text(path.read_bytes())
    assert word in squeeze(layer), "the text layer lost letters"  # wrapped: lines join
    assert "\u200b" not in layer, "the invisible break points reached the text layer"
    assert word in squeeze(poppler_text(path)), "clipped at the page edge"
