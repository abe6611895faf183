"""Frames as JSON: the intermediate form, printable and embeddable (e.g. in the PDF)."""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any

from pipeline.layout import Layout, RenderOptions
from pipeline.model import Frame, Placeholder, ProfileFrames, Text

#: Bumped when the JSON shape changes incompatibly.
SCHEMA_VERSION = 1


def to_data(value: Any) -> Any:
    """Dataclasses -> dicts with a `type` tag for segments and blocks; tuples -> lists."""
    if isinstance(value, Text):
        return {"type": "text", "text": value.text}
    if isinstance(value, Placeholder):
        return {
            "type": "placeholder",
            "kind": value.kind.value,
            "key": value.key,
            "label": value.label,
        }
    if is_dataclass(value) and not isinstance(value, type):
        data: dict[str, Any] = {}
        if not isinstance(value, ProfileFrames | Frame):
            data["type"] = type(value).__name__.lower()
        for f in fields(value):
            data[f.name] = to_data(getattr(value, f.name))
        return data
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [to_data(v) for v in value]
    return value


def frames_json(frames: ProfileFrames, only: tuple[Frame, ...] | None = None) -> str:
    data = to_data(frames)
    data = {"schema": SCHEMA_VERSION, **data}
    if only is not None:
        data["frames"] = [to_data(f) for f in only]
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def render(frames: ProfileFrames, layout: Layout, options: RenderOptions) -> bytes:
    return frames_json(frames).encode("utf-8")
