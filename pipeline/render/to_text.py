"""The "copy / print as text" rendering (design.md §4, "Plain text").

The block text is a byte-exact contract (see the seed): record and group layouts are fixed here,
by block type, never by frame kind.
"""

from __future__ import annotations

from typing import assert_never

from pipeline.layout import Layout, RenderOptions
from pipeline.model import Block, Frame, Group, ProfileFrames, Record, RecordStyle, line_text

#: SMART labels are padded to this width after three spaces.
LABEL_WIDTH = 13


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
            values = {f.label: line_text(f.line) for f in record.fields}
            if "Standard" in values:
                lines.append(f"   Standard: {values['Standard']}")
            if "Target" in values or "Due" in values:
                parts = []
                if "Target" in values:
                    parts.append(f"Target:   {values['Target']}")
                if "Due" in values:
                    parts.append(f"Due: {values['Due']}")
                lines.append("   " + "   ".join(parts))
        case _:
            assert_never(record.style)
    return "\n".join(lines)


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
