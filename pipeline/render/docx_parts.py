"""The review form's other package parts, written fresh for every form.

Core, app and custom properties; the reference settings with "filling in forms" protection (and
Word's password hash); header and footer slots; section properties; content types and package
relationships with the custom properties part added.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from collections.abc import Sequence

from lxml import etree

from pipeline.diagnostics import PacksError
from pipeline.model import ProfileFrames
from pipeline.ooxml.archive import iso_utc
from pipeline.ooxml.ns import (
    APP_NS,
    CP_NS,
    CT_NS,
    CUSTOM_CONTENT_TYPE,
    CUSTOM_FMTID,
    CUSTOM_NS,
    CUSTOM_PART,
    DC_NS,
    DCTERMS_NS,
    PKG_REL_NS,
    REL_CUSTOM,
    VT_NS,
    XSI_NS,
    w,
)
from pipeline.render.docx_reference import DocxLayout, Element

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


def xml_bytes(root: Element) -> bytes:
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
    return xml_bytes(root)


def app_xml(generator: str) -> bytes:
    root = etree.Element(f"{{{APP_NS}}}Properties", nsmap={None: APP_NS, "vt": VT_NS})
    etree.SubElement(root, f"{{{APP_NS}}}Application").text = generator
    etree.SubElement(root, f"{{{APP_NS}}}DocSecurity").text = "0"
    return xml_bytes(root)


def custom_xml(properties: Sequence[tuple[str, str]]) -> bytes:
    root = etree.Element(f"{{{CUSTOM_NS}}}Properties", nsmap={None: CUSTOM_NS, "vt": VT_NS})
    for pid, (name, value) in enumerate(properties, start=2):  # pids start at 2 by the spec
        prop = etree.SubElement(
            root, f"{{{CUSTOM_NS}}}property", {"fmtid": CUSTOM_FMTID, "pid": str(pid), "name": name}
        )
        etree.SubElement(prop, f"{{{VT_NS}}}lpwstr").text = value
    return xml_bytes(root)


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
    return xml_bytes(root)


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
    return xml_bytes(root)


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


def content_types(ref: DocxLayout) -> bytes:
    root = copy.deepcopy(ref.content_types)
    etree.SubElement(
        root,
        f"{{{CT_NS}}}Override",
        {"PartName": f"/{CUSTOM_PART}", "ContentType": CUSTOM_CONTENT_TYPE},
    )
    return xml_bytes(root)


def package_rels(ref: DocxLayout) -> bytes:
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
    return xml_bytes(root)
