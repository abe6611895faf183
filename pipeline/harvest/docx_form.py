"""Read a returned DOCX review form back into {placeholder key: value}.

Forms are issued with legacy text form fields (FORMTEXT, see `pipeline.ooxml.form_contract`); forms
issued before that have content controls. Both are read, in document order, and each field's key
is found the first way that works, because office suites lose some on a round trip (doctech
§1.6: LibreOffice 7.4 drops `w:tag` on text controls, tag *and* alias on date controls; it keeps
a form field's `w:statusText` and `w:name`):

1. a form field's `w:statusText` "label [key]"; a content control's `w:tag`, then its
   `w:alias` "label [key]";
2. a form field's name `F001`…: the n-th key of the `FormFields` custom property (or of the
   caller's `order`, the key order of the profile's re-render);
3. position — fields with no key left are matched by their place between fields that were
   recognised, in that same key order.

A value is the field's text as typed (dates as written: the form asks for `yyyy-MM-dd`, a
content control's picked `w:fullDate` gives that form), a plain number or percentage in its
shortest digits (`12.50` -> `12.5`), the rule the tracker reader shares
(`pipeline.harvest.values`); a field still showing only its token or its blank line is None.
A value that still holds a token ('2027-06-30⟨date⟩') is returned as it is, never trimmed:
the harvest flags it (`results.is_placeholder`).

python-docx drops content-control text (doctech §1.7), so this walks the XML with lxml, never
resolving entities or touching the network.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from pipeline.diagnostics import PacksError
from pipeline.harvest.package import Package, PackageError, PackageKind, open_package
from pipeline.harvest.values import written
from pipeline.model import PlaceholderKind
from pipeline.ooxml.form_contract import (
    BLANK_CHAR,
    DOCUMENT_PART,
    FORM_FIELDS_PROPERTY,
    field_number,
    text_key,
)
from pipeline.ooxml.ns import (
    CUSTOM_NS,
    CUSTOM_PART,
    PACKAGE_RELS_PART,
    PKG_REL_NS,
    REL_OFFICE_DOCUMENT,
    w,
)

#: What an untouched control shows: the placeholder tokens (name fields show a line of blanks).
TOKENS = frozenset(k.token for k in PlaceholderKind)
ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})")
#: Controls of these kinds are form fields; others (a table of contents, a page-number
#: building block) are not.
FIELD_KINDS = frozenset({"text", "date", "richText", "comboBox", "dropDownList"})
#: How `open_package` names this file in its refusals.
FORM_PACKAGE = PackageKind("a DOCX review form", "review form")


def parse_part(data: bytes) -> Any:
    """A part of a returned form, parsed without entities, DTDs or the network."""
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
        rels = parse_part(z.read(PACKAGE_RELS_PART))
    except KeyError:
        return DOCUMENT_PART
    for rel in rels.iter(f"{{{PKG_REL_NS}}}Relationship"):
        if rel.get("Type") == REL_OFFICE_DOCUMENT:
            return str(posixpath.normpath(str(rel.get("Target", "")).lstrip("/")))
    return DOCUMENT_PART


def _field_order(z: Package) -> list[str]:
    try:
        custom = parse_part(z.read(CUSTOM_PART))
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
    found = text_key(alias)
    if found:
        return found
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


def _unfilled(text: str) -> bool:
    return not text or text in TOKENS or set(text) == {BLANK_CHAR}


def _value(sdt: Any, pr: Any) -> str | None:
    """A content control's filled value, or None while it still shows its placeholder.

    Unfilled is judged by the text (a token, a blank line, nothing), not by `w:showingPlcHdr`
    alone: LibreOffice drops that flag on text controls, and tools that fill text may forget it.
    """
    content = sdt.find(w("sdtContent"))
    text = "" if content is None else _text(content).strip()
    if _unfilled(text):
        return None
    picker = pr.find(w("date"))
    full = None if picker is None else picker.get(w("fullDate"))
    if full and (iso := ISO_DATE.match(full)):
        return iso.group(1)
    return text


class _FormField:
    """A FORMTEXT field met while walking the document: its ffData and its result text."""

    def __init__(self, data: Any) -> None:
        self.data = data
        self.result: list[str] = []
        self.separated = False

    def key(self, order: Sequence[str]) -> str | None:
        status = self.data.find(w("statusText"))
        found = text_key("" if status is None else status.get(w("val")) or "")
        if found:
            return found
        number = field_number(_val(self.data, "name") or "")
        if number is not None and 0 < number <= len(order):
            return order[number - 1]
        return None

    def value(self) -> str | None:
        text = "".join(self.result).strip()
        return None if _unfilled(text) else text


def fields(document: Any) -> list[Any]:
    """Every fill-in field in document order: innermost content controls (`w:sdt`) and text
    form fields (`_FormField`, from `w:fldChar` begin with `w:ffData/w:textInput` to its end)."""
    out: list[Any] = []
    open_fields: list[_FormField | None] = []  # every open complex field; None: not a form field
    for el in document.iter(w("sdt"), w("fldChar"), w("t"), w("tab"), w("br")):
        if el.tag == w("sdt"):
            pr = el.find(w("sdtPr"))
            if pr is None:
                pr = etree.Element(w("sdtPr"))
            if _is_field(pr) and el.find(f".//{w('sdt')}") is None:  # innermost only
                out.append((el, pr))
        elif el.tag == w("fldChar"):
            kind = el.get(w("fldCharType"))
            if kind == "begin":
                data = el.find(w("ffData"))
                field = None
                if data is not None and data.find(w("textInput")) is not None:
                    field = _FormField(data)
                    out.append(field)
                open_fields.append(field)
            elif kind == "separate" and open_fields and open_fields[-1] is not None:
                open_fields[-1].separated = True
            elif kind == "end" and open_fields:
                open_fields.pop()
        else:
            current = next((f for f in reversed(open_fields) if f is not None), None)
            if current is not None and current.separated:
                if el.tag == w("t"):
                    current.result.append(el.text or "")
                else:
                    current.result.append("\t" if el.tag == w("tab") else "\n")
    return out


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


@dataclass(frozen=True)
class FormDocument:
    """A review form's main part, parsed once (never changed afterwards), and the field keys
    its custom properties list: what the tamper check and `read_form` both read."""

    document: Any
    stored: tuple[str, ...]


def open_form(data: bytes) -> FormDocument:
    """Parse a review form's main part and its stored key order (a `PacksError` if it is none)."""
    try:
        with open_package(data, FORM_PACKAGE) as z:
            return FormDocument(parse_part(z.read(_main_part(z))), tuple(_field_order(z)))
    except KeyError as exc:
        raise PackageError(f"not a DOCX review form: {exc}") from None


def read_form(data: bytes, order: Sequence[str] | None = None) -> dict[str, str | None]:
    """{field key: filled value or None} for every fill-in field of a review form.

    `order` overrides the key order stored in the form (for files whose custom properties were
    lost: the profile's re-render gives it); fields that cannot be recognised by status text,
    name, tag, alias or position are left out.
    """
    return form_values(open_form(data), order)


def form_values(form: FormDocument, order: Sequence[str] | None = None) -> dict[str, str | None]:
    """`read_form` of a form already opened with `open_form`."""
    found = fields(form.document)
    expected = list(order) if order is not None else list(form.stored)
    keys = [
        f.key(expected) if isinstance(f, _FormField) else _key(f[1], frozenset(expected))
        for f in found
    ]
    if expected:
        keys = _place(keys, expected)
    out: dict[str, str | None] = {}
    for key, f in zip(keys, found, strict=True):
        if key:
            value = f.value() if isinstance(f, _FormField) else _value(*f)
            out[key] = None if value is None else written(value)
    return out
