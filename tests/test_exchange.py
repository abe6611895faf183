"""`packs export-canon` / `packs import-canon`: the canon as a workbook (or CSV folder), both ways.

Round trips are checked on what a user sees: `packs show --format json` of every profile, the
files an import writes, and the workbook's own bytes; every bad input by its located message.
"""

from __future__ import annotations

import csv
import io
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from pipeline.cli import main
from pipeline.compose import ComposeOptions, compose_profile
from pipeline.extract import load_canon
from pipeline.render.to_json import frames_json
from tests.conftest import CANON_DIR, soffice_binary

EPOCH = "1700000000"


@pytest.fixture(autouse=True)
def _epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue(), capsys.readouterr().err


def shown(canon_dir: Path) -> dict[str, str]:
    """Every profile's frames as `packs show ID --format json` prints them (goal frames + role)."""
    canon = load_canon(canon_dir)
    out = {}
    for p in canon.profiles:
        frames = compose_profile(p, canon.digest(p.id), ComposeOptions())
        role = frames.frame("role")
        out[p.id] = frames_json(frames, frames.goal_frames) + frames_json(
            frames, (role,) if role else ()
        )
    return out


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def export(canon_dir: Path, target: Path, capsys: pytest.CaptureFixture[str]) -> bytes:
    code, _, err = run(["export-canon", "--canon", str(canon_dir), "--out", str(target)], capsys)
    assert code == 0, err
    return target.read_bytes()


def import_(
    source: Path, canon_dir: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, str]:
    return run(["import-canon", str(source), "--canon", str(canon_dir), *extra], capsys)


def test_bundled_canon_round_trips_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = export(CANON_DIR, tmp_path / "canon.xlsx", capsys)
    code, out, err = import_(tmp_path / "canon.xlsx", tmp_path / "a", capsys)
    assert code == 0, err
    assert "added profile CLINIC.CLINICAL90BC.M4" in out and "added level M4" in out
    assert import_(tmp_path / "canon.xlsx", tmp_path / "b", capsys)[0] == 0
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")
    assert shown(tmp_path / "a") == shown(CANON_DIR)
    assert export(tmp_path / "a", tmp_path / "again.xlsx", capsys) == first


def test_reimport_into_the_unchanged_canon_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export(CANON_DIR, tmp_path / "canon.xlsx", capsys)
    target = tmp_path / "canon"
    shutil.copytree(CANON_DIR, target)
    before = files_of(target)
    code, out, err = import_(tmp_path / "canon.xlsx", target, capsys)
    assert code == 0, err
    assert out.strip().endswith("0 files written, 0 removed, 6 unchanged")
    assert files_of(target) == before  # comments and spelling of the bundled files kept


def test_the_workbook_a_person_opens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export(CANON_DIR, tmp_path / "canon.xlsx", capsys)
    wb = openpyxl.load_workbook(tmp_path / "canon.xlsx")
    assert wb.sheetnames == ["Read me", "Levels", "Profiles", "Job descriptions"]
    profiles = wb["Profiles"]
    assert [c.value for c in profiles[1]] == [
        "function",
        "function name",
        "focus",
        "focus name",
        "level",
        "kind",
        "position",
        "text",
    ]
    assert profiles.freeze_panes == "A2" and profiles.auto_filter.ref.startswith("A1:H")
    validated = {
        str(dv.sqref).split(":")[0]: dv.formula1 for dv in profiles.data_validations.dataValidation
    }
    assert set(validated) == {"F2", "E2"}
    kinds = [r[0].value for r in wb["Read me"].iter_rows() if r[0].value]
    assert "responsibility" in kinds and "rubric complexity/problem-solving" in kinds
    cells = [c for row in profiles.iter_rows(min_row=2) for c in row if c.value is not None]
    assert all(c.data_type in ("s", "n") for c in cells)
    seed_lines = [
        r
        for r in profiles.iter_rows(min_row=2, values_only=True)
        if r[4] == "M4" and r[5] == "responsibility"
    ]
    assert [r[6] for r in seed_lines] == [1, 2, 3, 4, 5]


def _edit(path: Path, target: Path, edit: object) -> None:
    wb = openpyxl.load_workbook(path)
    edit(wb)  # type: ignore[operator]
    wb.save(target)


def test_sorted_rows_and_blank_rows_import_the_same_canon(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export(CANON_DIR, tmp_path / "canon.xlsx", capsys)
    assert import_(tmp_path / "canon.xlsx", tmp_path / "a", capsys)[0] == 0

    def shuffle(wb: openpyxl.Workbook) -> None:
        for name in ("Levels", "Profiles", "Job descriptions"):
            ws = wb[name]
            rows = [list(r) for r in ws.iter_rows(min_row=2, values_only=True)]
            random.Random(7).shuffle(rows)
            ws.delete_rows(2, ws.max_row)
            r = 2
            for i, values in enumerate(rows):
                if i % 5 == 0:
                    r += 1  # a blank row
                for c, v in enumerate(values, 1):
                    ws.cell(row=r, column=c, value=v).data_type = "s" if isinstance(v, str) else "n"
                r += 1

    _edit(tmp_path / "canon.xlsx", tmp_path / "sorted.xlsx", shuffle)
    code, _, err = import_(tmp_path / "sorted.xlsx", tmp_path / "b", capsys)
    assert code == 0, err
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")


def _csv_folder(xlsx: Path, folder: Path, delimiter: str) -> None:
    """The sheets saved as CSV the way Excel does: BOM, CRLF, `;` with a decimal comma."""
    wb = openpyxl.load_workbook(xlsx)
    folder.mkdir()
    for sheet, name in (
        ("Levels", "levels.csv"),
        ("Profiles", "profiles.csv"),
        ("Job descriptions", "job-descriptions.csv"),
    ):
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
        for row in wb[sheet].iter_rows(values_only=True):
            writer.writerow(
                [
                    ""
                    if v is None
                    else str(v).replace(".", ",")
                    if isinstance(v, float) and delimiter == ";"
                    else str(v)
                    for v in row
                ]
            )
        (folder / name).write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_a_csv_folder_saved_from_excel_imports_the_same_canon(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], delimiter: str
) -> None:
    export(CANON_DIR, tmp_path / "canon.xlsx", capsys)
    assert import_(tmp_path / "canon.xlsx", tmp_path / "a", capsys)[0] == 0
    _csv_folder(tmp_path / "canon.xlsx", tmp_path / "csv", delimiter)
    code, _, err = import_(tmp_path / "csv", tmp_path / "b", capsys)
    assert code == 0, err
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")


def test_a_workbook_saved_by_libreoffice_imports_the_same_canon(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    soffice = soffice_binary()
    if soffice is None:
        pytest.fail("LibreOffice is missing: `python3 tasks.py setup` installs it")
    export(CANON_DIR, tmp_path / "canon.xlsx", capsys)
    assert import_(tmp_path / "canon.xlsx", tmp_path / "a", capsys)[0] == 0
    saved = tmp_path / "lo"
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path / 'profile'}",
            "--headless",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(saved),
            str(tmp_path / "canon.xlsx"),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    code, _, err = import_(saved / "canon.xlsx", tmp_path / "b", capsys)
    assert code == 0, err
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")


def test_edits_are_listed_and_need_replace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export(CANON_DIR, tmp_path / "canon.xlsx", capsys)
    target = tmp_path / "canon"
    shutil.copytree(CANON_DIR, target)
    before = files_of(target)

    def edit(wb: openpyxl.Workbook) -> None:
        ws = wb["Profiles"]
        for row in ws.iter_rows(min_row=2):
            if row[4].value == "P3" and row[5].value == "responsibility" and row[6].value == 1:
                row[7].value = "Owns two platform services end to end"
        for row in list(ws.iter_rows(min_row=2)):
            if row[2].value == "SUPPLY":
                for cell in row:
                    cell.value = None
        wb["Levels"].cell(row=2, column=2, value="Professional 2")

    _edit(tmp_path / "canon.xlsx", tmp_path / "edited.xlsx", edit)
    code, _, err = import_(tmp_path / "edited.xlsx", target, capsys)
    assert code == 1
    assert "changed profile ENGR.PLATFORM.P3" in err
    assert "removed profile OPS.SUPPLY.E1" in err and "changed level P2" in err
    assert "nothing written; pass --replace" in err and "Traceback" not in err
    assert files_of(target) == before
    code, _out, err = import_(tmp_path / "edited.xlsx", target, capsys, "--replace")
    assert code == 0, err
    assert not (target / "focuses" / "OPS.SUPPLY.yaml").exists()
    assert "Owns two platform services end to end" in (
        target / "focuses" / "ENGR.PLATFORM.yaml"
    ).read_text(encoding="utf-8")


def test_untrusted_text_lands_as_literal_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export(CANON_DIR, tmp_path / "canon.xlsx", capsys)
    texts = ['=HYPERLINK("http://x","y")', "<script>alert(1)</script>", "{{ 7*7 }}", "@SUM(A1)"]

    def edit(wb: openpyxl.Workbook) -> None:
        ws = wb["Profiles"]
        i = 0
        for row in ws.iter_rows(min_row=2):
            if row[4].value == "P2" and row[5].value == "responsibility" and i < len(texts):
                row[7].value = texts[i]
                row[7].data_type = "s"
                i += 1

    _edit(tmp_path / "canon.xlsx", tmp_path / "odd.xlsx", edit)
    code, _, err = import_(tmp_path / "odd.xlsx", tmp_path / "a", capsys)
    assert code == 0, err
    p2 = load_canon(tmp_path / "a").profile("ENGR.PLATFORM.P2")
    assert p2 is not None and list(p2.responsibilities) == texts
    again = export(tmp_path / "a", tmp_path / "again.xlsx", capsys)
    with zipfile.ZipFile(io.BytesIO(again)) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        assert not any(b"<f>" in z.read(n) for n in sheets)


def _broken(tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: object) -> str:
    export(CANON_DIR, tmp_path / "canon.xlsx", capsys)
    _edit(tmp_path / "canon.xlsx", tmp_path / "bad.xlsx", edit)
    code, out, err = import_(tmp_path / "bad.xlsx", tmp_path / "new", capsys)
    assert code == 1, out
    assert "Traceback" not in err
    assert not (tmp_path / "new").exists()
    return err


def _row_of(ws: object, level: str, kind: str, position: int | None = 1) -> int:
    for row in ws.iter_rows(min_row=2):  # type: ignore[attr-defined]
        if row[4].value == level and row[5].value == kind and row[6].value == position:
            return int(row[0].row)
    raise AssertionError("row not found")


def test_every_bad_cell_is_located_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows: dict[str, int] = {}

    def edit(wb: openpyxl.Workbook) -> None:
        ws = wb["Profiles"]
        rows["kind"] = _row_of(ws, "M4", "responsibility", 2)
        ws.cell(row=rows["kind"], column=6, value="responsibilty")
        rows["formula"] = _row_of(ws, "M4", "responsibility", 3)
        ws.cell(row=rows["formula"], column=8, value="=1+1")
        rows["control"] = _row_of(ws, "M4", "responsibility", 4)
        ws.cell(row=rows["control"], column=8, value="bad _x0007_ bell")  # how Excel writes U+0007
        rows["dup"] = _row_of(ws, "M4", "responsibility", 5)
        ws.cell(row=rows["dup"], column=7, value=1)
        rows["level"] = _row_of(ws, "P2", "responsibility", 1)
        ws.cell(row=rows["level"], column=5, value="M9")
        wb["Levels"].cell(row=3, column=3, value="managment")
        ws.cell(row=rows["level"] + 1, column=1, value="../x")

    err = _broken(tmp_path, capsys, edit)
    bad = tmp_path / "bad.xlsx"
    assert (
        f"{bad}:Profiles!F{rows['kind']}: error: kind: unknown kind 'responsibilty' "
        "(did you mean 'responsibility'?) [kind]"
    ) in err
    assert f"{bad}:Profiles!H{rows['formula']}: error: a formula" in err
    assert f"{bad}:Profiles!H{rows['control']}: error: text: text contains the control" in err
    assert f"{bad}:Profiles!G{rows['dup']}: error: position: responsibility 1 is also at row" in err
    assert f"{bad}:Profiles!E{rows['level']}: error: level: unknown level code 'M9'" in err
    assert f"{bad}:Levels!C3: error: track: 'managment' is not a track" in err
    assert "(did you mean 'management'?)" in err
    assert (
        f"{bad}:Profiles!A{rows['level'] + 1}: error: function: '../x' is not a valid code" in err
    )


def test_merged_cells_and_a_hidden_sheet_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def edit(wb: openpyxl.Workbook) -> None:
        wb["Profiles"].merge_cells("B2:B4")
        wb["Job descriptions"].sheet_state = "hidden"

    err = _broken(tmp_path, capsys, edit)
    assert f"{tmp_path / 'bad.xlsx'}:Profiles!B2:B4: error: merged cells" in err
    assert f"{tmp_path / 'bad.xlsx'}:Job descriptions: error: the sheet is hidden" in err


def test_a_missing_column_names_the_headers_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def edit(wb: openpyxl.Workbook) -> None:
        wb["Profiles"].cell(row=1, column=6, value="type")

    err = _broken(tmp_path, capsys, edit)
    assert "Profiles: error: missing column 'kind' (found: 'function'" in err
    assert "'type'" in err


@pytest.mark.parametrize(
    "data",
    [b"PK\x03\x04 not really a zip", b"%PDF-1.7\n", "Tabelle;x\n".encode("utf-16")],
)
def test_a_non_workbook_renamed_xlsx_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes
) -> None:
    (tmp_path / "roles.xlsx").write_bytes(data)
    code, _, err = import_(tmp_path / "roles.xlsx", tmp_path / "new", capsys)
    assert code == 1
    assert f"{tmp_path / 'roles.xlsx'}: error: not an .xlsx workbook" in err
    assert not (tmp_path / "new").exists()


def test_a_zip_that_is_not_a_workbook_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with zipfile.ZipFile(tmp_path / "roles.xlsx", "w") as z:
        z.writestr("word/document.xml", "<w/>")
    code, _, err = import_(tmp_path / "roles.xlsx", tmp_path / "new", capsys)
    assert code == 1 and "not an .xlsx workbook (no xl/workbook.xml)" in err


def test_csv_problems_are_located_by_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export(CANON_DIR, tmp_path / "canon.xlsx", capsys)
    _csv_folder(tmp_path / "canon.xlsx", tmp_path / "csv", ";")
    profiles = tmp_path / "csv" / "profiles.csv"
    lines = profiles.read_bytes().split(b"\r\n")
    lines[3] = lines[3].replace(b";responsibility;", b";responsibilty;")
    profiles.write_bytes(b"\r\n".join(lines))
    (tmp_path / "csv" / "levels.csv").write_bytes(b"code;title\r\nP2;\xff\xfe\r\n")
    code, _, err = import_(tmp_path / "csv", tmp_path / "new", capsys)
    assert code == 1
    assert f"{tmp_path / 'csv'}/levels.csv:2: error: not UTF-8 (byte 0xFF)" in err
    assert f"{tmp_path / 'csv'}/profiles.csv:4: error: kind: unknown kind 'responsibilty'" in err


def test_a_100000_row_sheet_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """Read in a child process, so its peak RSS is the reader's own."""
    big = tmp_path / "big.xlsx"
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Levels")
    ws.append(["code", "title", "track"])
    ws.append(["P2", "Professional II", "professional"])
    ps = wb.create_sheet("Profiles")
    ps.append(
        ["function", "function name", "focus", "focus name", "level", "kind", "position", "text"]
    )
    for i in range(1, 100_001):
        ps.append(
            ["ENGR", "Engineering", "BIG", "Big focus", "P2", "responsibility", i, f"Line {i}"]
        )
    wb.save(big)
    probe = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from pipeline.exchange.commands import read_source\n"
        "c = read_source(Path(sys.argv[1]), 'big.xlsx')\n"
        "print(len(c.profiles[0].responsibilities), "
        "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(big)], capture_output=True, text=True, check=True
    )
    lines, peak_mb = map(int, done.stdout.split())
    assert lines == 100_000
    assert peak_mb < 400, f"peak RSS {peak_mb} MB reading 100,000 rows"


@pytest.mark.slow
def test_a_1000_profile_canon_round_trips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks.bench import synthetic_canon

    canon_dir = synthetic_canon(tmp_path / "synthetic", 1000)
    first = export(canon_dir, tmp_path / "canon.xlsx", capsys)
    code, _, err = import_(tmp_path / "canon.xlsx", tmp_path / "a", capsys)
    assert code == 0, err
    assert shown(tmp_path / "a") == shown(canon_dir)
    assert export(tmp_path / "a", tmp_path / "again.xlsx", capsys) == first
