"""MBO areas with a standard grounded in the canon where one exists (design.md §4)."""

from __future__ import annotations

from pipeline.compose.common import FieldBuilder, Row, component_rows
from pipeline.model import Field, Frame, PlaceholderKind, Profile, Record, RecordStyle

TITLE = "MBO areas"
INTRO = (
    "Key result areas from this level's responsibilities, each with a standard grounded in the "
    "canon leveling rubric where one exists."
)
COLUMNS = ("Area", "Standard", "Target", "Due")


def areas(profile: Profile) -> tuple[Row, ...]:
    components = component_rows(profile)
    if components:
        return components
    reused = (
        f"JFM responsibility ({profile.level.code}) — reused, no distinct responsibility content"
    )
    return tuple(Row(t, reused) for t in profile.responsibilities)


def standard(profile: Profile) -> str | None:
    rubric = profile.rubric("knowledge-application")
    if rubric is not None:
        return f'Consistent with this level\'s jfm knowledge-application rubric: "{rubric}"'
    rights = profile.level.dimension("decision_rights")
    if rights is not None:
        return f'Consistent with this level\'s decision rights: "{rights}"'
    return None


def compose(profile: Profile) -> Frame | None:
    rows = areas(profile)
    if not rows:
        return None
    std = standard(profile)
    records = []
    for n, row in enumerate(rows, 1):
        key = f"mbo.{n}"
        fields: list[Field] = []
        if std is not None:
            fields.append(FieldBuilder(f"{key}.standard", "Standard", "").text(std).build())
        fields.append(
            FieldBuilder(f"{key}.target", "Target", f"MBO {n} – Target")
            .fill(PlaceholderKind.TARGET)
            .build()
        )
        fields.append(
            FieldBuilder(f"{key}.due", "Due", f"MBO {n} – Due").fill(PlaceholderKind.DATE).build()
        )
        records.append(Record(key, n, row.text, row.source, tuple(fields), RecordStyle.AREA))
    return Frame("mbo", TITLE, "MBO", INTRO, tuple(records), columns=COLUMNS)
