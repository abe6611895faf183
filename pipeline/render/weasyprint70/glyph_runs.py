# Copied upstream code: `draw_first_line` below is WeasyPrint 70.0's
# (weasyprint/draw/text.py), changed as the docstring says. WeasyPrint's licence notice:
#
# BSD 3-Clause License
#
# Copyright (c) 2011-2021, Simon Sapin and contributors.
# All rights reserved.
#
# Redistribution and use in source and binary forms, with or without
# modification, are permitted provided that the following conditions are met:
#
# * Redistributions of source code must retain the above copyright notice, this
#   list of conditions and the following disclaimer.
#
# * Redistributions in binary form must reproduce the above copyright notice,
#   this list of conditions and the following disclaimer in the documentation
#   and/or other materials provided with the distribution.
#
# * Neither the name of the copyright holder nor the names of its
#   contributors may be used to endorse or promote products derived from
#   this software without specific prior written permission.
#
# THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
# AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
# IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
# DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
# FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
# DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
# SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
# CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
# OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
# OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.

"""Writing the handout's lines into the PDF: WeasyPrint 70's `draw_first_line`, glyphs in bulk.

WeasyPrint writes each line of text with `weasyprint.draw.text.draw_first_line`. For every glyph
Pango placed (about 21,000 in a five-page handout) a Python loop reads four struct fields through
cffi, looks the glyph's width and text up, and appends its code and kerning to the line's TJ
string: about 45 ms of a 400 ms render.

`draw_first_line` below is WeasyPrint 70.0's (BSD 3-Clause License, Copyright (c) 2011-2021,
Simon Sapin and contributors), with what feeds its glyph loop changed and nothing else (a glyph's
text is worked out by WeasyPrint's lines, moved into `_glyph_text` for both paths):
- a run's glyphs are read in one call (`struct.iter_unpack` over the cffi buffer, `_GLYPH_INFO`
  being PangoGlyphInfo as WeasyPrint declares it) instead of four cffi reads per glyph;
- a run with no empty, unknown, shifted or raised glyph, in a font without emoji tables (every
  run of a handout set in DejaVu Sans), is written by list comprehensions: the same entries in
  the font's width and text maps, added in the same order, and the same string;
- the x advance, which only places emojis, is summed for those runs only when a later run of
  the line goes through the loop, in the same order, so it is the same number.
Every other run goes through WeasyPrint's loop as it is.
One more change: Pango's single-paragraph mode is set only for a line whose text has a paragraph
separator (newline, carriage return, U+2029), the only characters it treats differently. Setting
it on a layout that `kept_layouts` kept from fitting the line would make Pango itemise and shape
the line again (about 3 % of a render), for the same glyphs.

`install()` puts it in place of WeasyPrint's only if WeasyPrint's function has the same source
text as the one it was copied from (`WEASYPRINT_SOURCE`, a hash) and PangoGlyphInfo has the
layout `_GLYPH_INFO` reads. tests/test_pdf.py fails when it is not in place, which is the prompt
to copy a newer WeasyPrint's function again (or drop this), and compares the bytes of every
bundled handout, and of handouts of arbitrary canon text, with and without it.
"""

from __future__ import annotations

import functools
import struct
from io import BytesIO
from typing import Any
from xml.etree import ElementTree

import weasyprint
import weasyprint.draw.text
from PIL import Image
from weasyprint.images import RasterImage, SVGImage
from weasyprint.logger import LOGGER
from weasyprint.text.ffi import FROM_UNITS, TO_UNITS, ffi, pango
from weasyprint.text.fonts import get_hb_object_data
from weasyprint.text.line_break import get_last_word_end

from pipeline.render.weasyprint70.upstream import source_digest

#: sha256 of the source text of the WeasyPrint function this replaces (WeasyPrint 70.0).
WEASYPRINT_SOURCE = "1bb8eae6d88e71b17096a034656f3be17da8f1f513c78536c1c38d971927638b"
#: PangoGlyphInfo: glyph (guint), geometry (width, x_offset, y_offset: gint), attr (guint bits).
_GLYPH_INFO = struct.Struct("=Iiii4x")
_GLYPH_EMPTY = pango.PANGO_GLYPH_EMPTY
_GLYPH_UNKNOWN_FLAG = pango.PANGO_GLYPH_UNKNOWN_FLAG
_WEASYPRINTS = weasyprint.draw.text.draw_first_line


@functools.cache
def applies() -> bool:
    """Whether WeasyPrint's function and Pango's glyph struct are those this was written for."""
    return (
        source_digest(_WEASYPRINTS) == WEASYPRINT_SOURCE
        and ffi.sizeof("PangoGlyphInfo") == _GLYPH_INFO.size
        and ffi.offsetof("PangoGlyphInfo", "geometry") == 4
        and ffi.offsetof("PangoGlyphInfo", "attr") == 16
        and ffi.sizeof("PangoGlyphUnit") == 4
    )


def install() -> bool:
    """Draw every line of text this process writes with `draw_first_line`; True if in place."""
    if applies():
        weasyprint.draw.text.draw_first_line = draw_first_line
    return installed()


def uninstall() -> None:
    """Back to WeasyPrint's own function (tests compare the two)."""
    weasyprint.draw.text.draw_first_line = _WEASYPRINTS


def installed() -> bool:
    return weasyprint.draw.text.draw_first_line is draw_first_line


def draw_first_line(
    stream: Any, textbox: Any, text_overflow: str, block_ellipsis: Any, matrix: Any
) -> list[Any]:
    """Draw the given ``textbox`` line to the document ``stream``."""
    # Don’t draw lines with only invisible characters.
    if not textbox.text.strip():
        return []

    if textbox.style["font_size"] < 1e-6:  # default float precision used by pydyf
        return []

    # Changed (see the module's docstring): single-paragraph mode is left alone for text without
    # a paragraph separator, where it changes nothing.
    text = textbox.pango_layout.text
    if "\n" in text or "\r" in text or "\u2029" in text:
        pango.pango_layout_set_single_paragraph_mode(textbox.pango_layout.layout, True)

    if text_overflow == "ellipsis" or block_ellipsis != "none":
        assert textbox.pango_layout.max_width is not None
        max_width = textbox.pango_layout.max_width
        pango.pango_layout_set_width(textbox.pango_layout.layout, int(max_width * TO_UNITS))
        if text_overflow == "ellipsis":
            pango.pango_layout_set_ellipsize(textbox.pango_layout.layout, pango.PANGO_ELLIPSIZE_END)
        else:
            if block_ellipsis == "auto":
                ellipsis = "…"
            else:
                assert block_ellipsis[0] == "string"
                ellipsis = block_ellipsis[1]

            # Remove last word if hyphenated.
            new_text = textbox.pango_layout.text
            if new_text.endswith(textbox.style["hyphenate_character"]):
                last_word_end = get_last_word_end(
                    new_text[: -len(textbox.style["hyphenate_character"])], textbox.style["lang"]
                )
                if last_word_end:
                    new_text = new_text[:last_word_end]

            textbox.pango_layout.set_text(new_text + ellipsis)

    first_line, index = textbox.pango_layout.get_first_line()

    if block_ellipsis != "none":
        while index:
            last_word_end = get_last_word_end(
                textbox.pango_layout.text[: -len(ellipsis)], textbox.style["lang"]
            )
            if last_word_end is None:
                break
            new_text = textbox.pango_layout.text[:last_word_end]
            textbox.pango_layout.set_text(new_text + ellipsis)
            first_line, index = textbox.pango_layout.get_first_line()

    stream.set_text_matrix(*matrix.values)
    previous_pango_font = None
    string = ""
    x_advance = 0
    emojis = []
    deferred = []  # runs drawn by the fast path: (logical widths, kernings)
    run = first_line.runs[0]
    while run != ffi.NULL:
        # Get Pango objects.
        glyph_item = run.data
        run = run.next
        glyph_string = glyph_item.glyphs
        glyphs_info = glyph_string.glyphs
        num_glyphs = glyph_string.num_glyphs
        clusters = glyph_string.log_clusters
        utf8_text = None

        pango_font = glyph_item.item.analysis.font
        if pango_font != previous_pango_font:
            # Add font file content and get font size.
            previous_pango_font = pango_font
            font, font_size = stream.add_font(pango_font)

            # Workaround for https://gitlab.gnome.org/GNOME/pango/-/issues/530.
            # This is also needed by raster emoji fonts, see #2800.
            if pango.pango_version() < 14802 or font.png:
                font_size = textbox.style["font_size"]

            # Go through the run glyphs.
            if string:
                stream.show_text(string)
            string = ""
            stream.set_font_size(font.hash, 1 if font.bitmap else font_size)
        string += "<"
        widths, to_unicode, bitmap = font.widths, font.to_unicode, font.bitmap
        emoji = font.svg or font.png or font.colr
        glyphs = (
            list(_GLYPH_INFO.iter_unpack(ffi.buffer(glyphs_info, num_glyphs * _GLYPH_INFO.size)))
            if num_glyphs > 0
            else []
        )
        ids, advances, x_offsets, y_offsets = zip(*glyphs, strict=True) if glyphs else ((),) * 4
        if (
            glyphs
            and not emoji
            and max(ids) < _GLYPH_EMPTY
            and not any(x_offsets)
            and not any(y_offsets)
        ):
            # Fast path (see the module's docstring): no empty, unknown, shifted or raised
            # glyph, no emoji; the same dictionary entries and the same string as the loop.
            distinct = set(ids)
            if not to_unicode.keys() >= distinct:
                clusters = ffi.unpack(clusters, num_glyphs)
                for i, glyph_id in enumerate(ids):
                    if glyph_id not in to_unicode:
                        utf8_text = utf8_text or textbox.pango_layout.text.encode()
                        to_unicode[glyph_id] = _glyph_text(glyph_item, clusters, i, utf8_text)
            if not widths.keys() >= distinct:
                for glyph_id in ids:
                    if glyph_id not in widths:
                        pango.pango_font_get_glyph_extents(
                            pango_font, glyph_id, stream.ink_rect, stream.logical_rect
                        )
                        widths[glyph_id] = round(
                            stream.logical_rect.width * 1000 * FROM_UNITS / font_size
                        )
            offset = 0.0  # x_offset / font_size for every glyph
            logical_widths = list(map(widths.__getitem__, ids))
            kernings = [
                logical_width + offset - width * 1000 * FROM_UNITS / font_size
                for logical_width, width in zip(logical_widths, advances, strict=True)
            ]
            if bitmap:
                string += "".join(
                    [
                        f"{glyph_id:02x}>{int(kerning)}<" if kerning else f"{glyph_id:02x}"
                        for glyph_id, kerning in zip(ids, kernings, strict=True)
                    ]
                )
            else:
                string += "".join(
                    [
                        f"{glyph_id:04x}>{int(kerning)}<" if kerning else f"{glyph_id:04x}"
                        for glyph_id, kerning in zip(ids, kernings, strict=True)
                    ]
                )
            # x_advance only places emojis: summed, in the same order, if one follows.
            deferred.append((logical_widths, kernings))
            glyphs = []
        elif deferred:
            for logical_widths, kernings in deferred:
                for logical_width, kerning in zip(logical_widths, kernings, strict=True):
                    x_advance += (logical_width + 0.0 - kerning) / 1000
            deferred = []
        if glyphs:
            clusters = ffi.unpack(clusters, num_glyphs)
        for i, (glyph_id, width, x_offset, y_offset) in enumerate(glyphs):
            # Display zero-width empty glyph.
            if glyph_id == _GLYPH_EMPTY:
                string += f">{-width / font_size}<"
                continue

            # Display .notdef and log warning for missing glyphs.
            if glyph_id & _GLYPH_UNKNOWN_FLAG:
                codepoint = glyph_id - _GLYPH_UNKNOWN_FLAG
                LOGGER.warning(
                    '.notdef glyph rendered for Unicode string unsupported by fonts: "%s" (U+%04X)',
                    chr(codepoint),
                    codepoint,
                )
                glyph_id = font.get_unused_glyph_id(codepoint)
                font.widths[glyph_id] = round(width * 1000 * FROM_UNITS / font_size)
                if 0 not in font.widths:
                    # "width" is actually Pango’s get_approximate_char_width. Force
                    # .notdef’s to use this width, even if it’s not the right, as we
                    # want to keep Pango’s layout for next glyphs.
                    font.widths[0] = font.widths[glyph_id]

            # Create mapping between glyphs and Unicode codepoints.
            if glyph_id not in to_unicode:
                utf8_text = utf8_text or textbox.pango_layout.text.encode()
                to_unicode[glyph_id] = _glyph_text(glyph_item, clusters, i, utf8_text)

            # Set horizontal and vertical offsets.
            offset = x_offset / font_size
            rise = y_offset / 1000
            if rise:
                if string[-1] == "<":
                    string = string[:-1]
                else:
                    string += ">"
                if string:
                    stream.show_text(string)
                stream.set_text_rise(-rise)
                string = ""
                if offset:
                    string = f"{-offset}"
                string += f"<{glyph_id:02x}>" if bitmap else f"<{glyph_id:04x}>"
                stream.show_text(string)
                stream.set_text_rise(0)
                string = "<"
            else:
                if offset:
                    string += f">{-offset}<"
                string += f"{glyph_id:02x}" if bitmap else f"{glyph_id:04x}"

            # Get glyph logical widths.
            if glyph_id in widths:
                logical_width = widths[glyph_id]
            else:
                pango.pango_font_get_glyph_extents(
                    pango_font, glyph_id, stream.ink_rect, stream.logical_rect
                )
                logical_width = widths[glyph_id] = round(
                    stream.logical_rect.width * 1000 * FROM_UNITS / font_size
                )

            # Set kerning, word spacing, letter spacing.
            kerning = logical_width + offset - width * 1000 * FROM_UNITS / font_size
            if kerning:
                string += f">{int(kerning)}<"

            # Create list of emojis.
            if not emoji:
                pass
            elif font.svg:
                svg_data = get_hb_object_data(font.hb_face, "svg", glyph_id)
                if svg_data:
                    # Do as explained in specification
                    # https://learn.microsoft.com/typography/opentype/spec/svg
                    tree = ElementTree.fromstring(svg_data)
                    if tree.get("id") != f"glyph{glyph_id}":
                        defs = ElementTree.Element("defs")
                        for child in list(tree):
                            defs.append(child)
                            tree.remove(child)
                        tree.append(defs)
                        ElementTree.SubElement(tree, "use", attrib={"href": f"#glyph{glyph_id}"})
                    if "viewBox" not in tree.attrib:
                        tree.attrib["viewBox"] = f"0 0 {font.upem} {font.upem}"
                    image = SVGImage(tree, None, None, None)
                    a = d = 1
                    emojis.append([image, font, a, d, x_advance, 0])
            elif font.png:
                png_data = get_hb_object_data(font.hb_font, "png", glyph_id)
                if png_data:
                    pillow_image = Image.open(BytesIO(png_data))
                    image_id = f"{font.hash}{glyph_id}"
                    image = RasterImage(pillow_image, image_id, png_data)
                    d = logical_width / 1000
                    a = pillow_image.width / pillow_image.height * d
                    pango.pango_font_get_glyph_extents(
                        pango_font, glyph_id, stream.ink_rect, stream.logical_rect
                    )
                    f = -stream.logical_rect.y
                    f = f * FROM_UNITS / font_size - font_size
                    emojis.append([image, font, a, d, x_advance, f])
            elif font.colr:
                svg_data = get_hb_object_data(font.hb_font, "colr", glyph_id)
                if svg_data:
                    tree = ElementTree.fromstring(svg_data)
                    image = SVGImage(tree, None, None, None)
                    a = d = 1
                    e = x_advance - kerning
                    emojis.append([image, font, a, d, e, -textbox.baseline])

            x_advance += (logical_width + offset - kerning) / 1000

        # Close the last glyphs list, remove if empty.
        if string[-1] == "<":
            string = string[:-1]
        else:
            string += ">"

    # Draw text.
    stream.show_text(string)

    return emojis


def _glyph_text(glyph_item: Any, clusters: list[int], i: int, utf8_text: bytes) -> str:
    """The text glyph `i` of a run stands for (WeasyPrint's loop, taken out for both paths)."""
    # Get positions of the glyph in the UTF-8 string.
    offset = glyph_item.item.offset
    t1 = clusters[i]
    if glyph_item.item.analysis.level % 2:  # rtl
        t2 = glyph_item.item.length if i == 0 else clusters[i - 1]
    else:
        t2 = glyph_item.item.length if i == len(clusters) - 1 else clusters[i + 1]
    return utf8_text[offset + t1 : offset + t2].decode()
