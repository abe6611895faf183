"""Arbitrary Unicode canon text stays verbatim through load, compose, text and JSON."""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from pipeline.compose import compose_profile
from pipeline.extract import load_canon
from pipeline.extract.nodes import text_problem
from pipeline.extract.yamlwrite import quote as quoted
from pipeline.model import Canon, Record
from pipeline.render.to_json import frames_json
from pipeline.render.to_text import document_text, frames_text
from tests.conftest import CANON_DIR

#: Text people paste: quotes, ⟨⟩ tokens, RTL, emoji, markup and formula look-alikes, and noise.
SPECIMENS = st.sampled_from(
    [
        "“curly” ‘quotes’ «guillemets»",
        "⟨target⟩ ⟨date⟩ ⟨baseline⟩",
        "مرحبا بالعالم עברית",
        "👩🏽‍⚕️ 🧪 emoji",
        "<script>alert(1)</script>",
        "<w:t>xml</w:t> ]]> &amp;",
        '=HYPERLINK("http://x","y")',
        "@SUM(A1) +1 -2",
        "{{ jinja }} {% raw %} ${shell}",
        "a\tb",
        "  leading and trailing  ",
    ]
)
CANON_TEXT = st.one_of(
    SPECIMENS,
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
        min_size=1,
        max_size=80,
    ),
).filter(lambda t: text_problem(t) is None)


@given(st.lists(CANON_TEXT, min_size=1, max_size=8))
def test_responsibilities_verbatim_in_text_and_json(texts: list[str]) -> None:
    base = load_canon(CANON_DIR).profile("CLINIC.CLINICAL90BC.M4")
    assert base is not None
    profile = replace(base, responsibilities=tuple(texts))
    frames = compose_profile(profile, "sha256:" + "0" * 64)
    text = document_text(frames)
    block = frames_text(frames.goal_frames)
    data = json.loads(frames_json(frames))
    headings = [b["heading"] for f in data["frames"] for b in f["blocks"] if b["type"] == "record"]
    for t in texts:
        assert f'Deliver: "{t}"' in text
        assert f'Deliver: "{t}"' in block
        assert headings.count(t) >= 2 * texts.count(t)  # SMART and OKR rows
    smart = frames.frame("smart")
    assert smart is not None
    assert [b.heading for b in smart.blocks if isinstance(b, Record)] == texts


@given(CANON_TEXT, CANON_TEXT)
def test_canon_text_round_trips_through_yaml(responsibility: str, dimension: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "focuses").mkdir()
        (root / "levels.yaml").write_text(
            "canon: 1\nlevels:\n  M4:\n    title: Director\n    track: management\n"
            f"    dimensions:\n      scope: {quoted(dimension)}\n",
            encoding="utf-8",
        )
        (root / "focuses" / "CLINIC.TRIALS.yaml").write_text(
            "canon: 1\nfunction: {code: CLINIC, name: Clinic}\n"
            "focus: {code: TRIALS, name: Trials}\n"
            f"profiles:\n  M4:\n    responsibilities:\n      - {quoted(responsibility)}\n",
            encoding="utf-8",
        )
        canon: Canon = load_canon(root)
    profile = canon.profile("CLINIC.TRIALS.M4")
    assert profile is not None
    assert profile.responsibilities == (responsibility,)
    assert profile.level.dimension("scope") == dimension
    text = document_text(compose_profile(profile, canon.digest(profile.id)))
    assert f'Meets the scope bar: "{dimension}"' in text
    assert f'Deliver: "{responsibility}"' in text
