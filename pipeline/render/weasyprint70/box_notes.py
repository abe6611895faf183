"""Which box each MCID marks, noted while a page is drawn (WeasyPrint forgets it once tagged).

WeasyPrint 70's `Stream.marked(box, tag)` gives a box's text the next MCID of the page and keeps
the pair in the stream's `_tags` only until `pdf/tags.py` has built the tag tree from it. The
handout's finisher needs it afterwards: `pdf_finish.word_breaks` finds the Span of a wrapped
line's last words by its box. `install()` wraps `Stream.marked` to note `mcid -> box` on the
stream (`marks(stream)`); the wrapper calls WeasyPrint's method unchanged, so no byte changes.

It shapes the tag tree, so it is not a speed-up: `weasyprint70.patched()` puts it in place
around every render whether the speed-ups are on or off. Guarded like them: it installs only on
the `Stream.marked` whose source it was read against (`MARKED_SOURCE`).
"""

from __future__ import annotations

import functools
from typing import Any

import weasyprint.pdf.stream

from pipeline.render.weasyprint70.upstream import unchanged

#: WeasyPrint 70's `Stream.marked` as imported; sha256 of its source.
_MARKED = weasyprint.pdf.stream.Stream.marked
MARKED_SOURCE = "3fa3acacbbf66422e7b0de4346b6eaf638657280a0f62c73172e3c445b888692"
#: Stream attribute: MCID -> the box whose content it marks.
_BOXES = "_packs_marked_boxes"


@functools.cache
def applies() -> bool:
    """Whether `Stream.marked` is the method this wraps."""
    return unchanged({"Stream.marked": _MARKED}, {"Stream.marked": MARKED_SOURCE})


def _remember_boxes(self: Any, box: Any, tag: str) -> Any:
    """`Stream.marked`, noting which box each MCID marks."""
    if self._tags is not None:
        self.__dict__.setdefault(_BOXES, {})[len(self._tags)] = box
    return _MARKED(self, box, tag)


def install() -> bool:
    if applies():
        weasyprint.pdf.stream.Stream.marked = _remember_boxes
    return installed()


def uninstall() -> None:
    weasyprint.pdf.stream.Stream.marked = _MARKED


def installed() -> bool:
    return weasyprint.pdf.stream.Stream.marked is _remember_boxes


def marks(stream: object) -> dict[int, Any]:
    """MCID -> box, for a page's content stream drawn with the notes in place (else empty)."""
    noted: dict[int, Any] = getattr(stream, _BOXES, {})
    return noted
