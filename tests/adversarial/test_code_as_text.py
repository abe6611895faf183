"""Canon text that is code somewhere (HTML, CSS, URLs, Word fields, XML, formulas, templates)
shows literally in every format, read back with real readers; nothing is fetched, nothing runs,
nothing becomes a field, a formula or a link.

One hostile canon (every field kind) is built once by `packs build` (conftest `hostile_build`);
LibreOffice prints its DOCX and XLSX in the session's one conversion call (`office_pdfs`).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from pipeline.render import FORMATS
from tests.adversarial.conftest import CODE_TEXTS, FIELD_TEXTS, Built
from tests.adversarial.support import (
    SAFE_XML,
    docx_paragraphs,
    pdf_text,
    poppler_text,
    squeeze,
    w,
    xlsx_cells,
    xlsx_sheet_xml,
)

#: Field texts a format does not print by design (the plain text has no badges line).
NOT_PRINTED = {"txt": {"badge"}}
#: What a formula looks like inside sheet XML.
FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")


def strings(value: Any) -> Iterator[str]:
    """Every string inside parsed JSON."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def shown_text(built: Built, fmt: str) -> str:
    """What a reader of the format sees, as one string (white space squeezed for the PDF)."""
    data = built.data(fmt) if fmt in FORMATS else b""
    if fmt == "txt":
        return data.decode("utf-8")
    if fmt == "json":  # the frames JSON travels inside the handout
        reader = PdfReader(built.file("pdf"))
        (attached,) = reader.attachments["frames.json"]
        return "\n".join(strings(json.loads(attached)))
    if fmt == "docx":
        return "\n".join(docx_paragraphs(data))
    if fmt == "xlsx":
        return "\n".join(str(v) for v in xlsx_cells(data).values())
    if fmt == "pdf":
        return squeeze(pdf_text(data))
    if fmt == "pdf-poppler":  # what prints inside the page, by a second extractor
        return squeeze(poppler_text(built.file("pdf")))
    raise AssertionError(fmt)


@pytest.mark.parametrize("fmt", [*FORMATS, "json", "pdf-poppler"])
def test_every_format_shows_the_code_literally(hostile_build: Built, fmt: str) -> None:
    shown = shown_text(hostile_build, fmt)
    fit = squeeze if fmt.startswith("pdf") else str
    missing = [t for t in CODE_TEXTS if fit(t) not in shown]
    assert not missing, f"{fmt}: not shown literally: {missing}"
    skipped = NOT_PRINTED.get(fmt, set())
    missing = [k for k, t in FIELD_TEXTS.items() if k not in skipped and fit(t) not in shown]
    assert not missing, f"{fmt}: these fields' text is not shown literally: {missing}"


def test_the_pdf_fetches_nothing_and_links_nowhere(hostile_build: Built) -> None:
    assert hostile_build.fetched == [], "WeasyPrint was asked to fetch canon-named URLs"
    assert hostile_build.logged == [], "WeasyPrint refused or failed something"
    reader = PdfReader(hostile_build.file("pdf"))
    for number, page in enumerate(reader.pages, 1):
        for ref in page.get("/Annots") or []:
            annot = ref.get_object()
            action = annot.get("/A")
            kind = action.get_object().get("/S") if action is not None else None
            assert kind in (None, "/GoTo"), f"page {number}: a {kind} action from canon text"
            assert "/URI" not in str(annot), f"page {number}: a link out of the document"
    catalog = reader.trailer["/Root"]
    assert "/OpenAction" not in catalog and "/AA" not in catalog
    names = catalog.get("/Names")
    assert names is None or "/JavaScript" not in names.get_object()
    assert list(reader.attachments) == ["frames.json"]


def test_docx_has_no_fields_and_no_links(hostile_build: Built) -> None:
    from lxml import etree

    data = hostile_build.data("docx")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        parts = {n: z.read(n) for n in names if n.startswith("word/") and n.endswith(".xml")}
        rels = b"".join(z.read(n) for n in names if n.endswith(".rels"))
    for name, xml in parts.items():
        root = etree.fromstring(xml, SAFE_XML)
        for forbidden in ("fldSimple", "hyperlink", "object", "altChunk"):
            assert root.find(f".//{w(forbidden)}") is None, f"{name}: w:{forbidden}"
        instructions = {(i.text or "").strip() for i in root.iter(w("instrText"))}
        # The layout's own footer numbers pages, the body's fields are the form's text form
        # fields (each with its ffData); no other field exists anywhere.
        allowed = {"PAGE", "NUMPAGES", ""} if "footer" in name else set()
        if name == "word/document.xml":
            allowed = {"FORMTEXT"}
            count = len(list(root.iter(w("instrText"))))
            assert count == len(list(root.iter(w("ffData")))), name
        assert instructions <= allowed, name
        assert {t.getparent().tag for t in root.iter(w("t"))} <= {w("r")}, name
        assert all(t.text != "injected" for t in root.iter(w("t"))), f"{name}: XML got in"
    assert b"TargetMode" not in rels and b"/hyperlink" not in rels


def test_xlsx_has_no_formulas_and_no_links(hostile_build: Built) -> None:
    data = hostile_build.data("xlsx")
    for member, xml in xlsx_sheet_xml(data).items():
        assert not FORMULA.search(xml), f"a formula in {member}"
        assert b"<hyperlink" not in xml, f"a hyperlink in {member}"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert not [n for n in z.namelist() if "externalLink" in n]
    wb = load_workbook(io.BytesIO(data))
    found = {
        c.value: c.data_type
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if isinstance(c.value, str)
    }
    for text in CODE_TEXTS:
        assert found.get(text) == "s", f"{text!r} is not a literal string cell"


def test_xlsx_page_header_keeps_canon_text_verbatim(hostile_build: Built) -> None:
    with zipfile.ZipFile(io.BytesIO(hostile_build.data("xlsx"))) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
    header = re.search(r"<oddHeader>(.*?)</oddHeader>", xml)
    if header is None or not header.group(1):
        return  # no header at all is fine: it is a courtesy, never a place to cut canon text
    escaped = FIELD_TEXTS["focus name"].replace("&", "&&")
    shown = header.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    assert escaped in shown  # `&&` is Excel's literal ampersand: `&P` is not a page number


@pytest.mark.office
@pytest.mark.parametrize("name", ["hostile-form.docx", "hostile-tracker.xlsx"])
def test_libreoffice_prints_the_code_as_text(office_pdfs: dict[str, Path], name: str) -> None:
    """A real office suite opens the files and prints every hostile text as typed, links none."""
    pdf = office_pdfs[name]
    printed = squeeze(poppler_text(pdf))
    missing = [t for t in CODE_TEXTS if squeeze(t) not in printed]
    assert not missing, f"{name}: LibreOffice does not print these literally: {missing}"
    if name.endswith(".xlsx"):  # the page header shows the focus name, `&P` and all
        assert squeeze(FIELD_TEXTS["focus name"]) in printed
    for page in PdfReader(pdf).pages:
        for ref in page.get("/Annots") or []:
            assert "/URI" not in str(ref.get_object()), f"{name}: LibreOffice made a link"
