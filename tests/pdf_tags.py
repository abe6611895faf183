"""A PDF's tag tree read back with pikepdf, for the handout's accessibility checks.

`read(path)` gives the structure elements (role, kids, text) reachable from the structure tree
root, the marked content of every page (which MCIDs, which Artifacts, what each one draws) and
the link annotations; `tests/test_pdf_tags.py` checks them against ISO 32000-1 (14.7 logical
structure, 14.8 tagged PDF) and the Matterhorn Protocol 1.1 checkpoints a program can decide.
Text is decoded through each font's /ToUnicode map (WeasyPrint writes Identity-H fonts, two
bytes per glyph).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf

#: Operators that paint: text showing, path painting, shadings, XObjects.
TEXT_OPERATORS = {"Tj", "TJ", "'", '"'}
PAINT_OPERATORS = {"f", "F", "f*", "B", "B*", "b", "b*", "S", "s", "sh", "Do"} | TEXT_OPERATORS

Key = tuple[int, int]  # an indirect object's (number, generation)


@dataclass
class Element:
    """One structure element, as the tree has it (kids in /K order)."""

    role: str
    key: Key
    page: int | None
    kids: list[Element | int | Annotation] = field(default_factory=list)
    parent: Element | None = None
    attributes: dict[str, object] = field(default_factory=dict)
    mcid_pages: dict[int, int] = field(default_factory=dict)  # MCID -> page of a kid MCID
    said_parent: Key | None = None  # the element's /P, the parent it names (14.7.2)

    def walk(self) -> Iterator[Element]:
        yield self
        for kid in self.kids:
            if isinstance(kid, Element):
                yield from kid.walk()

    def children(self) -> list[Element]:
        return [k for k in self.kids if isinstance(k, Element)]


@dataclass(frozen=True)
class Annotation:
    subtype: str
    key: Key
    page: int
    contents: str | None
    struct_parent: int | None


@dataclass
class Page:
    """Marked content of one page: text per MCID, and what is painted outside the tree."""

    texts: dict[int, str] = field(default_factory=dict)
    artifact_texts: list[str] = field(default_factory=list)
    artifact_types: list[str] = field(default_factory=list)
    unmarked: list[str] = field(default_factory=list)  # painting operators in no marked content


@dataclass
class Tagged:
    root: Element
    pages: list[Page]
    annotations: list[Annotation]
    struct_root: pikepdf.Dictionary
    parent_tree: dict[int, object]  # StructParent(s) key -> struct element key(s)
    outlines: list[tuple[int, str]]  # (level, title) in order
    pdf: pikepdf.Pdf

    @staticmethod
    def attributes_of(element: Element) -> dict[str, object]:
        return element.attributes

    def text(self, element: Element) -> str:
        """The text of `element`'s marked content, in tree order (no separators added); an
        element's /ActualText stands for all of its content (ISO 32000-1, 14.9.4)."""
        if "/ActualText" in self.attributes_of(element):
            return str(element.attributes["/ActualText"])
        out = []
        for kid in element.kids:
            if isinstance(kid, Element):
                out.append(self.text(kid))
            elif isinstance(kid, int):
                page = element.mcid_pages.get(kid, element.page)
                out.append(self.pages[page].texts.get(kid, "") if page is not None else "")
        return "".join(out)


def _key(obj: pikepdf.Object) -> Key:
    return (obj.objgen[0], obj.objgen[1])


def _to_unicode(font: pikepdf.Dictionary) -> dict[bytes, str]:
    cmap: dict[bytes, str] = {}
    if "/ToUnicode" not in font:
        return cmap
    data = font.ToUnicode.read_bytes().decode("latin-1")
    for block in re.findall(r"beginbfchar(.*?)endbfchar", data, re.S):
        for src, dst in re.findall(r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]*)>", block):
            cmap[bytes.fromhex(src)] = bytes.fromhex(dst).decode("utf-16-be")
    for block in re.findall(r"beginbfrange(.*?)endbfrange", data, re.S):
        for lo, hi, dst in re.findall(
            r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block
        ):
            start, end, base = int(lo, 16), int(hi, 16), int(dst, 16)
            for offset in range(end - start + 1):
                cmap[(start + offset).to_bytes(len(lo) // 2, "big")] = chr(base + offset)
    return cmap


def _decode(raw: bytes, cmap: dict[bytes, str]) -> str:
    return "".join(cmap.get(raw[i : i + 2], "\ufffd") for i in range(0, len(raw) - 1, 2))


def _read_page(page: pikepdf.Page) -> Page:
    out = Page()
    fonts = page.Resources.get("/Font", pikepdf.Dictionary())
    maps = {str(name): _to_unicode(font) for name, font in fonts.items()}
    cmap: dict[bytes, str] = {}
    stack: list[tuple[str, int | None]] = []  # (tag, MCID)
    for instruction in pikepdf.parse_content_stream(page):
        if isinstance(instruction, pikepdf.ContentStreamInlineImage):
            continue
        op = str(instruction.operator)
        operands = instruction.operands
        if op == "BMC":
            stack.append((str(operands[0]), None))
            if str(operands[0]) == "/Artifact":
                out.artifact_types.append("")
        elif op == "BDC":
            props = operands[1]
            mcid = props.get("/MCID") if isinstance(props, pikepdf.Dictionary) else None
            stack.append((str(operands[0]), None if mcid is None else int(mcid)))
            if mcid is not None:
                out.texts.setdefault(int(mcid), "")  # marked, painting nothing maybe
            if str(operands[0]) == "/Artifact" and isinstance(props, pikepdf.Dictionary):
                out.artifact_types.append(str(props.get("/Subtype", props.get("/Type", ""))))
        elif op == "EMC":
            stack.pop()
        elif op == "Tf":
            cmap = maps.get(str(operands[0]), {})
        if op not in PAINT_OPERATORS:
            continue
        text = ""
        if op in TEXT_OPERATORS:
            strings = operands[0] if op == "TJ" else operands[-1:]
            text = "".join(
                _decode(bytes(s), cmap) for s in strings if isinstance(s, pikepdf.String)
            )
        mcid = next((m for _, m in reversed(stack) if m is not None), None)
        if mcid is not None:
            out.texts[mcid] = out.texts.get(mcid, "") + text
        elif any(tag == "/Artifact" for tag, _ in stack):
            if text:
                out.artifact_texts.append(text)
        else:
            out.unmarked.append(f"{op} {text}".strip())
    return out


def read(path: Path) -> Tagged:
    pdf = pikepdf.open(path)
    page_numbers = {_key(p.obj): i for i, p in enumerate(pdf.pages)}
    annotations: dict[Key, Annotation] = {}
    for index, page in enumerate(pdf.pages):
        for annot in page.obj.get("/Annots", pikepdf.Array()):
            sp = annot.get("/StructParent")
            contents = annot.get("/Contents")
            annotations[_key(annot)] = Annotation(
                str(annot.Subtype),
                _key(annot),
                index,
                None if contents is None else str(contents),
                None if sp is None else int(sp),
            )
    struct_root = pdf.Root.StructTreeRoot

    def build(node: pikepdf.Dictionary, parent: Element | None) -> Element:
        pg = node.get("/Pg")
        element = Element(
            str(node.get("/S", "/StructTreeRoot"))[1:],
            _key(node),
            None if pg is None else page_numbers[_key(pg)],
            parent=parent,
        )
        if "/P" in node:
            element.said_parent = _key(node.P)
        for name in ("/ID", "/A", "/Alt", "/ActualText", "/T", "/Lang"):
            if name in node:
                element.attributes[name] = node[name]
        k = node.get("/K")
        kids = [] if k is None else list(k) if isinstance(k, pikepdf.Array) else [k]
        for kid in kids:
            if isinstance(kid, int):
                element.kids.append(int(kid))
            elif isinstance(kid, pikepdf.Dictionary) and kid.get("/Type") == "/MCR":
                mcid = int(kid.MCID)
                element.kids.append(mcid)
                kid_pg = kid.get("/Pg", pg)
                element.mcid_pages[mcid] = page_numbers[_key(kid_pg)]
            elif isinstance(kid, pikepdf.Dictionary) and kid.get("/Type") == "/OBJR":
                element.kids.append(annotations[_key(kid.Obj)])
            elif isinstance(kid, pikepdf.Dictionary):
                element.kids.append(build(kid, element))
        return element

    root = build(struct_root, None)
    parent_tree: dict[int, object] = {}
    nums = struct_root.ParentTree.get("/Nums", pikepdf.Array())
    for index in range(0, len(nums), 2):
        value = nums[index + 1]
        if isinstance(value, pikepdf.Array):
            parent_tree[int(nums[index])] = [
                None if v is None or not isinstance(v, pikepdf.Dictionary) else _key(v)
                for v in value
            ]
        else:
            parent_tree[int(nums[index])] = _key(value)
    outlines: list[tuple[int, str]] = []
    with pdf.open_outline() as outline:

        def visit(items: list[pikepdf.OutlineItem], level: int) -> None:
            for item in items:
                outlines.append((level, str(item.title)))
                visit(list(item.children), level + 1)

        visit(list(outline.root), 1)
    return Tagged(
        root,
        [_read_page(page) for page in pdf.pages],
        list(annotations.values()),
        struct_root,
        parent_tree,
        outlines,
        pdf,
    )
