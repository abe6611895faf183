"""The canon tables as a folder of CSV files, as a user saves a workbook's sheets from Excel.

`levels.csv`, `profiles.csv` and `job-descriptions.csv` (the last one optional): UTF-8 with or
without a byte-order mark, comma- or semicolon-separated (European Excel writes `;`, and then a
decimal comma), CRLF or LF line ends, quoted fields with line breaks. Problems are located as
`profiles.csv:14: kind: …` (the line the row starts on).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pipeline.diagnostics import Collector
from pipeline.exchange.table import JOB_DESCRIPTIONS, LEVELS, PROFILES, CellValue, Table

#: Sheet -> file name in the folder.
CSV_FILES = {
    LEVELS: "levels.csv",
    PROFILES: "profiles.csv",
    JOB_DESCRIPTIONS: "job-descriptions.csv",
}
#: Larger files are refused before reading.
MAX_CSV_BYTES = 200 * 1024 * 1024


def _delimiter(first_line: str) -> str:
    """`;` when the header has more semicolons than commas (Excel with a decimal comma)."""
    return ";" if first_line.count(";") > first_line.count(",") else ","


def read_csv(path: Path, display: str, name: str, problems: Collector) -> Table | None:
    try:
        size = path.stat().st_size
        if size > MAX_CSV_BYTES:
            problems.error(
                display, 0, f"{size:,} bytes; the limit is {MAX_CSV_BYTES:,}", "too-large"
            )
            return None
        data = path.read_bytes()
    except OSError as exc:
        problems.error(display, 0, f"cannot read: {exc.strerror or exc}", "io")
        return None
    if b"\0" in data[:8192]:
        problems.error(display, 0, "a binary file, not CSV text", "encoding")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.error(
            display,
            line,
            f"not UTF-8 (byte 0x{data[exc.start]:02X}); save it as 'CSV UTF-8' in Excel",
            "encoding",
        )
        return None
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first), strict=True)
    header: tuple[str, ...] | None = None
    rows: list[tuple[int, tuple[CellValue, ...]]] = []
    try:
        line = 1
        for record in reader:
            start = line
            line = reader.line_num + 1
            if header is None:
                header = tuple(h.strip() for h in record)
                continue
            if all(not v.strip() for v in record):
                continue
            rows.append((start, tuple(v if v.strip() else None for v in record)))
    except csv.Error as exc:
        problems.error(display, reader.line_num, f"not valid CSV: {exc}", "csv")
        return None

    def locate(row: int, col: int) -> tuple[str, int]:
        return display, row

    return Table(name, header or (), rows, locate, (display, 1))


def read_folder(folder: Path, display: str, problems: Collector) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    for name, file_name in CSV_FILES.items():
        path = folder / file_name
        if not path.is_file():
            continue
        table = read_csv(path, f"{display.rstrip('/')}/{file_name}", name, problems)
        if table is not None:
            tables[name] = table
    if not tables:
        problems.error(
            display,
            0,
            f"no canon CSV files here (expected {', '.join(CSV_FILES.values())})",
            "csv",
        )
    return tables
