"""The handout's finisher (WeasyPrint's `finisher` hook, after layout and drawing, before pydyf
writes the file): the tag tree corrected (`join_pieces`, with the HTML element of each structure
element noted by `weasyprint70.tag_origins`; `alternates`, from the same notes; `retag`;
`word_breaks`, with the box each MCID marks noted by `weasyprint70.box_notes`), then every
stream compressed once (`flate`).
tests/test_pdf_tags.py checks the tags, tests/test_pdf.py the bytes.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

# The speed-ups package imports WeasyPrint first (its libraries looked up in the linker cache).
from pipeline.render import weasyprint70  # noqa: F401  # isort: skip
import pydyf
from weasyprint.formatting_structure import boxes

from pipeline.render.weasyprint70 import box_notes, tag_origins

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


def _element(pdf: pydyf.PDF, kid: object) -> pydyf.Dictionary | None:
    """The structure element a /K entry refers to (None for an MCID, an MCR or an OBJR)."""
    if not isinstance(kid, bytes):
        return None
    obj = _object(pdf, kid)
    is_element = isinstance(obj, pydyf.Dictionary) and obj.get("Type") == "/StructElem"
    return obj if is_element else None


def _cells(pdf: pydyf.PDF, element: pydyf.Dictionary) -> Iterator[pydyf.Dictionary]:
    """The TH elements under `element`, in tree order."""
    for kid in element["K"]:
        child = _element(pdf, kid)
        if child is not None:
            if child["S"] == "/TH":
                yield child
            yield from _cells(pdf, child)


class _Pieces:
    """`join_pieces`' state: which element each piece went into, which header IDs were dropped."""

    def __init__(self, pdf: pydyf.PDF, origins: Mapping[int, tag_origins.Origin]) -> None:
        self.pdf = pdf
        self.origins = origins
        self.pages = {page.reference: n for n, page in enumerate(_dictionaries(pdf, "/Page"))}
        self.moved: dict[bytes, bytes] = {}  # a piece -> the first piece, which took its kids
        self.ids: dict[str, str] = {}  # a repeated header cell's /ID -> the first header's

    def join(self, element: pydyf.Dictionary) -> list[pydyf.Dictionary]:
        """Join the consecutive pieces among `element`'s kids; its kid elements that have kids
        of their own after that."""
        kept = pydyf.Array()
        parents: list[pydyf.Dictionary] = []
        last: tuple[pydyf.Dictionary, tuple[int, str], int] | None = None
        groups: dict[tuple[int, str], pydyf.Dictionary] = {}  # a THead's or TFoot's first
        firsts: dict[tuple[int, str], int] = {}  # key -> index in `kept` of its first piece
        seen: set[tuple[int, str]] = set()
        footers: list[object] = []
        for kid in element["K"]:
            child = _element(self.pdf, kid)
            origin = None if child is None else self.origins.get(child.number)
            if child is None or origin is None:
                kept.append(kid)
                if child is not None and any(isinstance(k, bytes) for k in child["K"]):
                    parents.append(child)
                last = None
                continue
            key, page = origin.key, self.pages.get(child["Pg"], -1)
            if last is not None and last[1] == key and page >= last[2]:
                self.absorb(last[0], child)
                last = (last[0], key, page)
                continue
            if key in firsts and child["S"] == "/LI" and self.lists_only(kept[firsts[key] + 1 :]):
                # An item's piece on a page where its nested list goes on (WeasyPrint puts a
                # nested list after its item, 14.8.4.3.3): empty, or the item's words after
                # the nested list. It joins the item, and the nested list's pieces then meet.
                self.absorb(_object(self.pdf, kept[firsts[key]]), child)
                continue
            if key in seen and not self.holds_content(child):
                child["K"] = pydyf.Array()
                continue
            seen.add(key)
            group = element["S"] == "/Table" and child["S"] in ("/THead", "/TFoot")
            if group and key in groups:
                # A header or footer group repeated on each page is tagged once.
                self.drop_repeated_header(groups[key], child)
                continue
            if group:
                groups[key] = child
            parents.append(child)
            if group and child["S"] == "/TFoot":
                # Drawn at the foot of each page, read after the whole body: tagged there, so
                # the body's pieces meet.
                footers.append(kid)
                continue
            firsts.setdefault(key, len(kept))
            kept.append(kid)
            last = (child, key, page)
        kept.extend(footers)
        element["K"] = kept
        return parents

    def lists_only(self, kids: Iterable[object]) -> bool:
        """Whether every one of `kids` is a list element (an item's nested list, or a piece)."""
        for kid in kids:
            child = _element(self.pdf, kid)
            if child is None or child["S"] != "/L":
                return False
        return True

    def holds_content(self, element: pydyf.Dictionary) -> bool:
        """Whether `element` or an element under it marks content or refers to an annotation."""
        for kid in element["K"]:
            child = _element(self.pdf, kid)
            if child is None or self.holds_content(child):
                return True
        return False

    def absorb(self, first: pydyf.Dictionary, piece: pydyf.Dictionary) -> None:
        """`piece`'s kids appended to `first`'s; its MCIDs as marked-content references to its
        page (14.7.4.2)."""
        for kid in piece["K"]:
            if isinstance(kid, int):
                mcr = {"Type": "/MCR", "Pg": piece["Pg"], "MCID": kid}
                first["K"].append(pydyf.Dictionary(mcr))
                continue
            child = _element(self.pdf, kid)
            if child is not None:
                child["P"] = first.reference
            first["K"].append(kid)
        piece["K"] = pydyf.Array()
        self.moved[piece.reference] = first.reference

    def drop_repeated_header(self, first: pydyf.Dictionary, repeat: pydyf.Dictionary) -> None:
        """A table header (or footer) group repeated on a later page leaves the tree (`retag`
        makes its content a pagination artifact); the cells below it name the first group's
        header cells instead."""
        for cell, repeated in zip(_cells(self.pdf, first), _cells(self.pdf, repeat), strict=False):
            if "ID" in cell and "ID" in repeated:
                self.ids[repeated["ID"].string] = cell["ID"].string
        for repeated in _cells(self.pdf, repeat):
            repeated.pop("ID", None)

    def repoint(self, root: pydyf.Dictionary) -> None:
        """The parent tree and the cells' /Headers follow the joined pieces."""
        nums = _object(self.pdf, root["ParentTree"])["Nums"]
        for index in range(1, len(nums), 2):
            value = nums[index]
            if isinstance(value, pydyf.Array):
                nums[index] = pydyf.Array([self.moved.get(ref, ref) for ref in value])
            elif isinstance(value, bytes):
                nums[index] = self.moved.get(value, value)
        if not self.ids:
            return
        for element in _dictionaries(self.pdf, "/StructElem"):
            attributes = element.get("A")
            if isinstance(attributes, pydyf.Dictionary) and "Headers" in attributes:
                attributes["Headers"] = pydyf.Array(
                    pydyf.String(self.ids.get(h.string, h.string)) for h in attributes["Headers"]
                )


def join_pieces(pdf: pydyf.PDF) -> None:
    """One structure element per HTML element, whatever the page and line breaks.

    WeasyPrint 70 tags page by page, so an element laid out on two pages is two sibling
    elements, and so are its ancestors (its issues 2902/2903): a section read as two, the second
    starting without its heading; a list of 25 items as lists of 5 and 20. An inline element
    that wraps is one element per line (a link of three lines: three `Link`s). Here, with the
    HTML element of each structure element noted by `weasyprint70.tag_origins`, consecutive
    siblings from the same HTML element become the first of them (its kids, then theirs; the
    MCIDs of another page as marked-content references), top-down, so the pieces of their kids
    meet and join in turn. A table header or footer group repeated on each page (`thead` as a
    table-header-group, `tfoot` as a table-footer-group) is tagged once, from its first page,
    the footer after the body; its repeats leave the tree. A list item whose nested list crosses
    a page is one item, with its words after the nested list. Run before `retag`, which makes
    the content of elements left out of the tree artifacts.
    """
    origins = tag_origins.origins(pdf)
    roots = _dictionaries(pdf, "/StructTreeRoot")
    if not origins or not roots:
        return
    (root,) = roots
    pieces = _Pieces(pdf, origins)
    stack = [e for e in (_element(pdf, ref) for ref in root["K"]) if e is not None]
    while stack:
        stack.extend(pieces.join(stack.pop()))
    if pieces.moved or pieces.ids:
        pieces.repoint(root)


#: The HTML attribute whose text becomes its element's alternate description (/Alt).
ALT_ATTRIBUTE = "data-pdf-alt"


def alternates(pdf: pydyf.PDF) -> None:
    """An element's alternate description from its HTML element's `data-pdf-alt` (the
    template's words): what a screen reader says instead of the element's text (ISO 32000-1,
    14.9.3), e.g. "target (to be filled in)" for a "⟨target⟩" that a listener would otherwise
    hear as prose (the handout template's `alt` macro). WeasyPrint 70 writes /Alt for images
    only. Run after `join_pieces`: an element split by a line break gets it once."""
    for number, origin in tag_origins.origins(pdf).items():
        alt = None if "::" in origin.tag else origin.element.get(ALT_ATTRIBUTE)
        element = pdf.objects[number]
        if alt and element["K"]:
            element["Alt"] = pydyf.String(alt)


def _collapsed(text: str) -> str:
    return re.sub(r"[ \t\n\r\f]+", " ", text)


def _line_blocks(box: Any) -> Iterator[Any]:
    """Every block under `box` that holds lines (margin boxes aside), in document order."""
    if isinstance(box, boxes.MarginBox):
        return
    children = getattr(box, "children", None) or ()
    if box.element is not None and any(isinstance(c, boxes.LineBox) for c in children):
        yield box
    for child in children:
        if not isinstance(child, boxes.LineBox):
            yield from _line_blocks(child)


def _lines(block: Any) -> list[Any]:
    return [child for child in block.children if isinstance(child, boxes.LineBox)]


def _source(block: Any) -> str:
    return _collapsed("".join(block.element.itertext()))


def _wrapped_lines(box: Any) -> Iterator[tuple[Any, Any, str]]:
    """(last text box of a line, first text box of the next line, the block's source text) for
    every line of every block under `box` that another line of the same block follows."""
    for block in _line_blocks(box):
        lines = _lines(block)
        if len(lines) > 1:
            source = _source(block)
            for line, following in itertools.pairwise(lines):
                last, first = _edge_text(line, -1), _edge_text(following, 0)
                if last is not None and first is not None:
                    yield last, first, source


def _page_break_lines(page: Any, following: Any) -> Iterator[tuple[Any, Any, str]]:
    """The same for a block that a page break splits: (last text box of its last line on
    `page`, first text box of its first line on the `following` page, its source text)."""
    ends = {(id(b.element), b.element_tag): b for b in _line_blocks(page)}  # the last of each
    starts: dict[tuple[int, str], Any] = {}
    for block in _line_blocks(following):
        starts.setdefault((id(block.element), block.element_tag), block)
    for key, block in ends.items():
        continued = starts.get(key)
        if continued is not None:
            last, first = _edge_text(_lines(block)[-1], -1), _edge_text(_lines(continued)[0], 0)
            if last is not None and first is not None:
                yield last, first, _source(block)


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
    hyphen, a dash or an invisible break point had none, and gets none). The same where a page
    break splits a block.
    """
    if not box_notes.installed():
        return
    pages = _dictionaries(pdf, "/Page")
    roots = _dictionaries(pdf, "/StructTreeRoot")
    if not roots or len(pages) != len(document.pages):
        return
    nums = _object(pdf, roots[0]["ParentTree"])["Nums"]
    page_boxes = [laid_out._page_box for laid_out in document.pages]
    for number, (page, page_box) in enumerate(zip(pages, page_boxes, strict=True)):
        marks = box_notes.marks(_object(pdf, page["Contents"]))
        mcids = {id(box): mcid for mcid, box in marks.items()}
        breaks = (
            _page_break_lines(page_box, page_boxes[number + 1]) if number + 1 < len(pages) else ()
        )
        for last, first, source in itertools.chain(_wrapped_lines(page_box), breaks):
            mcid = mcids.get(id(last))
            tail, head = _collapsed(last.text)[-20:], _collapsed(first.text).lstrip(" ")[:20]
            if mcid is None or tail.endswith(" ") or f"{tail} {head}" not in source:
                continue
            reference = nums[2 * number + 1][mcid]
            element = _object(pdf, reference) if reference != b"null" else None
            if element is not None and list(element["K"]) == [mcid]:
                element["ActualText"] = pydyf.String(last.text + " ")
            elif element is not None:
                # A Link holds its lines' MCIDs itself: the line's words become a Span of it.
                kids = element["K"]
                index = next(
                    (i for i, kid in enumerate(kids) if _marks(kid, mcid, page.reference)), None
                )
                if index is None:
                    continue
                span = pydyf.Dictionary(
                    {
                        "Type": "/StructElem",
                        "S": "/Span",
                        "K": pydyf.Array([mcid]),
                        "Pg": page.reference,
                        "P": element.reference,
                        "ActualText": pydyf.String(last.text + " "),
                    }
                )
                pdf.add_object(span)
                kids[index] = span.reference
                nums[2 * number + 1][mcid] = span.reference


def _marks(kid: object, mcid: int, page: bytes) -> bool:
    """Whether a /K entry is MCID `mcid` (of `page`, for a marked-content reference)."""
    if isinstance(kid, pydyf.Dictionary) and kid.get("Type") == "/MCR":
        return bool(kid["MCID"] == mcid and kid["Pg"] == page)
    return isinstance(kid, int) and kid == mcid


def finish(document: object, pdf: pydyf.PDF, link_contents: Mapping[str, str]) -> None:
    """WeasyPrint's finisher: the tag tree corrected, then every stream compressed."""
    join_pieces(pdf)
    alternates(pdf)
    retag(pdf, link_contents)
    word_breaks(document, pdf)
    flate(document, pdf)
