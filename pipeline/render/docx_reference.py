"""The review form's reference document and the layout's `docx:` settings, loaded once per process.

Styles, numbering, header, footer and page setup come from the layout's reference document
(doctech §1.8); it is parsed once per layout (`docx_layout`, cached on the hashable `Layout`) and
afterwards only copied, so every form starts from the same parts.
"""

from __future__ import annotations

import dataclasses
import functools
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from lxml import etree

from pipeline.diagnostics import PacksError
from pipeline.layout import DocxStyles, Layout
from pipeline.ooxml.form_contract import DOCUMENT_PART, DOCUMENT_RELS_PART, SETTINGS_PART
from pipeline.ooxml.ns import (
    APP_PART,
    CONTENT_TYPES_PART,
    CORE_PART,
    CUSTOM_PART,
    PACKAGE_RELS_PART,
    REL_FOOTER,
    REL_HEADER,
    w,
)

#: Parts written fresh for every form; the reference's own copies are dropped.
FRESH_PARTS = frozenset(
    {CONTENT_TYPES_PART, PACKAGE_RELS_PART, CORE_PART, APP_PART, CUSTOM_PART, DOCUMENT_PART}
)
#: The style roles, declared with the layout's `docx.styles` (`pipeline.layout.DocxStyles`).
STYLE_ROLES = tuple(f.name for f in dataclasses.fields(DocxStyles))


Element: TypeAlias = Any  # lxml's _Element (lxml ships no type stubs)


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
        source_label=settings.source_label,
        text_field=settings.text_field,
        area_weights=settings.area_column_weights,
        signoff_weights=settings.signoff_column_weights,
    )
