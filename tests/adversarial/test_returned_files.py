"""Returned files, for both readers: entities stay unexpanded, zip tricks are refused with one
clear `PacksError`, and a form or tracker whose canon text was edited is reported as TAMPERED
(`pipeline.harvest.verify`), never read back as if it were intact.

Not a zip, and an external entity in a tracker, are in tests/test_docx.py and tests/test_xlsx.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import shutil
import struct
import tracemalloc
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from openpyxl import load_workbook

from pipeline.diagnostics import PacksError
from pipeline.extract import load_canon
from pipeline.harvest.docx_form import read_form
from pipeline.harvest.package import MAX_UNPACKED_BYTES
from pipeline.harvest.verify import (
    Change,
    Status,
    TamperedError,
    claim,
    form_paragraphs,
    read_returned,
    verify,
)
from pipeline.harvest.xlsx_tracker import read_tracker
from pipeline.layout import Layout, RenderOptions
from pipeline.model import Canon, ProfileFrames
from pipeline.render import FORMATS
from tests.adversarial.support import SAFE_XML, w
from tests.conftest import CANON_DIR, FIXED_EPOCH, SEED_ID, Converter
from tests.test_docx import FILLED
from tests.test_docx import fill as fill_form
from tests.test_xlsx import fill as fill_tracker
from tests.test_xlsx import reorder, rezip

INPUTS = ["Baseline", "Target", "Due", "Actual", "Status", "Comment"]
MAIN = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml"}
Reader = Callable[[bytes], object]
READERS: dict[str, tuple[Reader, ...]] = {
    "docx": (read_form, claim),
    "xlsx": (read_tracker, claim),
}


@pytest.fixture(scope="module")
def issued(seed_frames: ProfileFrames, layout: Layout) -> dict[str, bytes]:
    """The seed profile's form and tracker as a build issues them."""
    options = RenderOptions(timestamp=FIXED_EPOCH)
    return {f: FORMATS[f].renderer()(seed_frames, layout, options) for f in ("docx", "xlsx")}


# --- entities -------------------------------------------------------------------------------------


def poison(data: bytes, dtd: str, reference: str) -> bytes:
    """The form with `dtd` declared in its body and custom properties, and `reference` used
    where a placeholder token and the profile id stand."""

    def change(members: dict[str, bytes]) -> None:
        for name, where in (("word/document.xml", "⟨target⟩"), ("docProps/custom.xml", SEED_ID)):
            head, rest = members[name].split(b"?>", 1)
            rest = rest.replace(where.encode(), reference.encode() + where.encode(), 1)
            members[name] = head + b"?>" + dtd.encode() + rest

    return rezip(data, change)


def test_form_entities_are_never_expanded(issued: dict[str, bytes], tmp_path: Path) -> None:
    """An external entity naming a readable local file, in the body and the custom properties:
    inert. The file is never read and the values show no trace of it."""
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-4711")
    data = poison(issued["docx"], f'<!DOCTYPE x [<!ENTITY s SYSTEM "{secret.as_uri()}">]>', "&s;")
    values, said = read_form(data), claim(data)
    assert "SECRET" not in repr(values) + repr(said)
    assert said.profile_id == f"&s;{SEED_ID}"  # the reference stays a reference


def test_an_entity_bomb_is_refused_not_expanded(issued: dict[str, bytes]) -> None:
    """A billion-laughs chain: libxml2 refuses the amplification; memory stays small."""
    laughs = '<!ENTITY l0 "lol">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    )
    data = poison(issued["docx"], f"<!DOCTYPE x [{laughs}]>", "&l9;")
    tracemalloc.start()
    try:
        for reader in (read_form, claim):
            with pytest.raises(PacksError, match="amplification"):
                reader(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024, f"entity expansion: {peak:,} bytes"


# --- zip tricks -----------------------------------------------------------------------------------


def bomb(name: str) -> bytes:
    """A small zip whose one member unpacks to 200 MiB of zeros."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z,
        z.open(name, "w", force_zip64=True) as member,
    ):
        chunk = bytes(1 << 20)
        for _ in range(200):
            member.write(chunk)
    return out.getvalue()


def lying(data: bytes, name: str) -> bytes:
    """The package with `name`'s declared size shrunk in the central directory."""
    raw = bytearray(data)
    at = raw.find(b"PK\x01\x02")  # the central directory's first entry
    while at != -1:
        length = struct.unpack_from("<H", raw, at + 28)[0]
        if raw[at + 46 : at + 46 + length].decode() == name:
            struct.pack_into("<I", raw, at + 24, 10)
            return bytes(raw)
        at = raw.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"no {name} in the central directory")


def with_member(data: bytes, name: str, body: bytes = b"<x/>") -> bytes:
    out = io.BytesIO(data)
    with warnings.catch_warnings():  # zipfile warns about the duplicate name on purpose here
        warnings.simplefilter("ignore", UserWarning)
        with zipfile.ZipFile(out, "a") as z:
            z.writestr(name, body)
    return out.getvalue()


#: A member every reader of the format reads (the form's custom properties: `claim` reads
#: them, not the body; the tracker's readers scan every part).
READ_BY_ALL = {"docx": "docProps/custom.xml", "xlsx": "xl/workbook.xml"}
TRICKS: dict[str, tuple[Callable[[bytes, str], bytes], str]] = {
    "bomb": (lambda data, main: bomb(main), "unpacks to more than 64 MiB; refusing it"),
    "lying-size": (
        lambda data, main: lying(data, READ_BY_ALL["docx" if main in MAIN["docx"] else "xlsx"]),
        "is corrupt: Bad CRC-32",
    ),
    "dot-dot": (
        lambda data, main: with_member(data, "../../evil.xml"),
        "has a part named '../../evil.xml'; refusing unsafe names",
    ),
    "absolute": (
        lambda data, main: with_member(data, "/etc/evil.xml"),
        "has a part named '/etc/evil.xml'; refusing unsafe names",
    ),
    "duplicate": (
        lambda data, main: with_member(data, main),
        "has two parts named",
    ),
}


@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
@pytest.mark.parametrize("trick", list(TRICKS))
def test_zip_tricks_are_refused(issued: dict[str, bytes], trick: str, fmt: str) -> None:
    make, message = TRICKS[trick]
    data = make(issued[fmt], MAIN[fmt])
    assert len(data) < 2 * 1024 * 1024
    tracemalloc.start()
    try:
        for reader in READERS[fmt]:
            with pytest.raises(PacksError, match=message):
                reader(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MAX_UNPACKED_BYTES // 4, f"{trick}: {peak:,} bytes in memory"


# --- tampering ------------------------------------------------------------------------------------


def edit_form_text(data: bytes, old: str, new: str) -> bytes:
    def change(members: dict[str, bytes]) -> None:
        root = etree.fromstring(members["word/document.xml"], SAFE_XML)
        (hit,) = [t for t in root.iter(w("t")) if t.text == old]
        hit.text = new
        members["word/document.xml"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    return rezip(data, change)


def edit_tracker_cell(data: bytes, sheet: str, coordinate: str, value: str) -> bytes:
    wb = load_workbook(io.BytesIO(data))
    wb[sheet][coordinate].value = value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_edited_canon_text_is_reported_as_tampered(
    issued: dict[str, bytes], seed_frames: ProfileFrames, canon: Canon, layout: Layout
) -> None:
    first = seed_frames.frames[0].blocks[0]
    sentence = f'Deliver: "{first.heading}"'  # type: ignore[union-attr]
    weaker = sentence[:-1] + ', when convenient"'
    form = edit_form_text(fill_form(issued["docx"], FILLED), sentence, weaker)
    before = form_paragraphs(issued["docx"])
    number = next(i for i, p in enumerate(before, 1) if p.endswith(sentence))
    verdict = verify(form, seed_frames, layout)
    assert verdict.status is Status.TAMPERED
    assert verdict.changes == (
        Change(
            f"paragraph {number}", before[number - 1], before[number - 1].replace(sentence, weaker)
        ),
    )
    with pytest.raises(TamperedError) as info:
        read_returned(form, canon, layout, "returned.docx")
    (line, summary) = info.value.report().splitlines()
    assert line.startswith(f"returned.docx: error: paragraph {number}: canon text changed: ")
    assert line.endswith(" [tampered]") and summary == "1 problem found"

    tracker, _ = fill_tracker(issued["xlsx"], "Key", INPUTS)
    tracker = edit_tracker_cell(tracker, "MBO", "A2", "Whatever the manager prefers")
    verdict = verify(tracker, seed_frames, layout)
    (change,) = verdict.changes
    assert change.where == "MBO!A2" and change.found == "Whatever the manager prefers"
    assert verdict.status is Status.TAMPERED
    with pytest.raises(TamperedError) as info:
        read_returned(tracker, canon, layout, "returned.xlsx")
    assert info.value.report().startswith("returned.xlsx: error: MBO!A2: canon text changed: ")


def test_an_edited_meta_sheet_is_tampered(
    issued: dict[str, bytes], seed_frames: ProfileFrames, canon: Canon, layout: Layout
) -> None:
    """LibreOffice ignores the structure lock: `_meta` can be unhidden and edited. Declaring a
    canon column an input (so its edits would pass unchecked) is caught by the `_meta` check."""
    wb = load_workbook(io.BytesIO(issued["xlsx"]))
    meta = wb["_meta"]
    (row,) = [
        r
        for r in meta.iter_rows(min_row=2)
        if r[0].value == "column" and r[1].value == "MBO" and r[2].value == "Area"
    ]
    assert row[4].value != "input"
    row[4].value = "input"
    wb["MBO"]["A2"].value = "Whatever the manager prefers"
    out = io.BytesIO()
    wb.save(out)
    verdict = verify(out.getvalue(), seed_frames, layout)
    assert verdict.status is Status.TAMPERED
    assert [c.where for c in verdict.changes] == ["MBO!A2", f"_meta!E{row[4].row}"]
    with pytest.raises(TamperedError):
        read_returned(out.getvalue(), canon, layout, "returned.xlsx")


def test_a_form_issued_without_the_closing_paragraph_is_intact(
    issued: dict[str, bytes], seed_frames: ProfileFrames, layout: Layout
) -> None:
    """Forms issued before the body got its closing paragraph still verify."""

    def drop_last(members: dict[str, bytes]) -> None:
        root = etree.fromstring(members["word/document.xml"], SAFE_XML)
        body = root.find(w("body"))
        last = body[-2]
        assert etree.QName(last).localname == "p" and not "".join(last.itertext())
        body.remove(last)
        members["word/document.xml"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    verdict = verify(rezip(issued["docx"], drop_last), seed_frames, layout)
    assert verdict.status is Status.INTACT and verdict.changes == ()


def test_a_newer_generator_is_not_tampering(
    issued: dict[str, bytes], seed_frames: ProfileFrames, layout: Layout
) -> None:
    other = RenderOptions(timestamp=FIXED_EPOCH, generator="jobframe-packs 99.0")
    verdict = verify(issued["xlsx"], seed_frames, layout, other)
    assert verdict.status is Status.INTACT and verdict.changes == ()


def test_removed_and_added_text_is_tampering_too(
    issued: dict[str, bytes], seed_frames: ProfileFrames, layout: Layout
) -> None:
    def drop_and_add(members: dict[str, bytes]) -> None:
        root = etree.fromstring(members["word/document.xml"], SAFE_XML)
        body = root.find(w("body"))
        paragraphs = body.findall(w("p"))
        body.remove(paragraphs[3])
        extra = etree.SubElement(body, w("p"))
        etree.SubElement(etree.SubElement(extra, w("r")), w("t")).text = "Also: weekend work."
        body.append(body.find(w("sectPr")))
        members["word/document.xml"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    before = form_paragraphs(issued["docx"])
    verdict = verify(rezip(issued["docx"], drop_and_add), seed_frames, layout)
    assert verdict.status is Status.TAMPERED
    assert Change("after paragraph 3", before[3], None) in verdict.changes
    assert [c.found for c in verdict.changes if c.expected is None] == ["Also: weekend work."]

    wb = load_workbook(io.BytesIO(issued["xlsx"]))
    ws = wb["MBO"]
    ws.delete_rows(3)
    ws.cell(row=ws.max_row + 1, column=1).value = "An area nobody agreed"
    out = io.BytesIO()
    wb.save(out)
    found = {c.where for c in verify(out.getvalue(), seed_frames, layout).changes}
    assert "MBO row mbo.2" in found and any(
        w_.startswith("MBO row ") for w_ in found - {"MBO row mbo.2"}
    )


def seed_frames_heading(canon: Canon) -> str:
    seed = canon.profile(SEED_ID)
    assert seed is not None
    return seed.responsibilities[0]


def test_a_changed_digest_is_stale_never_accepted(
    issued: dict[str, bytes], canon: Canon, layout: Layout, tmp_path: Path
) -> None:
    digest = canon.digest(SEED_ID)
    forged = "sha256:" + "f" * 64

    def forge(members: dict[str, bytes]) -> None:
        members["docProps/custom.xml"] = members["docProps/custom.xml"].replace(
            digest.encode(), forged.encode()
        )

    with pytest.raises(TamperedError) as info:
        read_returned(rezip(issued["docx"], forge), canon, layout, "returned.docx")
    assert info.value.report().splitlines()[0] == (
        f"returned.docx: error: issued from canon {forged} but {SEED_ID} is now {digest}: the "
        "canon changed since (or the file's record of it was edited); issue a new one [stale]"
    )
    # The canon moved on since the tracker was issued: stale, even with its text untouched.
    moved = tmp_path / "canon"
    shutil.copytree(CANON_DIR, moved)
    path = moved / "focuses" / "CLINIC.CLINICAL90BC.yaml"
    first = seed_frames_heading(canon)
    path.write_text(
        path.read_text(encoding="utf-8").replace(first, first + " (edited)", 1), "utf-8"
    )
    newer = load_canon(moved)
    assert newer.digest(SEED_ID) != digest
    with pytest.raises(TamperedError) as info:
        read_returned(issued["xlsx"], newer, layout, "returned.xlsx")
    assert info.value.report().splitlines()[0].endswith("issue a new one [stale]")


def test_filled_and_sorted_files_are_intact(
    issued: dict[str, bytes], canon: Canon, layout: Layout
) -> None:
    form = fill_form(issued["docx"], FILLED)
    got = read_returned(form, canon, layout)
    assert {k: v for k, v in got.values.items() if v is not None} == FILLED
    tracker, typed = fill_tracker(issued["xlsx"], "Key", INPUTS)
    sorted_tracker = reorder(tracker, "Key")
    assert read_returned(sorted_tracker, canon, layout).values == read_tracker(tracker)
    assert read_tracker(tracker) == typed


@pytest.fixture(scope="module")
def libreoffice_saved(
    issued: dict[str, bytes], soffice_convert: Converter, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, bytes]:
    """The issued form (filled) and tracker saved by LibreOffice in their own formats."""
    folder = tmp_path_factory.mktemp("returned")
    form, tracker = folder / "form.docx", folder / "tracker.xlsx"
    form.write_bytes(fill_form(issued["docx"], FILLED))
    tracker.write_bytes(issued["xlsx"])
    (saved_form,) = soffice_convert([form], "docx:MS Word 2007 XML")
    (saved_tracker,) = soffice_convert([tracker], "xlsx:Calc MS Excel 2007 XML")
    return {"docx": saved_form.read_bytes(), "xlsx": saved_tracker.read_bytes()}


@pytest.mark.office
def test_libreoffice_saved_files_stay_intact(
    libreoffice_saved: dict[str, bytes], canon: Canon, layout: Layout
) -> None:
    """No false alarm: LibreOffice rewrites the whole package, the canon text stays the same."""
    form = read_returned(libreoffice_saved["docx"], canon, layout, "form.docx")
    assert form.claim.profile_id == SEED_ID
    assert {k: v for k, v in form.values.items() if v is not None} == FILLED
    tracker = read_returned(libreoffice_saved["xlsx"], canon, layout, "tracker.xlsx")
    assert tracker.values == read_tracker(libreoffice_saved["xlsx"])


# --- random damage --------------------------------------------------------------------------------


class Inputs:
    """What the damage test starts from, with a short repr (Hypothesis prints its arguments)."""

    def __init__(self, issued: dict[str, bytes], canon: Canon, layout: Layout) -> None:
        self.issued, self.canon, self.layout = issued, canon, layout

    def __repr__(self) -> str:
        return "Inputs(the seed profile's form and tracker)"


@pytest.fixture(scope="module")
def damage_inputs(issued: dict[str, bytes], canon: Canon, layout: Layout) -> Inputs:
    return Inputs(issued, canon, layout)


#: (format, member to damage unpacked or None for the zip bytes, (offset, byte) flips, cut at)
DAMAGE = st.tuples(
    st.sampled_from(["docx", "xlsx"]),
    st.sampled_from(
        [
            None,
            "word/document.xml",
            "docProps/custom.xml",
            "xl/worksheets/sheet3.xml",
            "xl/worksheets/sheet6.xml",
            "xl/sharedStrings.xml",
            "xl/workbook.xml",
        ]
    ),
    st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 255)), min_size=1, max_size=6),
    st.one_of(st.none(), st.integers(0, 10**9)),
)


def damaged(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    raw = bytearray(data)
    for at, value in flips:
        raw[at % len(raw)] = value
    return bytes(raw[: cut % len(raw)] if cut is not None else raw)


@settings(
    max_examples=max(20, settings.default.max_examples // 3),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(DAMAGE)
def test_damaged_files_never_raise_anything_else(
    damage_inputs: Inputs,
    damage: tuple[str, str | None, list[tuple[int, int]], int | None],
) -> None:
    """Flipped bytes and cut files, in the zip or inside one of its XML parts: each reader
    returns or raises a `PacksError`, nothing else."""
    fmt, member, flips, cut = damage
    data = damage_inputs.issued[fmt]
    if member is None:
        data = damaged(data, flips, cut)
    else:

        def change(members: dict[str, bytes]) -> None:
            if member in members:
                members[member] = damaged(members[member], flips, cut)

        data = rezip(data, change)
    for reader in (
        *READERS[fmt],
        lambda d: read_returned(d, damage_inputs.canon, damage_inputs.layout),
    ):
        with contextlib.suppress(PacksError):
            reader(data)


def test_verify_refuses_a_file_for_another_profile(
    issued: dict[str, bytes], all_frames: dict[str, ProfileFrames], layout: Layout
) -> None:
    other = next(f for pid, f in all_frames.items() if pid != SEED_ID)
    with pytest.raises(PacksError, match=f"issued for {SEED_ID}, not {other.profile_id}"):
        verify(issued["docx"], other, layout)
    impostor = dataclasses.replace(other, profile_id=SEED_ID)  # another profile's frames
    assert verify(issued["docx"], impostor, layout).status is Status.STALE
