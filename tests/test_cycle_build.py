"""`packs cycle`: a generated roster built, every file re-opened with a real reader."""

from __future__ import annotations

import csv
import io
import json
import shutil
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from pipeline.cli import main
from pipeline.cycle import load_secret, read_identity, verify
from pipeline.cycle.contract import Period
from pipeline.cycle.groups import review_fields
from pipeline.cycle.personal import person_options, personalise, template
from pipeline.cycle.roster import Person
from pipeline.harvest.docx_form import read_form
from pipeline.layout import Layout, RenderOptions
from pipeline.model import Canon
from pipeline.render import get_format
from tests.conftest import CANON_DIR, FIXED_EPOCH, SEED_ID

NAME = "2027-annual"
PERIOD = "2027-01-01/2027-12-31"
#: Names that are code somewhere: they must land as literal text.
ODD_NAMES = ('=HYPERLINK("http://x","y")', "<script>alert(1)</script>", "{{ 7*7 }}", "Zoë & Ågot")


def roster_rows(profiles: list[str], count: int = 240) -> list[dict[str, str]]:
    """A top, 4 managers, 12 leads under them, everyone else under the leads: three deep."""
    rows = [
        {"employee_id": "E0000", "name": "Top Person", "profile": profiles[0], "manager_id": ""}
    ]
    for i in range(1, count):
        manager = (
            "E0000"
            if i <= 4
            else f"E{(i - 5) % 4 + 1:04d}"
            if i <= 16
            else f"E{(i - 17) % 12 + 5:04d}"
        )
        name = ODD_NAMES[i % len(ODD_NAMES)] if i % 40 == 0 else f"Person {i}"
        rows.append(
            {
                "employee_id": f"E{i:04d}",
                "name": name,
                "profile": profiles[i % len(profiles)],
                "manager_id": manager,
            }
        )
    return rows


def write_roster(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, ["employee_id", "name", "profile", "manager_id"], delimiter=";")
        writer.writeheader()
        writer.writerows(rows)


def run_cycle(roster: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "cycle",
            str(roster),
            "--name",
            NAME,
            "--period",
            PERIOD,
            "--canon",
            str(CANON_DIR),
            "--out",
            str(out),
            *extra,
        ],
        out=io.StringIO(),
    )


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, canon: Canon
) -> Iterator[tuple[Path, Path, list[dict[str, str]]]]:
    mp = pytest.MonkeyPatch()
    mp.setenv("SOURCE_DATE_EPOCH", str(FIXED_EPOCH))
    base = tmp_path_factory.mktemp("cycle")
    rows = roster_rows(sorted(p.id for p in canon.profiles))
    roster = base / "roster.csv"
    write_roster(roster, rows)
    assert run_cycle(roster, base / "out", "--zip", "--jobs", "1") == 0
    yield roster, base / "out" / "cycles" / NAME, rows
    mp.undo()


def files_of(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_cycle_json_is_the_contract(built: tuple[Path, Path, list[dict[str, str]]]) -> None:
    _, root, rows = built
    data = json.loads((root / "cycle.json").read_bytes())
    assert list(data)[:7] == [
        "cycle",
        "period",
        "canon_digest",
        "build_time",
        "people",
        "handouts",
        "managers",
    ]
    assert data["cycle"] == NAME
    assert data["period"] == {"start": "2027-01-01", "end": "2027-12-31"}
    assert data["build_time"] == "2023-11-14T22:13:20Z"
    assert [p["employee_id"] for p in data["people"]] == sorted(r["employee_id"] for r in rows)
    person = data["people"][1]
    assert set(person) == {"employee_id", "name", "manager_id", "profile", "files"}
    for group in ("people", "handouts", "managers"):
        for entry in data[group]:
            for f in entry["files"]:
                blob = (root / f["path"]).read_bytes()
                assert len(blob) == f["bytes"]
                import hashlib

                assert hashlib.sha256(blob).hexdigest() == f["sha256"]
    assert len(data["handouts"]) == len({r["profile"] for r in rows})
    assert sorted(p.name for p in (root / "handouts").iterdir()) == sorted(
        f"{h['profile']}.handout.pdf" for h in data["handouts"]
    )


def test_every_form_and_tracker_is_personal(
    built: tuple[Path, Path, list[dict[str, str]]],
) -> None:
    _, root, rows = built
    secret = load_secret(root)
    names = {r["employee_id"]: r["name"] for r in rows}
    for row in rows:
        eid = row["employee_id"]
        form = (root / "people" / eid / f"{eid}.review-form.docx").read_bytes()
        values = read_form(form)
        assert values["review.employee"] == row["name"]
        assert values["review.manager"] == (names[row["manager_id"]] if row["manager_id"] else None)
        assert values["review.period.start"] == "2027-01-01"
        assert values["review.period.end"] == "2027-12-31"
        assert values["signoff.employee.name"] is None  # the rest stays for the manager to fill
        tracker = root / "people" / eid / f"{eid}.mbo-tracker.xlsx"
        wb = load_workbook(tracker)
        lines = {r[0]: r[1] for r in wb["Read me"].iter_rows(values_only=True) if r[0]}
        assert lines["Employee"] == row["name"]
        assert lines["Review period"] == "2027-01-01 to 2027-12-31"
        assert lines.get("Manager") == (names[row["manager_id"]] if row["manager_id"] else None)
        for blob in (form, tracker.read_bytes()):
            identity = read_identity(blob)
            assert identity is not None
            assert (identity.cycle, identity.employee_id, identity.profile_id) == (
                NAME,
                eid,
                row["profile"],
            )
            assert verify(identity, secret)
            assert secret not in blob


def test_handouts_are_pdfs_and_bundles_hold_each_managers_reports(
    built: tuple[Path, Path, list[dict[str, str]]],
) -> None:
    _, root, rows = built
    for pdf in (root / "handouts").iterdir():
        assert len(PdfReader(pdf).pages) >= 1
    reports: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        if row["manager_id"]:
            reports.setdefault(row["manager_id"], []).append(row)
    assert sorted(p.stem for p in (root / "managers").iterdir()) == sorted(reports)
    for manager, people in reports.items():
        with zipfile.ZipFile(root / "managers" / f"{manager}.zip") as z:
            expected = sorted(
                [
                    f"{r['employee_id']}/{r['employee_id']}{s}"
                    for r in people
                    for s in (".mbo-tracker.xlsx", ".review-form.docx")
                ]
                + [f"handouts/{p}.handout.pdf" for p in {r["profile"] for r in people}]
            )
            assert z.namelist() == expected
            for name in z.namelist():
                if "/" in name and not name.startswith("handouts/"):
                    eid = name.split("/")[0]
                    assert z.read(name) == (root / "people" / eid / name.split("/")[1]).read_bytes()
    with zipfile.ZipFile(root / "cycle.zip") as z:
        assert "cycle.json" in z.namelist()
        assert len([n for n in z.namelist() if n.startswith("people/")]) == 2 * len(rows)


def test_personal_data_is_the_owners_alone(built: tuple[Path, Path, list[dict[str, str]]]) -> None:
    _, root, _ = built
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    assert stat.S_IMODE(root.parent.stat().st_mode) == 0o700


def test_rebuild_is_a_no_op_and_reproducible(
    built: tuple[Path, Path, list[dict[str, str]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    roster, root, rows = built
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(FIXED_EPOCH))
    before = files_of(root)
    out = io.StringIO()
    code = main(
        [
            "cycle",
            str(roster),
            "--name",
            NAME,
            "--period",
            PERIOD,
            "--canon",
            str(CANON_DIR),
            "--out",
            str(root.parent.parent),
            "--zip",
        ],
        out=out,
    )
    assert code == 0
    assert out.getvalue().startswith(f"built 0, skipped {len(rows)}, failed 0")
    assert files_of(root) == before
    # a fresh build with the same secret gives the same bytes, zips included
    copy = tmp_path / "out" / "cycles" / NAME
    copy.mkdir(parents=True)
    shutil.copy(root / ".cycle-secret", copy / ".cycle-secret")
    # ... built by two worker processes this time: the same bytes as one
    assert run_cycle(roster, tmp_path / "out", "--zip", "--force", "--jobs", "2") == 0
    assert files_of(copy) == before
    err = capsys.readouterr().err
    assert "Person 1" not in err and "Top Person" not in err


def test_an_edited_row_rebuilds_that_person_and_a_removed_one_disappears(
    canon: Canon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(FIXED_EPOCH))
    rows = roster_rows(sorted(p.id for p in canon.profiles), count=30)
    roster = tmp_path / "roster.csv"
    write_roster(roster, rows)
    assert run_cycle(roster, tmp_path / "out", "--zip") == 0
    root = tmp_path / "out" / "cycles" / NAME
    before = files_of(root)
    edited = rows[20]
    edited["name"] = "Renamed Person"
    removed = rows.pop(25)
    write_roster(roster, rows)
    out = io.StringIO()
    assert (
        main(
            [
                "cycle",
                str(roster),
                "--name",
                NAME,
                "--period",
                PERIOD,
                "--canon",
                str(CANON_DIR),
                "--out",
                str(tmp_path / "out"),
                "--zip",
            ],
            out=out,
        )
        == 0
    )
    assert out.getvalue().startswith(f"built 1, skipped {len(rows) - 1}, failed 0")
    after = files_of(root)
    changed = sorted(k for k in after if before.get(k) != after[k])
    eid, manager = edited["employee_id"], edited["manager_id"]
    gone = removed["employee_id"]
    expected = {
        f"people/{eid}/{eid}.mbo-tracker.xlsx",
        f"people/{eid}/{eid}.review-form.docx",
        f"managers/{manager}.zip",
        "cycle.json",
        "cycle.zip",
    }
    assert set(changed) == expected
    # the removed person was their manager's only report: that bundle is gone too
    assert f"managers/{removed['manager_id']}.zip" in before
    assert f"managers/{removed['manager_id']}.zip" not in after
    assert not (root / "people" / gone).exists()
    data = json.loads(after["cycle.json"])
    assert gone not in {p["employee_id"] for p in data["people"]}
    assert not [k for k in after if k.startswith(f"people/{gone}/")]


def test_personalising_equals_a_full_render(
    canon: Canon, layout: Layout, options: RenderOptions
) -> None:
    from pipeline.compose import compose_profile

    profile = canon.profiles[0]
    frames = compose_profile(profile, canon.digest(profile.id))
    from datetime import date

    period = Period(date(2027, 1, 1), date(2027, 12, 31))
    manager = Person("M1", "Mona <b>&amp;</b>", profile.id, None, None, None, 2)
    for name in (*ODD_NAMES, "x" * 300, "Ünïcode \U0001f600 \u2028 name"):
        person = Person("E1", name, profile.id, "M1", None, None, 3)
        values = review_fields(person, manager, period)
        identity = (
            f"jobframe-packs identity 1; cycle=c; employee=E1; profile={profile.id}; "
            "canon=d; seal=s"
        )
        for fmt_name in ("docx", "xlsx"):
            fmt = get_format(fmt_name)
            full = fmt.renderer()(frames, layout, person_options(options, values, identity))
            fast = personalise(
                template(fmt, frames, layout, options, tuple(values)), values, identity
            )
            assert fast is None or fast == full, (fmt_name, name)
            if len(name) < 100:
                assert fast == full, (fmt_name, name)


def test_libreoffice_opens_a_form_and_a_tracker(
    built: tuple[Path, Path, list[dict[str, str]]], soffice_convert: Any
) -> None:
    _, root, rows = built
    eid = rows[40]["employee_id"]
    pdfs = soffice_convert(
        [
            root / "people" / eid / f"{eid}.review-form.docx",
            root / "people" / eid / f"{eid}.mbo-tracker.xlsx",
        ],
        "pdf",
    )
    for pdf in pdfs:
        text = "".join(page.extract_text() or "" for page in PdfReader(pdf).pages)
        assert rows[40]["name"] in text


def test_bad_input_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "employee_id,name,profile,manager_id\nE1,Secret Name,NOPE.X.M4,\nE2,Other,ENGR.GEN.M2,E1\n",
        encoding="utf-8",
    )
    code = main(
        [
            "cycle",
            str(roster),
            "--name",
            "../x",
            "--period",
            "2027-12-31/2027-01-01",
            "--canon",
            str(CANON_DIR),
            "--out",
            str(tmp_path / "out"),
        ],
        out=io.StringIO(),
    )
    assert code == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "--name: error: '../x' is not a safe folder name (expected 1–64 letters, digits, '.', "
        "'_' or '-', starting with a letter or digit, such as 2027-annual) [cycle-name]",
        "--period: error: '2027-12-31/2027-01-01' ends before it starts (END must not precede "
        "START) [cycle-period]",
        f"{roster}:2: error: column 'profile': unknown profile 'NOPE.X.M4' [roster-profile]",
        "3 problems found",
    ]
    assert "Secret" not in err
    assert not (tmp_path / "out").exists()


def test_page_size_form_password_and_salary_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`packs cycle` takes the render options `packs build` takes; changing one rebuilds."""
    from lxml import etree

    from pipeline.ooxml.ns import w

    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(FIXED_EPOCH))
    roster = tmp_path / "roster.csv"
    write_roster(
        roster, [{"employee_id": "E1", "name": "Ann", "profile": SEED_ID, "manager_id": ""}]
    )
    out = tmp_path / "out"
    extra = ("--formats", "docx,pdf", "--jobs", "1")
    assert run_cycle(roster, out, *extra) == 0
    root = out / "cycles" / NAME
    form = root / "people" / "E1" / "E1.review-form.docx"
    handout = root / "handouts" / f"{SEED_ID}.handout.pdf"

    def salary_in(data: bytes) -> bool:
        return (
            "$160,000 - $240,000"
            in zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode()
        )

    def protection(data: bytes) -> Any:
        settings = etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("word/settings.xml"))
        return settings.find(w("documentProtection"))

    plain = form.read_bytes()
    assert not salary_in(plain)
    assert protection(plain).get(w("hash")) is None
    assert PdfReader(handout).pages[0].mediabox.height == pytest.approx(841.89, abs=0.5)

    options = ("--page-size", "Letter", "--form-password", "s3cret", "--include-salary")
    assert run_cycle(roster, out, *extra, *options) == 0
    dressed = form.read_bytes()
    assert salary_in(dressed)
    assert protection(dressed).get(w("cryptAlgorithmSid")) == "14"  # a SHA-512 verifier
    assert protection(dressed).get(w("hash")) and b"s3cret" not in dressed
    page = PdfReader(handout).pages[0].mediabox
    assert (float(page.width), float(page.height)) == pytest.approx((612, 792), abs=0.5)
    assert read_form(dressed).get("review.employee") == "Ann"
