"""The plain-text contract: the seed's "Copy / print as text" blocks, byte for byte."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.model import ProfileFrames
from pipeline.render.to_json import frames_json
from pipeline.render.to_text import document_text, frame_text
from tests.conftest import REPO, SEED_ID, seed_path
from tests.golden import assert_golden

SEED_FILE = "goal-templates-CLINIC.CLINICAL90BC.M4.txt"
COPY_MARK = "Copy / print as textshow ▾\n"
#: The section heading that follows each copy block on the seed page (None: end of page).
NEXT_HEADING = {
    "smart": "\nOKRs\n",
    "okr": "\nMBO areas\n",
    "mbo": "\nScorecard\n",
    "scorecard": None,
}


def seed_blocks() -> dict[str, str]:
    """Extract the four copy blocks from the seed page (not a pasted copy)."""
    page = seed_path(SEED_FILE).read_text(encoding="utf-8")
    chunks = page.split(COPY_MARK)[1:]
    assert len(chunks) == 4, "the seed page should have four copy blocks"
    blocks = {}
    for (kind, heading), chunk in zip(NEXT_HEADING.items(), chunks, strict=True):
        block = chunk if heading is None else chunk[: chunk.index(heading)]
        blocks[kind] = block.rstrip("\n")
    return blocks


@pytest.mark.parametrize("kind", list(NEXT_HEADING))
def test_seed_frame_text_is_byte_identical(kind: str, seed_frames: ProfileFrames) -> None:
    frame = seed_frames.frame(kind)
    assert frame is not None
    assert frame_text(frame) == seed_blocks()[kind]


@pytest.mark.parametrize("kind", list(NEXT_HEADING))
def test_show_prints_the_seed_block(kind: str) -> None:
    out = io.StringIO()
    assert main(["show", SEED_ID, "--frame", kind, "--format", "text"], out=out) == 0
    assert out.getvalue() == seed_blocks()[kind] + "\n"


def test_show_all_prints_the_four_blocks_separated_by_one_blank_line() -> None:
    out = io.StringIO()
    assert main(["show", SEED_ID, "--frame", "all"], out=out) == 0
    blocks = seed_blocks()
    assert out.getvalue() == "\n\n".join(blocks[k] for k in NEXT_HEADING) + "\n"


def test_omitted_frame_prints_nothing() -> None:
    out = io.StringIO()
    assert main(["show", "ENGR.GEN.M2", "--frame", "smart"], out=out) == 0
    assert out.getvalue() == ""


GOLDEN = REPO / "tests" / "cases" / "bundled" / "expected"


@pytest.mark.parametrize(
    "profile_id",
    [
        "CLINIC.CLINICAL90BC.M4",
        "ENGR.GEN.M2",
        "ENGR.PLATFORM.P2",
        "ENGR.PLATFORM.P3",
        "OPS.SUPPLY.E1",
        "OPS.SUPPLY.S1",
    ],
)
def test_bundled_profiles_match_golden_dumps(
    profile_id: str, all_frames: dict[str, ProfileFrames], accept: bool
) -> None:
    frames = all_frames[profile_id]
    assert_golden(GOLDEN / f"{profile_id}.txt", document_text(frames), accept)
    assert_golden(GOLDEN / f"{profile_id}.frames.json", frames_json(frames), accept)


def test_every_bundled_profile_has_a_golden(all_frames: dict[str, ProfileFrames]) -> None:
    names = {p.name.split(".txt")[0] for p in Path(GOLDEN).glob("*.txt")}
    assert names == set(all_frames)
