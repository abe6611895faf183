"""The roster reader: every accepted shape, and every refused input word for word, at once."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from openpyxl import Workbook

from pipeline.cycle import RosterError, read_roster
from pipeline.cycle.roster import MAX_ROSTER_BYTES

PROFILES = frozenset(
    {"CLINIC.CLINICAL90BC.M4", "ENGR.GEN.M2", "ENGR.PLATFORM.P2", "ENGR.PLATFORM.P3"}
)
GOOD = (
    "employee_id,name,profile,manager_id,email,department\n"
    "E1,Ada Boss,ENGR.GEN.M2,,ada@example.com,Eng\n"
    "E2,Bob Lead,ENGR.PLATFORM.P3,E1,,Eng\n"
    'E3,=HYPERLINK("http://x"),ENGR.PLATFORM.P2,E2,,\n'
)


def write(tmp_path: Path, text: str | bytes, name: str = "roster.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(RosterError) as info:
        read_roster(path, PROFILES)
    return [str(p) for p in info.value.problems]


def test_reads_a_plain_csv(tmp_path: Path) -> None:
    roster = read_roster(write(tmp_path, GOOD), PROFILES)
    assert [(p.employee_id, p.manager_id, p.line) for p in roster.people] == [
        ("E1", None, 2),
        ("E2", "E1", 3),
        ("E3", "E2", 4),
    ]
    assert roster.people[2].name == '=HYPERLINK("http://x")'
    assert roster.people[0].email == "ada@example.com"
    assert roster.people[2].department is None


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: ("\ufeff" + t).encode("utf-8"),
        lambda t: t.replace("\n", "\r\n").encode("utf-8"),
        lambda t: ("\ufeff" + t.replace(",", ";").replace("\n", "\r\n")).encode("utf-8"),
    ],
    ids=["bom", "crlf", "european-excel"],
)
def test_reads_what_excel_writes(tmp_path: Path, encode: object) -> None:
    assert callable(encode)
    roster = read_roster(write(tmp_path, encode(GOOD)), PROFILES)
    assert [p.employee_id for p in roster.people] == ["E1", "E2", "E3"]
    assert [p.line for p in roster.people] == [2, 3, 4]
    assert roster.people[1].manager_id == "E1"


def test_aliases_and_case(tmp_path: Path) -> None:
    text = "Employee Number;Full Name;Job Profile;Reports To;E-mail\n7;Ann;ENGR.GEN.M2;;a@x\n"
    (person,) = read_roster(write(tmp_path, text), PROFILES).people
    assert (person.employee_id, person.name, person.profile, person.email) == (
        "7",
        "Ann",
        "ENGR.GEN.M2",
        "a@x",
    )


def test_reads_the_first_sheet_of_an_xlsx(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Employee ID", "Name", "Profile", "Manager ID"])
    ws.append([1001, "Ada", "ENGR.GEN.M2", None])
    ws.append([1002, "<script>x</script>", "ENGR.PLATFORM.P2", 1001])
    wb.create_sheet("Other").append(["ignored"])
    path = tmp_path / "roster.xlsx"
    wb.save(path)
    roster = read_roster(path, PROFILES)
    assert [(p.employee_id, p.manager_id, p.line) for p in roster.people] == [
        ("1001", None, 2),
        ("1002", "1001", 3),
    ]


def test_every_problem_at_once(tmp_path: Path) -> None:
    text = (
        "employee_id,name,profile,manager_id\n"
        "E1,Ann,ENGR.PLATFORM.P9,\n"
        "E1,Ben,ENGR.GEN.M2,\n"
        "../x,Cy,ENGR.GEN.M2,\n"
        "a/b,Di,ENGR.GEN.M2,\n"
        "CON,Ed,ENGR.GEN.M2,\n"
        ",Fa,ENGR.GEN.M2,\n"
        f"{'x' * 65},Gu,ENGR.GEN.M2,\n"
        "E8,,ENGR.GEN.M2,\n"
        "E9,Ha\x07l,ENGR.GEN.M2,\n"
    )
    safe = (
        "is not a safe file name (expected letters, digits, '.', '_' or '-', starting with a "
        "letter or digit, not a device name such as CON)"
    )
    assert problems(write(tmp_path, text)) == [
        "roster.csv:2: error: column 'employee_id': duplicate employee id 'E1' (also on line 3) "
        "[roster-duplicate]",
        "roster.csv:2: error: column 'profile': unknown profile 'ENGR.PLATFORM.P9' "
        "(did you mean ENGR.PLATFORM.P3?) [roster-profile]",
        "roster.csv:3: error: column 'employee_id': duplicate employee id 'E1' (also on line 2) "
        "[roster-duplicate]",
        f"roster.csv:4: error: column 'employee_id': '../x' {safe} [roster-id]",
        f"roster.csv:5: error: column 'employee_id': 'a/b' {safe} [roster-id]",
        f"roster.csv:6: error: column 'employee_id': 'CON' {safe} [roster-id]",
        "roster.csv:7: error: column 'employee_id': empty (expected an employee id) [roster-id]",
        "roster.csv:8: error: column 'employee_id': employee id of 65 characters; at most 64 "
        "[roster-id]",
        "roster.csv:9: error: column 'name': empty [roster-name]",
        "roster.csv:10: error: column 'name': control character U+0007 [roster-control]",
    ]


def test_missing_columns_name_the_headers_found(tmp_path: Path) -> None:
    assert problems(write(tmp_path, "ID,Surname\n1,x\n")) == [
        "roster.csv:1: error: missing required column 'name' (headers found: 'ID', 'Surname'; "
        "also accepted: name, fullname, employeename, …) [roster-column]",
        "roster.csv:1: error: missing required column 'profile' (headers found: 'ID', 'Surname'; "
        "also accepted: profile, profileid, jobprofile, …) [roster-column]",
    ]


def test_unknown_manager_and_loops(tmp_path: Path) -> None:
    unknown = "employee_id,name,profile,manager_id\nE1,A,ENGR.GEN.M2,E9\n"
    assert problems(write(tmp_path, unknown)) == [
        "roster.csv:2: error: column 'manager_id': no roster row has employee id 'E9' "
        "[roster-manager]"
    ]
    loop = (
        "employee_id,name,profile,manager_id\n"
        "E0,Top,ENGR.GEN.M2,\n"
        "E1,A,ENGR.GEN.M2,E2\n"
        "E2,B,ENGR.GEN.M2,E1\n"
        "E3,C,ENGR.GEN.M2,E3\n"
        "E4,D,ENGR.GEN.M2,E1\n"
    )
    assert problems(write(tmp_path, loop)) == [
        "roster.csv:3: error: column 'manager_id': management loop E1 -> E2 -> E1 [roster-loop]",
        "roster.csv:5: error: column 'manager_id': management loop E3 -> E3 [roster-loop]",
    ]


def test_files_that_are_not_rosters(tmp_path: Path) -> None:
    assert problems(write(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00")) == [
        "roster.csv: error: a binary file, not a CSV roster [roster-format]"
    ]
    latin1 = "employee_id,name,profile\nE1,Jos\xe9,ENGR.GEN.M2\n".encode("latin-1")
    assert problems(write(tmp_path, latin1)) == [
        "roster.csv:2: error: not UTF-8 text (byte 0xe9); save the roster as CSV UTF-8 "
        "[roster-encoding]"
    ]
    assert problems(write(tmp_path, GOOD, "roster.xlsx")) == [
        "roster.xlsx: error: not an XLSX workbook (not a zip package: File is not a zip file) "
        "[roster-format]"
    ]
    assert problems(write(tmp_path, "employee_id,name,profile\n")) == [
        "roster.csv: error: no people (nothing below the header row) [roster-empty]"
    ]


def test_a_file_over_the_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    with path.open("wb") as fh:
        fh.truncate(MAX_ROSTER_BYTES + 1)
    assert problems(path) == [
        f"roster.csv: error: {MAX_ROSTER_BYTES + 1} bytes; a roster may have at most 64 MiB "
        "[roster-size]"
    ]


def test_names_never_appear_in_messages(tmp_path: Path) -> None:
    text = "employee_id,name,profile,email\nE1,Secret Name\x01,NOPE,secret@example.com\x02\n"
    shown = "\n".join(problems(write(tmp_path, text)))
    assert "Secret" not in shown and "secret@" not in shown
    assert "control character U+0001" in shown


def test_a_100000_row_roster_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("employee_id,name,profile,manager_id,email,department\r\n")
        fh.write("E0,Top,ENGR.GEN.M2,,top@example.com,Eng\r\n")
        for i in range(1, 100_000):
            fh.write(f"E{i},Person {i},ENGR.PLATFORM.P2,E{(i - 1) // 10},p{i}@example.com,Eng\r\n")
    tracemalloc.start()
    try:
        roster = read_roster(path, PROFILES)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(roster.people) == 100_000
    assert roster.people[-1].manager_id == "E9999"
    # the kept columns only: a few hundred bytes a person, never the file in memory several times
    assert peak < 100 * 1024 * 1024
