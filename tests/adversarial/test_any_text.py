"""Property tests: arbitrary Unicode in every canon field kind renders in every registered format,
re-opens with a real reader and is there verbatim (white space normalised only in the PDF, which
wraps lines).

The PDF property draws only characters the handout's fonts can show and a PDF text layer can give
back one to one (see `pdf_alphabet`); `test_a_character_without_a_glyph_*` documents what
happens to the others. Example counts scale with the Hypothesis profile (ci: 150 → 75 office
examples, 25 PDF examples; `python3 tasks.py fuzz` runs many more).
"""

from __future__ import annotations

import functools
import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.compose import compose_profile
from pipeline.extract.nodes import text_problem
from pipeline.layout import Layout, RenderOptions
from pipeline.model import Components, Focus, Function, Level, Profile, ProfileFrames
from pipeline.render import FORMATS
from pipeline.render.to_json import render as render_json
from tests.adversarial.cases import FOCUS_PATH, LEVELS, focus
from tests.adversarial.conftest import PROFILE
from tests.adversarial.support import (
    docx_paragraphs,
    pdf_text,
    poppler_text,
    run_cli,
    squeeze,
    write_tree,
    xlsx_cells,
)
from tests.conftest import FIXED_EPOCH, WarningLog, font_coverage, warnings_of
from tests.test_properties import CANON_TEXT

OPTIONS = RenderOptions(timestamp=FIXED_EPOCH)
DIGEST = "sha256:" + "0" * 64
#: Every canon field kind a profile's frames print.
KINDS = (
    "responsibility",
    "core output",
    "complexity rubric",
    "knowledge rubric",
    "dimension",
    "component responsibility",
    "function name",
    "focus name",
    "level title",
)


@dataclass(frozen=True)
class Texts:
    """One text per field kind."""

    by_kind: dict[str, str]

    def __getitem__(self, kind: str) -> str:
        return self.by_kind[kind]


def profile_of(t: Texts) -> Profile:
    level = Level("M4", t["level title"], "management", dimensions=(("scope", t["dimension"]),))
    return Profile(
        function=Function("OPS", t["function name"]),
        focus=Focus("TEST", t["focus name"]),
        level=level,
        core_outputs=(t["core output"],),
        responsibilities=(t["responsibility"],),
        rubrics=(
            ("complexity/problem-solving", t["complexity rubric"]),
            ("knowledge-application", t["knowledge rubric"]),
        ),
        components=Components(responsibilities=(t["component responsibility"],)),
    )


def lines(t: Texts) -> dict[str, str]:
    """Per kind, a line every format prints with the text inside its fixed template, so the
    check cannot pass by an accident of short text."""
    return {
        "responsibility": f'Deliver: "{t["responsibility"]}"',
        "core output": f'Deliver: "{t["core output"]}"',
        "complexity rubric": (
            "Scoped to this level's jfm complexity/problem-solving rubric: "
            f'"{t["complexity rubric"]}"'
        ),
        "knowledge rubric": (
            f"Consistent with this level's jfm knowledge-application rubric: "
            f'"{t["knowledge rubric"]}"'
        ),
        "dimension": f'Meets the scope bar: "{t["dimension"]}"',
        "function name": f"{t['function name']} · {t['focus name']} · M4 — {t['level title']}",
        "focus name": f"{t['function name']} · {t['focus name']} · M4 — {t['level title']}",
        "level title": f"{t['function name']} · {t['focus name']} · M4 — {t['level title']}",
    }


def texts(text: st.SearchStrategy[str]) -> st.SearchStrategy[Texts]:
    """A text for every field kind, each valid canon text."""
    valid = text.filter(lambda s: text_problem(s) is None)
    return st.fixed_dictionaries({k: valid for k in KINDS}).map(Texts)


def check_office_formats(frames: ProfileFrames, t: Texts, layout: Layout) -> None:
    want = lines(t)
    area = t["component responsibility"]
    area_line = f"1. Area: {area}  [source: responsibility (component)]"

    text = FORMATS["txt"].renderer()(frames, layout, OPTIONS).decode("utf-8")
    for kind, line in want.items():
        assert line in text, f"txt: {kind}"
    assert area_line in text, "txt: component responsibility"

    data = json.loads(render_json(frames, layout, OPTIONS))
    assert data["breadcrumb"] == want["function name"]
    mbo = next(f for f in data["frames"] if f["kind"] == "mbo")
    assert mbo["blocks"][0]["heading"] == area

    paragraphs = docx_paragraphs(FORMATS["docx"].renderer()(frames, layout, OPTIONS))
    for kind, line in want.items():
        assert any(line in p for p in paragraphs), f"docx: {kind}"
    assert f"1. {area}" in paragraphs, "docx: component responsibility"

    cells = xlsx_cells(FORMATS["xlsx"].renderer()(frames, layout, OPTIONS))
    values = [v for v in cells.values() if isinstance(v, str)]
    for kind, line in want.items():
        assert any(line in v for v in values), f"xlsx: {kind}"
    assert area in [v for (sheet, _), v in cells.items() if sheet == "MBO"], "xlsx: component"


@settings(max_examples=max(10, settings.default.max_examples // 2))
@given(texts(CANON_TEXT))
def test_any_text_is_verbatim_in_every_office_format(layout: Layout, texts_: Texts) -> None:
    frames = compose_profile(profile_of(texts_), DIGEST)
    check_office_formats(frames, texts_, layout)


# --- the PDF --------------------------------------------------------------------------------------


#: Characters a PDF text layer cannot give back one to one: formatting and invisible marks,
#: line and paragraph separators, controls, combining marks (reordered and recomposed by
#: shaping), right-to-left scripts (extracted in visual order) and compatibility characters (a
#: ligature glyph maps back to its letters; a shared glyph to one of its characters).
UNEXTRACTABLE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Mn", "Mc", "Me"}
RIGHT_TO_LEFT = {"R", "AL", "AN"}


@functools.cache
def pdf_alphabet() -> str:
    """Characters every face of the handout's font has a glyph for, and that extract as
    themselves (read from the fonts' cmaps with fontTools, which WeasyPrint installs)."""
    return "".join(
        ch
        for ch in map(chr, sorted(font_coverage()))
        if unicodedata.category(ch) not in UNEXTRACTABLE_CATEGORIES
        and unicodedata.bidirectional(ch) not in RIGHT_TO_LEFT
        and unicodedata.normalize("NFKC", ch) == ch
    )


@pytest.fixture(scope="module")
def weasyprint_warnings() -> Iterator[WarningLog]:
    with warnings_of("weasyprint") as handler:
        yield handler


def test_the_pdf_alphabet_is_broad() -> None:
    """The restriction keeps thousands of characters: Latin, Greek, Cyrillic, symbols, ⟨⟩."""
    alphabet = pdf_alphabet()
    assert len(alphabet) > 3_000
    for sample in "aZé€ßЖΩ⟨⟩—“”√∑→":
        assert sample in alphabet, sample
    for excluded in "\u00ad\u200b\u2028\u05d0\u0301\ufb01":
        assert excluded not in alphabet, excluded


@settings(
    max_examples=max(5, settings.default.max_examples // 6),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(texts(st.text(st.sampled_from(pdf_alphabet()), min_size=1, max_size=30)))
def test_any_covered_text_is_verbatim_in_the_pdf(
    weasyprint_warnings: WarningLog, layout: Layout, texts_: Texts
) -> None:
    weasyprint_warnings.messages.clear()
    frames = compose_profile(profile_of(texts_), DIGEST)
    shown = squeeze(pdf_text(FORMATS["pdf"].renderer()(frames, layout, OPTIONS)))
    assert weasyprint_warnings.messages == [], "a covered character still logged a warning"
    for kind, line in lines(texts_).items():
        assert squeeze(line) in shown, f"pdf: {kind}"
    area = f"1. {texts_['component responsibility']} [source: responsibility (component)]"
    assert squeeze(area) in shown, "pdf: component responsibility"


# --- a character the fonts lack -------------------------------------------------------------------

#: A CJK ideograph and a Tibetan syllable: no DejaVu face has them, and no other font is
#: installed for them here.
UNCOVERED = "漢\u0f00"


def uncovered_canon(work: Path) -> Path:
    return write_tree(
        work / "canon", {"levels.yaml": LEVELS, FOCUS_PATH: focus(f'"Plans {UNCOVERED} work"')}
    )


def test_a_character_without_a_glyph_prints_a_box_and_keeps_its_text(
    weasyprint_warnings: WarningLog, tmp_path: Path
) -> None:
    """What happens today: the build succeeds, the page shows a .notdef box for each missing
    glyph (WeasyPrint logs it), and the text layer still holds the characters (for poppler;
    pypdf 7 garbles the whole page's text once a .notdef glyph is in its font)."""
    assert not set(UNCOVERED) & set(pdf_alphabet())
    uncovered_canon(tmp_path)
    weasyprint_warnings.messages.clear()
    done = run_cli(["build", "--canon", "canon", "--out", "out", "--formats", "pdf"], tmp_path)
    assert done.code == 0, done.err
    logged = " ".join(weasyprint_warnings.messages)
    assert ".notdef" in logged and "U+6F22" in logged and "U+0F00" in logged
    pdf = tmp_path / "out" / PROFILE / f"{PROFILE}.handout.pdf"
    assert f"Plans {UNCOVERED} work" in poppler_text(pdf)
    weasyprint_warnings.messages.clear()


def test_the_build_warns_about_characters_without_a_glyph(
    weasyprint_warnings: WarningLog, tmp_path: Path
) -> None:
    uncovered_canon(tmp_path)
    done = run_cli(["build", "--canon", "canon", "--out", "out", "--formats", "pdf"], tmp_path)
    weasyprint_warnings.messages.clear()
    assert done.code == 0, done.err
    assert PROFILE in done.err and "U+6F22" in done.err, done.err


def test_office_formats_keep_uncovered_characters(layout: Layout) -> None:
    """DOCX, XLSX and the text file carry any character; the reader's fonts draw it."""
    t = Texts({k: f"{k} {UNCOVERED}" for k in KINDS})
    check_office_formats(compose_profile(profile_of(t), DIGEST), t, layout)
