"""The XLSX MBO tracker: re-opened with openpyxl and LibreOffice, read back with the harvest reader.

Expectations are taken from the frames (the one intermediate form), so every bundled profile is
checked cell by cell: canon text verbatim and locked, placeholder cells unlocked, protection,
validation, highlighting, names and print setup in place.
"""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from pipeline.compose import compose_profile
from pipeline.harvest.xlsx_cells import Book
from pipeline.harvest.xlsx_tracker import TrackerError, read_contract, read_tracker
from pipeline.layout import Layout, RenderOptions
from pipeline.model import (
    Canon,
    Components,
    Frame,
    Group,
    JobDescription,
    PlaceholderKind,
    ProfileFrames,
    Record,
    RecordStyle,
    line_text,
)
from pipeline.render import get_format
from pipeline.render.to_xlsx import render
from tests.conftest import SEED_ID, Converter

#: Canon text a spreadsheet would take for a formula, a number or an error code.
FORMULA_LIKE = ('=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "\t=1", "#N/A")
TOKENS = tuple(k.token for k in PlaceholderKind)
#: design.md §6.
MBO_COLUMNS = [
    "Area",
    "Standard",
    "Source",
    "Baseline",
    "Target",
    "Due",
    "Actual",
    "Status",
    "Comment",
]
#: Canon allows 20,000 characters: more than a row can show, less than a cell holds.
LONG = "Long canon text " * 1250
FORMULA_ELEMENT = re.compile(rb"<(?:\w+:)?f[\s>/]")


@pytest.fixture(scope="module")
def synthetic_frames(canon: Canon) -> ProfileFrames:
    """The seed profile with formula-like responsibilities and a linked job description."""
    seed = canon.profile(SEED_ID)
    assert seed is not None
    jd = JobDescription(
        slug="formula-like",
        title="Formula-like role",
        role_definition=FORMULA_LIKE,
        hard_skills=("=1+1", "<b>markup</b> & more"),
    )
    profile = dataclasses.replace(
        seed,
        core_outputs=(),
        responsibilities=(*FORMULA_LIKE, LONG),
        components=Components(),
        job_description=jd,
    )
    return compose_profile(profile, "sha256:" + "0" * 64)


@pytest.fixture(scope="module")
def every_frames(
    all_frames: dict[str, ProfileFrames], synthetic_frames: ProfileFrames
) -> dict[str, ProfileFrames]:
    return {**all_frames, "SYNTHETIC": synthetic_frames}


@pytest.fixture(scope="module")
def rendered(
    every_frames: dict[str, ProfileFrames], layout: Layout, options: RenderOptions
) -> dict[str, bytes]:
    return {name: render(frames, layout, options) for name, frames in every_frames.items()}


@pytest.fixture(scope="module")
def key_title(layout: Layout) -> str:
    return layout.config.xlsx.columns.key.title


@pytest.fixture(scope="module")
def input_titles(layout: Layout) -> list[str]:
    return [i.title for i in layout.config.xlsx.inputs]


def load(data: bytes) -> Any:
    return load_workbook(io.BytesIO(data))


def header(ws: Any) -> list[str]:
    return [c.value for c in ws[1]]


def data_rows(ws: Any) -> Iterator[tuple[Any, ...]]:
    yield from ws.iter_rows(min_row=2)


def expected_rows(frame: Frame) -> dict[str, dict[str, object]]:
    """Row key -> the locked values the frame dictates (by role), straight from the frames."""
    out: dict[str, dict[str, object]] = {}
    table = all(isinstance(b, Record) and b.style is RecordStyle.AREA for b in frame.blocks)
    for block in frame.blocks:
        match block:
            case Record() if table:
                texts = {f.label: line_text(f.line) for f in block.fields}
                out[block.key] = {
                    "heading": block.heading,
                    "source": block.source,
                    "standard": texts.get("Standard"),
                    "text": "",
                }
            case Record():
                for f in block.fields:
                    out[f.key] = {
                        "heading": block.heading,
                        "source": block.source,
                        "label": f.label,
                        "text": line_text(f.line),
                        "number": block.number,
                    }
            case Group():
                for item in block.items:
                    out[item.key] = {
                        "heading": block.heading,
                        "source": item.source,
                        "text": line_text(item.line),
                    }
    return out


def frame_sheets(wb: Any, frames: ProfileFrames) -> Iterator[tuple[Frame, Any]]:
    for frame in frames.frames:
        yield frame, wb[frame.short_title]


# ---------------------------------------------------------------------------------------------


def test_xlsx_is_registered() -> None:
    fmt = get_format("xlsx")
    assert fmt.file_name(SEED_ID) == f"{SEED_ID}.mbo-tracker.xlsx"
    assert fmt.media_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert fmt.renderer() is render


def test_sheets_protection_and_hidden_meta(
    rendered: dict[str, bytes], every_frames: dict[str, ProfileFrames]
) -> None:
    for name, data in rendered.items():
        wb = load(data)
        frames = every_frames[name]
        assert wb.sheetnames == ["Read me", *(f.short_title for f in frames.frames), "_meta"]
        assert wb.security is not None and wb.security.lockStructure
        assert not wb.security.workbookPassword, "no password unless one is asked for"
        for ws in wb:
            assert ws.protection.sheet, f"{name}/{ws.title} is not protected"
            assert not ws.protection.password
            assert ws.sheet_state == ("veryHidden" if ws.title == "_meta" else "visible")
        readme = [c.value for row in wb["Read me"].iter_rows() for c in row if c.value]
        for text in (frames.page_title, frames.breadcrumb, frames.intro, frames.profile_id):
            assert text in readme
        assert all(c.protection.locked for row in wb["Read me"].iter_rows() for c in row)


def test_every_canon_cell_verbatim_and_locked_every_input_unlocked(
    rendered: dict[str, bytes],
    every_frames: dict[str, ProfileFrames],
    key_title: str,
    input_titles: list[str],
) -> None:
    for name, data in rendered.items():
        wb = load(data)
        for frame, ws in frame_sheets(wb, every_frames[name]):
            titles = header(ws)
            col = {t: i for i, t in enumerate(titles)}
            assert ws.column_dimensions[chr(ord("A") + col[key_title])].hidden
            expected = expected_rows(frame)
            seen = []
            for row in data_rows(ws):
                key = row[col[key_title]].value
                seen.append(key)
                want = expected[key]
                values = [c.value for c in row]
                for text in (want["heading"], want["source"], want["text"] or None):
                    if text is not None:
                        assert text in values, f"{name}/{ws.title}/{key}: {text!r} missing"
                row_tokens = {t for t in TOKENS if t in str(want["text"])}
                for title, cell in zip(titles, row, strict=True):
                    where = f"{name}/{ws.title}/{key}/{title}"
                    if title not in input_titles:
                        assert cell.protection.locked, f"{where} should be locked"
                        assert cell.value is None or isinstance(cell.value, str | int), where
                        continue
                    if isinstance(cell.value, str) and cell.value in TOKENS:
                        assert not cell.protection.locked, f"{where}: placeholder is locked"
                    if want["text"]:  # one row per field or item: exactly its placeholders
                        if cell.value in TOKENS:
                            assert cell.value in row_tokens, where
                        if not cell.protection.locked:
                            assert row_tokens, f"{where}: input open on a row with no placeholder"
                    else:  # an AREA row: every input open
                        assert not cell.protection.locked, f"{where} should be unlocked"
                for token in row_tokens:
                    assert token in values, f"{name}/{ws.title}/{key}: no {token} input"
            assert seen == list(expected), f"{name}/{ws.title}: rows differ from the frame"


def test_mbo_sheet_has_the_design_columns(
    rendered: dict[str, bytes], every_frames: dict[str, ProfileFrames], key_title: str
) -> None:
    for name, data in rendered.items():
        mbo = every_frames[name].frame("mbo")
        if mbo is None:
            continue
        ws = load(data)[mbo.short_title]
        assert header(ws) == [*MBO_COLUMNS, key_title]
        for record, row in zip(mbo.blocks, data_rows(ws), strict=True):
            assert isinstance(record, Record)
            standard = {f.label: line_text(f.line) for f in record.fields}.get("Standard")
            assert [c.value for c in row] == [
                record.heading,
                standard,
                record.source,
                "⟨baseline⟩",
                "⟨target⟩",
                "⟨date⟩",
                None,
                None,
                None,
                record.key,
            ]


def test_a_row_without_a_standard_shows_an_empty_standard(
    canon: Canon, layout: Layout, options: RenderOptions
) -> None:
    seed = canon.profile(SEED_ID)
    assert seed is not None
    bare = dataclasses.replace(
        seed, rubrics=(), level=dataclasses.replace(seed.level, dimensions=())
    )
    frames = compose_profile(bare, "sha256:" + "1" * 64)
    ws = load(render(frames, layout, options))["MBO"]
    assert header(ws)[:3] == ["Area", "Standard", "Source"]
    assert {row[1].value for row in data_rows(ws)} == {None}


def test_validation_highlighting_names_and_print_setup(
    rendered: dict[str, bytes], layout: Layout
) -> None:
    wb = load(rendered[SEED_ID])
    ws = wb["MBO"]
    last = ws.max_row
    col = {t: chr(ord("A") + i) for i, t in enumerate(header(ws))}
    checks = {dv.type: dv for dv in ws.data_validations.dataValidation}
    assert set(checks) == {"date", "decimal", "list"}
    assert str(checks["date"].sqref) == f"{col['Due']}2:{col['Due']}{last}"
    assert checks["date"].formula1 == "DATE(2000,1,1)"
    decimal_ranges = set(str(checks["decimal"].sqref).split())
    assert decimal_ranges == {f"{col[t]}2:{col[t]}{last}" for t in ("Baseline", "Target", "Actual")}
    statuses = layout.config.xlsx.checks["status"].values
    assert checks["list"].formula1 == '"' + ",".join(statuses) + '"'
    assert str(checks["list"].sqref) == f"{col['Status']}2:{col['Status']}{last}"
    rules = [(str(cf.sqref), r.formula) for cf in ws.conditional_formatting for r in cf.rules]
    assert rules == [
        (f"{col['Baseline']}2:{col['Comment']}{last}", [f'LEFT({col["Baseline"]}2,1)="⟨"'])
    ]
    for title in ("Baseline", "Target", "Due", "Actual", "Status", "Comment"):
        ref = wb.defined_names[f"MBO_{title}"].attr_text
        assert ref == f"'MBO'!${col[title]}$2:${col[title]}${last}"
    assert "Scorecard_Target" in wb.defined_names and "SMART_Due" in wb.defined_names
    for sheet in ("SMART", "OKRs", "MBO", "Scorecard"):
        ws = wb[sheet]
        assert ws.freeze_panes == "A2"
        assert ws.print_title_rows == "$1:$1"
        assert ws.page_setup.orientation == "landscape"
        assert int(ws.page_setup.paperSize) == 9
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert int(ws.page_setup.fitToWidth) == 1 and int(ws.page_setup.fitToHeight) == 0
        assert ws.column_dimensions["B"].width > 20


def test_letter_paper_and_password_come_from_the_options(
    seed_frames: ProfileFrames, layout: Layout, options: RenderOptions
) -> None:
    letter = dataclasses.replace(options, page_size="Letter", form_password="s3cret")
    wb = load(render(seed_frames, layout, letter))
    assert int(wb["MBO"].page_setup.paperSize) == 1
    assert wb["MBO"].protection.password and wb.security.workbookPassword


def test_formula_like_canon_stays_a_literal_string(
    rendered: dict[str, bytes], synthetic_frames: ProfileFrames
) -> None:
    data = rendered["SYNTHETIC"]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        assert len(sheets) == len(synthetic_frames.frames) + 2
        for member in sheets:
            assert not FORMULA_ELEMENT.search(z.read(member)), f"a formula in {member}"
    wb = load(data)
    for sheet in ("MBO", "Role profile"):
        cells = {c.value: c for row in wb[sheet].iter_rows() for c in row if c.value is not None}
        for text in FORMULA_LIKE:
            assert text in cells, f"{text!r} not shown literally on {sheet}"
            assert cells[text].data_type == "s"
    role = wb["Role profile"]
    assert header(role) == ["Group", "Item", "Source", "Key"]
    assert all(c.protection.locked for row in role.iter_rows() for c in row)


def test_same_input_same_bytes(seed_frames: ProfileFrames, layout: Layout) -> None:
    options = RenderOptions(timestamp=1_700_000_000)
    first = render(seed_frames, layout, options)
    assert render(seed_frames, layout, options) == first
    with zipfile.ZipFile(io.BytesIO(first)) as z:
        assert z.namelist()[0] == "[Content_Types].xml"
        assert {i.date_time for i in z.infolist()} == {(2023, 11, 14, 22, 13, 20)}
        core = z.read("docProps/core.xml").decode()
    assert core.count("2023-11-14T22:13:20Z") == 2
    later = render(seed_frames, layout, RenderOptions(timestamp=1_700_000_100))
    assert later != first
    unset = render(seed_frames, layout, RenderOptions(timestamp=None))
    with zipfile.ZipFile(io.BytesIO(unset)) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert "1970-01-01T00:00:00Z" in z.read("docProps/core.xml").decode()


# ---------------------------------------------------------------------------------------------
# Reading a returned tracker back
# ---------------------------------------------------------------------------------------------


def fill(data: bytes, key_title: str, input_titles: list[str]) -> tuple[bytes, dict[str, Any]]:
    """Type a value into every unlocked cell, as a user would; return the file and the values
    the reader should give back (text, as typed)."""
    wb = load(data)
    typed: dict[str, dict[str, Any]] = {}
    n = 0
    for ws in wb.worksheets[1:-1]:
        titles = header(ws)
        key_col = titles.index(key_title)
        for row in data_rows(ws):
            key = row[key_col].value
            for title, cell in zip(titles, row, strict=True):
                if cell.protection.locked:
                    continue
                assert title in input_titles
                n += 1
                due = datetime(2026, 1 + n % 12, 1 + n % 28)
                value: Any = {
                    "Due": due,
                    "Status": "On track",
                    "Comment": f"note {n} for {key}",
                }.get(title, n + 0.25)
                cell.value = value
                # what the reader gives: the text typed (a date ISO, a number its digits)
                text = {"Due": due.date().isoformat()}.get(title, f"{n}.25")
                typed.setdefault(key, {})[title] = value if isinstance(value, str) else text
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), typed


def reorder(data: bytes, key_title: str, lose_key_of: str | None = None) -> bytes:
    """Reverse the data rows of every frame sheet (a user's sort), optionally wiping one key."""
    wb = load(data)
    for ws in wb.worksheets[1:-1]:
        key_col = header(ws).index(key_title)
        rows = [[c.value for c in row] for row in data_rows(ws)]
        for r, values in enumerate(reversed(rows), 2):
            for c, value in enumerate(values, 1):
                cell = ws.cell(row=r, column=c)
                cell.value = value
                if isinstance(value, str):
                    cell.data_type = "s"  # canon text moved as text, as a real sort moves it
            if values[key_col] == lose_key_of:
                ws.cell(row=r, column=key_col + 1).value = None
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_reader_returns_placeholders_of_a_fresh_tracker(rendered: dict[str, bytes]) -> None:
    values = read_tracker(rendered[SEED_ID])
    assert values["mbo.1"] == {
        "Baseline": "⟨baseline⟩",
        "Target": "⟨target⟩",
        "Due": "⟨date⟩",
        "Actual": None,
        "Status": None,
        "Comment": None,
    }
    assert values["scorecard.role-calibration.scope"]["Target"] == "⟨target⟩"
    assert "smart.1.specific" not in values, "a row with no placeholder has no inputs"
    contract = read_contract(rendered[SEED_ID])
    assert contract.meta["profile"] == SEED_ID
    assert str(contract.meta["canon_digest"]).startswith("sha256:")


def test_reader_returns_what_was_typed_even_after_sorting(
    rendered: dict[str, bytes], key_title: str, input_titles: list[str]
) -> None:
    filled, typed = fill(rendered[SEED_ID], key_title, input_titles)
    assert {"mbo.1", "smart.1.measurable", "okr.2.kr2"} <= set(typed)
    assert read_tracker(filled) == typed
    assert read_tracker(reorder(filled, key_title)) == typed
    assert read_tracker(reorder(filled, key_title, lose_key_of="mbo.3")) == typed


def test_reader_refuses_what_is_not_a_tracker(rendered: dict[str, bytes]) -> None:
    with pytest.raises(TrackerError, match="not an XLSX"):
        read_tracker(b"PK not really")
    plain = io.BytesIO()
    Workbook().save(plain)
    with pytest.raises(TrackerError, match="_meta"):
        read_tracker(plain.getvalue())
    evil = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(rendered[SEED_ID])) as src,
        zipfile.ZipFile(evil, "w") as dst,
    ):
        for name in src.namelist():
            body = src.read(name)
            if name == "xl/worksheets/sheet2.xml":
                assert not body.startswith(b"<?xml")
                body = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + body
            dst.writestr(name, body)
    with pytest.raises(TrackerError, match="DTD"):
        read_tracker(evil.getvalue())


def test_only_input_cells_are_listed_in_the_contract(rendered: dict[str, bytes]) -> None:
    contract = read_contract(rendered["SYNTHETIC"])
    assert "Role profile" in contract.sheets
    assert not contract.sheets["Role profile"].inputs
    mapping: Mapping[str, list[str]] = contract.sheets["MBO"].inputs
    assert all(len(titles) == 6 for titles in mapping.values())


def openpyxl_rows(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    """Every sheet's values as openpyxl's read-only, data-only mode gives them."""
    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    out = {}
    for ws in wb.worksheets:
        ws.reset_dimensions()  # type: ignore[union-attr]
        out[ws.title] = [tuple(r) for r in ws.iter_rows(values_only=True)]
    wb.close()
    return out


def book_rows(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = Book(data)
    return {name: book.rows(name) for name in book.sheetnames}


#: A sheet with what the streaming reader must read as openpyxl does: booleans, errors, a
#: formula's cached text, exponents, rich and phonetic runs, cells and rows without a reference,
#: missing rows, a row with no cells, a date-styled number (style DATE), a shared string.
SHARED = """<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<si><t>x005F_one</t></si><si><r><t>r1</t></r><r><rPr><b/></rPr><t>r2</t></r></si></sst>"""
ODD_SHEET = """<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<sheetData><row r="2"><c r="A2" t="b"><v>1</v></c><c r="C2" t="e"><v>#N/A</v></c>
<c r="D2" t="str"><f>A1</f><v>x</v></c><c r="E2"><v>1.5E3</v></c><c r="F2"><v></v></c></row>
<row r="4"><c t="inlineStr"><is><r><t>a</t></r><r><t xml:space="preserve"> b </t></r>
<rPh sb="0" eb="1"><t>ph</t></rPh></is></c><c><v>7</v></c><c t="s"><v>1</v></c></row>
<row><c r="C5" s="DATE"><v>45000.5</v></c><c r="B5" s="DATE"><v>2</v></c></row>
<row r="7"/><row r="6"><c r="A6"><v>3</v></c></row></sheetData></worksheet>"""


def rezip(data: bytes, change: Callable[[dict[str, bytes]], None]) -> bytes:
    """The package with its members edited by `change` (a dict name -> bytes, in order)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    change(members)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in members.items():
            z.writestr(name, body)
    return out.getvalue()


def test_the_streaming_reader_reads_what_openpyxl_reads(
    rendered: dict[str, bytes], key_title: str, input_titles: list[str]
) -> None:
    """`xlsx_cells.Book` (lxml, streaming) gives every sheet's values exactly as openpyxl does:
    issued trackers (inline strings), openpyxl-saved ones (shared strings, date styles), sorted
    ones, and odd cells; the 1900 and 1904 date systems. LibreOffice-saved trackers are checked
    in the LibreOffice test below."""
    filled, _ = fill(rendered[SEED_ID], key_title, input_titles)
    cases = {**rendered, "filled": filled, "sorted": reorder(filled, key_title, "mbo.3")}
    date_style = min(Book(filled).date_styles)
    for date1904 in (False, True):

        def odd(parts: dict[str, bytes], date1904: bool = date1904) -> None:
            parts["xl/worksheets/sheet1.xml"] = ODD_SHEET.replace("DATE", str(date_style)).encode()
            parts["xl/sharedStrings.xml"] = SHARED.encode()
            parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
                b"</Types>",
                b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
                b'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
            )
            if date1904:
                parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(
                    b"<workbookPr", b'<workbookPr date1904="1"', 1
                )

        cases[f"odd-{date1904}"] = rezip(filled, odd)
    for name, data in cases.items():
        assert book_rows(data) == openpyxl_rows(data), name
    odd_rows = book_rows(cases["odd-True"])["Read me"]
    assert odd_rows[1][:5] == (True, None, "#N/A", "x", 1500.0) and odd_rows[2] == ()
    assert isinstance(odd_rows[4][1], datetime)  # C5 before B5: a row is as long as its last cell
    assert odd_rows[3] == ("a b ", 7, "r1r2") and len(odd_rows[4]) == 2


@pytest.mark.office
def test_libreoffice_opens_saves_and_reads_back_every_tracker(
    rendered: dict[str, bytes],
    every_frames: dict[str, ProfileFrames],
    soffice_convert: Converter,
    key_title: str,
    input_titles: list[str],
    tmp_path: Path,
) -> None:
    """Calc opens every tracker and saves it again (one batched call); what it saved still has
    its canon as literal strings, its protection, and reads back: a user may fill in Calc."""
    filled, typed = fill(rendered[SEED_ID], key_title, input_titles)
    inputs = {f"{name}.mbo-tracker": data for name, data in rendered.items()}
    inputs["filled-and-sorted"] = reorder(filled, key_title)
    paths = []
    for stem, data in inputs.items():
        paths.append(tmp_path / f"{stem}.xlsx")
        paths[-1].write_bytes(data)
    saved = dict(zip(inputs, soffice_convert(paths, "xlsx:Calc MS Excel 2007 XML"), strict=True))

    for name, frames in every_frames.items():
        data = saved[f"{name}.mbo-tracker"].read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for member in z.namelist():
                if member.startswith("xl/worksheets/"):
                    assert not FORMULA_ELEMENT.search(z.read(member)), f"{name}: {member}"
        wb = load(data)
        assert wb.sheetnames == ["Read me", *(f.short_title for f in frames.frames), "_meta"]
        # LibreOffice 7.4 writes veryHidden back as hidden and drops lockStructure on export.
        assert wb["_meta"].sheet_state in ("hidden", "veryHidden")
        for frame, ws in frame_sheets(wb, frames):
            assert ws.protection.sheet, f"{name}/{ws.title}"
            values = {c.value for row in ws.iter_rows() for c in row}
            for want in expected_rows(frame).values():
                assert want["heading"] in values and want["source"] in values, name
        assert read_tracker(data) == read_tracker(rendered[name]), name
        assert book_rows(data) == openpyxl_rows(data), name
    assert book_rows(saved["filled-and-sorted"].read_bytes()) == openpyxl_rows(
        saved["filled-and-sorted"].read_bytes()
    )
    mbo = load(saved["SYNTHETIC.mbo-tracker"].read_bytes())["MBO"]
    assert [c.value for c in mbo["A"]][1:] == [*FORMULA_LIKE, LONG]
    assert {c.data_type for c in mbo["A"]} == {"s"}
    assert read_tracker(saved["filled-and-sorted"].read_bytes()) == typed
