"""Pieces every composer shares: rows, placeholder keys, quoting."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.model import Field, Line, Placeholder, PlaceholderKind, Profile, Segment, Text


@dataclass(frozen=True)
class Row:
    """A canon sentence a frame row is built from, with its source label."""

    text: str
    source: str


def goal_rows(profile: Profile) -> tuple[Row, ...]:
    """SMART rows: core outputs, then JFM responsibilities, canon order (design.md §4)."""
    code = profile.level.code
    return tuple(Row(t, f"core output ({code})") for t in profile.core_outputs) + tuple(
        Row(t, f"JFM responsibility ({code})") for t in profile.responsibilities
    )


def component_rows(profile: Profile) -> tuple[Row, ...]:
    return tuple(Row(t, "responsibility (component)") for t in profile.components.responsibilities)


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


class FieldBuilder:
    """Builds a field's line; placeholders get keys from the field key.

    Key rule: a field holding one placeholder gives it the field's key (`mbo.4.due`); a field
    holding several gives each `<field key>.<kind>` (`smart.2.measurable.target`).
    """

    def __init__(self, key: str, label: str, title: str) -> None:
        self.key = key
        self.label = label
        self.title = title
        self.parts: list[Text | PlaceholderKind] = []

    def text(self, value: str) -> FieldBuilder:
        self.parts.append(Text(value))
        return self

    def fill(self, kind: PlaceholderKind) -> FieldBuilder:
        self.parts.append(kind)
        return self

    def line(self) -> Line:
        kinds = [p for p in self.parts if isinstance(p, PlaceholderKind)]
        single = len(kinds) == 1
        out: list[Segment] = []
        for part in self.parts:
            if isinstance(part, Text):
                out.append(part)
            else:
                key = self.key if single else f"{self.key}.{part.value}"
                label = f"{self.title} {part.value}" if not single else self.title
                out.append(Placeholder(part, key, label))
        return tuple(out)

    def build(self) -> Field:
        return Field(self.key, self.label, self.line())


def target_by_date(builder: FieldBuilder) -> FieldBuilder:
    """The fixed tail `⟨target⟩ by ⟨date⟩`."""
    return builder.fill(PlaceholderKind.TARGET).text(" by ").fill(PlaceholderKind.DATE)
