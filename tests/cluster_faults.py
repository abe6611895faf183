"""A format for the cluster tests: text, except for one profile, whose render always raises
(a bug on every try). Imported by the Dask workers by name, like every format's module."""

from __future__ import annotations

from pipeline.layout import Layout, RenderOptions
from pipeline.model import ProfileFrames

BROKEN = "ENGR.GEN.M2"


def render(frames: ProfileFrames, layout: Layout, options: RenderOptions) -> bytes:
    if frames.profile_id == BROKEN:
        raise RuntimeError(f"this renderer always fails for {BROKEN}")
    return frames.document_title.encode("utf-8")
