"""The XLSX package as openpyxl writes it, kept in memory and zipped deterministically.

`MemoryExcelWriter` is openpyxl's `ExcelWriter` with each sheet serialised in memory; it writes
into `PackageParts`, which zips the parts once with the render's timestamp (`archive`'s
`XLSX_ENTRIES`). Used by the tracker writer (`pipeline.render.to_xlsx`), the harvest's results
workbook and the canon exchange workbook. openpyxl private touch points: see
`pipeline.render.weasyprint70` (the upgrade checklist).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.writer.excel import ExcelWriter

from pipeline.ooxml.archive import XLSX_ENTRIES, naive_utc, zip_bytes
from pipeline.ooxml.ns import CONTENT_TYPES_PART


class MemoryExcelWriter(ExcelWriter):  # type: ignore[misc]
    """openpyxl's writer, but each sheet is serialised in memory, not through a temporary file.

    A renderer must not touch the file system, and the temp-file round trip was a fifth of the
    render time. Mirrors `ExcelWriter.write_worksheet` of openpyxl 3.1 (pinned <3.2).
    """

    def write_worksheet(self, ws: Any) -> None:
        ws._drawing = SpreadsheetDrawing()
        ws._drawing.charts = ws._charts
        ws._drawing.images = ws._images
        writer = WorksheetWriter(ws, out=io.BytesIO())
        writer.write()
        ws._rels = writer._rels
        self._archive.writestr(ws.path[1:], writer.read())
        self.manifest.append(ws)


class PackageParts:
    """The archive `ExcelWriter` writes into: parts kept in memory, zipped once by `package`.

    A zip file would stamp each entry with the current time; here every entry gets the render's
    timestamp and `[Content_Types].xml` comes first, so the same input gives the same bytes.
    """

    def __init__(self) -> None:
        self.parts: dict[str, bytes] = {}

    def writestr(self, name: str, data: str | bytes) -> None:
        self.parts[name] = data.encode("utf-8") if isinstance(data, str) else data

    def namelist(self) -> list[str]:
        return list(self.parts)

    def close(self) -> None:
        """Nothing to flush; `package` builds the zip."""

    def package(self, epoch: int) -> bytes:
        names = sorted(self.parts, key=lambda n: n != CONTENT_TYPES_PART)
        return zip_bytes(((name, self.parts[name]) for name in names), epoch, XLSX_ENTRIES)


def workbook_package(
    wb: Any,
    epoch: int | None,
    creator: str,
    title: str,
    writer: Callable[[Any, PackageParts], MemoryExcelWriter] = MemoryExcelWriter,
) -> bytes:
    """An openpyxl workbook as every XLSX of ours is zipped: `creator` as its creator and last
    editor, created and modified at the epoch (None: 0), titled `title`, written by `writer`
    into `PackageParts` and packaged with the same epoch. Other properties are the caller's,
    set before."""
    props = wb.properties
    props.creator = props.lastModifiedBy = creator
    props.created = props.modified = naive_utc(epoch)
    props.title = title
    parts = PackageParts()
    writer(wb, parts).save()
    return parts.package(epoch or 0)
