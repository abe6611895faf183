"""The roster: HR's export of who is reviewed, on which profile, under which manager.

CSV (UTF-8 with or without BOM; `,` or `;` as European Excel writes; CRLF or LF) or XLSX (first
sheet, header row). Columns are matched case-insensitively, ignoring spaces, `-` and `_`, with the
aliases in `ALIASES`; other columns are ignored. Every problem of the whole file is collected and
raised at once (`RosterError`, exit 1), located `roster.csv:14: column 'profile': …`.

Personal data: messages name the file, the line and the employee id, never a name or an e-mail.
Memory: the file is streamed row by row (CSV through the `csv` module, XLSX through openpyxl's
read-only mode); only the five kept columns of each row are held, so a 100,000-row roster costs
tens of megabytes. Files over `MAX_ROSTER_BYTES` (64 MiB), or XLSX that unpack to more than
`MAX_UNPACKED_BYTES`, are refused before reading.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import re
import zipfile
import zlib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from pipeline.diagnostics import CanonError, Problem

#: Largest roster file read (CSV or XLSX): far above any HR export of 100,000 people.
MAX_ROSTER_BYTES = 64 * 1024 * 1024
#: Largest total an XLSX roster may unpack to.
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
#: Longest employee id (it is a folder and file name).
MAX_ID_LENGTH = 64

REQUIRED = ("employee_id", "name", "profile")
OPTIONAL = ("manager_id", "email", "department")
#: Header spellings HR systems export, normalized (case-folded, no spaces, `-` or `_`).
ALIASES: Mapping[str, tuple[str, ...]] = {
    "employee_id": (
        "employeeid",
        "employeenumber",
        "employeeno",
        "empid",
        "id",
        "workerid",
        "personid",
        "personnelnumber",
        "staffid",
    ),
    "name": ("name", "fullname", "employeename", "displayname", "workername"),
    "profile": ("profile", "profileid", "jobprofile", "jobprofileid", "jobframeprofile", "role"),
    "manager_id": (
        "managerid",
        "manager",
        "manageremployeeid",
        "supervisorid",
        "reportsto",
        "linemanagerid",
    ),
    "email": ("email", "emailaddress", "workemail", "mail"),
    "department": ("department", "dept", "orgunit", "organization", "organisation"),
}
_BY_ALIAS = {alias: column for column, aliases in ALIASES.items() for alias in aliases}

#: A safe file and folder name on every system the files travel to.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
#: Windows device names, with or without an extension (`CON`, `com1.txt`).
_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?", re.IGNORECASE)
#: C0 and C1 controls and DEL: never in a name, an id or a cell of a document.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class RosterError(CanonError):
    """The roster cannot be used; carries every problem found."""


@dataclass(frozen=True, slots=True)
class Person:
    """One roster row (the kept columns; `line` is its row in the file)."""

    employee_id: str
    name: str
    profile: str
    manager_id: str | None
    email: str | None
    department: str | None
    line: int


@dataclass(frozen=True)
class Roster:
    path: Path
    people: tuple[Person, ...]

    def by_id(self) -> dict[str, Person]:
        return {p.employee_id: p for p in self.people}

    def reports(self, manager_id: str) -> tuple[Person, ...]:
        return tuple(p for p in self.people if p.manager_id == manager_id)


def _normal(header: str) -> str:
    return re.sub(r"[\s_\-]+", "", header.strip().casefold())


def safe_id_problem(value: str) -> str | None:
    """Why `value` is not a safe employee id (a file name), or None."""
    if not value:
        return "empty (expected an employee id)"
    if len(value) > MAX_ID_LENGTH:
        return f"employee id of {len(value)} characters; at most {MAX_ID_LENGTH}"
    if not _SAFE_ID.fullmatch(value) or _RESERVED.fullmatch(value):
        return (
            f"{value!r} is not a safe file name (expected letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, not a device name such as CON)"
        )
    return None


def _cell_text(value: object) -> str:
    """An XLSX cell as the text HR typed: ids stay `1001`, not `1001.0`; dates ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# --- reading rows -------------------------------------------------------------------------------


def _csv_rows(path: Path, display: str, problems: list[Problem]) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) per CSV record, streamed; decoding problems are reported, not raised."""
    with path.open("rb") as raw:
        head = raw.read(8192)
    if b"\x00" in head:
        problems.append(Problem(display, 0, "a binary file, not a CSV roster", "roster-format"))
        return
    first = head.split(b"\n", 1)[0]
    delimiter = ";" if first.count(b";") > first.count(b",") else ","
    bad = _first_bad_utf8(path)
    if bad is not None:
        line, byte = bad
        problems.append(
            Problem(
                display,
                line,
                f"not UTF-8 text (byte 0x{byte:02x}); save the roster as CSV UTF-8",
                "roster-encoding",
            )
        )
        return
    reader_line = 0
    with path.open("rb") as raw_file, io.TextIOWrapper(raw_file, "utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        try:
            for cells in reader:
                start, reader_line = reader_line + 1, reader.line_num
                yield start, cells
        except csv.Error as exc:
            problems.append(
                Problem(display, reader.line_num, f"not a readable CSV row: {exc}", "roster-format")
            )


def _first_bad_utf8(path: Path) -> tuple[int, int] | None:
    """(line, byte) of the first byte that is not UTF-8, streamed; None when all of it is."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    lines = 1
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                # the decoder may hold up to 3 bytes of a sequence begun in the last chunk
                return lines + chunk.count(b"\n", 0, exc.start), exc.object[exc.start]
            lines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return lines, 0
    return None


def _xlsx_rows(
    path: Path, display: str, problems: list[Problem]
) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of the first sheet, streamed through openpyxl's read-only mode."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            names = {i.filename for i in infos}
            unpacked = sum(i.file_size for i in infos)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError) as exc:
        problems.append(
            Problem(display, 0, f"not an XLSX workbook (not a zip package: {exc})", "roster-format")
        )
        return
    if "xl/workbook.xml" not in names:
        problems.append(
            Problem(display, 0, "not an XLSX workbook (no xl/workbook.xml)", "roster-format")
        )
        return
    if unpacked > MAX_UNPACKED_BYTES:
        limit = MAX_UNPACKED_BYTES // (1024 * 1024)
        problems.append(
            Problem(display, 0, f"unpacks to more than {limit} MiB; refusing it", "roster-size")
        )
        return
    import warnings

    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles it skips
            wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        problems.append(
            Problem(display, 0, f"not a readable XLSX workbook: {exc}", "roster-format")
        )
        return
    try:
        ws = wb.worksheets[0] if wb.worksheets else None
        if ws is None:
            problems.append(Problem(display, 0, "the workbook has no sheet", "roster-format"))
            return
        for number, row in enumerate(ws.iter_rows(values_only=True), start=1):
            yield number, [_cell_text(v) for v in row]
    except Exception as exc:
        problems.append(
            Problem(display, 0, f"not a readable XLSX workbook: {exc}", "roster-format")
        )
    finally:
        wb.close()


# --- checking -----------------------------------------------------------------------------------


def _header(
    cells: Sequence[str], display: str, line: int, problems: list[Problem]
) -> dict[str, int] | None:
    columns: dict[str, int] = {}
    spelled: dict[str, str] = {}
    for index, cell in enumerate(cells):
        column = _BY_ALIAS.get(_normal(cell))
        if column is None:
            continue
        if column in columns:
            problems.append(
                Problem(
                    display,
                    line,
                    f"columns {spelled[column]!r} and {cell.strip()!r} both mean {column!r}",
                    "roster-column",
                )
            )
            continue
        columns[column] = index
        spelled[column] = cell.strip()
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        found = ", ".join(repr(c.strip()) for c in cells if c.strip()) or "none"
        for column in missing:
            aliases = ", ".join(ALIASES[column][:3])
            problems.append(
                Problem(
                    display,
                    line,
                    f"missing required column {column!r} (headers found: {found}; "
                    f"also accepted: {aliases}, …)",
                    "roster-column",
                )
            )
        return None
    return columns


def _suggest(value: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(value, sorted(known), n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(value.upper(), sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def read_roster(path: Path, profiles: Collection[str], display: str | None = None) -> Roster:
    """Read and check a roster against the canon's profile ids; RosterError with every problem."""
    shown = display or path.name
    problems: list[Problem] = []
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise RosterError(f"cannot read {shown}: {exc.strerror or exc}") from None
    if size > MAX_ROSTER_BYTES:
        limit = MAX_ROSTER_BYTES // (1024 * 1024)
        problems.append(
            Problem(shown, 0, f"{size} bytes; a roster may have at most {limit} MiB", "roster-size")
        )
        raise RosterError("the roster is invalid", problems)
    is_xlsx = path.suffix.casefold() in (".xlsx", ".xlsm")
    rows = _xlsx_rows(path, shown, problems) if is_xlsx else _csv_rows(path, shown, problems)
    return _checked(path, shown, rows, profiles, problems)


def people_from_rows(
    path: Path, rows: Iterable[tuple[int, list[str]]], profiles: Collection[str]
) -> Roster:
    """A roster from (line, cells) rows, a header row first, checked as `read_roster` checks
    a file's rows; RosterError with every problem."""
    return _checked(path, str(path), iter(rows), profiles, [])


def _checked(
    path: Path,
    shown: str,
    rows: Iterator[tuple[int, list[str]]],
    profiles: Collection[str],
    problems: list[Problem],
) -> Roster:
    people = _people(rows, shown, frozenset(profiles), problems)
    if not problems and not people:
        problems.append(
            Problem(shown, 0, "no people (nothing below the header row)", "roster-empty")
        )
    if not problems:
        _check_managers(people, shown, problems)
    if problems:
        raise RosterError("the roster is invalid", sorted(set(problems), key=_order))
    return Roster(path, tuple(people))


def _order(p: Problem) -> tuple[int, str, str]:
    return (p.line, p.code, p.message)


def _people(
    rows: Iterator[tuple[int, list[str]]],
    display: str,
    profiles: frozenset[str],
    problems: list[Problem],
) -> list[Person]:
    columns: dict[str, int] | None = None
    people: list[Person] = []
    first_line: dict[str, int] = {}
    header_seen = False
    for line, cells in rows:
        if not any(c.strip() for c in cells):
            continue
        if not header_seen:
            header_seen = True
            columns = _header(cells, display, line, problems)
            if columns is None:
                return []
            continue
        assert columns is not None
        values = {
            column: cells[index].strip() if index < len(cells) else ""
            for column, index in columns.items()
        }
        bad = False
        for column, value in values.items():
            found = _CONTROL.search(value)
            if found:
                problems.append(
                    Problem(
                        display,
                        line,
                        f"column {column!r}: control character U+{ord(found.group()):04X}",
                        "roster-control",
                    )
                )
                bad = True
        if bad:
            continue
        employee_id = values["employee_id"]
        why = safe_id_problem(employee_id)
        if why:
            problems.append(Problem(display, line, f"column 'employee_id': {why}", "roster-id"))
        elif employee_id in first_line:
            other = first_line[employee_id]
            problems.append(
                Problem(
                    display,
                    line,
                    f"column 'employee_id': duplicate employee id {employee_id!r} "
                    f"(also on line {other})",
                    "roster-duplicate",
                )
            )
            problems.append(
                Problem(
                    display,
                    other,
                    f"column 'employee_id': duplicate employee id {employee_id!r} "
                    f"(also on line {line})",
                    "roster-duplicate",
                )
            )
        else:
            first_line[employee_id] = line
        if not values["name"]:
            problems.append(Problem(display, line, "column 'name': empty", "roster-name"))
        profile = values["profile"]
        if not profile:
            problems.append(
                Problem(
                    display,
                    line,
                    "column 'profile': empty (expected a profile id)",
                    "roster-profile",
                )
            )
        elif profile not in profiles:
            problems.append(
                Problem(
                    display,
                    line,
                    f"column 'profile': unknown profile {profile!r}{_suggest(profile, profiles)}",
                    "roster-profile",
                )
            )
        people.append(
            Person(
                employee_id,
                values["name"],
                profile,
                values.get("manager_id") or None,
                values.get("email") or None,
                values.get("department") or None,
                line,
            )
        )
    if not header_seen and not problems:
        problems.append(Problem(display, 0, "empty (no header row)", "roster-empty"))
    return people


def _check_managers(people: Sequence[Person], display: str, problems: list[Problem]) -> None:
    by_id = {p.employee_id: p for p in people}
    for person in people:
        if person.manager_id is not None and person.manager_id not in by_id:
            problems.append(
                Problem(
                    display,
                    person.line,
                    f"column 'manager_id': no roster row has employee id {person.manager_id!r}",
                    "roster-manager",
                )
            )
    if problems:
        return
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in people:
        path: list[str] = []
        current: str | None = start.employee_id
        while current is not None and state.get(current) is None:
            state[current] = 1
            path.append(current)
            current = by_id[current].manager_id
        if current is not None and state.get(current) == 1:
            loop = path[path.index(current) :]
            first = min(loop, key=lambda e: by_id[e].line)
            at = loop.index(first)
            ordered = loop[at:] + loop[:at] + [first]
            problems.append(
                Problem(
                    display,
                    by_id[first].line,
                    f"column 'manager_id': management loop {' -> '.join(ordered)}",
                    "roster-loop",
                )
            )
        for employee_id in path:
            state[employee_id] = 2
