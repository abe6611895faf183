"""Compose: canon records -> frames (the one intermediate form)."""

from pipeline.compose.registry import FRAME_KINDS, ComposeOptions, compose_profile

__all__ = ["FRAME_KINDS", "ComposeOptions", "compose_profile"]
