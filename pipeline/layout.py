"""Layouts: presentation as files (templates, CSS, reference .docx, page and column settings).

A layout is a folder under `layouts/` with a `layout.yaml`; code asks it for roles ("the handout
template", "page size"), never hard-codes presentation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.diagnostics import PacksError

#: The repository's layouts folder (also where the package looks when run from a checkout).
LAYOUTS_DIR = Path(__file__).resolve().parent.parent / "layouts"
PAGE_SIZES = ("A4", "Letter")


@dataclass(frozen=True)
class RenderOptions:
    """Choices that change how (not what) a pack is rendered. Frozen, passed everywhere."""

    page_size: str = "A4"
    form_password: str | None = None
    #: Seconds since the epoch stamped into files (from SOURCE_DATE_EPOCH); None = now.
    timestamp: int | None = None
    #: The product version written into file metadata.
    generator: str = "jobframe-packs"
    #: Review fields filled in for one person (`review.employee` -> text, dates ISO); a cycle
    #: sets them, a pack leaves every field empty.
    fields: tuple[tuple[str, str], ...] = ()
    #: The sealed identity line of an issued file (`pipeline.cycle.identity`), written into the
    #: core property `cp:category`; None for a pack.
    identity: str | None = None


@dataclass(frozen=True)
class Layout:
    root: Path
    settings: Mapping[str, Any] = field(default_factory=dict)

    def path(self, name: str) -> Path:
        """A file of this layout; never outside the layout folder."""
        candidate = (self.root / name).resolve()
        if not candidate.is_relative_to(self.root.resolve()):
            raise PacksError(f"layout file '{name}' is outside the layout folder {self.root}")
        return candidate

    def section(self, name: str) -> Mapping[str, Any]:
        value = self.settings.get(name, {})
        return value if isinstance(value, Mapping) else {}

    def files(self) -> tuple[Path, ...]:
        """Every file of the layout, sorted (for digests and incremental builds)."""
        return tuple(sorted(p for p in self.root.rglob("*") if p.is_file()))


def load_layout(name_or_path: str | Path = "default") -> Layout:
    root = Path(name_or_path)
    if not root.is_dir():
        root = LAYOUTS_DIR / str(name_or_path)
    settings_file = root / "layout.yaml"
    if not settings_file.is_file():
        raise PacksError(f"{settings_file}: layout not found (expected a folder with layout.yaml)")
    try:
        settings = yaml.safe_load(settings_file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise PacksError(f"{settings_file}: malformed layout settings: {exc}") from None
    if not isinstance(settings, Mapping):
        raise PacksError(f"{settings_file}: expected a mapping of settings")
    return Layout(root.resolve(), settings)
