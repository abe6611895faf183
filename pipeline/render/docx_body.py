"""The review form's body (`word/document.xml`): paragraphs, tables and text form fields.

Built with lxml from the frames, by block type only (Record by style, Group), never by frame kind.
Every placeholder and every review / sign-off field is a FORMTEXT field named and labelled as
`pipeline.ooxml.form_contract` says, so the harvest can read it back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import assert_never

from lxml import etree

from pipeline.model import (
    Field,
    Frame,
    Group,
    Placeholder,
    PlaceholderKind,
    ProfileFrames,
    Record,
    RecordStyle,
    Text,
)
from pipeline.ooxml.form_contract import (
    REVIEW_LINES,
    REVIEW_TITLE,
    SIGNOFF_COLUMNS,
    SIGNOFF_ROLES,
    SIGNOFF_TITLE,
    FormField,
    FormSegment,
    field_name,
    signoff_fields,
    status_text,
)
from pipeline.ooxml.ns import R_NS, W_NS, XML_SPACE, w
from pipeline.render.docx_reference import DocxLayout, Element


class Body:
    """Appends paragraphs, tables and form fields to w:body, numbering the fields."""

    def __init__(
        self, ref: DocxLayout, text_width: int, values: Mapping[str, str] | None = None
    ) -> None:
        #: Review-field values filled in (a cycle's personal form); see `field_value`.
        self.values: Mapping[str, str] = values or {}
        self.ref = ref
        self.style = ref.styles
        self.text_width = text_width
        self.root = etree.Element(w("document"), nsmap={"w": W_NS, "r": R_NS})
        self.body = etree.SubElement(self.root, w("body"))
        self.keys: list[str] = []

    # -- runs and paragraphs ------------------------------------------------------------------

    def paragraph(self, role: str, parent: Element | None = None) -> Element:
        p = etree.SubElement(self.body if parent is None else parent, w("p"))
        ppr = etree.SubElement(p, w("pPr"))
        etree.SubElement(ppr, w("pStyle"), {w("val"): self.style[role]})
        return p

    def run(self, parent: Element, text: str, role: str | None = None) -> Element:
        """Literal text: tabs and line breaks become w:tab / w:br, everything else stays as is."""
        r = etree.SubElement(parent, w("r"))
        if role is not None:
            rpr = etree.SubElement(r, w("rPr"))
            etree.SubElement(rpr, w("rStyle"), {w("val"): self.style[role]})
        for n, line in enumerate(text.split("\n")):
            if n:
                etree.SubElement(r, w("br"))
            for m, chunk in enumerate(line.split("\t")):
                if m:
                    etree.SubElement(r, w("tab"))
                if chunk:
                    t = etree.SubElement(r, w("t"))
                    t.text = chunk
                    t.set(XML_SPACE, "preserve")
        return r

    def text(self, role: str, text: str, parent: Element | None = None) -> Element:
        p = self.paragraph(role, parent)
        self.run(p, text)
        return p

    def source(self, parent: Element, source: str, prefix: str = "") -> None:
        self.run(parent, prefix + self.ref.source_label.replace("{source}", source), "source_label")

    def segments(self, parent: Element, segments: Iterable[FormSegment]) -> None:
        for seg in segments:
            match seg:
                case Text():
                    self.run(parent, seg.text)
                case Placeholder():
                    self.control(
                        parent, seg.key, seg.label, seg.token, seg.kind is PlaceholderKind.DATE
                    )
                case FormField():
                    token = PlaceholderKind.DATE.token if seg.date else self.ref.text_field
                    value = self.field_value(seg.key)
                    self.control(parent, seg.key, seg.label, token, seg.date, value)
                case _:
                    assert_never(seg)

    def field_value(self, key: str) -> str | None:
        """The value a review field is filled with, by key (None: empty, shows its token).

        The one place a personal value enters the form: whatever technology draws the field
        (a FORMTEXT field today), it asks here."""
        return self.values.get(key)

    def control(
        self,
        parent: Element,
        key: str,
        label: str,
        token: str,
        date: bool,
        value: str | None = None,
    ) -> None:
        """A text form field (FORMTEXT) showing its token in the fill-in style, or `value` as
        plain text (still an editable field)."""
        self.keys.append(key)
        status = status_text(label, key)
        begin = self.field_char(parent, "begin")
        data = etree.SubElement(begin, w("ffData"))
        etree.SubElement(data, w("name"), {w("val"): field_name(len(self.keys))})
        etree.SubElement(data, w("enabled"))
        etree.SubElement(data, w("calcOnExit"), {w("val"): "0"})
        etree.SubElement(data, w("statusText"), {w("type"): "text", w("val"): status})
        text_input = etree.SubElement(data, w("textInput"))
        if date:
            etree.SubElement(text_input, w("type"), {w("val"): "date"})
            etree.SubElement(text_input, w("format"), {w("val"): self.ref.date_format})
        instr = etree.SubElement(etree.SubElement(parent, w("r")), w("instrText"))
        instr.text = " FORMTEXT "
        instr.set(XML_SPACE, "preserve")
        self.field_char(parent, "separate")
        if value is None:
            self.run(parent, token, "placeholder")
        else:
            self.run(parent, value)
        self.field_char(parent, "end")

    def field_char(self, parent: Element, kind: str) -> Element:
        """A run holding one field character (begin, separate, end) of a complex field."""
        return etree.SubElement(
            etree.SubElement(parent, w("r")), w("fldChar"), {w("fldCharType"): kind}
        )

    # -- tables -------------------------------------------------------------------------------

    def table(self, weights: Sequence[int], headings: Sequence[str]) -> tuple[Element, list[int]]:
        count = len(headings)
        if len(weights) != count:
            weights = [1] * count
        widths = [self.text_width * wt // sum(weights) for wt in weights]
        tbl = etree.SubElement(self.body, w("tbl"))
        tpr = etree.SubElement(tbl, w("tblPr"))
        etree.SubElement(tpr, w("tblStyle"), {w("val"): self.style["table"]})
        etree.SubElement(tpr, w("tblW"), {w("w"): str(sum(widths)), w("type"): "dxa"})
        etree.SubElement(tpr, w("tblLayout"), {w("type"): "fixed"})
        etree.SubElement(
            tpr,
            w("tblLook"),
            {
                w("val"): "04A0",
                w("firstRow"): "1",
                w("lastRow"): "0",
                w("firstColumn"): "1",
                w("lastColumn"): "0",
                w("noHBand"): "0",
                w("noVBand"): "1",
            },
        )
        grid = etree.SubElement(tbl, w("tblGrid"))
        for width in widths:
            etree.SubElement(grid, w("gridCol"), {w("w"): str(width)})
        cells = self.row(tbl, widths, header=True)
        for cell, heading in zip(cells, headings, strict=True):
            self.text("table_heading", heading, cell)
        return tbl, widths

    def row(self, tbl: Element, widths: Sequence[int], header: bool = False) -> list[Element]:
        tr = etree.SubElement(tbl, w("tr"))
        if header:
            trpr = etree.SubElement(tr, w("trPr"))
            etree.SubElement(trpr, w("cantSplit"))
            etree.SubElement(trpr, w("tblHeader"))
        cells = []
        for width in widths:
            tc = etree.SubElement(tr, w("tc"))
            tcpr = etree.SubElement(tc, w("tcPr"))
            etree.SubElement(tcpr, w("tcW"), {w("w"): str(width), w("type"): "dxa"})
            cells.append(tc)
        return cells

    # -- frames -------------------------------------------------------------------------------

    def title_block(self, frames: ProfileFrames) -> None:
        self.text("title", frames.document_title)
        self.text("breadcrumb", frames.breadcrumb)
        self.text("intro", frames.intro)
        if frames.badges:
            self.text("badges", "  ·  ".join(f"{b.name}: {b.value}" for b in frames.badges))

    def frame(self, frame: Frame) -> None:
        self.text("frame_title", frame.title)
        if frame.intro:
            self.text("frame_intro", frame.intro)
        areas: list[Record] = []
        for block in frame.blocks:
            if isinstance(block, Record) and block.style is RecordStyle.AREA:
                areas.append(block)
                continue
            self.area_table(frame, areas)
            areas = []
            match block:
                case Record():
                    self.record(block)
                case Group():
                    self.group(block)
                case _:
                    assert_never(block)
        self.area_table(frame, areas)

    def record(self, record: Record) -> None:
        match record.style:
            case RecordStyle.GOAL:
                self.text("record_heading", f"{record.number}. {record.heading}")
                self.source(self.paragraph("source_line"), record.source)
                for f in record.fields:
                    self.field("field", f, f"{f.label}: ")
            case RecordStyle.RESULTS:
                self.text("record_heading", f"Objective {record.number}: {record.heading}")
                self.source(self.paragraph("source_line"), record.source)
                for f in record.fields:
                    self.field("key_result", f, f"{f.label}. ")
            case RecordStyle.AREA:  # drawn by area_table; a lone one is a one-row table
                self.area_table(None, [record])
            case _:
                assert_never(record.style)

    def field(self, role: str, f: Field, label: str, parent: Element | None = None) -> None:
        p = self.paragraph(role, parent)
        self.run(p, label, "field_label")
        self.segments(p, f.line)

    def area_table(self, frame: Frame | None, records: Sequence[Record]) -> None:
        """All AREA records of a run as ONE table: heading column, then a column per field."""
        if not records:
            return
        columns: tuple[str, ...] = frame.columns if frame is not None else ()
        if not columns:
            labels = dict.fromkeys(f.label for r in records for f in r.fields)
            columns = ("", *labels)
        tbl, widths = self.table(self.ref.area_weights, columns)
        for record in records:
            cells = self.row(tbl, widths)
            self.text("table_text", f"{record.number}. {record.heading}", cells[0])
            self.source(self.paragraph("table_text", cells[0]), record.source)
            by_label = {f.label: f for f in record.fields}
            for cell, column in zip(cells[1:], columns[1:], strict=True):
                f = by_label.pop(column, None)
                p = self.paragraph("table_text", cell)
                if f is not None:
                    self.segments(p, f.line)
            for f in by_label.values():  # a field with no column still shows, in the first cell
                self.field("table_text", f, f"{f.label}: ", cells[0])

    def group(self, group: Group) -> None:
        self.text("group_heading", group.heading)
        for item in group.items:
            p = self.paragraph("item")
            self.segments(p, item.line)
            etree.SubElement(etree.SubElement(p, w("r")), w("br"))
            self.source(p, item.source)

    def review_block(self) -> None:
        self.text("frame_title", REVIEW_TITLE)
        for label, segments in REVIEW_LINES:
            p = self.paragraph("form_line")
            self.run(p, label, "field_label")
            self.segments(p, segments)
        self.text("frame_title", SIGNOFF_TITLE)
        tbl, widths = self.table(self.ref.signoff_weights, SIGNOFF_COLUMNS)
        for role, name in SIGNOFF_ROLES:
            cells = self.row(tbl, widths)
            self.text("table_text", name, cells[0])
            for cell, form_field in zip(cells[1:], signoff_fields(role, name), strict=True):
                self.segments(self.paragraph("table_text", cell), (form_field,))
        # The body must not end on a table: LibreOffice 7.4 clips the last row (the HR sign-off)
        # in its layout and PDF otherwise.
        self.paragraph("form_line")
