"""Helpers the adversarial tests share: the CLI in-process, and real readers for every format."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from openpyxl import load_workbook
from pypdf import PdfReader

from pipeline.cli import main

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
#: Never resolve entities or fetch anything while reading test output.
SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def run_cli(argv: list[str], cwd: Path) -> Run:
    """`packs ARGV` in this process, from `cwd`, capturing stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stderr(err):
        code = main(argv, out=out)
    return Run(code, out.getvalue(), err.getvalue())


def write_tree(root: Path, files: Mapping[str, bytes | str]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return root


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` by relative path (empty when `root` does not exist)."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# --- DOCX ---------------------------------------------------------------------------------------


def w(tag: str) -> str:
    return f"{{{W_NS}}}{tag}"


def docx_part(data: bytes, name: str = "word/document.xml") -> etree._Element:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return etree.fromstring(z.read(name), SAFE_XML)


def paragraph_text(p: etree._Element) -> str:
    """A paragraph as Word shows it: text, tabs and breaks, content controls included."""
    parts = []
    for el in p.iter(w("t"), w("tab"), w("br"), w("cr")):
        if el.tag == w("t"):
            parts.append(el.text or "")
        else:
            parts.append("\t" if el.tag == w("tab") else "\n")
    return "".join(parts)


def docx_paragraphs(data: bytes) -> list[str]:
    return [paragraph_text(p) for p in docx_part(data).iter(w("p"))]


# --- XLSX ---------------------------------------------------------------------------------------


def xlsx_cells(data: bytes) -> dict[tuple[str, str], object]:
    """(sheet, coordinate) -> value for every non-empty cell, hidden sheets included."""
    wb = load_workbook(io.BytesIO(data))
    try:
        return {
            (ws.title, c.coordinate): c.value
            for ws in wb.worksheets
            for row in ws.iter_rows()
            for c in row
            if c.value is not None
        }
    finally:
        wb.close()


def xlsx_sheet_xml(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/sheet")}


# --- PDF ----------------------------------------------------------------------------------------


def squeeze(text: str) -> str:
    """No white space at all: PDF text extraction breaks lines wherever the layout wrapped."""
    return re.sub(r"\s+", "", text)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def pdf_pages(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)


def poppler_text(path: Path) -> str:
    """pdftotext's view: only what is printed inside the page box."""
    tool = shutil.which("pdftotext")
    if tool is None:
        raise AssertionError("pdftotext (poppler-utils) is required; tasks.py setup installs it")
    done = subprocess.run(
        [tool, "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# --- environment --------------------------------------------------------------------------------


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for a block (session fixtures cannot use monkeypatch)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
