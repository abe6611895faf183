"""The DOCX review form (format `docx`): a Word form in which only the placeholders can be edited.

Every placeholder and every review / sign-off field is a legacy text form field (`FORMTEXT`: a
complex field whose `w:ffData` names it); the rest is plain text under "filling in forms"
protection. Why not content controls: LibreOffice 7.4 imports plain-text controls as input
fields that refuse typing under that protection, and its date controls refused it too, while a
FORMTEXT field takes typing in both suites and keeps its `w:ffData` through a LibreOffice save
(evidence: README, "Filling in the form"). Each field carries its key twice: `w:statusText`
"label [key]" (both suites keep it), and `w:name` `F001`… (Word's form-field bookmark, at most 20
characters), the position in the `FormFields` custom property.

The body is built with lxml from the frames; styles, numbering, header, footer and page setup come
from the layout's reference document (doctech §1.8), loaded once per process. The package is
zipped here, not by python-docx, so the same frames and timestamp give the same bytes.

The renderer switches on block types only (Record by style, Group), never on frame kinds.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import functools
import hashlib
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, assert_never

from lxml import etree

from pipeline.diagnostics import PacksError
from pipeline.layout import DocxStyles, Layout, RenderOptions
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
from pipeline.ooxml.archive import DOCX_ENTRIES, iso_utc, zip_bytes
from pipeline.ooxml.form_contract import (
    CANON_DIGEST_PROPERTY,
    CANON_VERSION_PROPERTY,
    DOCUMENT_PART,
    DOCUMENT_RELS_PART,
    FORM_FIELDS_PROPERTY,
    PROFILE_ID_PROPERTY,
    REVIEW_LINES,
    REVIEW_TITLE,
    SETTINGS_PART,
    SIGNOFF_COLUMNS,
    SIGNOFF_ROLES,
    SIGNOFF_TITLE,
    FormField,
    FormSegment,
    field_name,
    signoff_fields,
    status_text,
)
from pipeline.ooxml.ns import (
    APP_NS,
    APP_PART,
    CONTENT_TYPES_PART,
    CORE_PART,
    CP_NS,
    CT_NS,
    CUSTOM_CONTENT_TYPE,
    CUSTOM_FMTID,
    CUSTOM_NS,
    CUSTOM_PART,
    DC_NS,
    DCTERMS_NS,
    PACKAGE_RELS_PART,
    PKG_REL_NS,
    R_NS,
    REL_CUSTOM,
    REL_FOOTER,
    REL_HEADER,
    VT_NS,
    W_NS,
    XML_SPACE,
    XSI_NS,
    w,
)

#: Author and last-modified-by of every form (design.md: author = product name).
PRODUCT = "jobframe-packs"
#: Password hashing Word itself writes (SHA-512, legacy key first; ISO 29500 §17.15.1.28).
SPIN_COUNT = 100_000

#: Children of w:settings in schema order (CT_Settings), to insert w:documentProtection in place.
# fmt: off
SETTINGS_ORDER = (
    "writeProtection", "view", "zoom", "removePersonalInformation", "removeDateAndTime",
    "doNotDisplayPageBoundaries", "displayBackgroundShape", "printPostScriptOverText",
    "printFractionalCharacterWidth", "printFormsData", "embedTrueTypeFonts", "embedSystemFonts",
    "saveSubsetFonts", "saveFormsData", "mirrorMargins", "alignBordersAndEdges",
    "bordersDoNotSurroundHeader", "bordersDoNotSurroundFooter", "gutterAtTop",
    "hideSpellingErrors", "hideGrammaticalErrors", "activeWritingStyle", "proofState",
    "formsDesign", "attachedTemplate", "linkStyles", "stylePaneFormatFilter",
    "stylePaneSortMethod", "documentType", "mailMerge", "revisionView", "trackRevisions",
    "doNotTrackMoves", "doNotTrackFormatting", "documentProtection", "autoFormatOverride",
    "styleLockTheme", "styleLockQFSet", "defaultTabStop", "autoHyphenation",
    "consecutiveHyphenLimit", "hyphenationZone", "doNotHyphenateCaps", "showEnvelope",
    "summaryLength", "clickAndTypeStyle", "defaultTableStyle", "evenAndOddHeaders",
    "bookFoldRevPrinting", "bookFoldPrinting", "bookFoldPrintingSheets",
    "drawingGridHorizontalSpacing", "drawingGridVerticalSpacing",
    "displayHorizontalDrawingGridEvery", "displayVerticalDrawingGridEvery",
    "doNotUseMarginsForDrawingGridOrigin", "drawingGridHorizontalOrigin",
    "drawingGridVerticalOrigin", "doNotShadeFormData", "noPunctuationKerning",
    "characterSpacingControl", "printTwoOnOne", "strictFirstAndLastChars", "noLineBreaksAfter",
    "noLineBreaksBefore", "savePreviewPicture", "doNotValidateAgainstSchema", "saveInvalidXml",
    "ignoreMixedContent", "alwaysShowPlaceholderText", "doNotDemarcateInvalidXml",
    "saveXmlDataOnly", "useXSLTWhenSaving", "saveThroughXslt", "showXMLTags",
    "alwaysMergeEmptyNamespace", "updateFields", "hdrShapeDefaults", "footnotePr", "endnotePr",
    "compat", "docVars", "rsids", "mathPr", "attachedSchema", "themeFontLang",
    "clrSchemeMapping", "doNotIncludeSubdocsInStats", "doNotAutoCompressPictures",
    "forceUpgrade", "captions", "readModeInkLockDown", "smartTagType", "schemaLibrary",
    "shapeDefaults", "doNotEmbedSmartTags", "decimalSymbol", "listSeparator",
)
# fmt: on
#: Parts written fresh for every form; the reference's own copies are dropped.
FRESH_PARTS = frozenset(
    {CONTENT_TYPES_PART, PACKAGE_RELS_PART, CORE_PART, APP_PART, CUSTOM_PART, DOCUMENT_PART}
)
#: The style roles, declared with the layout's `docx.styles` (`pipeline.layout.DocxStyles`).
STYLE_ROLES = tuple(f.name for f in dataclasses.fields(DocxStyles))

Element: TypeAlias = Any  # lxml's _Element (lxml ships no type stubs)


# ---------------------------------------------------------------------------------------------
# The reference document and layout settings, loaded once per process
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocxLayout:
    """Everything the renderer takes from the layout: parsed once, then only copied."""

    #: Reference parts copied unchanged, in the reference's order.
    parts: tuple[tuple[str, bytes], ...]
    section: Element
    settings: Element
    #: Header and footer parts with {slot} text to fill per document.
    slotted: tuple[tuple[str, Element], ...]
    content_types: Element
    package_rels: Element
    styles: Mapping[str, str]
    page_sizes: Mapping[str, tuple[int, int]]
    margins: Mapping[str, int]
    date_format: str
    date_locale: str
    source_label: str
    text_field: str
    area_weights: tuple[int, ...]
    signoff_weights: tuple[int, ...]


def _parse(data: bytes) -> Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
    return etree.fromstring(data, parser)


def _layout_error(layout: Layout, message: str) -> PacksError:
    return PacksError(f"{layout.root / 'layout.yaml'}: docx: {message}")


def docx_layout(layout: Layout) -> DocxLayout:
    """The parsed reference document and settings of a layout, cached per layout folder."""
    return _load(layout)


@functools.lru_cache(maxsize=8)
def _load(layout: Layout) -> DocxLayout:
    settings = layout.config.docx
    reference = layout.path(settings.reference)
    try:
        with zipfile.ZipFile(reference) as z:
            raw = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    except (OSError, zipfile.BadZipFile) as exc:
        raise _layout_error(
            layout, f"cannot read the reference document {reference}: {exc}"
        ) from None
    files = dict(raw)
    rels = _parse(files[DOCUMENT_RELS_PART])
    slotted_names = [
        "word/" + rel.get("Target") for rel in rels if rel.get("Type") in (REL_HEADER, REL_FOOTER)
    ]
    section = _parse(files[DOCUMENT_PART]).find(f"{w('body')}/{w('sectPr')}")
    if section is None:
        raise _layout_error(layout, f"{reference} has no section properties")
    return DocxLayout(
        parts=tuple((n, b) for n, b in raw if n not in FRESH_PARTS),
        section=section,
        settings=_parse(files[SETTINGS_PART]),
        slotted=tuple((n, _parse(files[n])) for n in slotted_names),
        content_types=_parse(files[CONTENT_TYPES_PART]),
        package_rels=_parse(files[PACKAGE_RELS_PART]),
        styles={r: getattr(settings.styles, r) for r in STYLE_ROLES},
        page_sizes=settings.page_sizes,
        margins=settings.margins,
        date_format=settings.date.format,
        date_locale=settings.date.locale,
        source_label=settings.source_label,
        text_field=settings.text_field,
        area_weights=settings.area_column_weights,
        signoff_weights=settings.signoff_column_weights,
    )


# ---------------------------------------------------------------------------------------------
# Body
# ---------------------------------------------------------------------------------------------


class _Body:
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


# ---------------------------------------------------------------------------------------------
# Package parts
# ---------------------------------------------------------------------------------------------


def _xml(root: Element) -> bytes:
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    return data


def core_xml(frames: ProfileFrames, epoch: int, identity: str | None = None) -> bytes:
    """Explicit core properties: nothing inherited from python-docx's template (doctech §1.9)."""
    nsmap = {"cp": CP_NS, "dc": DC_NS, "dcterms": DCTERMS_NS, "xsi": XSI_NS}
    root = etree.Element(f"{{{CP_NS}}}coreProperties", nsmap=nsmap)
    values: tuple[tuple[str, str], ...] = (
        (f"{{{DC_NS}}}title", frames.document_title),
        (f"{{{DC_NS}}}subject", frames.breadcrumb),
        (f"{{{DC_NS}}}creator", PRODUCT),
        (f"{{{CP_NS}}}keywords", frames.profile_id),
        (f"{{{CP_NS}}}lastModifiedBy", PRODUCT),
        (f"{{{CP_NS}}}revision", "1"),
    )
    if identity is not None:
        values = ((f"{{{CP_NS}}}category", identity), *values)
    for tag, value in values:
        etree.SubElement(root, tag).text = value
    for tag in ("created", "modified"):
        el = etree.SubElement(root, f"{{{DCTERMS_NS}}}{tag}")
        el.set(f"{{{XSI_NS}}}type", "dcterms:W3CDTF")
        el.text = iso_utc(epoch)
    return _xml(root)


def app_xml(generator: str) -> bytes:
    root = etree.Element(f"{{{APP_NS}}}Properties", nsmap={None: APP_NS, "vt": VT_NS})
    etree.SubElement(root, f"{{{APP_NS}}}Application").text = generator
    etree.SubElement(root, f"{{{APP_NS}}}DocSecurity").text = "0"
    return _xml(root)


def custom_xml(properties: Sequence[tuple[str, str]]) -> bytes:
    root = etree.Element(f"{{{CUSTOM_NS}}}Properties", nsmap={None: CUSTOM_NS, "vt": VT_NS})
    for pid, (name, value) in enumerate(properties, start=2):  # pids start at 2 by the spec
        prop = etree.SubElement(
            root, f"{{{CUSTOM_NS}}}property", {"fmtid": CUSTOM_FMTID, "pid": str(pid), "name": name}
        )
        etree.SubElement(prop, f"{{{VT_NS}}}lpwstr").text = value
    return _xml(root)


def _legacy_key(password: str) -> str:
    """Word's legacy 32-bit password key as 8 upper-case hex digits (the hash input)."""
    # fmt: off
    initial = (0xE1F0, 0x1D0F, 0xCC9C, 0x84C0, 0x110C, 0x0E10, 0xF1CE, 0x313E, 0x1872, 0xE139,
               0xD40F, 0x84F9, 0x280C, 0xA96A, 0x4EC3)
    row_starts = (0xAEFC, 0x7B61, 0x4563, 0x0375, 0xD849, 0x6F45, 0xEB23, 0x47D3, 0xB861,
                  0x45A0, 0xAA51, 0x76B4, 0x3730, 0x3331, 0x1021)
    # fmt: on
    chars = [(ord(c) & 0xFF) or (ord(c) >> 8) & 0xFF for c in password[:15]]
    high = initial[len(chars) - 1]
    for i, char in enumerate(chars):
        value = row_starts[15 - len(chars) + i]
        for bit in range(7):  # each matrix entry is the one before doubled, 0x1021 folded in
            if char & (1 << bit):
                high ^= value
            value = ((value << 1) & 0xFFFF) ^ (0x1021 if value & 0x8000 else 0)
    low = 0
    for char in reversed(chars):
        low = (((low >> 14) & 1) | ((low << 1) & 0x7FFF)) ^ char
    low = (((low >> 14) & 1) | ((low << 1) & 0x7FFF)) ^ len(chars) ^ 0xCE4B
    key = (high << 16) | low
    return "".join(f"{(key >> (8 * i)) & 0xFF:02X}" for i in range(4))


def password_hash(password: str, salt: bytes, spin_count: int = SPIN_COUNT) -> bytes:
    digest = hashlib.sha512(salt + _legacy_key(password).encode("utf-16-le")).digest()
    for i in range(spin_count):
        digest = hashlib.sha512(digest + i.to_bytes(4, "little")).digest()
    return digest


def settings_xml(ref: DocxLayout, frames: ProfileFrames, password: str | None) -> bytes:
    """The reference settings plus "filling in forms" protection at its schema position."""
    root = copy.deepcopy(ref.settings)
    for old in root.findall(w("documentProtection")):
        root.remove(old)
    protection = etree.Element(w("documentProtection"))
    protection.set(w("edit"), "forms")
    protection.set(w("enforcement"), "1")
    if password:
        # A salt derived from the profile keeps the bytes reproducible; protection without
        # encryption is a guard against accidents, not security (doctech §1.4).
        seed = f"{frames.profile_id}\n{frames.canon_digest}\nform-protection".encode()
        salt = hashlib.sha256(seed).digest()[:16]
        for name, value in (
            ("cryptProviderType", "rsaAES"),
            ("cryptAlgorithmClass", "hash"),
            ("cryptAlgorithmType", "typeAny"),
            ("cryptAlgorithmSid", "14"),
            ("cryptSpinCount", str(SPIN_COUNT)),
            ("hash", base64.b64encode(password_hash(password, salt)).decode()),
            ("salt", base64.b64encode(salt).decode()),
        ):
            protection.set(w(name), value)
    position = SETTINGS_ORDER.index("documentProtection")
    for child in root:
        local = etree.QName(child).localname if isinstance(child.tag, str) else ""
        rank = SETTINGS_ORDER.index(local) if local in SETTINGS_ORDER else len(SETTINGS_ORDER)
        if rank > position:
            child.addprevious(protection)
            break
    else:
        root.append(protection)
    return _xml(root)


SLOT = re.compile(r"\{(profile_id|canon_version|canon_digest|document_title|page_title)\}")


def fill_slots(part: Element, frames: ProfileFrames) -> bytes:
    """Header / footer text with {slot}s replaced in one pass (values are never re-scanned)."""
    values = {
        "profile_id": frames.profile_id,
        "canon_version": frames.canon_version,
        "canon_digest": frames.canon_digest,
        "document_title": frames.document_title,
        "page_title": frames.page_title,
    }
    root = copy.deepcopy(part)

    def fill(match: re.Match[str]) -> str:
        return values[match.group(1)]

    for t in root.iter(w("t")):
        if t.text:
            t.text = SLOT.sub(fill, t.text)
    return _xml(root)


def section_properties(ref: DocxLayout, page_size: str) -> tuple[Element, int]:
    """The reference's section with the chosen page size and the layout's margins."""
    if page_size not in ref.page_sizes:
        raise PacksError(
            f"page size '{page_size}' is not in the layout (known: {', '.join(ref.page_sizes)})"
        )
    width, height = ref.page_sizes[page_size]
    sect = copy.deepcopy(ref.section)
    size = sect.find(w("pgSz"))
    size.set(w("w"), str(width))
    size.set(w("h"), str(height))
    margin = sect.find(w("pgMar"))
    for name, value in ref.margins.items():
        margin.set(w(name), str(value))
    return sect, width - ref.margins["left"] - ref.margins["right"]


def _content_types(ref: DocxLayout) -> bytes:
    root = copy.deepcopy(ref.content_types)
    etree.SubElement(
        root,
        f"{{{CT_NS}}}Override",
        {"PartName": f"/{CUSTOM_PART}", "ContentType": CUSTOM_CONTENT_TYPE},
    )
    return _xml(root)


def _package_rels(ref: DocxLayout) -> bytes:
    root = copy.deepcopy(ref.package_rels)
    used = {rel.get("Id") for rel in root}
    number = 1
    while f"rId{number}" in used:
        number += 1
    etree.SubElement(
        root,
        f"{{{PKG_REL_NS}}}Relationship",
        {"Id": f"rId{number}", "Type": REL_CUSTOM, "Target": CUSTOM_PART},
    )
    return _xml(root)


def render(frames: ProfileFrames, layout: Layout, options: RenderOptions) -> bytes:
    ref = docx_layout(layout)
    epoch = options.timestamp or 0
    section, text_width = section_properties(ref, options.page_size)
    body = _Body(ref, text_width, dict(options.fields))
    body.title_block(frames)
    for frame in frames.frames:
        body.frame(frame)
    body.review_block()
    body.body.append(section)

    replaced = {
        SETTINGS_PART: settings_xml(ref, frames, options.form_password),
        **{name: fill_slots(part, frames) for name, part in ref.slotted},
    }
    properties = (
        (PROFILE_ID_PROPERTY, frames.profile_id),
        (CANON_DIGEST_PROPERTY, frames.canon_digest),
        (CANON_VERSION_PROPERTY, frames.canon_version),
        (FORM_FIELDS_PROPERTY, " ".join(body.keys)),
    )
    parts = [
        (CONTENT_TYPES_PART, _content_types(ref)),
        (PACKAGE_RELS_PART, _package_rels(ref)),
        (CORE_PART, core_xml(frames, epoch, options.identity)),
        (APP_PART, app_xml(options.generator)),
        (CUSTOM_PART, custom_xml(properties)),
        (DOCUMENT_PART, _xml(body.root)),
        *((name, replaced.get(name, data)) for name, data in ref.parts),
    ]
    return zip_bytes(parts, epoch, DOCX_ENTRIES)
