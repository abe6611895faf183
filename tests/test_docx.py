"""The DOCX review form: re-opened with lxml, converted by LibreOffice, read back by the harvest
reader. Every check reads the real file the renderer wrote. (Typing into it in LibreOffice, under
protection, is tests/test_office_typing.py.)
"""

from __future__ import annotations

import base64
import dataclasses
import importlib.util
import io
import re
import shutil
import subprocess
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from pipeline.diagnostics import PacksError
from pipeline.harvest.docx_form import read_form
from pipeline.harvest.verify import Status, verify
from pipeline.layout import Layout, RenderOptions
from pipeline.model import (
    Badge,
    Canon,
    Field,
    Frame,
    Group,
    Item,
    Line,
    Placeholder,
    PlaceholderKind,
    ProfileFrames,
    Record,
    RecordStyle,
    Text,
    line_text,
)
from pipeline.ooxml.form_contract import (
    ALIAS_KEY,
    FORM_FIELDS_PROPERTY,
    REVIEW_LINES,
    SIGNOFF_ROLES,
    FormField,
    signoff_fields,
)
from pipeline.render import get_format
from pipeline.render.docx_parts import SETTINGS_ORDER, password_hash
from pipeline.render.to_docx import render
from pipeline.render.to_text import document_text
from tests.conftest import FIXED_EPOCH, SEED_ID

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
TOKENS = tuple(k.token for k in PlaceholderKind)
SAFE = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def w(tag: str) -> str:
    return f"{{{W}}}{tag}"


def local(el: Any) -> str:
    return str(etree.QName(el).localname)


def parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name) for name in z.namelist()}


def xml(data: bytes, name: str = "word/document.xml") -> Any:
    return etree.fromstring(parts(data)[name], SAFE)


@dataclass
class FormText:
    """One text form field as written: its runs from the begin character to the end one."""

    runs: list[Any]

    @property
    def data(self) -> Any:
        return self.runs[0].find(f"{w('fldChar')}/{w('ffData')}")

    @property
    def key(self) -> str:
        found = ALIAS_KEY.search(self.data.find(w("statusText")).get(w("val")))
        assert found is not None
        return found.group(1)

    @property
    def result(self) -> list[Any]:
        """The runs between the separate and the end character (what the field shows)."""
        kinds = [fld_char(r) for r in self.runs]
        return self.runs[kinds.index("separate") + 1 : -1]


def fld_char(run: Any) -> str | None:
    char = run.find(w("fldChar"))
    return None if char is None else str(char.get(w("fldCharType")))


def controls(root: Any) -> list[FormText]:
    """Every text form field (FORMTEXT) of a document, in document order."""
    out: list[FormText] = []
    current: list[Any] | None = None
    for run in root.iter(w("r")):
        kind = fld_char(run)
        if kind == "begin" and run.find(f"{w('fldChar')}/{w('ffData')}") is not None:
            current = []
        if current is not None:
            current.append(run)
            if kind == "end":
                out.append(FormText(current))
                current = None
    return out


def in_control(el: Any, root: Any) -> bool:
    runs = [r for f in controls(root) for r in f.runs]  # the list keeps lxml's proxies alive
    return any(a in runs for a in el.iterancestors())


def paragraph_text(p: Any) -> str:
    out = []
    for el in p.iter(w("t"), w("tab"), w("br")):
        out.append(el.text or "" if el.tag == w("t") else "\t" if el.tag == w("tab") else "\n")
    return "".join(out)


def document_paragraphs(root: Any) -> list[str]:
    return [paragraph_text(p) for p in root.iter(w("p"))]


def frame_placeholders(frames: ProfileFrames) -> list[Placeholder]:
    out: list[Placeholder] = []
    for frame in frames.frames:
        for block in frame.blocks:
            lines: list[Line] = (
                [f.line for f in block.fields]
                if isinstance(block, Record)
                else [i.line for i in block.items]
            )
            out += [s for line in lines for s in line if isinstance(s, Placeholder)]
    return out


def form_fields() -> list[FormField]:
    review = [s for _, segs in REVIEW_LINES for s in segs if isinstance(s, FormField)]
    return review + [f for role, name in SIGNOFF_ROLES for f in signoff_fields(role, name)]


def expected_keys(frames: ProfileFrames) -> list[str]:
    return [p.key for p in frame_placeholders(frames)] + [f.key for f in form_fields()]


def canon_sentences(canon: Canon, profile_id: str) -> list[str]:
    p = canon.profile(profile_id)
    assert p is not None
    return [
        *p.core_outputs,
        *p.responsibilities,
        *(text for _, text in p.rubrics),
        *(text for _, text in p.level.dimensions),
        *p.components.responsibilities,
    ]


def repack(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content_bytes in files.items():
            z.writestr(name, content_bytes)
    return out.getvalue()


def fill(data: bytes, values: dict[str, str]) -> bytes:
    """Fill fields the way Word does: the field's result becomes one plain run with the value
    (no fill-in style). Content controls of an older form (`as_content_controls`) likewise, with
    showingPlcHdr dropped and w:fullDate set on date pickers."""
    files = parts(data)
    root = etree.fromstring(files["word/document.xml"], SAFE)
    for field in controls(root):
        if field.key not in values:
            continue
        result = field.result
        for run in result[1:]:
            run.getparent().remove(run)
        run = etree.Element(w("r"))
        etree.SubElement(run, w("t")).text = values[field.key]
        result[0].getparent().replace(result[0], run)
    for sdt in root.iter(w("sdt")):
        key = sdt.find(f"{w('sdtPr')}/{w('tag')}").get(w("val"))
        if key not in values:
            continue
        pr = sdt.find(w("sdtPr"))
        for flag in pr.findall(w("showingPlcHdr")):
            pr.remove(flag)
        picker = pr.find(w("date"))
        if picker is not None:
            picker.set(w("fullDate"), f"{values[key]}T00:00:00Z")
        content = sdt.find(w("sdtContent"))
        for run in list(content):
            content.remove(run)
        etree.SubElement(etree.SubElement(content, w("r")), w("t")).text = values[key]
    files["word/document.xml"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return repack(files)


def as_content_controls(data: bytes) -> bytes:
    """The form as it was issued before form fields: every field an inline content control
    (alias "label [key]", tag, id, sdtLocked, showingPlcHdr, w:date or w:text), for the
    readers' promise that older forms still read and verify."""
    files = parts(data)
    root = etree.fromstring(files["word/document.xml"], SAFE)
    for n, field in enumerate(controls(root), 1):
        status = field.data.find(w("statusText")).get(w("val"))
        is_date = field.data.find(f"{w('textInput')}/{w('type')}") is not None
        sdt = etree.Element(w("sdt"))
        pr = etree.SubElement(sdt, w("sdtPr"))
        etree.SubElement(pr, w("alias"), {w("val"): status})
        etree.SubElement(pr, w("tag"), {w("val"): field.key})
        etree.SubElement(pr, w("id"), {w("val"): str(n)})
        etree.SubElement(pr, w("lock"), {w("val"): "sdtLocked"})
        etree.SubElement(pr, w("showingPlcHdr"))
        if is_date:
            picker = etree.SubElement(pr, w("date"))
            etree.SubElement(picker, w("dateFormat"), {w("val"): "yyyy-MM-dd"})
        else:
            etree.SubElement(pr, w("text"))
        content = etree.SubElement(sdt, w("sdtContent"))
        content.extend(field.result)
        field.runs[0].addprevious(sdt)
        for run in field.runs:
            if run.getparent() is not None and run.getparent().tag != w("sdtContent"):
                run.getparent().remove(run)
    files["word/document.xml"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return repack(files)


FILLED = {
    "smart.1.measurable.baseline": "12 days",
    "smart.1.measurable.target": "5 days",
    "smart.1.time-bound": "2026-06-30",
    "mbo.1.target": "95 % of milestones <on time> & audited",
    "mbo.4.due": "2026-03-31",
    "scorecard.internal-process.1.target": "zero critical findings",
    "review.employee": "Ana Ødegård",
    "review.period.start": "2026-01-01",
    "review.period.end": "2026-12-31",
    "signoff.manager.name": "Kwame Mensah",
    "signoff.hr.date": "2026-04-02",
}


# ---------------------------------------------------------------------------------------------
# Fixtures: every bundled profile rendered once for the module
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def forms(
    all_frames: dict[str, ProfileFrames], layout: Layout, options: RenderOptions
) -> dict[str, bytes]:
    return {pid: render(frames, layout, options) for pid, frames in all_frames.items()}


@pytest.fixture(scope="module")
def seed_form(forms: dict[str, bytes]) -> bytes:
    return forms[SEED_ID]


@pytest.fixture(scope="module")
def form_files(forms: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("forms")
    paths = []
    for pid, data in forms.items():
        path = folder / get_format("docx").file_name(pid)
        path.write_bytes(data)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------
# Registration and the package
# ---------------------------------------------------------------------------------------------


def test_docx_is_registered_with_its_suffix_and_media_type() -> None:
    fmt = get_format("docx")
    assert fmt.file_name(SEED_ID) == f"{SEED_ID}.review-form.docx"
    assert fmt.media_type == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert fmt.renderer() is render


def test_same_input_gives_identical_bytes(
    seed_frames: ProfileFrames, layout: Layout, options: RenderOptions, seed_form: bytes
) -> None:
    again = render(seed_frames, layout, options)
    assert again == seed_form
    with zipfile.ZipFile(io.BytesIO(seed_form)) as z:
        infos = z.infolist()
    assert infos[0].filename == "[Content_Types].xml"
    assert {i.date_time for i in infos} == {(2023, 11, 14, 22, 13, 20)}
    later = render(seed_frames, layout, RenderOptions(timestamp=FIXED_EPOCH + 86_400))
    assert later != seed_form  # the timestamp is really used …
    assert (
        parts(later)["word/document.xml"] == parts(seed_form)["word/document.xml"]
    )  # … only there


def test_no_timestamp_means_the_epoch_not_the_clock(
    seed_frames: ProfileFrames, layout: Layout
) -> None:
    first = render(seed_frames, layout, RenderOptions(timestamp=None))
    assert first == render(seed_frames, layout, RenderOptions(timestamp=None))
    core = xml(first, "docProps/core.xml")
    assert core.findtext("{http://purl.org/dc/terms/}created") == "1970-01-01T00:00:00Z"


def test_core_and_custom_properties_are_explicit(
    seed_form: bytes, seed_frames: ProfileFrames, options: RenderOptions
) -> None:
    core = xml(seed_form, "docProps/core.xml")
    dc, cp = (
        "{http://purl.org/dc/elements/1.1/}",
        ("{http://schemas.openxmlformats.org/package/2006/metadata/core-properties}"),
    )
    dcterms = "{http://purl.org/dc/terms/}"
    assert core.findtext(f"{dc}title") == seed_frames.document_title
    assert core.findtext(f"{dc}subject") == seed_frames.breadcrumb
    assert core.findtext(f"{dc}creator") == "jobframe-packs"
    assert core.findtext(f"{cp}lastModifiedBy") == "jobframe-packs"
    assert core.findtext(f"{cp}revision") == "1"
    assert core.findtext(f"{dcterms}created") == "2023-11-14T22:13:20Z"
    assert core.findtext(f"{dcterms}modified") == "2023-11-14T22:13:20Z"
    assert core.find(f"{dc}description") is None  # python-docx's "generated by python-docx"
    for name, data in parts(seed_form).items():
        assert b"python-docx" not in data, name
        assert b"Microsoft Macintosh Word" not in data, name
    app = xml(seed_form, "docProps/app.xml")
    assert "".join(app.itertext()).startswith(options.generator)

    custom = xml(seed_form, "docProps/custom.xml")
    props = {p.get("name"): "".join(p.itertext()) for p in custom}
    root = xml(seed_form)
    assert props == {
        "ProfileId": SEED_ID,
        "CanonDigest": seed_frames.canon_digest,
        "CanonVersion": seed_frames.canon_version,
        FORM_FIELDS_PROPERTY: " ".join(f.key for f in controls(root)),
    }
    types = xml(seed_form, "[Content_Types].xml")
    assert any(o.get("PartName") == "/docProps/custom.xml" for o in types)
    rels = xml(seed_form, "_rels/.rels")
    assert any(r.get("Target") == "docProps/custom.xml" for r in rels)


def test_header_and_footer_carry_profile_canon_version_and_page_fields(
    seed_form: bytes, seed_frames: ProfileFrames
) -> None:
    files = parts(seed_form)
    header = etree.fromstring(files["word/header1.xml"], SAFE)
    footer = etree.fromstring(files["word/footer1.xml"], SAFE)
    head_text = "".join(header.itertext())
    assert SEED_ID in head_text and seed_frames.canon_version in head_text
    assert "{" not in head_text
    instructions = [t.text.strip() for t in footer.iter(w("instrText"))]
    assert instructions == ["PAGE", "NUMPAGES"]
    assert "Page " in "".join(footer.itertext())


@pytest.mark.parametrize(("size", "expected"), [("A4", (11906, 16838)), ("Letter", (12240, 15840))])
def test_page_size_follows_the_option(
    seed_frames: ProfileFrames, layout: Layout, size: str, expected: tuple[int, int]
) -> None:
    data = render(seed_frames, layout, RenderOptions(page_size=size, timestamp=FIXED_EPOCH))
    root = xml(data)
    pg = root.find(f"{w('body')}/{w('sectPr')}/{w('pgSz')}")
    assert (int(pg.get(w("w"))), int(pg.get(w("h")))) == expected
    margins = root.find(f"{w('body')}/{w('sectPr')}/{w('pgMar')}")
    text_width = expected[0] - int(margins.get(w("left"))) - int(margins.get(w("right")))
    for tbl in root.iter(w("tbl")):
        grid = [int(c.get(w("w"))) for c in tbl.iter(w("gridCol"))]
        assert text_width - len(grid) <= sum(grid) <= text_width


def test_committed_reference_docx_is_what_its_script_builds(layout: Layout) -> None:
    """The binary in git is reviewable through its script: rebuilding it changes nothing.

    If this fails after editing the script or layout.yaml's `docx.styles`, run
    `python layouts/default/make_reference_docx.py` and commit the new reference.docx."""
    script = layout.path("make_reference_docx.py")
    spec = importlib.util.spec_from_file_location("make_reference_docx", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build()
    assert built == layout.path(layout.config.docx.reference).read_bytes()
    styles = etree.fromstring(parts(built)["word/styles.xml"], SAFE)
    ids = {s.get(w("styleId")) for s in styles.iter(w("style"))}
    assert set(dataclasses.asdict(layout.config.docx.styles).values()) <= ids
    fonts = {f.get(w("ascii")) for f in styles.iter(w("rFonts"))}
    assert fonts == {"DejaVu Sans"}  # has ⟨ ⟩; no theme fonts left to override it
    assert not any("Theme" in a for f in styles.iter(w("rFonts")) for a in f.attrib)


def test_unknown_page_size_is_a_clear_error(seed_frames: ProfileFrames, layout: Layout) -> None:
    with pytest.raises(PacksError, match="page size 'A3'"):
        render(seed_frames, layout, RenderOptions(page_size="A3", timestamp=0))


# ---------------------------------------------------------------------------------------------
# Form fields
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile_id", ["CLINIC.CLINICAL90BC.M4", "ENGR.GEN.M2", "OPS.SUPPLY.S1"])
def test_every_placeholder_token_is_inside_a_form_field(
    forms: dict[str, bytes], all_frames: dict[str, ProfileFrames], profile_id: str
) -> None:
    frames = all_frames[profile_id]
    root = xml(forms[profile_id])
    outside = "".join(t.text or "" for t in root.iter(w("t")) if not in_control(t, root))
    inside = [t.text for t in root.iter(w("t")) if in_control(t, root)]
    # Tokens outside controls are only those the plain text itself has (the intro sentence).
    literal = [frames.intro, *(f.intro or "" for f in frames.frames)]
    for frame in frames.frames:
        for block in frame.blocks:
            lines = block.fields if isinstance(block, Record) else block.items
            literal += [s.text for line in lines for s in line.line if isinstance(s, Text)]
    for token in TOKENS:
        assert outside.count(token) == sum(text.count(token) for text in literal), token
    placeholders = frame_placeholders(frames)
    assert Counter(t for t in inside if t in TOKENS) == Counter(
        [p.token for p in placeholders] + [TOKENS[2]] * sum(f.date for f in form_fields())
    )


def test_all_profiles_have_one_field_per_placeholder_and_form_field(
    forms: dict[str, bytes], all_frames: dict[str, ProfileFrames]
) -> None:
    for profile_id, frames in all_frames.items():
        root = xml(forms[profile_id])
        tags = [f.key for f in controls(root)]
        assert tags == expected_keys(frames), profile_id  # same keys, same (document) order
        by_family = Counter(t.split(".")[0] for t in tags)
        wanted = Counter(k.split(".")[0] for k in expected_keys(frames))
        assert by_family == wanted
        assert by_family["review"] == 4 and by_family["signoff"] == 6
        for family in ("smart", "okr", "mbo", "scorecard"):
            present = frames.frame(family) is not None
            assert (by_family[family] > 0) == present, (profile_id, family)
        # Word's form-field names: unique, at most 20 characters, a letter first; F<n> is the
        # n-th key of the FormFields property
        names = [f.data.find(w("name")).get(w("val")) for f in controls(root)]
        assert names == [f"F{n:03d}" for n in range(1, len(names) + 1)]
        assert all(len(n) <= 20 for n in names)
        stored = etree.fromstring(parts(forms[profile_id])["docProps/custom.xml"], SAFE)
        listed = next(p for p in stored if p.get("name") == FORM_FIELDS_PROPERTY)
        assert "".join(listed.itertext()).split() == tags


def test_fields_are_formtext_with_key_type_and_fill_in_style(
    seed_form: bytes, seed_frames: ProfileFrames, layout: Layout
) -> None:
    specs: dict[str, tuple[str, str, bool]] = {
        p.key: (p.label, p.token, p.kind is PlaceholderKind.DATE)
        for p in frame_placeholders(seed_frames)
    }
    blank = layout.config.docx.text_field
    for f in form_fields():
        specs[f.key] = (f.label, TOKENS[2] if f.date else blank, f.date)
    date_format = layout.config.docx.date.format
    fill_in = layout.config.docx.styles.placeholder
    root = xml(seed_form)
    found = controls(root)
    assert len(found) == len(specs)
    for field in found:
        label, token, is_date = specs[field.key]
        assert [fld_char(r) for r in field.runs] == ["begin", None, "separate", None, "end"]
        assert field.runs[1].findtext(w("instrText")) == " FORMTEXT "
        data = field.data
        assert [local(c) for c in data] == [
            "name",
            "enabled",
            "calcOnExit",
            "statusText",
            "textInput",
        ]
        status = data.find(w("statusText"))
        assert status.get(w("type")) == "text" and status.get(w("val")) == f"{label} [{field.key}]"
        assert len(status.get(w("val"))) <= 138  # Word keeps no more of a status text
        text_input = data.find(w("textInput"))
        if is_date:
            assert [local(c) for c in text_input] == ["type", "format"]
            assert text_input.find(w("type")).get(w("val")) == "date"
            assert text_input.find(w("format")).get(w("val")) == date_format
        else:
            assert len(text_input) == 0
        (result,) = field.result
        assert result.find(f"{w('rPr')}/{w('rStyle')}").get(w("val")) == fill_in
        assert paragraph_text(result) == token
        # inline: the field sits in one paragraph
        assert {r.getparent() for r in field.runs} == {field.runs[0].getparent()}
        assert field.runs[0].getparent().tag == w("p")
    assert root.find(f".//{w('sdt')}") is None


def test_the_fill_in_style_is_not_canon_ink(seed_form: bytes, layout: Layout) -> None:
    """Placeholders are findable: their own character style, muted ink on a shading."""
    styles = xml(seed_form, "word/styles.xml")
    fill_in = layout.config.docx.styles.placeholder
    (style,) = [s for s in styles.iter(w("style")) if s.get(w("styleId")) == fill_in]
    assert style.get(w("type")) == "character"
    assert fill_in != "PlaceholderText"  # Word's built-in, which LibreOffice drops on controls
    shading = style.find(f"{w('rPr')}/{w('shd')}")
    assert shading is not None and shading.get(w("fill")) not in (None, "auto", "FFFFFF")
    assert style.find(f"{w('rPr')}/{w('color')}").get(w("val")) not in ("000000", "auto")


def test_a_pre_filled_field_is_plain_text_not_a_placeholder(
    seed_frames: ProfileFrames, layout: Layout
) -> None:
    """A cycle's personal form: the value is the field's text, without the fill-in style."""
    values = {"review.employee": "Ana <Ø> & Co", "review.period.start": "2027-01-01"}
    data = render(seed_frames, layout, RenderOptions(timestamp=0, fields=tuple(values.items())))
    for field in controls(xml(data)):
        if field.key in values:
            (result,) = field.result
            assert paragraph_text(result) == values[field.key]
            assert result.find(w("rPr")) is None
    assert {k: v for k, v in read_form(data).items() if v is not None} == values


def test_document_is_protected_for_filling_in_forms(seed_form: bytes) -> None:
    settings = xml(seed_form, "word/settings.xml")
    protection = settings.findall(w("documentProtection"))
    assert len(protection) == 1
    assert dict(protection[0].attrib) == {w("edit"): "forms", w("enforcement"): "1"}


def test_form_password_adds_a_reproducible_sha512_verifier(
    seed_frames: ProfileFrames, layout: Layout
) -> None:
    options = RenderOptions(form_password="s3cret", timestamp=FIXED_EPOCH)
    data = render(seed_frames, layout, options)
    assert data == render(seed_frames, layout, options)
    prot = xml(data, "word/settings.xml").find(w("documentProtection"))
    assert prot.get(w("edit")) == "forms" and prot.get(w("enforcement")) == "1"
    assert prot.get(w("cryptAlgorithmSid")) == "14"  # SHA-512
    assert prot.get(w("cryptSpinCount")) == "100000"
    salt = base64.b64decode(prot.get(w("salt")))
    digest = base64.b64decode(prot.get(w("hash")))
    assert len(salt) == 16 and len(digest) == 64
    assert digest == password_hash("s3cret", salt)
    assert digest != password_hash("s3cret!", salt)
    assert b"s3cret" not in data


# ---------------------------------------------------------------------------------------------
# Canon text: verbatim, in order, inert
# ---------------------------------------------------------------------------------------------


def expected_sequence(frames: ProfileFrames, source_label: str) -> list[str]:
    """Every line the form must show, in the order it must show them."""
    out = [frames.document_title, frames.breadcrumb, frames.intro]
    for frame in frames.frames:
        out += [frame.title, *([frame.intro] if frame.intro else [])]
        for block in frame.blocks:
            source = source_label.replace("{source}", "{}")
            if isinstance(block, Record):
                out += [block.heading, source.format(block.source)]
                out += [line_text(f.line) for f in block.fields]
            else:
                out.append(block.heading)
                for item in block.items:
                    out += [line_text(item.line), source.format(item.source)]
    return out


def test_every_line_and_canon_sentence_appears_verbatim_in_document_order(
    forms: dict[str, bytes], all_frames: dict[str, ProfileFrames], canon: Canon, layout: Layout
) -> None:
    label = layout.config.docx.source_label
    for profile_id, frames in all_frames.items():
        text = "\n".join(document_paragraphs(xml(forms[profile_id])))
        at = 0
        for piece in expected_sequence(frames, label):
            found = text.find(piece, at)
            assert found >= 0, f"{profile_id}: missing after offset {at}: {piece!r}"
            at = found + len(piece)
        plain = document_text(frames)
        for sentence in canon_sentences(canon, profile_id):
            if sentence in plain:  # the frame rules decide which canon text a profile shows
                assert sentence in text, (profile_id, sentence)


def test_bundled_canon_sentences_are_all_shown(
    all_frames: dict[str, ProfileFrames], canon: Canon
) -> None:
    """Guards the test above: the bundled canon must not make its condition vacuous."""
    shown = sum(
        sentence in document_text(frames)
        for pid, frames in all_frames.items()
        for sentence in canon_sentences(canon, pid)
    )
    total = sum(len(canon_sentences(canon, pid)) for pid in all_frames)
    assert shown == total


def hostile_frames() -> ProfileFrames:
    nasty = "<w:t>x</w:t> ]]> &amp; { MERGEFIELD x } \"q\" 'a' {profile_id}"
    date = Placeholder(PlaceholderKind.DATE, "goal.1.due", "Goal 1 <due> & ]]>")
    target = Placeholder(PlaceholderKind.TARGET, "area.1.target", "Area 1 target")
    return ProfileFrames(
        profile_id="TEST.HOSTILE.P1",
        page_title=f"Title {nasty}",
        document_title=f"Goal templates — {nasty}",
        breadcrumb=f"Crumb · {nasty}",
        intro="Intro ⟨target⟩ stays plain text.",
        frames=(
            Frame(
                kind="brand-new-kind",  # a kind no renderer knows: drawn by block types only
                title=f"Goals {nasty}",
                short_title="Goals",
                intro=f"Intro {nasty}",
                blocks=(
                    Record(
                        key="goal.1",
                        number=1,
                        heading=f"Heading {nasty}",
                        source=f"source {nasty}",
                        fields=(
                            Field("goal.1.text", "Text", (Text(f"Line\twith tab\n{nasty}"),)),
                            Field("goal.1.due", "Due", (Text("by "), date)),
                        ),
                        style=RecordStyle.GOAL,
                    ),
                    Group(
                        key="group",
                        heading=f"Group {nasty}",
                        items=(Item("group.1", (Text(f"Item {nasty}"),), f"src {nasty}"),),
                    ),
                    Record(
                        key="area.1",
                        number=1,
                        heading=f"Area {nasty}",
                        source="area source",
                        fields=(
                            Field("area.1.target", "Target", (target,)),
                            Field("area.1.note", "Note", (Text(f"Note {nasty}"),)),
                        ),
                        style=RecordStyle.AREA,
                    ),
                ),
                columns=("Area", "Target"),
            ),
        ),
        canon_digest="sha256:" + "0" * 64,
        canon_version="{profile_id} <v> & ]]>",
        badges=(Badge("Status", f"draft {nasty}"),),
    )


def test_hostile_canon_text_shows_literally(layout: Layout, options: RenderOptions) -> None:
    frames = hostile_frames()
    data = render(frames, layout, options)
    files = parts(data)
    root = etree.fromstring(files["word/document.xml"], SAFE)
    text = "\n".join(document_paragraphs(root))
    nasty = "<w:t>x</w:t> ]]> &amp; { MERGEFIELD x } \"q\" 'a' {profile_id}"
    for piece in (
        f"Heading {nasty}",
        f"Line\twith tab\n{nasty}",
        f"Item {nasty}",
        f"Note {nasty}",
        f"src {nasty}",
        f"Goals {nasty}",
    ):
        assert piece in text, piece
    assert text.count(nasty) == 13  # every canon-bearing line of the frames, badges included
    # no field codes but the form fields', no extra elements smuggled in by the text
    for forbidden in ("fldSimple", "hyperlink", "sdt"):
        assert root.find(f".//{w(forbidden)}") is None, forbidden
    assert {t.text for t in root.iter(w("instrText"))} == {" FORMTEXT "}
    assert len(list(root.iter(w("fldChar")))) == 3 * len(controls(root))
    assert {local(t.getparent()) for t in root.iter(w("t"))} == {"r"}
    header = "".join(etree.fromstring(files["word/header1.xml"], SAFE).itertext())
    assert "TEST.HOSTILE.P1" in header and "{profile_id} <v> & ]]>" in header
    core = etree.fromstring(files["docProps/core.xml"], SAFE)
    assert core.findtext("{http://purl.org/dc/elements/1.1/}title") == frames.document_title
    # the keys and labels are attribute values, escaped too; the reader gets them back
    assert set(read_form(data)) == {"goal.1.due", "area.1.target"} | {f.key for f in form_fields()}
    alias = root.find(f".//{w('statusText')}").get(w("val"))
    assert alias == "Goal 1 <due> & ]]> [goal.1.due]"
    # an AREA field without a column still shows, and the table has the frame's columns
    table = root.find(f".//{w('tbl')}")
    assert paragraph_text(table.find(w("tr"))) == "AreaTarget"
    assert len(table.find(w("tblGrid"))) == 2


# ---------------------------------------------------------------------------------------------
# A structural schema check (the ISO 29500 XSDs are not available offline)
# ---------------------------------------------------------------------------------------------

#: Child sequences from the transitional wml.xsd for the elements the renderer writes.
SEQUENCES: dict[str, tuple[str, ...]] = {
    "document": ("body",),
    "sdt": ("sdtPr", "sdtEndPr", "sdtContent"),
    "sdtPr": (
        "rPr", "alias", "tag", "id", "lock", "placeholder", "temporary", "showingPlcHdr",
        "dataBinding", "label", "tabIndex",
        "equation|comboBox|date|docPartObj|docPartList|dropDownList|picture|richText|text"
        "|citation|group|bibliography",
    ),
    "date": ("dateFormat", "lid", "storeMappedDataAs", "calendar"),
    "p": ("pPr", "r|sdt*"),
    "r": ("rPr", "t|tab|br|fldChar|instrText*"),
    "fldChar": ("ffData",),
    "textInput": ("type", "default", "maxLength", "format"),
    "pPr": (
        "pStyle", "keepNext", "keepLines", "pageBreakBefore", "framePr", "widowControl",
        "numPr", "suppressLineNumbers", "pBdr", "shd", "tabs", "suppressAutoHyphens", "kinsoku",
        "wordWrap", "overflowPunct", "topLinePunct", "autoSpaceDE", "autoSpaceDN", "bidi",
        "adjustRightInd", "snapToGrid", "spacing", "ind", "contextualSpacing", "mirrorIndents",
        "suppressOverlap", "jc", "textDirection", "textAlignment", "textboxTightWrap",
        "outlineLvl", "divId", "cnfStyle", "rPr", "sectPr", "pPrChange",
    ),
    "rPr": ("rStyle", "rFonts", "b", "bCs", "i", "iCs", "caps", "smallCaps", "color", "sz"),
    "tbl": ("tblPr", "tblGrid", "tr*"),
    "tblPr": (
        "tblStyle", "tblpPr", "tblOverlap", "bidiVisual", "tblStyleRowBandSize",
        "tblStyleColBandSize", "tblW", "jc", "tblCellSpacing", "tblInd", "tblBorders", "shd",
        "tblLayout", "tblCellMar", "tblLook", "tblCaption", "tblDescription",
    ),
    "tblGrid": ("gridCol*",),
    "tr": ("tblPrEx", "trPr", "tc*"),
    "trPr": ("cantSplit|tblHeader*",),
    "tc": ("tcPr", "p|tbl*"),
    "tcPr": ("cnfStyle", "tcW", "gridSpan", "hMerge", "vMerge", "tcBorders", "shd", "noWrap"),
    "sectPr": (
        "headerReference|footerReference*", "footnotePr", "endnotePr", "type", "pgSz", "pgMar",
        "paperSrc", "pgBorders", "lnNumType", "pgNumType", "cols", "formProt", "vAlign",
        "noEndnote", "titlePg", "textDirection", "bidi", "rtlGutter", "docGrid",
        "printerSettings", "sectPrChange",
    ),
}  # fmt: skip
#: Elements that must have no children (or only the listed attributes matter).
# fmt: off
EMPTY = {"pStyle", "rStyle", "alias", "tag", "id", "lock", "showingPlcHdr", "text", "gridCol",
         "tcW", "tblW", "tblStyle", "tblLayout", "tblLook", "pgSz", "pgMar", "tab", "br",
         "dateFormat", "lid", "storeMappedDataAs", "calendar", "cantSplit", "tblHeader",
         "name", "enabled", "calcOnExit", "statusText", "type", "format", "shd"}
# fmt: on
LOCK_VALUES = {"sdtLocked", "contentLocked", "unlocked", "sdtContentLocked"}


def sequence_problems(el: Any, where: str) -> list[str]:
    """Children of `el` against its schema sequence: known names, in order, repeats only where
    the schema allows them (`*`)."""
    name = local(el)
    seq = SEQUENCES.get(name)
    children = [c for c in el if isinstance(c.tag, str)]
    if name in EMPTY:
        return [f"{where}: <{name}> must be empty"] if children else []
    if seq is None:
        return []
    slots = [(set(s.rstrip("*").split("|")), s.endswith("*")) for s in seq]
    problems, slot, used = [], 0, False
    for child in children:
        if etree.QName(child).namespace != W:
            problems.append(f"{where}: <{child.tag}> is not WordprocessingML")
            continue
        cname = local(child)
        while slot < len(slots) and (cname not in slots[slot][0] or (used and not slots[slot][1])):
            if cname in slots[slot][0] and used and not slots[slot][1]:
                problems.append(f"{where}: <{cname}> repeated in <{name}>")
                break
            slot, used = slot + 1, False
        if slot == len(slots):
            problems.append(f"{where}: <{cname}> out of order or not allowed in <{name}>")
            return problems
        used = True
    return problems


def test_document_xml_passes_the_structural_schema_check(
    forms: dict[str, bytes], layout: Layout
) -> None:
    for profile_id, data in forms.items():
        files = parts(data)
        root = etree.fromstring(files["word/document.xml"], SAFE)
        assert local(root) == "document" and local(root[0]) == "body"
        body = root[0]
        assert local(body[-1]) == "sectPr", "the section must be the body's last child"
        assert {local(c) for c in body[:-1]} <= {"p", "tbl"}
        problems = []
        for el in root.iter():
            problems += sequence_problems(el, f"{profile_id}:{root.getroottree().getpath(el)}")
        assert not problems, "\n".join(problems[:20])
        for tc in root.iter(w("tc")):
            assert local(tc[-1]) == "p", "a cell must end with a paragraph"
        for lock in root.iter(w("lock")):
            assert lock.get(w("val")) in LOCK_VALUES
        for t in root.iter(w("t")):
            assert t.text and t.get("{http://www.w3.org/XML/1998/namespace}space") == "preserve"

        # every style the body names exists in styles.xml, with the right type
        styles = etree.fromstring(files["word/styles.xml"], SAFE)
        kinds = {s.get(w("styleId")): s.get(w("type")) for s in styles.iter(w("style"))}
        for ref, kind in (("pStyle", "paragraph"), ("rStyle", "character"), ("tblStyle", "table")):
            for el in root.iter(w(ref)):
                assert kinds.get(el.get(w("val"))) == kind, (ref, el.get(w("val")))

        # header and footer references resolve to parts of the package
        rels = etree.fromstring(files["word/_rels/document.xml.rels"], SAFE)
        targets = {r.get("Id"): r.get("Target") for r in rels}
        r_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
        for ref in body[-1]:
            if local(ref) in ("headerReference", "footerReference"):
                assert f"word/{targets[ref.get(f'{r_ns}id')]}" in files


def test_settings_keep_the_schema_order(forms: dict[str, bytes], seed_frames: ProfileFrames,
                                        layout: Layout) -> None:  # fmt: skip
    with_password = render(seed_frames, layout, RenderOptions(form_password="x", timestamp=0))
    for data in (*forms.values(), with_password):
        settings = xml(data, "word/settings.xml")
        ranks = [SETTINGS_ORDER.index(local(c)) for c in settings if local(c) in SETTINGS_ORDER]
        assert ranks == sorted(ranks)
        assert [local(c) for c in settings].count("documentProtection") == 1
        zoom = settings.find(w("zoom"))
        assert zoom is None or zoom.get(w("percent")) is not None  # required by the schema


def test_the_structural_check_can_fail(seed_form: bytes) -> None:
    root = xml(seed_form)
    text_input = root.find(f".//{w('textInput')}[{w('type')}]")
    text_input.insert(0, text_input.find(w("format")))  # format before type
    assert sequence_problems(text_input, "x")
    p_pr = root.find(f".//{w('pPr')}")
    etree.SubElement(p_pr, w("pStyle"), {w("val"): "Normal"})
    assert sequence_problems(p_pr, "x")


# ---------------------------------------------------------------------------------------------
# A real consumer: LibreOffice (one batched call per conversion)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pdf_texts(form_files: list[Path], soffice_convert: Any) -> dict[str, str]:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    pdfs = soffice_convert(form_files, "pdf")
    out = {}
    for path in pdfs:
        done = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
        assert "DejaVuSans" in fonts, fonts
        out[path.name.split(".review-form")[0]] = done.stdout
    return out


@pytest.mark.office
def test_libreoffice_opens_every_form_and_prints_the_canon(
    pdf_texts: dict[str, str], all_frames: dict[str, ProfileFrames], canon: Canon
) -> None:
    assert set(pdf_texts) == set(all_frames)
    for profile_id, frames in all_frames.items():
        flat = " ".join(pdf_texts[profile_id].split())
        for sentence in canon_sentences(canon, profile_id):
            assert " ".join(sentence.split()) in flat, (profile_id, sentence)
        for token in TOKENS:  # the ⟨ ⟩ glyphs print (DejaVu Sans has them)
            assert token in flat
        assert f"{profile_id} · canon {frames.canon_version}" in flat
        assert re.search(r"Page 1 of \d+", flat)


# ---------------------------------------------------------------------------------------------
# Reading a returned form back
# ---------------------------------------------------------------------------------------------


def test_reader_returns_none_for_every_untouched_control(
    seed_form: bytes, seed_frames: ProfileFrames
) -> None:
    values = read_form(seed_form)
    assert list(values) == expected_keys(seed_frames)
    assert set(values.values()) == {None}


def test_reader_returns_programmatically_filled_values(
    seed_form: bytes, seed_frames: ProfileFrames
) -> None:
    values = read_form(fill(seed_form, FILLED))
    assert {k: v for k, v in values.items() if v is not None} == FILLED
    assert list(values) == expected_keys(seed_frames)


def strip(data: bytes, what: str) -> bytes:
    """Lose keys the way office suites do: `tags`, `aliases` of date controls, or both and the
    custom properties."""
    files = parts(data)
    root = etree.fromstring(files["word/document.xml"], SAFE)
    for pr in root.iter(w("sdtPr")):
        for el in pr.findall(w("tag")):
            pr.remove(el)
        if what in ("dates", "all") and pr.find(w("date")) is not None:
            for el in pr.findall(w("alias")):
                pr.remove(el)
    files["word/document.xml"] = etree.tostring(root)
    if what == "all":
        del files["docProps/custom.xml"]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, content in files.items():
            z.writestr(name, content)
    return out.getvalue()


def test_older_content_control_forms_still_read_by_tag_alias_then_position(
    seed_form: bytes, seed_frames: ProfileFrames
) -> None:
    filled = fill(as_content_controls(seed_form), FILLED)
    keys = expected_keys(seed_frames)
    values = read_form(filled)
    assert list(values) == keys
    assert {k: v for k, v in values.items() if v is not None} == FILLED
    for what in ("tags", "dates"):
        values = read_form(strip(filled, what))
        assert list(values) == keys, what
        assert {k: v for k, v in values.items() if v is not None} == FILLED, what
    # with the stored key order gone too, the caller can supply it
    lost = strip(filled, "all")
    assert set(read_form(lost)) < set(keys)
    values = read_form(lost, order=keys)
    assert {k: v for k, v in values.items() if v is not None} == FILLED


def test_an_older_content_control_form_still_verifies_against_todays_render(
    seed_form: bytes, seed_frames: ProfileFrames, layout: Layout
) -> None:
    """A form issued with content controls, filled and returned now: intact, every value read,
    while an edit of its canon text is still caught."""
    old = fill(as_content_controls(seed_form), FILLED)
    assert verify(old, seed_frames, layout).status is Status.INTACT
    files = parts(old)
    files["word/document.xml"] = files["word/document.xml"].replace(b"Deliver: ", b"Deliver! ", 1)
    assert verify(repack(files), seed_frames, layout).status is Status.TAMPERED


def lose(data: bytes, what: str) -> bytes:
    """Lose a form field's keys: its status text, then its name too, then the custom properties."""
    files = parts(data)
    root = etree.fromstring(files["word/document.xml"], SAFE)
    for data_el in root.iter(w("ffData")):
        lost = {"status": ("statusText",), "names": ("statusText", "name")}
        for tag_name in lost.get(what, lost["names"] if what == "all" else ()):
            for el in data_el.findall(w(tag_name)):
                data_el.remove(el)
    files["word/document.xml"] = etree.tostring(root)
    if what in ("properties", "all"):
        del files["docProps/custom.xml"]
    return repack(files)


def test_reader_finds_a_field_by_status_text_then_name_then_position(
    seed_form: bytes, seed_frames: ProfileFrames
) -> None:
    filled = fill(seed_form, FILLED)
    keys = expected_keys(seed_frames)
    for what in ("status", "names", "properties"):
        values = read_form(lose(filled, what))
        assert list(values) == keys, what
        assert {k: v for k, v in values.items() if v is not None} == FILLED, what
    # status text, names and the stored key order all gone: the caller's order (the re-render)
    lost = lose(filled, "all")
    assert read_form(lost) == {}
    values = read_form(lost, order=keys)
    assert {k: v for k, v in values.items() if v is not None} == FILLED


def test_a_value_still_holding_a_token_is_returned_whole(seed_form: bytes) -> None:
    """Typed in front of the placeholder: the value is not trimmed to look filled; the harvest
    flags it (results.is_placeholder)."""
    files = parts(seed_form)
    root = etree.fromstring(files["word/document.xml"], SAFE)
    field = next(f for f in controls(root) if f.key == "mbo.1.due")
    etree.SubElement(field.result[0], w("t")).text = "2027-06-30"
    field.result[0].insert(1, field.result[0][-1])  # typed before the token, inside its run
    files["word/document.xml"] = etree.tostring(root)
    assert read_form(repack(files))["mbo.1.due"] == "2027-06-30⟨date⟩"


def test_reader_rejects_what_is_not_a_form() -> None:
    with pytest.raises(PacksError):
        read_form(b"not a zip")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w") as z:
        z.writestr(
            "word/document.xml",
            '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            f'<w:document xmlns:w="{W}"><w:body><w:p><w:sdt><w:sdtPr><w:tag w:val="k"/>'
            "<w:text/></w:sdtPr><w:sdtContent><w:r><w:t>&e;</w:t></w:r></w:sdtContent>"
            "</w:sdt></w:p></w:body></w:document>",
        )
    assert read_form(bomb.getvalue()) == {"k": None}  # the entity is never resolved


@pytest.fixture(scope="module")
def round_tripped(
    seed_form: bytes, soffice_convert: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("round-trip")
    plain, filled = folder / "plain.docx", folder / "filled.docx"
    plain.write_bytes(seed_form)
    filled.write_bytes(fill(seed_form, FILLED))
    out = soffice_convert([plain, filled], "docx:MS Word 2007 XML")
    return {p.stem: p.read_bytes() for p in out}


@pytest.mark.office
def test_reader_survives_a_libreoffice_round_trip(
    round_tripped: dict[str, bytes], seed_frames: ProfileFrames
) -> None:
    keys = expected_keys(seed_frames)
    untouched = read_form(round_tripped["plain"])
    assert list(untouched) == keys
    assert set(untouched.values()) == {None}
    filled = read_form(round_tripped["filled"])
    assert list(filled) == keys
    assert {k: v for k, v in filled.items() if v is not None} == FILLED
    # LibreOffice keeps forms protection (it rewrites the element, doctech §1.4)
    prot = xml(round_tripped["filled"], "word/settings.xml").find(w("documentProtection"))
    assert prot is not None and prot.get(w("edit")) == "forms"


def test_the_body_ends_on_a_paragraph_not_the_signoff_table(seed_form: bytes) -> None:
    """LibreOffice clips the last table row (HR sign-off) when the body ends on a table."""
    body = xml(seed_form).find(w("body"))
    *content, section = list(body)
    assert local(section) == "sectPr"
    assert local(content[-1]) == "p" and local(content[-2]) == "tbl"
