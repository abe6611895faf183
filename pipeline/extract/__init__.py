"""Extract: canon files (and importers) -> typed, validated canon records."""

from pipeline.extract.canon import load_canon

__all__ = ["load_canon"]
