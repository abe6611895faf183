"""`packs harvest --canon DIR RETURNED...`: every returned file gets one verdict in `Returns`,
the values of the intact ones land typed in `Results`, and the workbook is reproducible."""

from __future__ import annotations

import io
import shutil
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from pipeline.cli import main
from pipeline.harvest.collect import Person, Return, Verdict
from pipeline.harvest.results import (
    PEOPLE_HEADER,
    RESULT_HEADER,
    RETURN_HEADER,
    csv_bytes,
    guarded,
    people_rows,
    result_rows,
    summary_rows,
    typed,
    workbook_bytes,
)
from pipeline.harvest.verify import form_paragraphs
from pipeline.layout import Layout, RenderOptions
from pipeline.model import ProfileFrames
from pipeline.ooxml.xlsx_package import MemoryExcelWriter, PackageParts
from pipeline.render import FORMATS
from tests.conftest import CANON_DIR, FIXED_EPOCH, SEED_ID, Converter
from tests.test_docx import FILLED
from tests.test_docx import fill as fill_form
from tests.test_xlsx import fill as fill_tracker


def _rezip(data: bytes, name: str, change: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            dst.writestr(info.filename, change if info.filename == name else body)
    return out.getvalue()


def _edit(data: bytes, name: str, old: bytes, new: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        body = z.read(name)
    assert old in body
    return _rezip(data, name, body.replace(old, new, 1))


@pytest.fixture(scope="module")
def returned(
    seed_frames: ProfileFrames, layout: Layout, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    options = RenderOptions(timestamp=FIXED_EPOCH)
    form = FORMATS["docx"].renderer()(seed_frames, layout, options)
    tracker = FORMATS["xlsx"].renderer()(seed_frames, layout, options)
    root = tmp_path_factory.mktemp("returned")
    (root / "mail" / "deep").mkdir(parents=True)
    filled = fill_form(form, {**FILLED, "mbo.1.target": '=HYPERLINK("x")'})
    (root / "mail" / "ana.docx").write_bytes(filled)
    (root / "mail" / "deep" / "tracker.xlsx").write_bytes(tracker)
    (root / "mail" / "notes.txt").write_text("hello")
    (root / "mail" / "random.docx").write_bytes(_rezip(form, "docProps/custom.xml", b"<x/>"))
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"\0" * (65 * 1024 * 1024))
    (root / "bomb.docx").write_bytes(bomb.getvalue())
    (root / "plain.xlsx").write_bytes(b"not a zip")
    stale = _edit(form, "docProps/custom.xml", seed_frames.canon_digest.encode(), b"sha256:00")
    (root / "stale.docx").write_bytes(stale)
    with zipfile.ZipFile(io.BytesIO(form)) as z:
        document = z.read("word/document.xml")
    line = next(p for p in form_paragraphs(form) if len(p) > 30 and p.encode() in document)
    edited = _edit(form, "word/document.xml", line.encode(), b"We promise nothing.")
    (root / "tampered.docx").write_bytes(edited)
    return root


def test_every_file_gets_a_verdict_and_values_are_typed(returned: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.xlsx"
    code = main(["harvest", "--canon", str(CANON_DIR), str(returned), "--out", str(out)])
    assert code == 1  # problems listed, workbook still written
    wb = load_workbook(out)
    rows = list(wb["Returns"].iter_rows(min_row=2, values_only=True))
    verdicts = {Path(str(r[0])).name: r[4] for r in rows}
    assert verdicts == {
        "ana.docx": "ok",
        "tracker.xlsx": "ok",
        "notes.txt": "skipped",
        "random.docx": "unknown",
        "bomb.docx": "unreadable",
        "plain.xlsx": "unreadable",
        "stale.docx": "stale",
        "tampered.docx": "tampered",
    }
    message = next(str(r[5]) for r in rows if str(r[0]).endswith("tampered.docx"))
    assert "canon text changed" in message and "We promise nothing." in message
    assert all(str(r[1]).startswith("sha256:") for r in rows)
    results = {r[5]: r for r in wb["Results"].iter_rows(min_row=2, values_only=True)}
    header = [c.value for c in wb["Results"][1]]
    col = {title: header.index(title) for title in header}
    row = results["smart.1.measurable"]
    assert row[col["Baseline"]] == "12 days" and row[col["Employee id"]] == SEED_ID
    assert row[col["Canon text"]]
    due = results["mbo.4"]
    assert wb["Results"].cell(1, 1).value == "Employee id"
    assert due[col["Due"]].date() == date(2026, 3, 31)
    formula = results["mbo.1"]
    assert formula[col["Target"]] == '=HYPERLINK("x")'
    for ws_row in wb["Results"].iter_rows(min_row=2):
        assert all(c.data_type != "f" for c in ws_row)
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert summary["ok"] == 2 and summary["skipped"] == 1 and summary["unreadable"] == 2
    assert summary["total"] == 8 and summary["Returned"] == 1 and summary["Issued"] == 1
    people = list(wb["People"].iter_rows(min_row=2, values_only=True))
    assert people[0][:6] == (SEED_ID, None, None, SEED_ID, "yes", "yes")


def test_a_rerun_is_byte_identical(
    returned: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """...and the same whether the files are read in one process or on worker processes."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(FIXED_EPOCH))
    outs = []
    for n, jobs in enumerate(("1", "1", "3")):
        out = tmp_path / f"r{n}.xlsx"
        args = ["harvest", "--canon", str(CANON_DIR), str(returned), "--out", str(out)]
        main([*args, "--jobs", jobs])
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]


def test_two_returns_for_one_profile(
    seed_frames: ProfileFrames, layout: Layout, tmp_path: Path
) -> None:
    form = FORMATS["docx"].renderer()(seed_frames, layout, RenderOptions(timestamp=FIXED_EPOCH))
    old = fill_form(form, {"mbo.1.target": "old"})
    # Word stamps dcterms:modified on save; the newer file wins whatever its name
    new = _edit(
        fill_form(form, {"mbo.1.target": "new"}),
        "docProps/core.xml",
        b'"dcterms:W3CDTF">2023-11-14T22:13:20Z</dcterms:modified>',
        b'"dcterms:W3CDTF">2026-04-02T09:00:00Z</dcterms:modified>',
    )
    (tmp_path / "z-old.docx").write_bytes(old)
    (tmp_path / "a-new.docx").write_bytes(new)
    out = tmp_path / "results.xlsx"
    code = main(["harvest", "--canon", str(CANON_DIR), str(tmp_path), "--out", str(out)])
    wb = load_workbook(out)
    rows = list(wb["Returns"].iter_rows(min_row=2, values_only=True))
    assert sorted(r[4] for r in rows) == ["duplicate", "ok"]
    dup = next(r for r in rows if r[4] == "duplicate")
    assert str(dup[0]).endswith("z-old.docx")
    assert "conflicting values: mbo.1 Target: 'new' vs 'old'" in str(dup[5])
    results = {r[5]: r for r in wb["Results"].iter_rows(min_row=2, values_only=True)}
    assert "new" in results["mbo.1"] and str(results["mbo.1"][-1]).endswith("a-new.docx")
    assert code == 1


def test_csv_guard_and_types() -> None:
    assert guarded("=1+2") == "'=1+2" and guarded("-x") == "'-x" and guarded("\tx") == "'\tx"
    assert guarded("ok") == "ok" and guarded(date(2026, 1, 2)) == "2026-01-02"
    assert csv_bytes([["@a"]]).startswith("\ufeff".encode())
    assert (
        typed("2026-06-30") == date(2026, 6, 30)
        and typed("5") == 5
        and typed("5 days") == "5 days"
        and typed(2.5) == 2.5
    )


def test_usage_errors(tmp_path: Path) -> None:
    assert main(["harvest", "--canon", str(CANON_DIR), str(tmp_path / "nope")]) == 2
    assert main(["harvest"]) == 2


def test_csv_export(returned: Path, tmp_path: Path) -> None:
    out, folder = tmp_path / "results.xlsx", tmp_path / "csv"
    args = ["harvest", "--canon", str(CANON_DIR), str(returned), "--out", str(out)]
    main([*args, "--csv", str(folder)])
    for name in ("results.csv", "returns.csv", "people.csv"):
        assert (folder / name).read_bytes().startswith(b"\xef\xbb\xbf")
    text = (folder / "results.csv").read_text("utf-8-sig")
    assert "'=HYPERLINK" in text and "2026-03-31" in text
    assert "random.docx" in (folder / "returns.csv").read_text("utf-8-sig")


def test_cycle_mode_matches_by_sealed_identity(
    seed_frames: ProfileFrames, layout: Layout, tmp_path: Path
) -> None:
    from pipeline.cycle import (
        CycleRecord,
        Period,
        PersonEntry,
        cycle_json,
        ensure_secret,
        seal,
        stamp,
    )

    cycle = tmp_path / "cycles" / "2027-annual"
    cycle.mkdir(parents=True)
    secret = ensure_secret(cycle)
    people = tuple(
        PersonEntry(eid, name, "M-1", SEED_ID, ())
        for eid, name in (("E-1", "Ana Ødegård"), ("E-2", "Kwame Mensah"))
    )
    record = CycleRecord(
        "2027-annual",
        Period(date(2027, 1, 1), date(2027, 12, 31)),
        seed_frames.canon_digest,
        FIXED_EPOCH,
        people,
        {},
        {},
    )
    (cycle / "cycle.json").write_bytes(cycle_json(record))
    form = FORMATS["docx"].renderer()(seed_frames, layout, RenderOptions(timestamp=FIXED_EPOCH))
    digest = seed_frames.canon_digest
    returned = tmp_path / "returned"
    returned.mkdir()
    mine = stamp(fill_form(form, FILLED), seal("2027-annual", "E-1", SEED_ID, digest, secret))
    (returned / "named-after-someone-else.docx").write_bytes(mine)
    other = stamp(form, seal("2026-annual", "E-2", SEED_ID, digest, secret))
    (returned / "other-cycle.docx").write_bytes(other)
    forged = stamp(form, seal("2027-annual", "E-2", SEED_ID, digest, b"0" * 64))
    (returned / "forged.docx").write_bytes(forged)
    (returned / "plain.docx").write_bytes(form)
    code = main(["harvest", str(cycle), str(returned)])
    assert code == 1
    wb = load_workbook(cycle / "results.xlsx")
    rows = {Path(str(r[0])).name: r for r in wb["Returns"].iter_rows(min_row=2, values_only=True)}
    assert {n: r[4] for n, r in rows.items()} == {
        "named-after-someone-else.docx": "ok",
        "other-cycle.docx": "unknown",
        "forged.docx": "tampered",
        "plain.docx": "unknown",
    }
    assert rows["named-after-someone-else.docx"][3] == "E-1"
    people = {r[0]: r for r in wb["People"].iter_rows(min_row=2, values_only=True)}
    assert people["E-1"][4] == "yes" and people["E-2"][4] == "no"
    assert people["E-1"][1] == "Ana Ødegård" and people["E-1"][2] == "M-1"
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert summary["Returned"] == 1 and summary["Issued"] == 2 and summary["M-1"] == 2


def test_a_built_cycle_harvests_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The files `packs cycle` issues (personal Read me lines included) come back `ok`."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "canon").symlink_to(CANON_DIR.resolve())
    roster = tmp_path / "roster.csv"
    roster.write_text(
        f"employee_id,name,profile,manager_id\nE-1,Ana,{SEED_ID},\nE-2,Bo,{SEED_ID},E-1\n"
    )
    args = ["cycle", "--name", "2027-annual", "--period", "2027-01-01/2027-12-31"]
    assert main([*args, "--formats", "docx,xlsx", "--out", "out", str(roster)]) == 0
    cycle = tmp_path / "out" / "cycles" / "2027-annual"
    assert main(["harvest", str(cycle), str(cycle / "people")]) == 0
    wb = load_workbook(cycle / "results.xlsx")
    verdicts = [r[4] for r in wb["Returns"].iter_rows(min_row=2, values_only=True)]
    assert verdicts == ["ok"] * 4


def test_cycle_names_from_the_template_and_a_full_render_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each person's issued copy comes from one render per profile with markers for the review
    fields; names a render might not write as they are (`_x0041_`, the marker character, a
    non-printable space) are rendered in full. Either way a built cycle harvests clean, and a
    name edited in a tracker's Read me (a locked cell that differs per person) is tampering."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "canon").symlink_to(CANON_DIR.resolve())
    roster = tmp_path / "roster.csv"
    names = ["Ana Ødegård", "Zoë_x0041_", "Bo § 1", "Kim\u00a0Lee", "O'Neil & <Sons>"]
    lines = [f'E-{i},"{n}",{SEED_ID},{"E-0" if i else ""}' for i, n in enumerate(names)]
    roster.write_text("employee_id,name,profile,manager_id\n" + "\n".join(lines) + "\n")
    args = ["cycle", "--name", "2027-annual", "--period", "2027-01-01/2027-12-31"]
    assert main([*args, "--formats", "docx,xlsx", "--out", "out", str(roster)]) == 0
    cycle = tmp_path / "out" / "cycles" / "2027-annual"
    returned = tmp_path / "returned"
    shutil.copytree(cycle / "people", returned)
    tracker = next((returned / "E-4").glob("*.xlsx"))
    wb = load_workbook(tracker)
    cell = next(c for row in wb["Read me"].iter_rows() for c in row if c.value == names[4])
    cell.value = "Someone Else"
    wb.save(tracker)
    assert main(["harvest", str(cycle), str(returned)]) == 1
    wb = load_workbook(cycle / "results.xlsx")
    rows = {Path(str(r[0])).name: r for r in wb["Returns"].iter_rows(min_row=2, values_only=True)}
    assert len(rows) == 10
    bad = rows[tracker.name]
    assert bad[4] == "tampered" and "Someone Else" in str(bad[5]), bad
    assert "Read me!" in str(bad[5])
    assert all(r[4] == "ok" for name, r in rows.items() if name != tracker.name), rows


def _openpyxl_workbook(
    people: list[Person], returns: list[Return], texts: dict[str, dict[str, str]], epoch: int
) -> bytes:
    """The results workbook as it was written before rows were written from values: every row
    through `ws.append`, then each text cell made a string cell and each date styled."""
    wb = Workbook()
    sheets = [wb.active, *(wb.create_sheet(n) for n in ("Returns", "People", "Summary"))]
    sheets[0].title = "Results"  # type: ignore[union-attr]
    listed = [
        [r.path, r.sha256, r.kind, r.employee_id, r.verdict.value, r.message] for r in returns
    ]
    content = [
        [RESULT_HEADER, *(row.cells() for row in result_rows(people, returns, texts))],
        [RETURN_HEADER, *listed],
        [PEOPLE_HEADER, *people_rows(people, returns)],
        summary_rows(people, returns),
    ]
    for ws, rows in zip(sheets, content, strict=True):
        for values in rows:
            ws.append(list(values))  # type: ignore[union-attr]
            for cell in ws[ws._current_row] if values else ():  # type: ignore[union-attr]
                if isinstance(cell.value, str):
                    cell.data_type = "s"
                elif isinstance(cell.value, date):
                    cell.number_format = "yyyy-mm-dd"
    moment = datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)
    wb.properties.creator = wb.properties.lastModifiedBy = "jobframe-packs"
    wb.properties.created = wb.properties.modified = moment
    wb.properties.title = "Harvest results"
    parts = PackageParts()
    MemoryExcelWriter(wb, parts).save()
    return parts.package(epoch)


def test_results_rows_are_written_as_openpyxl_writes_them() -> None:
    """The results sheets are written from values, not openpyxl cells (60,000 rows for a
    2,000-file harvest); the bytes are the ones openpyxl gives for the same rows, for text that
    needs escaping or character references, edge spaces, formulas, dates and numbers."""
    odd = [
        '=HYPERLINK("x")',
        "  lead and trail ",
        "a & b < c > d \"q\" 'a'",
        "tab\there\nline\r\nCR",
        "Ødegård 😀 ⟨target⟩ — ok",
        "",
        "#N/A",
        "+1",
        "x" * 40_000,
    ]
    values = {
        f"smart.{i}.measurable": {"Baseline": text, "Target": str(i), "Due": "2027-0{i}-01"}
        for i, text in enumerate(odd, 1)
        if i < 10
    }
    values["mbo.1"] = {
        "Actual": 2.5,
        "Due": datetime(2027, 5, 6, 7, 8, 9),
        "Status": True,
        "Comment": datetime(2027, 1, 2),
    }
    people = [Person("E-1", "Ana Ødegård", "M & <1>", SEED_ID), Person("E-2", " Bo ", "", SEED_ID)]
    returns = [
        Return("mail/ana ø.docx", "sha256:1", "docx", Verdict.OK, "", "E-1", None, values),
        Return("mail/x.txt", "", "", Verdict.SKIPPED, "not a .docx & <.xlsx> file"),
        Return("mail/b.xlsx", "sha256:2", "xlsx", Verdict.TAMPERED, odd[3], "E-2"),
    ]
    texts = {SEED_ID: {"smart.1.measurable": "Move ⟨baseline⟩ & more"}}
    new = workbook_bytes(people, returns, texts, FIXED_EPOCH)
    assert new == _openpyxl_workbook(people, returns, texts, FIXED_EPOCH)
    wb = load_workbook(io.BytesIO(new))
    cell = next(
        r[7] for r in wb["Results"].iter_rows(min_row=2) if r[5].value == "smart.1.measurable"
    )
    assert cell.value == odd[0] and cell.data_type == "s"


@pytest.mark.office
def test_files_filled_and_saved_in_libreoffice_harvest_with_every_value(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    soffice_convert: Converter,
    layout: Layout,
) -> None:
    """A built cycle's files returned three ways: a form filled and then saved by LibreOffice
    (open + save round trip), a tracker filled with openpyxl and saved by LibreOffice, a tracker
    filled with openpyxl alone; one person returns nothing. Every file is `ok`, every typed value
    is in Results with its type, and the counts add up."""
    key_title = layout.config.xlsx.columns.key.title
    input_titles = [i.title for i in layout.config.xlsx.inputs]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "canon").symlink_to(CANON_DIR.resolve())
    roster = tmp_path / "roster.csv"
    rows = [f"E-{i},Person {i},{SEED_ID},{'E-1' if i > 1 else ''}" for i in range(1, 5)]
    roster.write_text("employee_id,name,profile,manager_id\n" + "\n".join(rows) + "\n")
    args = ["cycle", "--name", "2027-annual", "--period", "2027-01-01/2027-12-31"]
    assert main([*args, "--formats", "docx,xlsx", "--out", "out", str(roster)]) == 0
    cycle = tmp_path / "out" / "cycles" / "2027-annual"
    people = cycle / "people"
    staged = tmp_path / "staged"
    staged.mkdir()
    form_values = {k: v for k, v in FILLED.items() if not k.startswith("review.")}
    form = next((people / "E-1").glob("*.docx"))
    (staged / "e1-form.docx").write_bytes(fill_form(form.read_bytes(), form_values))
    typed_in = {}
    for eid in ("E-2", "E-3"):
        tracker = next((people / eid).glob("*.xlsx")).read_bytes()
        data, typed_in[eid] = fill_tracker(tracker, key_title, input_titles)
        (staged / f"{eid.lower()}-tracker.xlsx").write_bytes(data)
    (saved_form,) = soffice_convert([staged / "e1-form.docx"], "docx:MS Word 2007 XML")
    (saved_tracker,) = soffice_convert([staged / "e-2-tracker.xlsx"], "xlsx:Calc MS Excel 2007 XML")
    returned = tmp_path / "returned"
    returned.mkdir()
    shutil.copy(saved_form, returned / "from-libreoffice.docx")
    shutil.copy(saved_tracker, returned / "from-libreoffice.xlsx")
    shutil.copy(staged / "e-3-tracker.xlsx", returned / "from-openpyxl.xlsx")

    assert main(["harvest", str(cycle), str(returned)]) == 0
    wb = load_workbook(cycle / "results.xlsx")
    files = {Path(str(r[0])).name: r for r in wb["Returns"].iter_rows(min_row=2, values_only=True)}
    assert {n: (r[3], r[4]) for n, r in files.items()} == {
        "from-libreoffice.docx": ("E-1", "ok"),
        "from-libreoffice.xlsx": ("E-2", "ok"),
        "from-openpyxl.xlsx": ("E-3", "ok"),
    }
    header = [c.value for c in wb["Results"][1]]
    col = {title: header.index(title) for title in header}
    results: dict[tuple[str, str], dict[str, object]] = {}
    for r in wb["Results"].iter_rows(min_row=2, values_only=True):
        results[(str(r[0]), str(r[col["Key"]]))] = {t: r[i] for t, i in col.items()}
        assert r[col["Placeholder"]] is None or "⟨" in str(r[col["Placeholder"]])

    def same(found: object, want: object) -> bool:
        want = typed(want)  # a date as text too (the readers give "2027-06-30")
        if isinstance(want, date):  # a datetime too
            want = want.date() if isinstance(want, datetime) else want
            return isinstance(found, datetime) and found.date() == want
        return found == want

    for key, value in form_values.items():
        row, _, column = key.rpartition(".")
        found = results.get(("E-1", row), {}).get(column.capitalize())
        if found is None:  # a single field: the whole key is the row, column Value
            found = results[("E-1", key)]["Value"]
        want = date.fromisoformat(value) if key.endswith(("due", "date", "time-bound")) else value
        assert same(found, want), (key, found, value)
    for eid, filled in typed_in.items():
        for key, columns in filled.items():
            for column, value in columns.items():
                found = results[(eid, key)][column]
                assert same(found, value), (eid, key, column, found, value)
                assert results[(eid, key)]["File"] == str(
                    returned / f"from-{'libreoffice' if eid == 'E-2' else 'openpyxl'}.xlsx"
                )
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert summary["ok"] == 3 and summary["total"] == 3
    assert summary["Returned"] == 3 and summary["Issued"] == 4
    people_rows = {r[0]: r for r in wb["People"].iter_rows(min_row=2, values_only=True)}
    assert {e: r[4:6] for e, r in people_rows.items()} == {
        "E-1": ("yes", "no"),
        "E-2": ("no", "yes"),
        "E-3": ("no", "yes"),
        "E-4": ("no", "no"),
    }


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_bar_on_a_terminal_only(returned: Path) -> None:
    """The bar counts every file found (skipped ones too) on a terminal; elsewhere it is
    silent, so redirected output stays clean."""
    from pipeline.extract import load_canon
    from pipeline.harvest.collect import CanonMatcher, harvest
    from pipeline.layout import load_layout

    matcher = CanonMatcher(load_canon(CANON_DIR), load_layout())
    tty, pipe = _Terminal(), io.StringIO()
    assert len(harvest([returned], matcher, tty)) == 8
    harvest([returned], matcher, pipe)
    assert tty.getvalue().endswith("] 8/8 files\n") and "harvest [" in tty.getvalue()
    assert pipe.getvalue() == ""
