"""`packs import-page`: a JobFrame goal-templates page (text or HTML) into canon, checked by
composing it again: the seed's four copy blocks must come back byte for byte."""

from __future__ import annotations

import html
import io
import re
import shutil
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.compose import ComposeOptions, compose_profile
from pipeline.extract import load_canon
from pipeline.render.to_text import frame_text
from tests.conftest import CANON_DIR, SEED_ID, seed_path
from tests.test_text import NEXT_HEADING, SEED_FILE, seed_blocks


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue(), capsys.readouterr().err


def blocks_of(canon_dir: Path, profile_id: str = SEED_ID) -> dict[str, str]:
    canon = load_canon(canon_dir)
    profile = canon.profile(profile_id)
    assert profile is not None
    frames = compose_profile(profile, canon.digest(profile_id), ComposeOptions())
    return {f.kind: frame_text(f) for f in frames.frames if f.kind in NEXT_HEADING}


def seed_text() -> str:
    return seed_path(SEED_FILE).read_text(encoding="utf-8")


def import_page(
    page: Path, canon_dir: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, str]:
    return run(["import-page", str(page), "--canon", str(canon_dir), *extra], capsys)


def test_the_seed_page_imports_and_its_four_blocks_come_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = import_page(seed_path(SEED_FILE), tmp_path / "new", capsys)
    assert code == 0, err
    assert "4 copy blocks checked" in out and "added profile CLINIC.CLINICAL90BC.M4" in out
    assert "level M4 is new: track 'management' from its code" in out
    assert blocks_of(tmp_path / "new") == seed_blocks()
    level = load_canon(tmp_path / "new").levels[0]
    assert (level.code, level.title, level.years, level.description) == (
        "M4",
        "Director",
        None,
        None,
    )


def test_only_what_the_page_states_is_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert import_page(seed_path(SEED_FILE), tmp_path / "new", capsys)[0] == 0
    profile = load_canon(tmp_path / "new").profile(SEED_ID)
    bundled = load_canon(CANON_DIR).profile(SEED_ID)
    assert profile is not None and bundled is not None
    assert profile.responsibilities == bundled.responsibilities
    assert profile.rubrics == bundled.rubrics
    assert profile.level.dimensions == bundled.level.dimensions
    # Not on the page, so absent: the badge, the focus description, the years.
    assert profile.status is None and profile.focus.description is None
    assert profile.core_outputs == () and profile.components.responsibilities == ()


def test_reimport_into_the_bundled_canon_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "canon"
    shutil.copytree(CANON_DIR, target)
    before = {p: p.read_bytes() for p in target.rglob("*.yaml")}
    code, out, err = import_page(seed_path(SEED_FILE), target, capsys)
    assert code == 0, err
    assert out.strip().endswith("0 files written, 0 removed, 6 unchanged")
    assert {p: p.read_bytes() for p in target.rglob("*.yaml")} == before


def list_and_table_rendering(page: str) -> str:
    """The seed as other browsers and tools copy it: `- ` bullets, `|` tables, the copy button
    label split over two lines."""
    out = []
    for line in page.split("\n"):
        if line.startswith("  • "):
            out.append("- " + line[4:])
        elif line == "AreaStandardTargetDue":
            out += ["| Area | Standard | Target | Due |", "|---|---|---|---|"]
        elif line == "Copy / print as textshow ▾":
            out += ["Copy / print as text", "show ▾"]
        else:
            out.append(line)
    return "\n".join(out).replace("\n", "\r\n")


def test_the_list_and_table_rendering_imports_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / f"goal-templates-{SEED_ID}.txt"
    page.write_text(list_and_table_rendering(seed_text()), encoding="utf-8", newline="")
    code, _, err = import_page(page, tmp_path / "new", capsys)
    assert code == 0, err
    assert blocks_of(tmp_path / "new") == seed_blocks()


def seed_as_html(page: str) -> str:
    """Saved HTML written from the seed: headings, lists, and each copy block in a <pre>."""
    blocks = seed_blocks()
    lines = page.split("\n")
    title, _, crumb, _, intro = lines[:5]
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{html.escape(title)}</title>",
        f'<link rel="canonical" href="https://jobframe.example/goal-templates/{SEED_ID}">',
        "<script>document.title = 'x'</script><style>h1{}</style></head><body>",
        f"<h1>{html.escape(lines[2])}</h1><p class=crumb>{html.escape(crumb)}</p>",
        f"<p>{html.escape(intro)}</p>",
    ]
    for heading, kind in (("SMART goals", "smart"), ("OKRs", "okr"), ("MBO areas", "mbo")):
        out.append(f"<section><h2>{heading}</h2><ul><li>…</li></ul>")
        out.append(
            f"<details><summary>Copy / print as text</summary><pre>{html.escape(blocks[kind])}"
        )
        out.append("</pre></details></section>")
    out.append("<section><h2>Scorecard</h2>")
    out.append("<details><summary>Copy / print as text</summary><pre>")
    out.append(f"{html.escape(blocks['scorecard'])}\n</pre></details>")
    out.append("</section><footer>Back to JobFrame</footer></body></html>")
    return "\n".join(out)


def test_saved_html_imports_with_its_id_from_the_canonical_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "page.html"
    page.write_text(seed_as_html(seed_text()), encoding="utf-8")
    code, _, err = import_page(page, tmp_path / "new", capsys)
    assert code == 0, err
    assert blocks_of(tmp_path / "new") == seed_blocks()


def test_a_page_without_an_id_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "page.txt"
    page.write_text(seed_text(), encoding="utf-8")
    code, _, err = import_page(page, tmp_path / "new", capsys)
    assert code == 1
    assert f"{page}: error: no profile id: pass --profile ID" in err
    code, _, err = import_page(page, tmp_path / "new", capsys, "--profile", SEED_ID)
    assert code == 0, err


def test_a_page_cut_off_imports_its_complete_parts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = seed_text()
    mbo_copy = text.index("Copy / print as text", text.index("MBO areas\n"))
    cut = text[: text.index("Establishes operational", mbo_copy) + 12]  # inside MBO area 4
    page = tmp_path / f"goal-templates-{SEED_ID}.txt"
    page.write_text(cut, encoding="utf-8")
    code, out, err = import_page(page, tmp_path / "new", capsys)
    assert code == 0, err
    assert "warning: MBO areas: the page is cut off here" in out
    assert "warning: the page has no copy block for Scorecard; imported from the others" in out
    got = blocks_of(tmp_path / "new")
    assert got["smart"] == seed_blocks()["smart"] and got["okr"] == seed_blocks()["okr"]


def test_a_line_that_does_not_come_back_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = seed_text()
    edited = text.replace(
        "  KR2. Evidence at this level's scope bar:", "  KR2. Evidence at the scope bar:", 1
    )
    assert edited != text
    page = tmp_path / f"goal-templates-{SEED_ID}.txt"
    page.write_text(edited, encoding="utf-8")
    code, _, err = import_page(page, tmp_path / "new", capsys)
    assert code == 1 and "Traceback" not in err
    line = (
        edited.split("\n").index(
            '  KR2. Evidence at the scope bar: "A function or department" — ⟨target⟩ by ⟨date⟩'
        )
        + 1
    )
    assert re.search(
        rf"{re.escape(str(page))}:{line}: error: OKRs: this line does not come back", err
    )
    assert not (tmp_path / "new").exists()


def test_a_level_conflict_names_both_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "canon"
    shutil.copytree(CANON_DIR, target)
    levels = target / "levels.yaml"
    levels.write_text(
        levels.read_text(encoding="utf-8").replace(
            'scope: "A function or department"', 'scope: "A whole division"'
        ),
        encoding="utf-8",
    )
    line = next(
        i
        for i, t in enumerate(levels.read_text(encoding="utf-8").split("\n"), 1)
        if t.strip() == "M4:"
    )
    before = {p: p.read_bytes() for p in target.rglob("*.yaml")}
    code, _, err = import_page(seed_path(SEED_FILE), target, capsys)
    assert code == 1
    assert (
        "error: level M4 scope: the page's 'A function or department' differs from "
        f"'A whole division' in {levels}:{line} [level-conflict]"
    ) in err
    assert {p: p.read_bytes() for p in target.rglob("*.yaml")} == before


def test_a_page_for_another_level_is_checked_against_that_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "canon"
    shutil.copytree(CANON_DIR, target)
    text = seed_text().replace(" · M4 — Director", " · M2 — Manager").replace("(M4)", "(M2)")
    text = text.replace("Management — M4", "Management — M2")
    text = text.replace("for a M4 — Director", "for a M2 — Manager")
    page = tmp_path / "goal-templates-CLINIC.CLINICAL90BC.M2.txt"
    page.write_text(text, encoding="utf-8")
    code, _, err = import_page(page, target, capsys)
    # The bundled M2 level has other dimension texts than the seed's M4: each one located.
    assert code == 1
    assert "level M2 scope: the page's 'A function or department' differs from 'A team" in err


def test_a_new_profile_is_added_to_an_existing_canon_without_replace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "canon"
    shutil.copytree(CANON_DIR, target)
    (target / "focuses" / "CLINIC.CLINICAL90BC.yaml").unlink()
    shutil.rmtree(target / "job-descriptions")
    before = {p: p.read_bytes() for p in target.rglob("*.yaml")}
    code, out, err = import_page(seed_path(SEED_FILE), target, capsys)
    assert code == 0, err
    assert "added profile CLINIC.CLINICAL90BC.M4" in out and "level M4 is new" not in out
    assert {p: p.read_bytes() for p in before} == before  # levels.yaml and the rest untouched
    assert blocks_of(target) == seed_blocks()
