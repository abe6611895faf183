"""The cell values of a returned XLSX workbook, read by streaming its sheet XML with lxml.

openpyxl builds an object per cell and parses the whole stylesheet; for a harvest of thousands of
trackers that was most of the time (about 0.2 s a tracker, read three times). This reads only
what the harvest compares and takes: the sheet list, the shared strings, which cell styles are
dates, and every sheet's values, once per file. The values are the ones openpyxl's
`load_workbook(read_only=True, data_only=True)` gives after `reset_dimensions()`, row for row
(`tests/test_xlsx.py` checks it on issued, filled, sorted and LibreOffice-saved trackers): numbers
as int or float, date-styled numbers as datetimes, a formula's cached value, text as str, rows
as long as their last cell, missing rows as empty tuples. A number whose cell shows it as a
percentage is a `Percent`, a float equal to openpyxl's, so the tracker reader can give "80%"
back as it was typed.

The package is opened through `open_package` (zip bombs, unsafe names, duplicates) and any part
declaring a DTD is refused before it is parsed; the parser never resolves entities or reads the
network.
"""

from __future__ import annotations

import io
import posixpath
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from lxml import etree
from openpyxl.styles.numbers import builtin_format_code, is_date_format, is_timedelta_format
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.utils.datetime import CALENDAR_MAC_1904, WINDOWS_EPOCH, from_excel, from_ISO8601
from openpyxl.utils.exceptions import CellCoordinatesException

from pipeline.diagnostics import PacksError
from pipeline.harvest.package import PackageKind, open_package
from pipeline.ooxml.ns import CT_NS, PKG_REL_NS, R_NS, SML_NS


class TrackerError(PacksError):
    """The file is not a tracker this version can read (or not an XLSX at all)."""


#: How `open_package` names this file in its refusals.
TRACKER_PACKAGE = PackageKind("an XLSX workbook", "workbook", TrackerError)
#: What a damaged part can raise while it is read (lxml's XMLSyntaxError is a SyntaxError).
DAMAGE = (SyntaxError, ValueError, TypeError, KeyError, IndexError, OverflowError,
          CellCoordinatesException)  # fmt: skip

#: The content types openpyxl accepts as the workbook part.
WORKBOOK_TYPES = frozenset(
    f"application/vnd.{kind}.main+xml"
    for kind in (
        "openxmlformats-officedocument.spreadsheetml.sheet",
        "ms-excel.sheet.macroEnabled",
        "openxmlformats-officedocument.spreadsheetml.template",
        "ms-excel.template.macroEnabled",
    )
)
SHARED_STRINGS_TYPE = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
)
ROW, VALUE, INLINE = (f"{{{SML_NS}}}{t}" for t in ("row", "v", "is"))

Row = tuple[Any, ...]
#: Quoted text and backslash escapes of a number format: a `%` in them is only shown.
_LITERAL = re.compile(r'"[^"]*"|\\.')


class Percent(float):
    """A number its cell shows as a percentage (the cell's number format has `%`: `0%`,
    `0.00%`, what Excel and LibreOffice give a cell typed `80%`); equal to the float it is."""

    __slots__ = ()


def is_percent_format(code: str) -> bool:
    return "%" in _LITERAL.sub("", code)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _damaged(exc: BaseException) -> TrackerError:
    return TrackerError(f"not a readable XLSX workbook: {type(exc).__name__}: {exc}")


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _text(node: Any) -> str:
    """An `si` or `is` element's text as openpyxl's `Text.content` gives it: the plain `t`, then
    each run's `t`; phonetic runs (`rPh`) left out."""
    plain: str | None = None
    runs: list[str] = []
    for child in node:
        name = _local(child.tag)
        if name == "t":
            plain = child.text
        elif name == "r":
            text = None
            for part in child:
                if _local(part.tag) == "t":
                    text = part.text
            if text is not None:
                runs.append(text)
    return ("" if plain is None else plain) + "".join(runs)


class Book:
    """One workbook's sheets by name, each read (and kept) the first time it is asked for."""

    def __init__(self, data: bytes) -> None:
        with open_package(data, TRACKER_PACKAGE) as package:
            self.parts: dict[str, bytes] = {}
            for name in package.names():
                # Dropping NULs makes UTF-16/32 markup searchable as ASCII too.
                raw = package.read(name)
                stripped = raw.replace(b"\x00", b"")
                if b"<!DOCTYPE" in stripped or b"<!ENTITY" in stripped:
                    raise TrackerError(f"workbook part {name} declares a DTD; refusing it")
                self.parts[name] = raw
        self._rows: dict[str, list[Row]] = {}
        try:
            self._read_workbook()
        except DAMAGE as exc:
            raise _damaged(exc) from None

    def _xml(self, name: str) -> Any:
        try:
            return etree.fromstring(self.parts[name], _parser())
        except etree.XMLSyntaxError as exc:
            raise TrackerError(f"not a readable XLSX workbook: {name}: {exc}") from None

    def _read_workbook(self) -> None:
        types = self._xml("[Content_Types].xml") if "[Content_Types].xml" in self.parts else None
        if types is None:
            raise TrackerError("not a readable XLSX workbook: no [Content_Types].xml")
        overrides = {
            str(o.get("PartName", "")).lstrip("/"): str(o.get("ContentType", ""))
            for o in types.iter(f"{{{CT_NS}}}Override")
        }
        workbook = next((n for n, t in overrides.items() if t in WORKBOOK_TYPES), None)
        defaults = {str(d.get("ContentType", "")) for d in types.iter(f"{{{CT_NS}}}Default")}
        if workbook is None and defaults & WORKBOOK_TYPES:
            workbook = "xl/workbook.xml"
        if workbook is None or workbook not in self.parts:
            raise TrackerError("not a readable XLSX workbook: it has no workbook part")
        root = self._xml(workbook)
        pr = root.find(f"{{{SML_NS}}}workbookPr")
        date1904 = pr is not None and str(pr.get("date1904", "")).lower() in ("1", "true")
        self.epoch = CALENDAR_MAC_1904 if date1904 else WINDOWS_EPOCH
        targets = self._relationships(workbook)
        self.sheets: dict[str, str | None] = {}
        for sheet in root.iter(f"{{{SML_NS}}}sheet"):
            rid = sheet.get(f"{{{R_NS}}}id")
            if not rid:
                continue
            if rid not in targets:
                raise TrackerError(f"not a readable XLSX workbook: no relationship {rid!r}")
            target, kind = targets[rid]
            if target not in self.parts:
                continue  # openpyxl leaves out a sheet whose part is missing
            self.sheets[str(sheet.get("name"))] = None if "chartsheet" in kind else target
        strings = next((n for n, t in overrides.items() if t == SHARED_STRINGS_TYPE), None)
        self.strings: list[str] = []
        if strings is not None and strings in self.parts:
            for _, si in etree.iterparse(
                io.BytesIO(self.parts[strings]), tag=f"{{{SML_NS}}}si", **_iter_options()
            ):
                self.strings.append(_text(si).replace("x005F_", ""))
                si.clear()
        self.date_styles, self.timedelta_styles, self.percent_styles = self._styles()

    def _relationships(self, part: str) -> dict[str, tuple[str, str]]:
        """rId -> (target part, type), resolved as openpyxl's `get_dependents` does."""
        folder = posixpath.dirname(part)
        rels = posixpath.join(folder, "_rels", posixpath.basename(part) + ".rels")
        if rels not in self.parts:
            return {}
        out: dict[str, tuple[str, str]] = {}
        for rel in self._xml(rels).iter(f"{{{PKG_REL_NS}}}Relationship"):
            if rel.get("TargetMode") == "External":
                continue
            target = str(rel.get("Target", ""))
            if target.startswith("/"):
                target = target[1:]
            else:
                target = posixpath.normpath(posixpath.join(folder, target))
            out[str(rel.get("Id"))] = (target, str(rel.get("Type", "")))
        return out

    def _styles(self) -> tuple[frozenset[int], frozenset[int], frozenset[int]]:
        """Indexes of the cell styles (cellXfs) whose number format is a date / a duration /
        a percentage."""
        if "xl/styles.xml" not in self.parts:
            return frozenset(), frozenset(), frozenset()
        root = self._xml("xl/styles.xml")
        custom = {
            int(str(f.get("numFmtId"))): str(f.get("formatCode"))
            for f in root.iterfind(f"{{{SML_NS}}}numFmts/{{{SML_NS}}}numFmt")
        }
        dates, durations, percents = set(), set(), set()
        for index, xf in enumerate(root.iterfind(f"{{{SML_NS}}}cellXfs/{{{SML_NS}}}xf")):
            number = int(str(xf.get("numFmtId", "0")))
            fmt = custom[number] if number in custom else builtin_format_code(number)
            if is_date_format(fmt):
                dates.add(index)
            if is_timedelta_format(fmt):
                durations.add(index)
            if fmt and is_percent_format(fmt):
                percents.add(index)
        return frozenset(dates), frozenset(durations), frozenset(percents)

    @property
    def sheetnames(self) -> list[str]:
        return list(self.sheets)

    def rows(self, name: str) -> list[Row]:
        """Every row of sheet `name` from row 1: values, missing rows as `()`."""
        if name not in self._rows:
            target = self.sheets[name]
            try:
                rows = [] if target is None else list(self._parse(self.parts[target]))
            except DAMAGE as exc:
                raise _damaged(exc) from None
            self._rows[name] = rows
        return self._rows[name]

    def _parse(self, xml: bytes) -> Iterator[Row]:
        counter = 1
        number = 0
        for _, row in etree.iterparse(io.BytesIO(xml), tag=ROW, **_iter_options()):
            r = row.get("r")
            if r is not None:
                as_float = float(r)
                if not as_float.is_integer():
                    raise TrackerError(f"not a readable XLSX workbook: bad row number {r!r}")
                number = int(as_float)
            else:
                number += 1
            cells = self._cells(row)
            row.clear()
            while counter < number:
                counter += 1
                yield ()
            if counter <= number:
                counter += 1
                yield self._row(cells)

    def _cells(self, row: Any) -> list[tuple[int, Any]]:
        out: list[tuple[int, Any]] = []
        column = 0
        for c in row:  # openpyxl reads every child of a row as a cell
            ref = c.get("r")
            column = coordinate_to_tuple(ref)[1] if ref else column + 1
            out.append((column, self._value(c, ref)))
        return out

    def _value(self, c: Any, ref: str | None) -> Any:
        kind = c.get("t", "n")
        if kind == "inlineStr":
            child = c.find(INLINE)
            return None if child is None else _text(child)
        found = c.find(VALUE)
        value = None if found is None else (found.text or None)
        if value is None:
            return None
        if kind == "n":
            s = c.get("s")
            style = int(s) if s else (0 if s is None else -1)  # s="": openpyxl's style ""
            number: int | float = (
                float(value) if "." in value or "E" in value or "e" in value else int(value)
            )
            if style in self.date_styles:
                try:
                    return from_excel(number, self.epoch, timedelta=style in self.timedelta_styles)
                except (OverflowError, ValueError):
                    return "#VALUE!"
            if style in self.percent_styles:
                return Percent(number)
            return number
        if kind == "s":
            return self.strings[int(value)]
        if kind == "b":
            return bool(int(value))
        if kind == "d":
            stamp: datetime = from_ISO8601(value)
            return stamp
        return value  # "str" (a formula's text), "e" (an error such as #N/A)

    @staticmethod
    def _row(cells: list[tuple[int, Any]]) -> Row:
        if not cells:
            return ()
        width = cells[-1][0]
        out: list[Any] = [None] * width
        for column, value in cells:
            if 1 <= column <= width:
                out[column - 1] = value
        return tuple(out)


def _iter_options() -> dict[str, Any]:
    return {
        "events": ("end",),
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "huge_tree": False,
        "remove_comments": True,
        "remove_pis": True,
    }
