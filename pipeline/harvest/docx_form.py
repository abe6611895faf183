"""Read a returned DOCX review form back into {placeholder key: value}.

The form's content controls carry their key three ways, and this reader tries them in that order
because office suites lose some on a round trip (doctech §1.6: LibreOffice 7.4 drops `w:tag` on
text controls, tag *and* alias on date controls):

1. `w:tag` — the key itself;
2. `w:alias` — "label [key]";
3. position — the `FormFields` custom property lists every key in document order; controls with
   neither tag nor alias are matched by their place between controls that were recognised.

python-docx drops content-control text (doctech §1.7), so this walks the XML with lxml, never
resolving entities or touching the network.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from typing import Any

from lxml import etree

from pipeline.diagnostics import PacksError
from pipeline.harvest.package import Package, PackageKind, open_package
from pipeline.model import PlaceholderKind
from pipeline.ooxml.ns import CUSTOM_NS, PKG_REL_NS, REL_OFFICE_DOCUMENT, w
from pipeline.render.to_docx import ALIAS_KEY, BLANK_CHAR, FORM_FIELDS_PROPERTY

#: What an untouched control shows: the placeholder tokens (name fields show a line of blanks).
TOKENS = frozenset(k.token for k in PlaceholderKind)
ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})")
#: Controls of these kinds are form fields; others (a table of contents, a page-number
#: building block) are not.
FIELD_KINDS = frozenset({"text", "date", "richText", "comboBox", "dropDownList"})
#: How `open_package` names this file in its refusals.
FORM_PACKAGE = PackageKind("a DOCX review form", "review form")


def _parse(data: bytes) -> Any:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False
    )
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise PacksError(f"the review form is not readable XML: {exc}") from None


def _main_part(z: Package) -> str:
    """The document part named by the package relationships (word/document.xml as a rule)."""
    try:
        rels = _parse(z.read("_rels/.rels"))
    except KeyError:
        return "word/document.xml"
    for rel in rels.iter(f"{{{PKG_REL_NS}}}Relationship"):
        if rel.get("Type") == REL_OFFICE_DOCUMENT:
            return str(posixpath.normpath(str(rel.get("Target", "")).lstrip("/")))
    return "word/document.xml"


def _field_order(z: Package) -> list[str]:
    try:
        custom = _parse(z.read("docProps/custom.xml"))
    except KeyError:
        return []
    for prop in custom.iter(f"{{{CUSTOM_NS}}}property"):
        if prop.get("name") == FORM_FIELDS_PROPERTY:
            return "".join(prop.itertext()).split()
    return []


def _val(parent: Any, tag: str) -> str | None:
    el = parent.find(w(tag))
    return None if el is None else el.get(w("val"))


def _key(pr: Any, known: frozenset[str]) -> str | None:
    tag = _val(pr, "tag")
    if tag:
        return tag
    alias = _val(pr, "alias") or ""
    found = ALIAS_KEY.search(alias)
    if found:
        return found.group(1)
    return alias if alias in known else None  # an alias that is the key itself


def _is_field(pr: Any) -> bool:
    kinds = {etree.QName(c).localname for c in pr if isinstance(c.tag, str)}
    return bool(kinds & FIELD_KINDS) or not kinds & {"docPartObj", "docPartList", "group"}


def _text(content: Any) -> str:
    parts = []
    for el in content.iter(w("t"), w("tab"), w("br")):
        if el.tag == w("t"):
            parts.append(el.text or "")
        else:
            parts.append("\t" if el.tag == w("tab") else "\n")
    return "".join(parts)


def _value(sdt: Any, pr: Any) -> str | None:
    """The filled value, or None while the control still shows its placeholder.

    Unfilled is judged by the text (a token, a blank line, nothing), not by `w:showingPlcHdr`
    alone: LibreOffice drops that flag on text controls, and tools that fill text may forget it.
    """
    content = sdt.find(w("sdtContent"))
    text = "" if content is None else _text(content).strip()
    if not text or text in TOKENS or set(text) == {BLANK_CHAR}:
        return None
    picker = pr.find(w("date"))
    full = None if picker is None else picker.get(w("fullDate"))
    if full and (iso := ISO_DATE.match(full)):
        return iso.group(1)
    return text


def _place(keys: list[str | None], order: Sequence[str]) -> list[str | None]:
    """Fill unrecognised controls from `order`, between the neighbours that were recognised."""
    index = {k: i for i, k in enumerate(order)}
    placed = list(keys)
    start = 0
    prev = -1
    while start < len(placed):
        if placed[start] is not None:
            prev = index.get(placed[start] or "", prev)
            start += 1
            continue
        end = start
        while end < len(placed) and placed[end] is None:
            end += 1
        nxt = len(order)
        if end < len(placed):
            nxt = index.get(placed[end] or "", len(order))
        gap = order[prev + 1 : nxt]
        if len(gap) == end - start:  # only an exact fit is trusted
            placed[start:end] = gap
        start = end
    return placed


def read_form(data: bytes, order: Sequence[str] | None = None) -> dict[str, str | None]:
    """{control key: filled value or None} for every content control of a review form.

    `order` overrides the key order stored in the form (for files whose custom properties were
    lost); controls that cannot be recognised by tag, alias or position are left out.
    """
    try:
        with open_package(data, FORM_PACKAGE) as z:
            document = _parse(z.read(_main_part(z)))
            stored = _field_order(z)
    except KeyError as exc:
        raise PacksError(f"not a DOCX review form: {exc}") from None
    controls = []
    for sdt in document.iter(w("sdt")):
        pr = sdt.find(w("sdtPr"))
        if pr is None:
            pr = etree.Element(w("sdtPr"))
        if _is_field(pr) and sdt.find(f".//{w('sdt')}") is None:  # innermost controls only
            controls.append((sdt, pr))
    expected = list(order) if order is not None else stored
    keys = [_key(pr, frozenset(expected)) for _, pr in controls]
    if expected:
        keys = _place(keys, expected)
    return {key: _value(sdt, pr) for key, (sdt, pr) in zip(keys, controls, strict=True) if key}
