"""The job-description importer: the seed page, its variants, hostile files, and the round trip.

Expected sentences are derived from the seed file itself (`seed_blocks`, a deliberately naive
reading that only works for the seed's exact layout), never pasted into this file.
"""

from __future__ import annotations

import contextlib
import html
import io
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pipeline.cli import main
from pipeline.compose import compose_profile
from pipeline.diagnostics import CanonError, Severity
from pipeline.extract import load_canon
from pipeline.extract.jobdesc import (
    ImportedPage,
    import_page,
    job_description_yaml,
    parse_page,
    read_page,
)
from pipeline.extract.nodes import text_problem
from pipeline.extract.page_text import MAX_PAGE_BYTES
from pipeline.extract.yamlwrite import emit, quote
from pipeline.model import JobDescription
from pipeline.render.to_text import frame_text, frames_text
from tests.conftest import CANON_DIR, SEED_ID, seed_path

SEED_FILE = "job-description-clinical-trials-director.txt"
BUNDLED_JD = CANON_DIR / "job-descriptions" / "clinical-trials-director.yaml"

#: JobDescription field -> (heading as the seed page writes it, role-profile heading).
FIELDS = {
    "role_definition": ("🎯 Role Definition", "Role Definition"),
    "entry_points": ("Entry Point From", "Entry Point From"),
    "advancement": ("Advancement To", "Advancement To"),
    "lateral_moves": ("Lateral Moves", "Lateral Moves"),
    "primary_functions": ("Primary Functions", "Primary Functions"),
    "secondary_functions": ("Secondary Functions", "Secondary Functions"),
    "hard_skills": ("Hard Skills (Technical)", "Hard Skills (Technical)"),
    "soft_skills": ("Soft Skills", "Soft Skills"),
    "minimum_education": ("Minimum Education", "Minimum Education"),
    "preferred_education": ("Preferred Education", "Preferred Education"),
    "fields_of_study": ("Relevant Fields of Study", "Relevant Fields of Study"),
    "typical_experience": ("Typical Experience Range", "Typical Experience Range"),
    "preferred_experience": ("Preferred", "Preferred Experience"),
}
CAREER = ("entry_points", "advancement", "lateral_moves")


def seed_text() -> str:
    return seed_path(SEED_FILE).read_text(encoding="utf-8")


def seed_blocks(text: str | None = None) -> dict[str, list[str]]:
    """Heading line -> the texts under it, for the seed's exact layout: `  • ` bullets, prose
    paragraphs ending in '.', one `Label: text` line; every other line is a heading."""
    blocks: dict[str, list[str]] = {}
    current = ""
    for raw in (seed_text() if text is None else text).split("\n"):
        line = raw.strip()
        if raw.startswith("  • "):
            blocks[current].append(raw[len("  • ") :])
        elif line.endswith("."):
            label, sep, rest = line.partition(": ")
            if sep and len(label) < 40:
                blocks[label] = [rest]
            else:
                blocks[current].append(line)
        elif line:
            current = line.rstrip(":")
            blocks.setdefault(current, [])
    return blocks


def field_texts(jd: JobDescription, name: str) -> tuple[str, ...]:
    value = getattr(jd.career_path if name in CAREER else jd, name)
    assert isinstance(value, tuple)
    return value


def all_texts(jd: JobDescription) -> list[str]:
    out = [jd.title, *jd.tags, *([jd.salary] if jd.salary else [])]
    for name in FIELDS:
        out += field_texts(jd, name)
    return out


def content(jd: JobDescription) -> dict[str, tuple[str, ...]]:
    return {name: field_texts(jd, name) for name in FIELDS}


def imported(text: str, name: str = "page.txt") -> ImportedPage:
    return import_page(text.encode("utf-8"), name)


@pytest.fixture(scope="module")
def seed_import() -> ImportedPage:
    return read_page(seed_path(SEED_FILE), SEED_FILE)


@pytest.fixture()
def tmp_canon(tmp_path: Path) -> Path:
    """A canon with the bundled levels and focuses but no job descriptions."""
    root = tmp_path / "canon"
    root.mkdir()
    shutil.copy(CANON_DIR / "levels.yaml", root / "levels.yaml")
    shutil.copytree(CANON_DIR / "focuses", root / "focuses")
    return root


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, out=out), out.getvalue()


# ---------------------------------------------------------------------------------------------
# The seed
# ---------------------------------------------------------------------------------------------


def test_seed_sections_verbatim_with_the_expected_counts(seed_import: ImportedPage) -> None:
    jd = seed_import.job_description
    blocks = seed_blocks()
    counts = {name: len(field_texts(jd, name)) for name in FIELDS}
    assert counts == {
        "role_definition": 1,
        "entry_points": 3,
        "advancement": 3,
        "lateral_moves": 3,
        "primary_functions": 25,
        "secondary_functions": 10,
        "hard_skills": 12,
        "soft_skills": 10,
        "minimum_education": 1,
        "preferred_education": 1,
        "fields_of_study": 5,
        "typical_experience": 1,
        "preferred_experience": 4,
    }
    for name, (page_heading, _) in FIELDS.items():
        assert list(field_texts(jd, name)) == blocks[page_heading], name
    assert jd.title == "Clinical Trials Director"
    assert jd.slug == "clinical-trials-director"
    assert jd.salary == "$160,000 - $240,000"
    glued = "Clinical OperationsClinical DevelopmentTrials ManagementRegulatory AffairsHealthcare"
    assert glued in seed_text().split("\n")
    assert jd.tags == (glued,)
    assert seed_import.problems == ()
    assert "phases II–IV" in jd.hard_skills[1]  # en dash kept


def test_seed_report_lists_every_section(seed_import: ImportedPage) -> None:
    report = seed_import.report()
    assert "  Primary Functions: 25\n" in report
    assert "  Preferred Experience: 4\n" in report
    assert report.endswith("nothing missing or left unplaced")


def test_round_trip_import_yaml_load_compose_text(tmp_canon: Path) -> None:
    code, out = run(
        ["import-jd", str(seed_path(SEED_FILE)), "--profile", SEED_ID, "--canon", str(tmp_canon)]
    )
    assert code == 0, out
    written = tmp_canon / "job-descriptions" / "clinical-trials-director.yaml"
    assert f"wrote {written}" in out
    canon = load_canon(tmp_canon)
    profile = canon.profile(SEED_ID)
    assert profile is not None and profile.job_description is not None
    frames = compose_profile(profile, canon.digest(SEED_ID))
    role = frames.frame("role")
    assert role is not None
    text = frame_text(role)
    blocks = seed_blocks()
    for page_heading, role_heading in FIELDS.values():
        assert f"\n{role_heading}\n" in f"\n{text}\n"
        for sentence in blocks[page_heading]:
            line = f"  - {sentence}   [source: job description ({role_heading})]"
            assert line in text.split("\n"), sentence
    assert "$160,000" not in text  # salary only on request
    # The bundled canon file is exactly what the importer writes (regenerate it with import-jd).
    assert written.read_bytes() == BUNDLED_JD.read_bytes()


def test_bundled_canon_links_the_seed_job_description() -> None:
    code, out = run(["show", SEED_ID, "--frame", "role"])
    assert code == 0
    for sentence in seed_blocks()["Primary Functions"]:
        assert f"  - {sentence}   [source: job description (Primary Functions)]" in out
    code, all_out = run(["show", SEED_ID, "--frame", "all"])
    assert code == 0
    assert "job description (" not in all_out
    canon = load_canon(CANON_DIR)
    profile = canon.profile(SEED_ID)
    assert profile is not None
    frames = compose_profile(profile, canon.digest(SEED_ID))
    assert all_out == frames_text(frames.goal_frames) + "\n"


def test_yaml_is_deterministic_and_reads_back(seed_import: ImportedPage) -> None:
    jd = seed_import.job_description
    first = job_description_yaml(jd)
    assert first == job_description_yaml(jd)
    data = yaml.safe_load(first)
    assert data["primary_functions"] == list(jd.primary_functions)
    assert data["experience"]["preferred"] == list(jd.preferred_experience)
    assert "profile" not in data


# ---------------------------------------------------------------------------------------------
# Variants of the seed
# ---------------------------------------------------------------------------------------------


def _without(text: str, *lines: str) -> str:
    return "\n".join(ln for ln in text.split("\n") if ln not in lines)


def _tag_line(text: str) -> str:
    return text.split("\n")[6]


VARIANTS: dict[str, Callable[[str], str]] = {
    "dash bullets": lambda t: t.replace("  • ", "- "),
    "star bullets": lambda t: t.replace("  • ", "* "),
    "bare bullets": lambda t: t.replace("  • ", "•"),
    "no blank lines": lambda t: re.sub(r"\n\s*\n+", "\n", t),
    "no nav line": lambda t: _without(t, "Back to Home"),
    "no tag line": lambda t: _without(t, _tag_line(t)),
    "no nav, tag or blank lines, dash bullets": lambda t: re.sub(
        r"\n\s*\n+", "\n", _without(t, "Back to Home", _tag_line(t))
    ).replace("  • ", "- "),
    "CRLF line ends": lambda t: t.replace("\n", "\r\n"),
    "trailing spaces": lambda t: t.replace("\n", "  \n"),
    "UTF-8 BOM": lambda t: "\ufeff" + t,
    "plain headings": lambda t: t.replace("🎯 ", "").replace("📈 ", ""),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variants_import_the_same_content(variant: str, seed_import: ImportedPage) -> None:
    page = VARIANTS[variant](seed_text())
    got = imported(page)
    jd = got.job_description
    assert content(jd) == content(seed_import.job_description)
    assert jd.title == "Clinical Trials Director"
    for text in all_texts(jd):
        assert text in page
    assert got.problems == ()
    assert jd.tags == (() if "tag" in variant else seed_import.job_description.tags)


def test_empty_salary_is_no_salary_and_is_reported(seed_import: ImportedPage) -> None:
    page = seed_text().replace("💰 $160,000 - $240,000", "💰 $ - $")
    got = imported(page)
    assert got.job_description.salary is None
    assert content(got.job_description) == content(seed_import.job_description)
    assert [(p.line, p.code) for p in got.problems] == [(5, "jd-missing")]
    assert "no salary imported" in got.problems[0].message
    assert "salary" not in job_description_yaml(got.job_description)


def test_software_engineer_title() -> None:
    page = seed_text().replace(
        "Required Skills for Clinical Trials Director", "Required Skills for a Software Engineer"
    )
    jd = imported(page).job_description
    assert jd.title == "Software Engineer"
    assert jd.slug == "software-engineer"


def _cut_after(text: str, marker: str, keep: int) -> str:
    """The page cut `keep` characters into the first line containing `marker`."""
    start = text.index(marker)
    return text[: start + keep]


#: Where to cut, how far into that line, and what the import must then report as missing.
CUTS = [
    (
        "in the role definition paragraph",
        "The Clinical Trials Director is",
        200,
        "Entry Point From",
    ),
    ("between two primary functions", "  • Lead vendor and CRO", 0, "Secondary Functions"),
    ("inside a primary function", "  • Lead vendor and CRO", 40, "Secondary Functions"),
    ("inside the last secondary function", "  • Serve as a point of escalation", 30, "Hard Skills"),
    ("after the hard skills", "Soft Skills\n", 0, "Soft Skills"),
    ("inside the soft skills heading", "Soft Skills\n", 7, "Soft Skills"),
    ("inside a preferred-experience item", "  • Track record of successful", 25, None),
    ("inside the typical experience line", "Typical Experience Range:", 60, "Preferred"),
]


@pytest.mark.parametrize("where,marker,keep,missing", CUTS, ids=[c[0] for c in CUTS])
def test_truncated_page_imports_what_is_complete(
    where: str, marker: str, keep: int, missing: str | None, seed_import: ImportedPage
) -> None:
    page = _cut_after(seed_text(), marker, keep)
    got = imported(page)
    jd = got.job_description
    full = content(seed_import.job_description)
    for text in all_texts(jd):
        assert text in page
    for name, texts in content(jd).items():
        if name == "typical_experience":
            continue  # a single line without siblings: kept as far as the page goes
        # Nothing invented and nothing half: each list is a prefix of the complete page's list.
        assert texts == full[name][: len(texts)], name
    messages = [p.message for p in got.problems]
    if missing is not None:
        assert any(m.startswith(missing) and "missing" in m for m in messages), messages
    assert all(p.severity is Severity.WARNING for p in got.problems)


def test_truncation_report_names_the_last_section() -> None:
    got = imported(_cut_after(seed_text(), "Soft Skills\n", 0))
    messages = [p.message for p in got.problems]
    assert "Soft Skills: section missing (page ends after Hard Skills (Technical))" in messages
    assert "Preferred Experience: section missing (page ends after Hard Skills (Technical))" in (
        messages
    )
    assert len(got.job_description.hard_skills) == 12


def test_cut_mid_sentence_drops_the_incomplete_item() -> None:
    got = imported(_cut_after(seed_text(), "  • Lead vendor and CRO", 40))
    assert len(got.job_description.primary_functions) == 4
    cut = [p for p in got.problems if p.code == "jd-cut"]
    assert len(cut) == 1 and "Lead vendor and CRO" in cut[0].message


def test_cut_inside_a_multibyte_character() -> None:
    data = seed_text().encode("utf-8")
    dash = data.index("II–IV".encode())
    got = import_page(data[: dash + 3], "cut.txt")  # inside the three bytes of the en dash
    assert got.job_description.role_definition == ()
    assert {p.code for p in got.problems} >= {"jd-cut", "jd-missing"}


def test_page_cut_before_any_section_is_unusable() -> None:
    with pytest.raises(CanonError) as err:
        imported(_cut_after(seed_text(), "🎯 Role Definition", 0))
    assert "no job-description headings" in err.value.report()


# ---------------------------------------------------------------------------------------------
# What cannot be placed is reported, with line numbers
# ---------------------------------------------------------------------------------------------


def _line_of(page: str, text: str) -> int:
    return page[: page.index(text)].count("\n") + 1


def test_unknown_heading_is_reported_not_dropped(seed_import: ImportedPage) -> None:
    extra = "\n🧰 Tools & Platforms\n\n  • Veeva Vault\n  • Medidata Rave\n\n"
    page = seed_text().replace("\nEducation & Experience\n", extra + "Education & Experience\n")
    got = imported(page)
    assert content(got.job_description) == content(seed_import.job_description)
    heading = _line_of(page, "🧰 Tools")
    (problem,) = got.problems
    assert problem.line == heading
    assert problem.message == (
        "unknown heading '🧰 Tools & Platforms': not imported, nor the 2 lines under it "
        f"(lines {heading + 2}–{heading + 3})"
    )
    assert str(problem).startswith(f"page.txt:{heading}: warning: ")


def test_stray_lines_are_reported(seed_import: ImportedPage) -> None:
    page = seed_text()
    page = page.replace("Typical Career Path\n", "Typical Career Path\n\nAsk HR for details.\n")
    page = page.replace(
        "\nRequired Skills & Competencies", "\nApply now\n\nRequired Skills & Competencies"
    )
    page = page.replace("Preferred Education:", "Preferred:\n\n  • A PhD\n\nPreferred Education:")
    got = imported(page)
    assert content(got.job_description) == content(seed_import.job_description)
    lines = {p.line: p.message for p in got.problems}
    assert set(lines) == {
        _line_of(page, "Ask HR"),
        _line_of(page, "Apply now"),
        _line_of(page, "Preferred:\n\n  • A PhD"),
    }
    assert "not under a section heading" in lines[_line_of(page, "Ask HR")]
    assert "does not belong to the list above it" in lines[_line_of(page, "Apply now")]
    assert "unknown heading 'Preferred:'" in lines[_line_of(page, "Preferred:\n\n  • A PhD")]


def test_repeated_heading_is_not_merged(seed_import: ImportedPage) -> None:
    page = seed_text() + "\n\nSoft Skills\n\n  • Juggling.\n"
    got = imported(page)
    assert got.job_description.soft_skills == seed_import.job_description.soft_skills
    (problem,) = got.problems
    assert "repeats the heading of line" in problem.message


# ---------------------------------------------------------------------------------------------
# The same page saved as HTML
# ---------------------------------------------------------------------------------------------


def seed_html(compact: bool = False) -> str:
    """The seed page as a browser would save it: nav, h1/h2/h3, ul/li, p, scripts and styles."""
    lines = seed_text().split("\n")
    body: list[str] = []
    in_list = False
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        esc = html.escape(line)
        if raw.startswith("  • "):
            if not in_list:
                body.append("<ul class='bullets'>")
                in_list = True
            body.append(f"  <li>{html.escape(raw[4:])}</li>")
            continue
        if in_list:
            body.append("</ul>")
            in_list = False
        if i == 0:
            body.append(f'<nav><a href="https://example.invalid/">{esc}</a></nav>')
        elif i == 2:
            body.append(f"<h1>{esc}</h1>")
        elif line.startswith("💰"):
            body.append(f'<div class="salary"><span>💰</span> {html.escape(line[2:])}</div>')
        elif i == 6:
            body.append(f'<div class="tags">{esc}</div>')
        elif line.startswith("Typical Experience Range: "):
            label, rest = line.split(": ", 1)
            body.append(f"<p><strong>{html.escape(label)}:</strong>\n   {html.escape(rest)}</p>")
        elif line.endswith("."):
            body.append(f"<p>{esc}</p>")
        elif line.endswith(":"):
            body.append(f"<h4>{esc}</h4>")
        else:
            body.append(f"<h2>{esc}</h2>")
        if line == "Soft Skills":
            body.append(
                "<script>document.write('<h2>Soft Skills</h2><li>Injected.</li>');</script>"
            )
    if in_list:
        body.append("</ul>")
    head = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<title>Jobs &ndash; Clinical Trials Director</title>"
        "<style>h2 { color: red } li::before { content: '• ' }</style>"
        "<script src='https://example.invalid/app.js'></script></head>\n<body>"
    )
    tail = (
        "<!-- <li>A commented-out item.</li> -->"
        "<template><p>Template text.</p></template><noscript>Enable JavaScript.</noscript>"
        "</body></html>\n"
    )
    return head + ("" if compact else "\n").join(body) + tail


@pytest.mark.parametrize("compact", [False, True], ids=["one element a line", "one long line"])
def test_html_page_imports_like_the_text_page(compact: bool, seed_import: ImportedPage) -> None:
    page = seed_html(compact)
    got = import_page(page.encode("utf-8"), "page.html")
    assert got.html
    assert got.job_description == seed_import.job_description
    assert got.problems == ()
    for text in all_texts(got.job_description):
        assert text in seed_text()
        assert "Injected" not in text and "Template" not in text


def test_html_line_numbers_point_into_the_file() -> None:
    page = seed_html().replace(
        "<h2>Soft Skills</h2>", "<h2>Perks</h2>\n<p>Free lunch</p>\n<h2>Soft Skills</h2>"
    )
    got = import_page(page.encode("utf-8"), "page.html")
    (problem,) = got.problems
    assert problem.line == _line_of(page, "<h2>Perks")
    assert "unknown heading 'Perks'" in problem.message


def test_html_sniffed_without_extension(seed_import: ImportedPage) -> None:
    got = import_page(seed_html().encode("utf-8"), "download")
    assert got.html and got.job_description == seed_import.job_description


# ---------------------------------------------------------------------------------------------
# Hostile input
# ---------------------------------------------------------------------------------------------


def _refused(tmp_path: Path, name: str, data: bytes) -> tuple[str, list[Path]]:
    page = tmp_path / name
    page.write_bytes(data)
    out_dir = tmp_path / "out"
    code, _ = run(["import-jd", str(page), "--out", str(out_dir)])
    assert code == 1
    with pytest.raises(CanonError) as exc:
        read_page(page, name)
    return exc.value.report(), sorted(out_dir.glob("*")) if out_dir.exists() else []


UNUSABLE = [
    ("binary.txt", b"Back to Home\n\x00\x01\x02\xff", "binary.txt:2: error: binary file"),
    ("latin1.txt", b"Back to Home\n\nCaf\xe9\n", "latin1.txt:3: error: invalid UTF-8 (byte 0xe9"),
    ("utf16.txt", "Back to Home\n".encode("utf-16"), "the page is UTF-16; save it as UTF-8"),
    ("empty.txt", b"", "empty.txt:1: error: the page is empty"),
    ("blank.txt", b" \n\n\t\n", "the page is empty"),
    (
        "scripts.html",
        b"<html><body><script>alert('<h2>Soft Skills</h2><li>x.</li>')</script></body></html>",
        "scripts.html:1: error: the page has no text",
    ),
]


@pytest.mark.parametrize("name,data,expected", UNUSABLE, ids=[u[0] for u in UNUSABLE])
def test_unusable_files_are_refused(tmp_path: Path, name: str, data: bytes, expected: str) -> None:
    report, written = _refused(tmp_path, name, data)
    assert expected in report
    assert written == []


def test_control_character_in_an_item_is_refused_with_its_line(tmp_path: Path) -> None:
    page = seed_text().replace("Pharmacy, Pharmacology", "Pharmacy\x07")
    report, written = _refused(tmp_path, "control.txt", page.encode("utf-8"))
    line = _line_of(page, "Pharmacy\x07")
    assert f"control.txt:{line}: error: text contains the control character U+0007" in report
    assert written == []


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    big = seed_text().encode("utf-8")
    data = big * (MAX_PAGE_BYTES // len(big) + 1)
    report, written = _refused(tmp_path, "big.txt", data)
    assert f"file is {len(data):,} bytes" in report
    assert written == []


def test_markup_in_a_text_page_is_literal_text() -> None:
    item = "<script>alert('x')</script> & =SUM(A1) \"quoted\" \\ back"
    got = imported(seed_text().replace("Pharmacy, Pharmacology", item))
    assert item in got.job_description.fields_of_study
    data = yaml.safe_load(job_description_yaml(got.job_description))
    assert item in data["education"]["fields_of_study"]


def test_reported_lines_cannot_drive_a_terminal() -> None:
    page = seed_text() + "\n\nApply now \x1b[2J\u202e!\n"
    got = imported(page)
    (problem,) = got.problems
    assert "\x1b" not in str(problem) and "\u202e" not in str(problem)
    assert "Apply now \\u001b[2J\\u202e!" in problem.message


def test_title_giving_a_device_name_is_refused() -> None:
    with pytest.raises(CanonError) as err:
        imported(seed_text().replace("for Clinical Trials Director", "for Con"))
    assert "which Windows reserves for a device" in err.value.report()


def test_title_cannot_escape_the_output_folder(tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text(seed_text().replace("for Clinical Trials Director", "for ../../etc/passwd"))
    out_dir = tmp_path / "out"
    code, out = run(["import-jd", str(page), "--out", str(out_dir)])
    assert code == 0, out
    assert [p.name for p in tmp_path.rglob("*.yaml")] == ["etc-passwd.yaml"]
    assert (out_dir / "etc-passwd.yaml").is_file()


def test_title_without_letters_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text(seed_text().replace("for Clinical Trials Director", "for 臨床試験ディレクター"))
    code, _ = run(["import-jd", str(page), "--out", str(tmp_path / "out")])
    assert code == 1
    assert not (tmp_path / "out").exists()


def test_missing_and_non_regular_files(tmp_path: Path) -> None:
    assert run(["import-jd", str(tmp_path / "nope.txt"), "--out", str(tmp_path)])[0] == 1
    assert run(["import-jd", str(tmp_path), "--out", str(tmp_path)])[0] == 1


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def test_existing_file_needs_force(tmp_canon: Path) -> None:
    seed = str(seed_path(SEED_FILE))
    target = tmp_canon / "job-descriptions" / "clinical-trials-director.yaml"
    assert run(["import-jd", seed, "--canon", str(tmp_canon)])[0] == 0
    target.write_text("# edited by hand\n", encoding="utf-8")
    code, _ = run(["import-jd", seed, "--canon", str(tmp_canon)])
    assert code == 1
    assert target.read_text(encoding="utf-8") == "# edited by hand\n"
    assert run(["import-jd", seed, "--canon", str(tmp_canon), "--force"])[0] == 0
    assert load_canon(tmp_canon).job_descriptions[0].title == "Clinical Trials Director"


def test_profile_must_exist(tmp_canon: Path) -> None:
    seed = str(seed_path(SEED_FILE))
    code, _ = run(["import-jd", seed, "--profile", "CLINIC.NOPE.M4", "--canon", str(tmp_canon)])
    assert code == 1
    assert not (tmp_canon / "job-descriptions").exists()


def test_profile_with_another_job_description_is_refused(tmp_canon: Path, tmp_path: Path) -> None:
    seed = str(seed_path(SEED_FILE))
    assert run(["import-jd", seed, "--profile", SEED_ID, "--canon", str(tmp_canon)])[0] == 0
    other = tmp_path / "other.txt"
    other.write_text(seed_text().replace("for Clinical Trials Director", "for a Study Lead"))
    code, _ = run(["import-jd", str(other), "--profile", SEED_ID, "--canon", str(tmp_canon)])
    assert code == 1
    assert not (tmp_canon / "job-descriptions" / "study-lead.yaml").exists()


def test_warnings_still_import(tmp_canon: Path, tmp_path: Path) -> None:
    page = tmp_path / "cut.txt"
    page.write_text(_cut_after(seed_text(), "Soft Skills\n", 0), encoding="utf-8")
    code, out = run(["import-jd", str(page), "--canon", str(tmp_canon)])
    assert code == 0
    assert "warning: Soft Skills: section missing (page ends after Hard Skills (Technical))" in out
    assert load_canon(tmp_canon).job_descriptions[0].soft_skills == ()


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

#: Characters YAML treats specially, plus arbitrary Unicode (no lone surrogates: not UTF-8).
ANY_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("\\\"'\t\n\r\x85\u2028\u2029\ufeff\x00\x1f\x7f\x9f:#-{}[]&*!|>%@` ")),
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
    ),
    max_size=60,
)


@given(ANY_TEXT, st.lists(ANY_TEXT, max_size=4))
def test_yaml_writer_round_trips_any_text(text: str, texts: list[str]) -> None:
    doc = yaml.safe_load(emit({"canon": 1, "one": text, "many": texts, "nested": {"x": texts}}))
    assert doc["one"] == text
    assert doc.get("many", []) == texts
    assert doc.get("nested", {}).get("x", []) == texts


@given(st.lists(ANY_TEXT.filter(lambda t: text_problem(t) is None), min_size=1, max_size=4))
def test_job_description_yaml_reads_back_through_the_loader(texts: list[str]) -> None:
    jd = JobDescription(
        slug="x", title=texts[0], salary=texts[-1], soft_skills=tuple(texts), tags=tuple(texts)
    )
    text = job_description_yaml(jd)  # raises if the loader reads anything else back
    assert quote(texts[0]) in text


SEED_LINES = seed_text().split("\n")
PAGE_LINE = st.one_of(
    st.sampled_from(SEED_LINES),
    st.sampled_from(["", "  • ", "- x", "🎯", "Preferred:", "💰 $ - $", "Back to Home", "---"]),
    ANY_TEXT.map(lambda t: t.replace("\x00", "")),
)


@given(st.lists(PAGE_LINE, max_size=40))
def test_any_page_imports_only_text_it_contains(lines: list[str]) -> None:
    page = "\n".join(lines)
    try:
        got = parse_page(page, "page.txt", html=False)
    except CanonError:
        return
    for text in all_texts(got.job_description):
        assert text in page
        assert text_problem(text) is None


@given(st.lists(PAGE_LINE, max_size=30))
def test_any_html_page_parses_or_is_refused(lines: list[str]) -> None:
    page = "<html><body>" + "".join(f"<p>{line}</p><li>{line}" for line in lines)
    with contextlib.suppress(CanonError):
        parse_page(page, "page.html", html=True)
