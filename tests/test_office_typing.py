"""A manager fills the form and the tracker in LibreOffice, protection on, and sends them back.

LibreOffice is driven through UNO by Debian's /usr/bin/python3 (python3-uno, installed by
`tasks.py setup`), or by the LibreOffice and Python that PACKS_SOFFICE and PACKS_UNO_PYTHON name
(README "Tests"). The form is typed into through the dispatcher, `.uno:InsertText` (what typing
in Writer sends), into every form field and into canon text. The tracker is typed into through
the dispatcher too, `.uno:EnterString` (what Calc runs when a typed cell is committed), into a
row of inputs of every sheet and into locked cells, and then into every input and saved; the
tracker saved after `setFormula` (text parsed as Calc parses typing) is checked to give the
same cells. LibreOffice 7.4 headless aborts half a second after the first EnterString
(tests/uno_typist.py `keys`), too soon to save: on 7.4 the typed-and-saved tracker test checks
that abort, on a LibreOffice that survives it (25.2 does) it reads the saved tracker back.
ONE soffice for the module (`tests/uno_typist.py` runs a JSON batch; the EnterString jobs
last, as they kill 7.4's soffice); the files it saves are then read back by the harvest and
checked by the tamper check, as a returned file would be.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from openpyxl import load_workbook

from pipeline.harvest.docx_form import read_form
from pipeline.harvest.verify import Status, verify
from pipeline.harvest.xlsx_tracker import read_tracker
from pipeline.layout import Layout, RenderOptions
from pipeline.model import PlaceholderKind, ProfileFrames
from pipeline.render import FORMATS
from tests.conftest import soffice_binary
from tests.test_docx import expected_keys, form_fields, frame_placeholders

pytestmark = pytest.mark.office

#: The Python that runs tests/uno_typist.py: one that can `import uno` from the same LibreOffice
#: as `soffice_binary()` (PACKS_SOFFICE). Debian's /usr/bin/python3 with python3-uno unless the
#: environment names another (README "Tests": a LibreOffice other than the system's).
UNO_PYTHON_SWITCH = "PACKS_UNO_PYTHON"
UNO_PYTHON = os.environ.get(UNO_PYTHON_SWITCH) or "/usr/bin/python3"
TYPIST = Path(__file__).resolve().parent / "uno_typist.py"
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
SAFE = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
#: What a manager types into each tracker input column (as text, the way a keyboard sends it);
#: the harvest reads each back as this same text (`xlsx_tracker.cell_text`).
TRACKER_TEXT = {
    "Baseline": "12.5",
    "Target": "40",
    "Due": "2027-06-30",
    "Actual": "80%",
    "Status": "On track",
}
#: What LibreOffice stores for it (it parses numbers, percentages and dates as Calc does on
#: typing; a date is its day number, 1899-12-30 being 0).
CALC_VALUE: dict[str, object] = {
    "Baseline": 12.5,
    "Target": 40,
    "Due": (date(2027, 6, 30) - date(1899, 12, 30)).days,
    "Actual": 0.8,
    "Status": "On track",
}
LOCKED_CELLS = (("MBO", "A2"), ("SMART", "E2"), ("MBO", "J2"))


def survives_typing(version: str) -> bool:
    """Whether this LibreOffice (its "7.4.7.2") lives on after `.uno:EnterString` headless, so a
    typed tracker can be saved: 7.4.7 (Debian 12) aborts half a second after the first one
    (tests/uno_typist.py `keys`), 25.2.3 (Debian 13, tried from bookworm-backports) does not.
    Releases in between are not tried; 7.5 on are taken to survive, and the test says so if one
    does not."""
    major, minor = (int(n) for n in version.split(".")[:2])
    return (major, minor) >= (7, 5)


def w(tag: str) -> str:
    return f"{{{W}}}{tag}"


def require_uno() -> tuple[str, str]:
    """soffice and a Python with `uno`, or a skip (a failure in CI, which installs both)."""
    binary = soffice_binary()
    reason = None
    if binary is None:
        reason = "LibreOffice (soffice) is not installed"
    elif (
        not Path(UNO_PYTHON).is_file()
        or subprocess.run([UNO_PYTHON, "-c", "import uno"], capture_output=True).returncode
    ):
        reason = f"{UNO_PYTHON} cannot import uno (Debian package python3-uno is not installed)"
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; python3 tasks.py setup installs it, and CI needs it")
        pytest.skip(reason)
    assert binary is not None
    return binary, UNO_PYTHON


def form_values(frames: ProfileFrames) -> dict[str, str]:
    """A distinct value for every field: an ISO date for date fields, text for the others
    (with characters XML and a field code would care about)."""
    dates = {p.key for p in frame_placeholders(frames) if p.kind is PlaceholderKind.DATE}
    dates |= {f.key for f in form_fields() if f.date}
    out = {}
    for n, key in enumerate(expected_keys(frames)):
        if key in dates:
            out[key] = (date(2027, 1, 1) + timedelta(days=n)).isoformat()
        else:
            out[key] = f"value {n} <&> {{ FORMTEXT }}"
    return out


def tracker_inputs(data: bytes) -> list[tuple[str, str, str, str]]:
    """(sheet, cell, column title, key) of every unlocked cell of every frame sheet."""
    wb = load_workbook(io.BytesIO(data))
    out = []
    for ws in wb.worksheets:
        if ws.sheet_state != "visible" or ws.title == "Read me":
            continue
        titles = [c.value for c in ws[1]]
        key_col = titles.index("Key")
        for row in ws.iter_rows(min_row=2):
            for title, cell in zip(titles, row, strict=True):
                if not cell.protection.locked:
                    out.append((ws.title, cell.coordinate, str(title), str(row[key_col].value)))
    return out


def first_rows(
    inputs: list[tuple[str, str, str, str]],
) -> list[tuple[str, str, str, str]]:
    """The input cells of the first row of each sheet that has inputs: every input column."""
    rows: dict[str, str] = {}
    for sheet, _, _, key in inputs:
        rows.setdefault(sheet, key)
    return [i for i in inputs if rows[i[0]] == i[3]]


def comment(key: str) -> str:
    return f"note for {key} & <team>"


@pytest.fixture(scope="module")
def typed(
    seed_frames: ProfileFrames, layout: Layout, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """ONE LibreOffice: the seed form typed into, the form left untouched, the tracker typed
    into; each saved by LibreOffice (DOCX / XLSX)."""
    soffice, python = require_uno()
    folder = tmp_path_factory.mktemp("typed")
    options = RenderOptions(timestamp=0)
    form = FORMATS["docx"].renderer()(seed_frames, layout, options)
    tracker = FORMATS["xlsx"].renderer()(seed_frames, layout, options)
    (folder / "form.docx").write_bytes(form)
    (folder / "tracker.xlsx").write_bytes(tracker)
    values = form_values(seed_frames)
    inputs = tracker_inputs(tracker)
    cells = [[s, c, TRACKER_TEXT.get(t) or comment(k)] for s, c, t, k in inputs]
    cells += [[s, c, "EDITED"] for s, c in LOCKED_CELLS]
    (folder / "tracker-keys.xlsx").write_bytes(tracker)
    (folder / "tracker-keyed.xlsx").write_bytes(tracker)
    keyed = first_rows(inputs)
    keys = [[s, c, TRACKER_TEXT.get(t) or comment(k)] for s, c, t, k in keyed]
    keys += [[s, c, "EDITED"] for s, c in LOCKED_CELLS]
    jobs: list[dict[str, Any]] = [
        {"kind": "writer", "in": "form.docx", "out": "form-typed.docx", "values": values},
        {"kind": "writer", "in": "form.docx", "out": "form-untouched.docx", "values": {}},
        {"kind": "calc", "in": "tracker.xlsx", "out": "tracker-typed.xlsx", "cells": cells},
        {"kind": "keys", "in": "tracker-keys.xlsx", "cells": keys},  # 7.4 dies after it
        {  # last: 7.4 dies in it
            "kind": "keys-saved",
            "in": "tracker-keyed.xlsx",
            "out": "tracker-keyed-saved.xlsx",
            "cells": cells,
        },
    ]
    for job in jobs:
        job["in"] = str(folder / job["in"])
        if "out" in job:
            job["out"] = str(folder / job["out"])
    done = subprocess.run(
        [python, str(TYPIST), soffice, str(tmp_path_factory.mktemp("lo-profile"))],
        input=json.dumps({"jobs": jobs}),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        pytest.fail(f"the UNO typist failed:\n{done.stdout}\n{done.stderr}")
    out = json.loads(done.stdout)
    form_report, untouched_report, tracker_report, keys_report, keyed_report = out["results"]
    keyed_saved = folder / "tracker-keyed-saved.xlsx"
    return {
        "version": out["version"],
        "values": values,
        "cells": cells,
        "keyed_report": keyed_report,
        "keyed_saved": keyed_saved.read_bytes() if keyed_report["saved"] else None,
        "inputs": inputs,
        "keyed": keyed,
        "keys": keys_report,
        "form": form_report,
        "untouched": untouched_report,
        "tracker": tracker_report,
        "form_saved": (folder / "form-typed.docx").read_bytes(),
        "untouched_saved": (folder / "form-untouched.docx").read_bytes(),
        "tracker_saved": (folder / "tracker-typed.xlsx").read_bytes(),
    }


# --- the form -------------------------------------------------------------------------------------


def test_every_form_field_takes_typing_under_protection(
    typed: dict[str, Any], seed_frames: ProfileFrames
) -> None:
    report = typed["form"]
    assert report["protected"], "LibreOffice opened the form without forms protection"
    # every field arrives as a text form field, none as an input field or a content control
    assert report["portions"].get("TextFieldStart") == len(expected_keys(seed_frames))
    assert "TextField" not in report["portions"] and "ContentControl" not in report["portions"]
    fields = report["fields"]
    assert [f["key"] for f in fields] == expected_keys(seed_frames)
    assert {f["type"] for f in fields} == {"vnd.oasis.opendocument.field.FORMTEXT"}
    refused = [f["key"] for f in fields if f["after"] != typed["values"][f["key"]]]
    assert not refused, f"LibreOffice refused typing into {refused}"


def test_canon_text_refuses_typing(typed: dict[str, Any]) -> None:
    for report in (typed["form"], typed["untouched"]):
        assert report["start_after"] == report["start_before"]
        assert "EDITED" not in report["start_after"]


def test_a_form_filled_and_saved_in_libreoffice_reads_back_intact(
    typed: dict[str, Any], seed_frames: ProfileFrames, layout: Layout
) -> None:
    saved = typed["form_saved"]
    assert read_form(saved) == typed["values"]  # every field, every value, by its key
    verdict = verify(saved, seed_frames, layout)
    assert verdict.status is Status.INTACT, [c.message() for c in verdict.changes]


def test_what_a_libreoffice_save_keeps_of_each_field(
    typed: dict[str, Any], seed_frames: ProfileFrames, layout: Layout
) -> None:
    """The keys the reader uses survive: each field's status text "label [key]" and its name;
    the fill-in style survives by its id; protection stays."""
    fill_in = layout.config.docx.styles.placeholder
    keys = expected_keys(seed_frames)
    for name in ("form_saved", "untouched_saved"):
        with zipfile.ZipFile(io.BytesIO(typed[name])) as z:
            root = etree.fromstring(z.read("word/document.xml"), SAFE)
            settings = etree.fromstring(z.read("word/settings.xml"), SAFE)
        data = list(root.iter(w("ffData")))
        names = [d.find(w("name")).get(w("val")) for d in data]
        assert names == [f"F{n:03d}" for n in range(1, len(keys) + 1)]
        status = [d.find(w("statusText")).get(w("val")) for d in data]
        assert [re.search(r"\[([^\]]+)\]$", s).group(1) for s in status] == keys  # type: ignore[union-attr]
        # the fill-in style (and its id) survives; typing over a selection keeps the selection's
        # character style in LibreOffice as in Word, so a typed field stays shaded too: the
        # style marks where to type, the token what is still to fill
        styled = [r for r in root.iter(w("rStyle")) if r.get(w("val")) == fill_in]
        assert len(styled) == len(keys), name
        assert root.find(f".//{w('showingPlcHdr')}") is None and root.find(f".//{w('sdt')}") is None
        protection = settings.find(w("documentProtection"))
        assert protection is not None and protection.get(w("edit")) == "forms"
    assert set(read_form(typed["untouched_saved"]).values()) == {None}
    untouched = verify(typed["untouched_saved"], seed_frames, layout)
    assert untouched.status is Status.INTACT


# --- the tracker ----------------------------------------------------------------------------------


def test_libreoffice_holds_tracker_inputs_unlocked_and_canon_cells_locked(
    typed: dict[str, Any],
) -> None:
    cells = typed["tracker"]["cells"]
    inputs, locked = cells[: len(typed["inputs"])], cells[len(typed["inputs"]) :]
    assert len(inputs) > 50
    assert all(protected for _, _, protected, _, _, _ in cells), "a sheet is not protected"
    assert not [(s, c) for s, c, _, is_locked, _, _ in inputs if is_locked]
    assert [(s, c) for s, c, _, _, _, _ in locked] == list(LOCKED_CELLS)
    for sheet, cell, _, is_locked, before, after in locked:
        assert is_locked and after == before, f"{sheet}!{cell} is not locked in LibreOffice"
    took = [(s, c) for s, c, _, _, before, after in inputs if after == before]
    assert not took, f"no value entered in {took}"


def test_a_tracker_filled_and_saved_in_libreoffice_reads_back_intact(
    typed: dict[str, Any], seed_frames: ProfileFrames, layout: Layout
) -> None:
    saved = typed["tracker_saved"]
    values = read_tracker(saved)
    for _, _, title, key in typed["inputs"]:  # each value read back as it was typed
        assert values[key][title] == TRACKER_TEXT.get(title, comment(key)), (key, title)
    verdict = verify(saved, seed_frames, layout)
    assert verdict.status is Status.INTACT, [c.message() for c in verdict.changes]


def test_the_dispatcher_types_into_tracker_inputs_and_not_into_locked_cells(
    typed: dict[str, Any],
) -> None:
    """`.uno:EnterString`, Calc's own commit of a typed cell, with the sheets protected: every
    input column of every sheet takes the text, parsed as the setFormula route the saved
    tracker was filled by parses it; a locked cell refuses it and keeps its canon text."""
    cells = typed["keys"]["cells"]
    keyed = typed["keyed"]
    assert {s for s, _, _, _ in keyed} == {s for s, _, _, _ in typed["inputs"]}
    assert {t for _, _, t, _ in keyed} >= set(TRACKER_TEXT) | {"Comment"}
    assert [(s, c) for s, c, *_ in cells] == [(s, c) for s, c, _, _ in keyed] + list(LOCKED_CELLS)
    by_formula = {(s, c): after for s, c, _, _, _, after in typed["tracker"]["cells"]}
    for (sheet, cell, title, key), (_, _, before, after, value, kind) in zip(
        keyed, cells, strict=False
    ):
        assert after != before, f"{sheet}!{cell} refused typing"
        assert after == by_formula[(sheet, cell)], (sheet, cell)  # the same cell either way
        want = CALC_VALUE.get(title, comment(key))
        if isinstance(want, str):
            assert (kind, after) == ("TEXT", want), (sheet, cell)
        else:
            assert (kind, value) == ("VALUE", want), (sheet, cell)
    for sheet, cell, before, after, _, kind in cells[len(keyed) :]:
        assert before and after == before and kind == "TEXT", f"{sheet}!{cell} took typing"


def test_a_tracker_typed_through_the_dispatcher_saves_and_reads_back_intact(
    typed: dict[str, Any], seed_frames: ProfileFrames, layout: Layout
) -> None:
    """Every input of every sheet (and the locked cells) typed through `.uno:EnterString` in one
    soffice, then saved as XLSX by it: read back, every value is what was typed and the file is
    intact. LibreOffice 7.4.7 headless aborts half a second after the first EnterString, before
    the save is done: there, the abort is what is checked; whichever version saves is read back."""
    report, version = typed["keyed_report"], typed["version"]
    typed_cells = report["cells"]
    assert typed_cells, "no cell was typed"
    want = [(s, c) for s, c, _ in typed["cells"]]
    assert [(s, c) for s, c, *_ in typed_cells] == want[: len(typed_cells)]
    inputs = len(typed["inputs"])
    for n, (sheet, cell, before, after, _, _) in enumerate(typed_cells):
        if n < inputs:
            assert after != before, f"{sheet}!{cell} refused typing"
        else:
            assert after == before, f"{sheet}!{cell} is locked and took typing"
    if not report["saved"]:
        # Only the LibreOffice known to abort (7.4 headless) may end here; any other must save.
        assert report["died"] and not survives_typing(version), (
            f"LibreOffice {version} died typing or did not save"
        )
        return
    assert len(typed_cells) == len(want)
    saved = typed["keyed_saved"]
    values = read_tracker(saved)
    for _, _, title, key in typed["inputs"]:
        assert values[key][title] == TRACKER_TEXT.get(title, comment(key)), (key, title)
    verdict = verify(saved, seed_frames, layout)
    assert verdict.status is Status.INTACT, [c.message() for c in verdict.changes]
