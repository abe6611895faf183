"""The sealed identity of an issued file: written, read back, verified, and kept by LibreOffice."""

from __future__ import annotations

import dataclasses
import io
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest

from pipeline.cycle import ensure_secret, load_secret, read_identity, seal, stamp, verify
from pipeline.cycle.identity import SECRET_FILE, parse_line
from pipeline.layout import Layout, RenderOptions
from pipeline.model import ProfileFrames
from pipeline.ooxml.ns import CORE_PART
from pipeline.render import get_format

SECRET = b"0" * 64


@pytest.fixture(scope="module")
def issued(seed_frames: ProfileFrames, layout: Layout, options: RenderOptions) -> dict[str, bytes]:
    identity = seal(
        "2027-annual", "E-100", seed_frames.profile_id, seed_frames.canon_digest, SECRET
    )
    return {
        fmt: stamp(get_format(fmt).renderer()(seed_frames, layout, options), identity)
        for fmt in ("docx", "xlsx")
    }


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
def test_identity_reads_back_and_verifies(
    fmt: str, issued: dict[str, bytes], seed_frames: ProfileFrames
) -> None:
    identity = read_identity(issued[fmt])
    assert identity is not None
    assert (identity.cycle, identity.employee_id, identity.profile_id, identity.canon_digest) == (
        "2027-annual",
        "E-100",
        seed_frames.profile_id,
        seed_frames.canon_digest,
    )
    assert verify(identity, SECRET)
    assert not verify(identity, b"1" * 64)
    assert SECRET not in issued[fmt]


@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
def test_stamp_changes_only_the_core_properties(
    fmt: str,
    issued: dict[str, bytes],
    seed_frames: ProfileFrames,
    layout: Layout,
    options: RenderOptions,
) -> None:
    plain = members(get_format(fmt).renderer()(seed_frames, layout, options))
    stamped = members(issued[fmt])
    assert list(plain) == list(stamped)
    assert [n for n in plain if plain[n] != stamped[n]] == [CORE_PART]
    assert read_identity(get_format(fmt).renderer()(seed_frames, layout, options)) is None


def test_an_edited_identity_is_not_believed(issued: dict[str, bytes]) -> None:
    identity = read_identity(issued["docx"])
    assert identity is not None
    for field in ("cycle", "employee_id", "profile_id", "canon_digest"):
        edited = dataclasses.replace(identity, **{field: "E-101"})
        assert not verify(edited, SECRET), field
    # written back into the file by hand: still read, never verified
    core = members(issued["docx"])[CORE_PART].replace(b"employee=E-100", b"employee=E-101")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(issued["docx"])) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, core if info.filename == CORE_PART else src.read(info))
    forged = read_identity(out.getvalue())
    assert forged is not None and forged.employee_id == "E-101"
    assert not verify(forged, SECRET)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "hello",
        "jobframe-packs identity 2; cycle=a; employee=b; profile=c; canon=d; seal=e",
        "jobframe-packs identity 1; cycle=a; employee=b; profile=c; canon=d",
        "jobframe-packs identity 1; cycle=a; cycle=a; employee=b; profile=c; canon=d; seal=e",
        "jobframe-packs identity 1; cycle=a b; employee=b; profile=c; canon=d; seal=e",
    ],
)
def test_lines_that_are_not_identities(line: str) -> None:
    assert parse_line(line) is None


@pytest.mark.parametrize("data", [b"", b"not a zip", b"PK\x03\x04garbage"])
def test_files_without_an_identity(data: bytes, tmp_path: Path) -> None:
    assert read_identity(data) is None
    path = tmp_path / "x.docx"
    path.write_bytes(data)
    assert read_identity(path) is None
    assert read_identity(tmp_path / "missing.docx") is None


def test_the_secret_is_the_owners_alone_and_kept(tmp_path: Path) -> None:
    cycle = tmp_path / "cycles" / "2027-annual"
    first = ensure_secret(cycle)
    assert stat.S_IMODE((cycle / SECRET_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(cycle.stat().st_mode) == 0o700
    assert ensure_secret(cycle) == first == load_secret(cycle)
    assert len(first) == 64
    (cycle / SECRET_FILE).write_bytes(b"oops\n")
    with pytest.raises(Exception, match="not a cycle secret"):
        load_secret(cycle)


def test_libreoffice_keeps_the_identity(
    issued: dict[str, bytes], tmp_path: Path, soffice_convert: Any
) -> None:
    form, tracker = tmp_path / "form.docx", tmp_path / "tracker.xlsx"
    form.write_bytes(issued["docx"])
    tracker.write_bytes(issued["xlsx"])
    (saved_form,) = soffice_convert([form], "docx:MS Word 2007 XML")
    (saved_tracker,) = soffice_convert([tracker], "xlsx:Calc MS Excel 2007 XML")
    for saved in (saved_form, saved_tracker):
        assert saved.read_bytes() != (form if saved is saved_form else tracker).read_bytes()
        identity = read_identity(saved)
        assert identity is not None and identity.employee_id == "E-100"
        assert verify(identity, SECRET)
