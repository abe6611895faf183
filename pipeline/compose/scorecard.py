"""Scorecard: only perspectives with canon backing (design.md §4)."""

from __future__ import annotations

from pipeline.compose.common import FieldBuilder, component_rows, goal_rows, target_by_date
from pipeline.model import (
    DIMENSIONS,
    Frame,
    Group,
    Item,
    Profile,
    dimension_label,
    dimension_name,
)

TITLE = "Scorecard"
INTRO = (
    "Only perspectives with real canon backing are shown — no Financial or Customer perspective, "
    "since nothing in the canon grounds business-financial or customer measures for a role alone."
)


def compose(profile: Profile) -> Frame | None:
    groups = []
    rows = component_rows(profile) if profile.is_general else goal_rows(profile)
    process = []
    for n, row in enumerate(rows, 1):
        key = f"scorecard.internal-process.{n}"
        b = FieldBuilder(key, "", f"Internal process {n}").text(f'"{row.text}"  →  ')
        process.append(Item(key, target_by_date(b).line(), row.source))
    if process:
        groups.append(Group("scorecard.internal-process", "Internal process", tuple(process)))
    calibration = []
    for dimension in DIMENSIONS:
        value = profile.level.dimension(dimension)
        if value is None:
            continue
        key = f"scorecard.role-calibration.{dimension.replace('_', '-')}"
        name = dimension_name(dimension)
        b = FieldBuilder(key, "", f"Role calibration – {name}").text(
            f'Meets the {name} bar: "{value}"  →  '
        )
        calibration.append(
            Item(key, target_by_date(b).line(), f"level dimension ({dimension_label(dimension)})")
        )
    if calibration:
        groups.append(Group("scorecard.role-calibration", "Role calibration", tuple(calibration)))
    if not groups:
        return None
    return Frame("scorecard", TITLE, "Scorecard", INTRO, tuple(groups))
