"""OKRs: one objective per SMART row; KR2 only where a level dimension backs it (design.md §4)."""

from __future__ import annotations

from pipeline.compose.common import FieldBuilder, goal_rows, target_by_date
from pipeline.model import (
    DIMENSIONS,
    Frame,
    PlaceholderKind,
    Profile,
    Record,
    RecordStyle,
    dimension_name,
)

TITLE = "OKRs"
INTRO = (
    "Objectives from this level's core outputs; key results only where a real dimension or "
    "capability backs them."
)


def compose(profile: Profile) -> Frame | None:
    rows = goal_rows(profile)
    if not rows:
        return None
    records = []
    for i, row in enumerate(rows, 1):
        key = f"okr.{i}"
        fields = [
            FieldBuilder(f"{key}.kr1", "KR1", f"Objective {i} – KR1")
            .text("From ")
            .fill(PlaceholderKind.BASELINE)
            .text(" to ")
            .fill(PlaceholderKind.TARGET)
            .text(" by ")
            .fill(PlaceholderKind.DATE)
            .text(f' — tied to: "{row.text}"')
            .build()
        ]
        dimension = DIMENSIONS[(i - 1) % len(DIMENSIONS)]
        value = profile.level.dimension(dimension)
        if value is not None:
            kr2 = FieldBuilder(f"{key}.kr2", "KR2", f"Objective {i} – KR2").text(
                f'Evidence at this level\'s {dimension_name(dimension)} bar: "{value}" — '
            )
            fields.append(target_by_date(kr2).build())
        records.append(Record(key, i, row.text, row.source, tuple(fields), RecordStyle.RESULTS))
    return Frame("okr", TITLE, "OKRs", INTRO, tuple(records))
