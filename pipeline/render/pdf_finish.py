"""The handout's finisher (WeasyPrint's `finisher` hook, after layout and drawing, before pydyf
writes the file): the tag tree corrected (`retag`; `word_breaks`, with the boxes each MCID marks
noted while drawing by `install_box_notes`), then every stream compressed once (`flate`).
tests/test_pdf_tags.py checks the tags, tests/test_pdf.py the bytes.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Iterator, Mapping
from typing import Any, Literal

# The speed-ups package imports WeasyPrint first (its libraries looked up in the linker cache).
from pipeline.render import weasyprint70  # noqa: F401  # isort: skip
import pydyf
import weasyprint.pdf.stream
from weasyprint.formatting_structure import boxes

from pipeline.render.weasyprint70.upstream import unchanged

PartLayout = Literal["goal", "results", "table", "group"]


#: zlib level for every stream (pydyf's own is 9: four times the time for 3 % less size).
FLATE_LEVEL = 6


def flate(document: object, pdf: pydyf.PDF) -> None:
    """WeasyPrint's finisher: compress each stream once, at FLATE_LEVEL, before pydyf writes it.

    pydyf deflates a stream at level 9 whenever it serialises it: 30 ms of CPU for the seed
    handout's pages, fonts and attachment, against 7 ms at level 6 for a file 3 % larger. A
    stream compressed here is written as it is.
    """
    for obj in pdf.objects:
        if not isinstance(obj, pydyf.Stream) or not obj.compress or "Filter" in obj.extra:
            continue
        plain = pydyf.Stream(obj.stream).data  # b"<</Length n>>\nstream\n" data b"\nendstream"
        _, marker, rest = plain.partition(b"\nstream\n")
        if not marker or not rest.endswith(b"\nendstream"):
            continue  # not the layout pydyf 0.13 writes: leave the stream to pydyf
        obj.stream = [zlib.compress(rest[: -len(b"\nendstream")], FLATE_LEVEL)]
        obj.extra["Filter"] = "/FlateDecode"
        obj.compress = False


def _object(pdf: pydyf.PDF, reference: object) -> Any:
    """The object an indirect reference (pydyf writes them as b"12 0 R") points at."""
    assert isinstance(reference, bytes) and reference.endswith(b" R"), reference
    return pdf.objects[int(reference.split()[0])]


def _dictionaries(pdf: pydyf.PDF, kind: str) -> list[pydyf.Dictionary]:
    """The PDF's dictionaries of /Type `kind` ("/Page", "/StructElem"...), in object order."""
    return [
        obj for obj in pdf.objects if isinstance(obj, pydyf.Dictionary) and obj.get("Type") == kind
    ]


def retag(pdf: pydyf.PDF, link_contents: Mapping[str, str]) -> None:
    """Corrections to WeasyPrint 70's tag tree (`weasyprint/pdf/tags.py`), before `flate`.

    - The running header and footer: WeasyPrint tags the margin boxes' text with MCIDs and
      structure elements that no parent lists (it notes that an Artifact is the right thing, but
      only in PDF 2.0). PDF 1.7 has Artifacts too (ISO 32000-1, 14.8.2.2): their marked content
      becomes `/Artifact <</Type /Pagination>> BDC`, and the parent tree forgets the MCIDs.
    - Link annotations name their target (`/Contents (frame-1)`): each gets the text it links
      from instead (`link_contents`, anchor -> words; Matterhorn 28-011).
    - Table header cells carry an `/ID` that headers refer to; IDs need the structure tree
      root's `/IDTree` (ISO 32000-1, 14.7.2), which WeasyPrint does not write.
    """
    for obj in pdf.objects:
        if isinstance(obj, pydyf.Dictionary) and obj.get("Subtype") == "/Link":
            contents = obj.get("Contents")
            if isinstance(contents, pydyf.String) and contents.string in link_contents:
                obj["Contents"] = pydyf.String(link_contents[contents.string])
    roots = _dictionaries(pdf, "/StructTreeRoot")
    if not roots:
        return
    (root,) = roots
    elements = _dictionaries(pdf, "/StructElem")
    ids = sorted((e["ID"].string, e.reference) for e in elements if "ID" in e)
    if ids:
        names = pydyf.Array([item for id_, ref in ids for item in (pydyf.String(id_), ref)])
        root["IDTree"] = pydyf.Dictionary({"Names": names})
    reached: set[bytes] = set()
    stack = [_object(pdf, ref) for ref in root["K"]]
    while stack:
        element = stack.pop()
        reached.add(element.reference)
        for kid in element["K"]:
            if isinstance(kid, bytes):
                child = _object(pdf, kid)
                if isinstance(child, pydyf.Dictionary) and child.get("Type") == "/StructElem":
                    stack.append(child)
    orphans: dict[bytes, set[int]] = {}  # page reference -> MCIDs of unlisted elements
    for element in elements:
        if element.reference not in reached:
            mcids = [kid for kid in element["K"] if isinstance(kid, int)]
            orphans.setdefault(element["Pg"], set()).update(mcids)
    if not orphans:
        return
    nums = _object(pdf, root["ParentTree"])["Nums"]
    pages = _dictionaries(pdf, "/Page")
    for number, page in enumerate(pages):
        unlisted = orphans.get(page.reference, set())
        if not unlisted:
            continue
        stream = _object(pdf, page["Contents"]).stream
        for index, item in enumerate(stream):
            if isinstance(item, pydyf.Dictionary) and item.get("MCID") in unlisted:
                assert stream[index + 1] == b"BDC" and stream[index - 1] == "/Span", stream[
                    index - 1
                ]
                stream[index - 1] = "/Artifact"
                stream[index] = pydyf.Dictionary({"Type": "/Pagination"})
        assert nums[2 * number] == number
        page_nums = nums[2 * number + 1]
        for mcid in unlisted:
            page_nums[mcid] = b"null"


#: WeasyPrint 70's `Stream.marked` (the marked content of a box's text), as read for
#: `_remember_boxes`; sha256 of its source, so another WeasyPrint turns the wrapper off.
_MARKED = weasyprint.pdf.stream.Stream.marked
MARKED_SOURCE = "3fa3acacbbf66422e7b0de4346b6eaf638657280a0f62c73172e3c445b888692"
#: Stream attribute: MCID -> the box whose content it marks (set by `_remember_boxes`).
_BOXES = "_packs_marked_boxes"


def _remember_boxes(self: Any, box: Any, tag: str) -> Any:
    """`Stream.marked`, noting which box each MCID marks (WeasyPrint forgets it once tagged)."""
    if self._tags is not None:
        self.__dict__.setdefault(_BOXES, {})[len(self._tags)] = box
    return _MARKED(self, box, tag)


def install_box_notes() -> bool:
    """Put `_remember_boxes` in place (once per process), only on the WeasyPrint read against."""
    if unchanged({"Stream.marked": _MARKED}, {"Stream.marked": MARKED_SOURCE}):
        weasyprint.pdf.stream.Stream.marked = _remember_boxes
    return weasyprint.pdf.stream.Stream.marked is _remember_boxes


def _collapsed(text: str) -> str:
    return re.sub(r"[ \t\n\r\f]+", " ", text)


def _wrapped_lines(box: Any) -> Iterator[tuple[Any, Any, str]]:
    """(last text box of a line, first text box of the next line, the block's source text) for
    every line of every block under `box` that another line of the same block follows."""
    children = getattr(box, "children", None) or ()
    lines = [child for child in children if isinstance(child, boxes.LineBox)]
    if len(lines) > 1 and box.element is not None:
        source = _collapsed("".join(box.element.itertext()))
        for line, following in itertools.pairwise(lines):
            last, first = _edge_text(line, -1), _edge_text(following, 0)
            if last is not None and first is not None:
                yield last, first, source
    for child in children:
        if not isinstance(child, boxes.LineBox):
            yield from _wrapped_lines(child)


def _edge_text(line: Any, end: int) -> Any:
    """The first (end=0) or last (end=-1) text box of a line, if the line starts or ends so."""
    box = line
    while isinstance(box, (boxes.LineBox, boxes.InlineBox)) and box.children:
        box = box.children[end]
    return box if isinstance(box, boxes.TextBox) and box.text else None


def word_breaks(document: Any, pdf: pydyf.PDF) -> None:
    """Put back the space WeasyPrint drops where a line wraps, in the tagged text.

    WeasyPrint strips a line's trailing space (layout/inline.py, remove_last_trailing_space)
    and tags each line's text as its own Span, so a tool reading the tags gets "theportfolio"
    where the page shows "the / portfolio". ISO 32000-1 14.8.2.5 wants the space in the text:
    the Span of a line's last words gets `/ActualText` = its text and a space, where the block's
    own text has that space between this line's end and the next line's start (a break after a
    hyphen, a dash or an invisible break point had none, and gets none).
    """
    if not install_box_notes():
        return
    pages = _dictionaries(pdf, "/Page")
    roots = _dictionaries(pdf, "/StructTreeRoot")
    if not roots or len(pages) != len(document.pages):
        return
    nums = _object(pdf, roots[0]["ParentTree"])["Nums"]
    for number, (page, laid_out) in enumerate(zip(pages, document.pages, strict=True)):
        marks = getattr(_object(pdf, page["Contents"]), _BOXES, {})
        mcids = {id(box): mcid for mcid, box in marks.items()}
        for last, first, source in _wrapped_lines(laid_out._page_box):
            mcid = mcids.get(id(last))
            tail, head = _collapsed(last.text)[-20:], _collapsed(first.text).lstrip(" ")[:20]
            if mcid is None or tail.endswith(" ") or f"{tail} {head}" not in source:
                continue
            reference = nums[2 * number + 1][mcid]
            element = _object(pdf, reference) if reference != b"null" else None
            if element is not None and list(element["K"]) == [mcid]:
                element["ActualText"] = pydyf.String(last.text + " ")


def finish(document: object, pdf: pydyf.PDF, link_contents: Mapping[str, str]) -> None:
    """WeasyPrint's finisher: the tag tree corrected, then every stream compressed."""
    retag(pdf, link_contents)
    word_breaks(document, pdf)
    flate(document, pdf)
