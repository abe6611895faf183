"""Which HTML element each structure element comes from, noted while WeasyPrint tags a PDF.

WeasyPrint 70 (`pdf/tags.py`, `add_tags`) builds the tag tree page by page: for each page,
`_build_box_tree` makes a structure element per box of that page. An element laid out across a
page break has a box on each page, so it becomes one structure element per page, siblings in its
parent (WeasyPrint issues 2902/2903: a list of 25 items read as a list of 5 and one of 20, a
section whose second half starts without its heading). The structure elements keep no trace of
their boxes; `install()` wraps `_build_box_tree` to note, for each structure element it yields,
the box's HTML element and tag (`origins(pdf)`: object number -> `Origin`), so that
`pdf_finish.join_pieces` can make the pieces one element again. The wrapper passes WeasyPrint's
elements on unchanged; `_build_box_tree` calls itself through the module, so the nested calls
are wrapped too and the innermost note of an element wins (`html` and `body` boxes yield their
children's elements).

It shapes the tag tree, so it is not a speed-up: `weasyprint70.patched()` puts it in place
around every render whether the speed-ups are on or off. Guarded like them: it installs only on
the `_build_box_tree` and `add_tags` whose source it was read against (`WEASYPRINT_SOURCES`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import weasyprint.pdf.tags
from weasyprint.layout.absolute import AbsolutePlaceholder

from pipeline.render.weasyprint70.upstream import unchanged

_BUILD = weasyprint.pdf.tags._build_box_tree
#: sha256 of the source of each WeasyPrint 70.0 function the wrapper relies on.
WEASYPRINT_SOURCES = {
    "_build_box_tree": "f716251a83e7096e9cae972b63e633aab21c664d200582166dd0d5096780f9c4",
    "add_tags": "f0e74575b0bafaf36458eaac27874e3b80457fba3694058153da514a68933f22",
}
_WEASYPRINTS = {"_build_box_tree": _BUILD, "add_tags": weasyprint.pdf.tags.add_tags}
#: pydyf.PDF attribute: structure element object number -> Origin.
_ORIGINS = "_packs_tag_origins"


@dataclass(frozen=True, eq=False)
class Origin:
    """The HTML element a structure element was made for, and the box's tag (`li`, or
    `li::marker` for a pseudo-element of it)."""

    element: Any
    tag: str

    @property
    def key(self) -> tuple[int, str]:
        """Equal for two origins of the same element and tag (while the element lives)."""
        return (id(self.element), self.tag)


@functools.cache
def applies() -> bool:
    """Whether WeasyPrint's tagging functions are those this was written against."""
    return unchanged(_WEASYPRINTS, WEASYPRINT_SOURCES)


def _noting_origins(box: Any, parent: Any, pdf: Any, *args: Any) -> Iterator[Any]:
    """`_build_box_tree`, noting each structure element's HTML element."""
    source = box._box if isinstance(box, AbsolutePlaceholder) else box
    notes: dict[int, Origin] = pdf.__dict__.setdefault(_ORIGINS, {})
    origin = None if source.element is None else Origin(source.element, source.element_tag)
    for element in _BUILD(box, parent, pdf, *args):
        if origin is not None:
            notes.setdefault(element.number, origin)
        yield element


def install() -> bool:
    if applies():
        weasyprint.pdf.tags._build_box_tree = _noting_origins
    return installed()


def uninstall() -> None:
    weasyprint.pdf.tags._build_box_tree = _BUILD


def installed() -> bool:
    return weasyprint.pdf.tags._build_box_tree is _noting_origins


def origins(pdf: object) -> dict[int, Origin]:
    """Structure element object number -> Origin, for a PDF tagged with the notes in place."""
    noted: dict[int, Origin] = getattr(pdf, _ORIGINS, {})
    return noted
