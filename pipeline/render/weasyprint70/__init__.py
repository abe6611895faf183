"""Every place the product reaches into a library's internals, in one home (WeasyPrint 70).

Two registries of patches to WeasyPrint 70 code, applied by `patched()` around each render, not
process-wide, with one guard policy:
- `PATCHES`, the speed-ups. None changes a byte (tests/test_pdf.py renders every bundled handout
  with and without each; a build with them off gives the same packs, tests/test_build.py):
  - `target_counters`: the contents' page numbers lay page 1 out twice, not three times;
  - `glyph_runs`: lines are written into the PDF with their glyphs read in bulk (WeasyPrint's
    `draw_first_line`, copied: that file carries WeasyPrint's licence notice);
  - `kept_layouts`: a line is drawn with the Pango layout it was fitted with, not a rebuilt one.
- `FIXES`, always on (the speed-ups' switch leaves them in place): notes the handout's finisher
  (`pdf_finish`) reads to correct the tag tree, so they shape the bytes:
  - `box_notes`: which box each MCID marks (`Stream.marked` wrapped; for `word_breaks`);
  - `tag_origins`: which HTML element each structure element comes from (`_build_box_tree`
    wrapped; for `join_pieces`, an element split at a page break made one again).

Guard: each patch keeps the sha256 of the WeasyPrint source it was read against (`upstream`);
when the installed code differs, the patch stays out and says so once per process (a
`StaleSpeedUp` warning, which fails the tests), never silently: a speed-up then costs time, a
fix leaves WeasyPrint's tag tree as it is (tests/test_pdf_tags.py fails).
Switch: `RenderOptions.speedups` (False: WeasyPrint's own code, the fixes still on), set off for
a whole run by the environment variable `PACKS_WEASYPRINT_SPEEDUPS=off` (read by the build).
The active set of speed-ups is printed once per build and written into each manifest's
`generator.speedups`.

Upgrade checklist: the other private touch points, each guarded or tested where it is used:
- WeasyPrint `ctypes.util.find_library` while WeasyPrint is imported (`library_search`, here);
- WeasyPrint `HTML._ua_stylesheets` (private), overridden by `to_pdf.HandoutHTML` for the
  layout's user-agent stylesheet, and the attributes `HTML.__init__` sets, set by
  `to_pdf.XhtmlDocument` (guarded below, `private_touch_points`; tests compare bytes);
- WeasyPrint's tag tree as `pdf/tags.py` writes it (`pdf_finish.retag`, `join_pieces`,
  `word_breaks` edit the pydyf objects; tests/test_pdf_tags.py reads the result);
- pydyf: the `flate` finisher (`pdf_finish.flate`) compresses `pydyf.Stream` data itself and sets
  its `/Filter`, relying on how pydyf 0.11-0.13 serialises a stream;
- openpyxl: `ooxml/xlsx_package.MemoryExcelWriter` (subclasses `openpyxl.writer.excel.ExcelWriter`,
  writes the package parts itself; used by `to_xlsx`, `harvest/results`, `exchange/workbook`) and
  the cell style arrays copied through `cell._style` (`xlsx_sheets.CellStyles`), for openpyxl 3.1.
"""

from __future__ import annotations

# Imported first: WeasyPrint's own import, with its libraries looked up in the linker cache only.
from pipeline.render.weasyprint70 import library_search  # noqa: F401  # isort: skip

import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from weasyprint import HTML

from pipeline.render.weasyprint70 import (
    box_notes,
    glyph_runs,
    kept_layouts,
    tag_origins,
    target_counters,
)
from pipeline.render.weasyprint70.upstream import source_digest


class StaleSpeedUp(UserWarning):
    """A patch's WeasyPrint target is not the code it was written against: it stays out."""


@dataclass(frozen=True)
class Patch:
    name: str
    #: Whether the installed WeasyPrint is the code this patch was read against.
    applies: Callable[[], bool]
    install: Callable[[], object]
    uninstall: Callable[[], None]
    installed: Callable[[], bool]


PATCHES: tuple[Patch, ...] = (
    Patch(
        "glyph_runs",
        glyph_runs.applies,
        glyph_runs.install,
        glyph_runs.uninstall,
        glyph_runs.installed,
    ),
    Patch(
        "kept_layouts",
        kept_layouts.applies,
        kept_layouts.install,
        kept_layouts.uninstall,
        kept_layouts.installed,
    ),
    Patch(
        "target_counters",
        lambda: target_counters.applies() and target_counters.fill_in_applies(),
        target_counters.install,
        target_counters.uninstall,
        target_counters.installed,
    ),
)
#: Always in place inside `patched()`, whether the speed-ups are on or off.
FIXES: tuple[Patch, ...] = (
    Patch(
        "box_notes", box_notes.applies, box_notes.install, box_notes.uninstall, box_notes.installed
    ),
    Patch(
        "tag_origins",
        tag_origins.applies,
        tag_origins.install,
        tag_origins.uninstall,
        tag_origins.installed,
    ),
)

_said: set[str] = set()
_lock = threading.RLock()
_depth = 0
_active: tuple[Patch, ...] = ()


def _say_once(name: str, message: str) -> None:
    if name not in _said:
        _said.add(name)
        warnings.warn(message, StaleSpeedUp, stacklevel=3)


def usable(patches: tuple[Patch, ...] = PATCHES) -> tuple[Patch, ...]:
    """The patches that apply to the installed WeasyPrint; each that does not says so once."""
    out = []
    for patch in patches:
        if patch.applies():
            out.append(patch)
        elif patch in FIXES:
            _say_once(
                patch.name,
                f"WeasyPrint tag-tree fix {patch.name!r} is off: the WeasyPrint code it wraps is "
                "not the code it was written against (pipeline/render/weasyprint70); the tag tree "
                "is WeasyPrint's own, and the handout claims no PDF/UA",
            )
        else:
            _say_once(
                patch.name,
                f"WeasyPrint speed-up {patch.name!r} is off: the WeasyPrint code it replaces is "
                "not the code it was written against (pipeline/render/weasyprint70); same bytes, "
                "slower",
            )
    return tuple(out)


def active(enabled: bool) -> tuple[str, ...]:
    """The names `patched(enabled)` puts in place (what a manifest's generator records)."""
    return tuple(p.name for p in usable()) if enabled else ()


@contextmanager
def patched(enabled: bool = True) -> Iterator[tuple[str, ...]]:
    """The usable fixes and speed-ups in place inside the block (the fixes alone when not
    `enabled`), WeasyPrint's own code again after it; yields the speed-ups' names. Nested blocks
    share the outermost block's set."""
    global _depth, _active
    with _lock:
        if _depth == 0:
            _active = usable(FIXES) + (usable() if enabled else ())
            for patch in _active:
                patch.install()
        _depth += 1
        names = tuple(p.name for p in _active if p not in FIXES)
    try:
        yield names
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for patch in reversed(_active):
                    patch.uninstall()
                _active = ()


def any_installed() -> bool:
    """Whether any speed-up or fix is in place (outside `patched()`, none should be)."""
    return any(patch.installed() for patch in PATCHES + FIXES)


def fixes_apply() -> bool:
    """Whether every tag-tree fix applies to the installed WeasyPrint (a PDF/UA claim needs
    them: `to_pdf.render` drops a `pdf/ua-*` variant otherwise)."""
    return len(usable(FIXES)) == len(FIXES)


def speedups_installed() -> bool:
    return any(patch.installed() for patch in PATCHES)


#: sha256 of `HTML._ua_stylesheets` in WeasyPrint 70.0, which `to_pdf.HandoutHTML` overrides.
UA_STYLESHEETS_SOURCE = "4fadfde9d15075b22dcfa409ec8a03af0aa1097d695be59b680017cf1bf94fe2"


def user_agent_override_applies() -> bool:
    """Whether `HTML._ua_stylesheets` is the method `HandoutHTML` overrides; says so once if not
    (the layout's user-agent stylesheet would then be ignored or misapplied)."""
    method = getattr(HTML, "_ua_stylesheets", None)
    ok = method is not None and source_digest(method) == UA_STYLESHEETS_SOURCE
    if not ok:
        _say_once(
            "HTML._ua_stylesheets",
            "WeasyPrint's HTML._ua_stylesheets is not the method the handout's user-agent "
            "stylesheet overrides (pipeline/render/weasyprint70): check to_pdf.HandoutHTML",
        )
    return ok
