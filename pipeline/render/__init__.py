"""Render: frames + layout -> bytes, one module per format, registered by name and suffix."""

from pipeline.render.registry import FORMATS, Format, get_format

__all__ = ["FORMATS", "Format", "get_format"]
