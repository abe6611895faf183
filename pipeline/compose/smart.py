"""SMART goals: one record per core output / JFM responsibility (design.md §4)."""

from __future__ import annotations

from pipeline.compose.common import FieldBuilder, goal_rows
from pipeline.model import Frame, PlaceholderKind, Profile, Record, RecordStyle

TITLE = "SMART goals"
INTRO = "One row per canon core output / responsibility this level owns."


def compose(profile: Profile) -> Frame | None:
    rows = goal_rows(profile)
    if not rows:
        return None
    level = profile.level
    rubric = profile.rubric("complexity/problem-solving")
    relevant = (
        f"Advances the {profile.function.name} · {profile.focus.name} mandate for a "
        f"{level.code} — {level.title}."
    )
    records = []
    for n, row in enumerate(rows, 1):
        key = f"smart.{n}"

        def field(name: str, _key: str = key, _n: int = n) -> FieldBuilder:
            return FieldBuilder(f"{_key}.{name.lower()}", name, f"SMART {_n} – {name}")

        fields = [
            field("Specific").text(f'Deliver: "{row.text}"').build(),
            field("Measurable")
            .text("Move the metric this drives from ")
            .fill(PlaceholderKind.BASELINE)
            .text(" to ")
            .fill(PlaceholderKind.TARGET)
            .text(" by ")
            .fill(PlaceholderKind.DATE)
            .text(".")
            .build(),
        ]
        if rubric is not None:
            fields.append(
                field("Achievable")
                .text(f'Scoped to this level\'s jfm complexity/problem-solving rubric: "{rubric}"')
                .build()
            )
        fields.append(field("Relevant").text(relevant).build())
        fields.append(field("Time-bound").fill(PlaceholderKind.DATE).build())
        records.append(Record(key, n, row.text, row.source, tuple(fields), RecordStyle.GOAL))
    return Frame("smart", TITLE, "SMART", INTRO, tuple(records))
