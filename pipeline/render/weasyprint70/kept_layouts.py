"""A line of text is drawn with the Pango layout it was fitted with, not with a rebuilt one.

WeasyPrint 70 fits every line of text with a Pango layout (`split_first_line`, ending in
`first_line_metrics`), then drops it (`Layout.deactivate`: the Pango layout, context and language
go). When it draws the line it builds the same layout again (`Layout.reactivate`: a new Pango
context and layout, the font description, the text), and Pango itemises and shapes the text a
second time. About 500 lines per five-page handout; the rebuild and the second shaping are
3-7 % of a render.

Here `deactivate` keeps what a fitted layout holds, and `reactivate`, the first time that line is
drawn, uses it as it is. That is the layout `reactivate` would build, because both come from the
same calls:
- `Layout.setup(style)` with the same style object (checked: `style is self.style`);
- `Layout.set_text(self.text)`: `reactivate` passes `justify=True`, which only adds the
  justification spacing to the word spacing, so only layouts whose `justification_spacing` is 0
  are kept (WeasyPrint gives justified lines a new layout with it, which is rebuilt as before);
- the one difference, a width that a line fitted whole may still carry (`reactivate` sets none),
  does not change that line: it fitted in that width, and glyph positions are run-relative.
`glyph_runs.draw_first_line` then leaves single-paragraph mode alone for text with no paragraph
separator, where it changes nothing, since setting it would make Pango shape the line again.

After a line is drawn its layout is dropped as WeasyPrint drops it. A box drawn again (a copy of a
repeated table header shares its layout; a document written twice) gets a rebuilt layout, as
before. Fitted layouts live until the document is drawn: about 1 MB more per handout.

`install()` puts both methods in place only if WeasyPrint's functions this relies on have the
source text they were read in (`WEASYPRINT_SOURCES`); tests/test_pdf.py fails when it is not in
place and compares the bytes of every bundled handout, and of handouts of arbitrary canon text,
with and without it.
"""

from __future__ import annotations

import functools
from typing import Any

import weasyprint.draw.text
import weasyprint.text.line_break
from weasyprint.text.line_break import Layout

from pipeline.render.weasyprint70.upstream import unchanged

#: sha256 of the source text of each WeasyPrint 70.0 function the argument above reads.
WEASYPRINT_SOURCES = {
    "Layout.setup": "fb227a55094f41d42fbd57f180d8b7a9a1e741969ec8ddb3fd5cd80920257442",
    "Layout.set_text": "fe23ca9937dbf5205bda422f9c01103f301ef2c511228842632ea86e853274f7",
    "Layout.deactivate": "bfec3ec8406e1c82a91f9570103eb5ecbc5a20c1339ff26bb0f4eafb03189f0b",
    "Layout.reactivate": "0b89ee097104b71376c179f48a98858708b07169dc0212c393263a1a831607c9",
    "first_line_metrics": "55ec5d0b58b29a8bda9f4c85d3bc3bc46b45d2110e05982e7126c7f4d507e65d",
    "draw_text": "ebaf96239c6ca3635d2b91bfb34718c2dcebd7809fec1c53fb8dffd1366befe3",
}
_DEACTIVATE = Layout.deactivate
_REACTIVATE = Layout.reactivate
#: Set on a fitted layout whose Pango objects are kept for drawing.
_KEPT = "_jobframe_kept"
#: Set while a layout is being drawn: the `deactivate` that follows drops it.
_DRAWING = "_jobframe_drawing"


#: WeasyPrint's functions as imported (before `install()` replaces two of them).
_WEASYPRINTS = {
    "Layout.setup": Layout.setup,
    "Layout.set_text": Layout.set_text,
    "Layout.deactivate": _DEACTIVATE,
    "Layout.reactivate": _REACTIVATE,
    "first_line_metrics": weasyprint.text.line_break.first_line_metrics,
    "draw_text": weasyprint.draw.text.draw_text,
}


@functools.cache
def applies() -> bool:
    """Whether WeasyPrint's functions are those this was written against."""
    return unchanged(_WEASYPRINTS, WEASYPRINT_SOURCES)


def deactivate(self: Any) -> None:
    """After drawing, drop the layout as WeasyPrint does; after fitting, keep it for drawing."""
    if self.__dict__.pop(_DRAWING, False):
        _DEACTIVATE(self)
    else:
        setattr(self, _KEPT, True)


def reactivate(self: Any, style: Any) -> None:
    """Use the layout the line was fitted with if it is the one WeasyPrint would rebuild."""
    kept = self.__dict__.pop(_KEPT, False)
    if not (kept and style is self.style and not self.justification_spacing):
        _REACTIVATE(self, style)
    setattr(self, _DRAWING, True)


def install() -> bool:
    """Keep fitted layouts for drawing in this process; True if in place."""
    if applies():
        Layout.deactivate = deactivate
        Layout.reactivate = reactivate
    return installed()


def uninstall() -> None:
    """Back to WeasyPrint's own methods (tests compare the two)."""
    Layout.deactivate = _DEACTIVATE
    Layout.reactivate = _REACTIVATE


def installed() -> bool:
    return Layout.deactivate is deactivate and Layout.reactivate is reactivate
