"""The "copy / print as text" rendering (design.md §4, "Plain text").

The block text is a byte-exact contract (see the seed): record and group layouts are fixed here,
by block type, never by frame kind.
"""

from __future__ import annotations

from typing import assert_never

from pipeline.layout import Layout, RenderOptions
from pipeline.model import (
    Block,
    Frame,
    Group,
    ProfileFrames,
    Record,
    RecordStyle,
    line_text,
    only_placeholders,
)

#: SMART labels are padded to this width after three spaces.
LABEL_WIDTH = 13
#: An AREA's first fill-in label is padded to this width (`Target:   ⟨target⟩   Due: ⟨date⟩`).
INPUT_LABEL_WIDTH = 9


def _source(label: str) -> str:
    return f"[source: {label}]"


def record_text(record: Record) -> str:
    match record.style:
        case RecordStyle.GOAL:
            lines = [f"{record.number}. {record.heading}  {_source(record.source)}"]
            lines += [
                f"   {(f.label + ':'):<{LABEL_WIDTH}}{line_text(f.line)}" for f in record.fields
            ]
        case RecordStyle.RESULTS:
            lines = [f"Objective {record.number}: {record.heading}  {_source(record.source)}"]
            lines += [f"  {f.label}. {line_text(f.line)}" for f in record.fields]
        case RecordStyle.AREA:
            lines = [f"{record.number}. Area: {record.heading}  {_source(record.source)}"]
            lines += _area_fields(record)
        case _:
            assert_never(record.style)
    return "\n".join(lines)


def _area_fields(record: Record) -> list[str]:
    """An AREA's fields: each text field on a line of its own; the fill-in fields (lines that
    are only placeholders) together on one line, the first label padded to ten columns."""
    lines: list[str] = []
    inputs: list[str] = []
    for f in record.fields:
        if only_placeholders(f.line):
            label = f"{f.label}:" if inputs else f"{(f.label + ':'):<{INPUT_LABEL_WIDTH}}"
            if not inputs:
                lines.append("")
            inputs.append(f"{label} {line_text(f.line)}")
        else:
            lines.append(f"   {f.label}: {line_text(f.line)}")
    return [line or "   " + "   ".join(inputs) for line in lines]


def group_text(group: Group) -> str:
    lines = [group.heading]
    lines += [f"  - {line_text(item.line)}   {_source(item.source)}" for item in group.items]
    return "\n".join(lines)


def block_text(block: Block) -> str:
    match block:
        case Record():
            return record_text(block)
        case Group():
            return group_text(block)
        case _:
            assert_never(block)


def frame_text(frame: Frame) -> str:
    """The frame's copy block: its items separated by one blank line, no trailing newline."""
    return "\n\n".join(block_text(b) for b in frame.blocks)


def frames_text(frames: tuple[Frame, ...]) -> str:
    """Several frames' blocks separated by one blank line (`packs show --frame all`)."""
    return "\n\n".join(frame_text(f) for f in frames)


def document_text(frames: ProfileFrames) -> str:
    """The printable text file: page header, then each frame's title, intro and block."""
    parts = [frames.document_title, frames.breadcrumb, frames.intro]
    for frame in frames.frames:
        parts.append(frame.title)
        if frame.intro:
            parts.append(frame.intro)
        parts.append(frame_text(frame))
    return "\n\n".join(parts) + "\n"


def render(frames: ProfileFrames, layout: Layout, options: RenderOptions) -> bytes:
    return document_text(frames).encode("utf-8")
