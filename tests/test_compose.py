"""Every frame rule of design.md §4, each on a profile that would fail if the rule broke."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipeline.compose import compose_profile
from pipeline.model import (
    Canon,
    Components,
    Frame,
    Group,
    Level,
    PlaceholderKind,
    Profile,
    ProfileFrames,
    Record,
    line_text,
    placeholders,
)
from pipeline.render.to_text import frame_text


def frames_of(profile: Profile) -> ProfileFrames:
    return compose_profile(profile, "sha256:" + "0" * 64)


def records(frame: Frame | None) -> list[Record]:
    assert frame is not None
    return [b for b in frame.blocks if isinstance(b, Record)]


def groups(frame: Frame | None) -> dict[str, Group]:
    assert frame is not None
    return {b.heading: b for b in frame.blocks if isinstance(b, Group)}


def field_text(record: Record, label: str) -> str | None:
    for f in record.fields:
        if f.label == label:
            return line_text(f.line)
    return None


@pytest.fixture
def p2(canon: Canon) -> Profile:
    profile = canon.profile("ENGR.PLATFORM.P2")
    assert profile is not None
    return profile


@pytest.fixture
def seed(canon: Canon) -> Profile:
    profile = canon.profile("CLINIC.CLINICAL90BC.M4")
    assert profile is not None
    return profile


# --- SMART -----------------------------------------------------------------------------------


def test_smart_rows_are_core_outputs_then_responsibilities_in_canon_order(p2: Profile) -> None:
    rows = records(frames_of(p2).frame("smart"))
    assert [r.heading for r in rows] == [*p2.core_outputs, *p2.responsibilities]
    assert [r.source for r in rows] == ["core output (P2)"] * len(p2.core_outputs) + [
        "JFM responsibility (P2)"
    ] * len(p2.responsibilities)
    assert [r.number for r in rows] == list(range(1, len(rows) + 1))


def test_smart_templates(seed: Profile) -> None:
    row = records(frames_of(seed).frame("smart"))[0]
    text = seed.responsibilities[0]
    rubric = seed.rubric("complexity/problem-solving")
    assert [f.label for f in row.fields] == [
        "Specific",
        "Measurable",
        "Achievable",
        "Relevant",
        "Time-bound",
    ]
    assert field_text(row, "Specific") == f'Deliver: "{text}"'
    assert (
        field_text(row, "Measurable")
        == "Move the metric this drives from ⟨baseline⟩ to ⟨target⟩ by ⟨date⟩."
    )
    assert (
        field_text(row, "Achievable")
        == f'Scoped to this level\'s jfm complexity/problem-solving rubric: "{rubric}"'
    )
    assert field_text(row, "Relevant") == (
        "Advances the Clinical Research & Trials · Clinical Trials Administration – Management "
        "mandate for a M4 — Director."
    )
    assert field_text(row, "Time-bound") == "⟨date⟩"


def test_achievable_line_omitted_without_the_rubric(seed: Profile) -> None:
    only_knowledge = replace(seed, rubrics=(("knowledge-application", "Knows things."),))
    for row in records(frames_of(only_knowledge).frame("smart")):
        assert field_text(row, "Achievable") is None
        assert [f.label for f in row.fields] == ["Specific", "Measurable", "Relevant", "Time-bound"]


def test_relevant_always_uses_a(canon: Canon) -> None:
    e1 = canon.profile("OPS.SUPPLY.E1")
    assert e1 is not None
    row = records(frames_of(e1).frame("smart"))[0]
    assert field_text(row, "Relevant") == (
        f"Advances the {e1.function.name} · {e1.focus.name} mandate for a E1 — {e1.level.title}."
    )


def test_smart_and_okr_omitted_without_rows(canon: Canon) -> None:
    general = canon.profile("ENGR.GEN.M2")
    assert general is not None
    assert not general.responsibilities and not general.core_outputs
    frames = frames_of(general)
    assert frames.frame("smart") is None
    assert frames.frame("okr") is None
    assert [f.kind for f in frames.frames] == ["mbo", "scorecard"]


# --- OKRs ------------------------------------------------------------------------------------


def test_one_objective_per_smart_row_with_kr1(p2: Profile) -> None:
    frames = frames_of(p2)
    smart, okr = records(frames.frame("smart")), records(frames.frame("okr"))
    assert [(r.heading, r.source) for r in okr] == [(r.heading, r.source) for r in smart]
    for r in okr:
        assert field_text(r, "KR1") == (
            f'From ⟨baseline⟩ to ⟨target⟩ by ⟨date⟩ — tied to: "{r.heading}"'
        )


def test_kr2_rotates_through_the_dimensions_and_wraps(canon: Canon) -> None:
    e1 = canon.profile("OPS.SUPPLY.E1")
    assert e1 is not None and len(e1.responsibilities) > 6
    order = ["scope", "autonomy", "complexity", "impact", "decision_rights", "leadership"]
    for i, r in enumerate(records(frames_of(e1).frame("okr")), 1):
        key = order[(i - 1) % 6]
        value = e1.level.dimension(key)
        name = key.replace("_", " ")
        assert field_text(r, "KR2") == (
            f'Evidence at this level\'s {name} bar: "{value}" — ⟨target⟩ by ⟨date⟩'
        )


def test_kr2_omitted_when_its_dimension_is_missing(seed: Profile) -> None:
    level = replace(seed.level, dimensions=(("scope", "S"), ("complexity", "C")))
    okr = records(frames_of(replace(seed, level=level)).frame("okr"))
    assert [field_text(r, "KR2") is not None for r in okr] == [True, False, True, False, False]
    assert [f.label for f in okr[1].fields] == ["KR1"]


# --- MBO -------------------------------------------------------------------------------------


def test_mbo_areas_reuse_jfm_responsibilities_with_knowledge_rubric_standard(seed: Profile) -> None:
    rows = records(frames_of(seed).frame("mbo"))
    assert [r.heading for r in rows] == list(seed.responsibilities)
    assert {r.source for r in rows} == {
        "JFM responsibility (M4) — reused, no distinct responsibility content"
    }
    rubric = seed.rubric("knowledge-application")
    for r in rows:
        assert field_text(r, "Standard") == (
            f'Consistent with this level\'s jfm knowledge-application rubric: "{rubric}"'
        )
        assert field_text(r, "Target") == "⟨target⟩"
        assert field_text(r, "Due") == "⟨date⟩"


def test_mbo_core_outputs_are_not_areas(p2: Profile) -> None:
    assert [r.heading for r in records(frames_of(p2).frame("mbo"))] == list(p2.responsibilities)


def test_mbo_areas_are_component_responsibilities_when_present(seed: Profile) -> None:
    with_components = replace(seed, components=Components(responsibilities=("Runs the clinic",)))
    rows = records(frames_of(with_components).frame("mbo"))
    assert [(r.heading, r.source) for r in rows] == [
        ("Runs the clinic", "responsibility (component)")
    ]


def test_mbo_standard_falls_back_to_decision_rights(canon: Canon) -> None:
    general = canon.profile("ENGR.GEN.M2")
    assert general is not None and not general.rubrics
    rights = general.level.dimension("decision_rights")
    assert rights is not None
    rows = records(frames_of(general).frame("mbo"))
    assert [r.heading for r in rows] == list(general.components.responsibilities)
    for r in rows:
        assert field_text(r, "Standard") == (
            f'Consistent with this level\'s decision rights: "{rights}"'
        )


def test_mbo_without_rubric_or_decision_rights_has_no_standard(seed: Profile) -> None:
    level = replace(seed.level, dimensions=(("scope", "S"),))
    bare = replace(seed, rubrics=(), level=level)
    rows = records(frames_of(bare).frame("mbo"))
    assert rows and all(field_text(r, "Standard") is None for r in rows)
    assert "Standard:" not in frame_text(frames_of(bare).frame("mbo"))  # type: ignore[arg-type]


def test_mbo_omitted_without_areas(seed: Profile) -> None:
    only_outputs = replace(seed, responsibilities=(), core_outputs=("An output",))
    frames = frames_of(only_outputs)
    assert frames.frame("mbo") is None
    assert frames.frame("smart") is not None


# --- Scorecard -------------------------------------------------------------------------------


def test_internal_process_per_smart_row_with_its_source(p2: Profile) -> None:
    frames = frames_of(p2)
    process = groups(frames.frame("scorecard"))["Internal process"]
    smart = records(frames.frame("smart"))
    assert [i.source for i in process.items] == [r.source for r in smart]
    assert [line_text(i.line) for i in process.items] == [
        f'"{r.heading}"  →  ⟨target⟩ by ⟨date⟩' for r in smart
    ]


def test_general_internal_process_uses_component_responsibilities(canon: Canon) -> None:
    general = canon.profile("ENGR.GEN.M2")
    assert general is not None
    process = groups(frames_of(general).frame("scorecard"))["Internal process"]
    assert [i.source for i in process.items] == ["responsibility (component)"] * len(
        general.components.responsibilities
    )


def test_role_calibration_per_present_dimension(canon: Canon) -> None:
    p3 = canon.profile("ENGR.PLATFORM.P3")
    assert p3 is not None
    present = [k for k, _ in p3.level.dimensions]
    assert 0 < len(present) < 6
    calibration = groups(frames_of(p3).frame("scorecard"))["Role calibration"]
    assert [i.source for i in calibration.items] == [
        f"level dimension ({k.replace('_', ' ').capitalize()})" for k in present
    ]
    assert [line_text(i.line) for i in calibration.items] == [
        f'Meets the {k.replace("_", " ")} bar: "{v}"  →  ⟨target⟩ by ⟨date⟩'
        for k, v in p3.level.dimensions
    ]


def test_empty_perspective_and_empty_scorecard_are_omitted(seed: Profile) -> None:
    no_dims = replace(seed, level=replace(seed.level, dimensions=()))
    assert list(groups(frames_of(no_dims).frame("scorecard"))) == ["Internal process"]
    nothing = replace(no_dims, responsibilities=(), job_description=None)
    assert frames_of(nothing).frames == ()


# --- Header, placeholders, role --------------------------------------------------------------


def test_page_header(seed: Profile, canon: Canon) -> None:
    frames = frames_of(seed)
    assert frames.page_title == "Clinical Trials Administration – Management — M4"
    assert frames.document_title == "Goal templates — " + frames.page_title
    assert frames.breadcrumb == (
        "Clinical Research & Trials · Clinical Trials Administration – Management · M4 — Director"
    )
    general = canon.profile("ENGR.GEN.M2")
    assert general is not None
    assert frames_of(general).page_title == general.title


def test_placeholder_keys_are_unique_and_tokens_exact(all_frames: dict[str, ProfileFrames]) -> None:
    for frames in all_frames.values():
        keys: list[str] = []
        for frame in frames.frames:
            for block in frame.blocks:
                lines = (
                    [f.line for f in block.fields]
                    if isinstance(block, Record)
                    else [i.line for i in block.items]
                )
                for line in lines:
                    for ph in placeholders(line):
                        assert ph.token in {k.token for k in PlaceholderKind}
                        keys.append(ph.key)
        assert len(keys) == len(set(keys)), frames.profile_id
        assert "mbo.1.due" in keys and "mbo.1.target" in keys


def test_role_frame_only_with_a_job_description(all_frames: dict[str, ProfileFrames]) -> None:
    for frames in all_frames.values():
        assert all(f.kind != "role" for f in frames.goal_frames)


def test_level_dimensions_keep_model_order() -> None:
    level = Level("P1", "T", "professional", dimensions=(("scope", "a"), ("impact", "b")))
    assert level.dimension("impact") == "b"
    assert level.dimension("autonomy") is None
