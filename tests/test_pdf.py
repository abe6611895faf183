"""The PDF handout, checked by re-opening the real files with real readers.

pypdf and poppler (pdftotext, pdfinfo, pdffonts, pdfdetach, pdftoppm) read the text, fonts,
tags, metadata and attachment back; qpdf checks the syntax. Any WeasyPrint warning or error
(missing glyph, unknown option, refused fetch) fails the test that caused it.

docs/handout-page1.png (the README's sample) is page 1 of the seed profile's handout, made the
same way as the visual check: `pdftoppm -png -r 80 -f 1 -l 1 -singlefile <handout.pdf>
docs/handout-page1`, then reduced to 64 colours with Pillow (`quantize(64)`) to stay small.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pypdf import PdfReader

from pipeline.compose import compose_profile
from pipeline.diagnostics import PacksError
from pipeline.extract import load_canon
from pipeline.extract.nodes import text_problem
from pipeline.layout import Layout, RenderOptions, load_layout
from pipeline.model import (
    Canon,
    Field,
    Frame,
    Group,
    Item,
    Placeholder,
    PlaceholderKind,
    Profile,
    ProfileFrames,
    Record,
    RecordStyle,
    Text,
    line_text,
)
from pipeline.render import get_format, pdf_finish, to_pdf, user_agent, weasyprint70
from pipeline.render.to_json import frames_json
from pipeline.render.weasyprint70 import glyph_runs, kept_layouts, target_counters
from tests.conftest import CANON_DIR, SEED_ID, WarningLog, font_coverage, warnings_of
from tests.test_properties import CANON_TEXT

PROFILE_IDS = [p.id for p in load_canon(CANON_DIR).profiles]
TOKENS = tuple(kind.token for kind in PlaceholderKind)
#: A4 and Letter in PDF points.
A4_POINTS = (595.28, 841.89)
LETTER_POINTS = (612.0, 792.0)
HOSTILE = (
    '<img src="http://127.0.0.1:9/pixel.png"> and <link rel=stylesheet href=http://x.invalid/a.css>',
    "url(file:///etc/passwd) then @import url(https://x.invalid/evil.css); done",
    '</span></p><script>alert("x")</script> {{ 7 * 7 }} {% raw %} &amp; &lt;b&gt;',
)


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(
            f"{tool} is required (poppler-utils / qpdf; python3 tasks.py setup installs it)"
        )
    return path


def run(*cmd: str) -> str:
    done = subprocess.run([need(cmd[0]), *cmd[1:]], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


# --- WeasyPrint's logger: any WARNING or ERROR fails the test -----------------------------------


@pytest.fixture(scope="module")
def weasyprint_log() -> Iterator[WarningLog]:
    """Installed before any render of this module (module fixtures render once, up front)."""
    with warnings_of("weasyprint") as handler:
        yield handler


@pytest.fixture(autouse=True)
def no_weasyprint_warnings(weasyprint_log: WarningLog) -> Iterator[None]:
    assert weasyprint_log.take() == [], "WeasyPrint logged while rendering a module fixture"
    yield
    assert weasyprint_log.take() == [], "WeasyPrint logged a warning or error"


# --- rendering, once per module ------------------------------------------------------------------


def render_to(path: Path, frames: ProfileFrames, layout: Layout, options: RenderOptions) -> Path:
    path.write_bytes(get_format("pdf").renderer()(frames, layout, options))
    return path


@pytest.fixture(scope="module")
def pdfs(
    weasyprint_log: WarningLog,
    all_frames: dict[str, ProfileFrames],
    layout: Layout,
    options: RenderOptions,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("handouts")
    return {
        pid: render_to(folder / get_format("pdf").file_name(pid), frames, layout, options)
        for pid, frames in all_frames.items()
    }


@pytest.fixture(scope="module")
def seed_pdf(pdfs: dict[str, Path]) -> Path:
    return pdfs[SEED_ID]


def normalise(text: str) -> str:
    """Undo line wrapping: soft hyphens go, whitespace collapses, and a break after a hyphen, or
    after a slash or en dash inside a word ("II–III/ IV"; Pango may break there), joins."""
    text = text.replace("\u00ad", "")
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"(?<=\S)([/–]) ", r"\1", text)
    return re.sub(r"- ", "-", text).strip()


def squeeze(text: str) -> str:
    """Text with no whitespace or soft hyphens at all (for extractors that split runs)."""
    return re.sub(r"\s+", "", text.replace("\u00ad", ""))


@functools.cache
def page_texts(path: Path) -> tuple[str, ...]:
    """pypdf's text of each page (cached: several tests read the same module files)."""
    return tuple(page.extract_text() for page in PdfReader(path).pages)


def pypdf_text(path: Path) -> str:
    return "\n".join(page_texts(path))


def poppler_text(path: Path) -> str:
    return run("pdftotext", "-raw", "-enc", "UTF-8", str(path), "-")


def expected_lines(frames: ProfileFrames, canon: Canon) -> list[str]:
    """Every canon sentence the profile draws on, and every line the frames print."""
    profile = canon.profile(frames.profile_id)
    assert profile is not None
    lines = [
        *profile.core_outputs,
        *profile.responsibilities,
        *profile.components.responsibilities,
        *(value for _, value in profile.level.dimensions),
        *(value for _, value in profile.rubrics),
        frames.page_title,
        frames.breadcrumb,
        frames.intro,
        frames.profile_id,
        frames.canon_version,
    ]
    for frame in frames.frames:
        lines += [frame.title, *([frame.intro] if frame.intro else []), *frame.columns]
        for block in frame.blocks:
            if isinstance(block, Record):
                lines += [block.heading, f"[source: {block.source}]"]
                lines += [line_text(f.line) for f in block.fields]
            else:
                lines.append(block.heading)
                lines += [f"{line_text(i.line)} [source: {i.source}]" for i in block.items]
    return lines


def placeholder_count(frames: ProfileFrames, token: str) -> int:
    """How often `token` must print: each placeholder, plus the intro's plain-text mentions."""
    segments = [
        s
        for frame in frames.frames
        for block in frame.blocks
        for line in (
            [f.line for f in block.fields]
            if isinstance(block, Record)
            else [i.line for i in block.items]
        )
        for s in line
    ]
    placeholders = sum(1 for s in segments if isinstance(s, Placeholder) and s.token == token)
    return placeholders + frames.intro.count(token)


# --- the tests -----------------------------------------------------------------------------------


def test_pdf_is_a_registered_format() -> None:
    fmt = get_format("pdf")
    assert (fmt.suffix, fmt.media_type) == (".handout.pdf", "application/pdf")
    assert fmt.renderer() is to_pdf.render


@pytest.mark.parametrize("profile_id", PROFILE_IDS)
def test_text_layer_has_every_canon_sentence_and_placeholder(
    profile_id: str, pdfs: dict[str, Path], all_frames: dict[str, ProfileFrames], canon: Canon
) -> None:
    frames = all_frames[profile_id]
    path = pdfs[profile_id]
    lines = expected_lines(frames, canon)
    flat = normalise(pypdf_text(path))
    missing = [line for line in lines if normalise(line) not in flat]
    assert missing == [], f"pypdf text of {path.name} lacks: {missing}"
    # pdftotext splits some runs oddly ("OPS.SUPPLY" / ".S1"), so compare it without whitespace.
    bare = squeeze(poppler_text(path))
    missing = [line for line in lines if squeeze(line) not in bare]
    assert missing == [], f"pdftotext text of {path.name} lacks: {missing}"
    text = pypdf_text(path)
    for token in TOKENS:
        assert text.count(token) == placeholder_count(frames, token), token
    assert "source:" in text


def test_every_font_is_embedded_dejavu(pdfs: dict[str, Path]) -> None:
    for path in pdfs.values():
        rows = run("pdffonts", str(path)).splitlines()[2:]
        assert rows, f"{path.name}: no fonts"
        for row in rows:
            name, emb = row.split()[0], row.split()[-5]
            assert emb == "yes", f"{path.name}: {name} is not embedded"
            assert "DejaVu-Sans" in name, f"{path.name}: unexpected font {name}"


def test_tagged_titled_with_language_and_metadata(
    pdfs: dict[str, Path],
    all_frames: dict[str, ProfileFrames],
    layout: Layout,
    options: RenderOptions,
) -> None:
    for pid, path in pdfs.items():
        frames = all_frames[pid]
        info = dict(
            line.split(":", 1) for line in run("pdfinfo", str(path)).splitlines() if ":" in line
        )
        info = {k.strip(): v.strip() for k, v in info.items()}
        assert info["Tagged"] == "yes"
        assert info["Title"] == frames.document_title
        assert info["Author"] == layout.config.handout.author
        assert info["Creator"] == options.generator
        assert info["CreationDate"] == info["ModDate"] == "Tue Nov 14 22:13:20 2023 UTC"
        assert int(info["Pages"]) >= 1
        assert "(A4)" in info["Page size"]
        reader = PdfReader(path)
        catalog = reader.trailer["/Root"]
        assert catalog["/Lang"] == "en"
        assert bool(catalog["/MarkInfo"]["/Marked"])
        assert "/StructTreeRoot" in catalog
        assert reader.metadata is not None
        assert reader.metadata["/profileid"] == pid
        assert reader.metadata["/canondigest"] == frames.canon_digest
        # The PDF/UA-1 claim, made while tests/test_pdf_tags.py knows no gap (README).
        metadata = catalog.get("/Metadata")
        xmp = "" if metadata is None else metadata.get_object().get_data().decode("utf-8")
        assert 'pdfuaid:part="1"' in xmp or "<pdfuaid:part>1</pdfuaid:part>" in xmp


def test_attachment_parses_back_into_the_frames_json(
    pdfs: dict[str, Path], all_frames: dict[str, ProfileFrames]
) -> None:
    for pid, path in pdfs.items():
        attachments = PdfReader(path).attachments
        assert list(attachments) == ["frames.json"]
        (data,) = attachments["frames.json"]
        assert data.decode("utf-8") == frames_json(all_frames[pid])
        assert json.loads(data)["profile_id"] == pid
    assert "frames.json" in run("pdfdetach", "-list", str(pdfs[SEED_ID]))


def test_qpdf_finds_no_errors(pdfs: dict[str, Path]) -> None:
    """qpdf decodes every stream; the renderer compresses them itself (pdf_finish.flate)."""
    for path in pdfs.values():
        run("qpdf", "--check", str(path))
        for page in PdfReader(path).pages:
            assert page["/Contents"].get_object()["/Filter"] == "/FlateDecode"


def test_contents_and_bookmarks_point_at_each_frame(
    seed_pdf: Path, seed_frames: ProfileFrames
) -> None:
    reader = PdfReader(seed_pdf)
    outline = reader.outline
    # Bookmarks are the headings' words (Matterhorn: what the reader sees is what a tool lists).
    assert [item.title for item in outline] == [f.title for f in seed_frames.frames]
    pages = [reader.get_destination_page_number(item) + 1 for item in outline]
    assert pages == sorted(pages)
    texts = page_texts(seed_pdf)
    first_page = normalise(texts[0])
    for frame, page in zip(seed_frames.frames, pages, strict=True):
        assert f"{frame.title} … page {page}" in first_page
        assert frame.title in texts[page - 1]


def records_of(frames: ProfileFrames, style: RecordStyle = RecordStyle.GOAL) -> list[Record]:
    """The records of `frames` drawn in `style` (goals: the SMART frame's)."""
    return [
        block
        for frame in frames.frames
        for block in frame.blocks
        if isinstance(block, Record) and block.style is style
    ]


def test_field_labels_read_before_their_text(seed_pdf: Path, seed_frames: ProfileFrames) -> None:
    """A SMART field reads "Specific Deliver: …" in the text layer, label then text: the labels
    are in the line, not floated out of reading order."""
    flat = normalise(pypdf_text(seed_pdf))
    goals = records_of(seed_frames)
    assert goals
    for record in goals:
        for field in record.fields:
            assert normalise(f"{field.label} {line_text(field.line)}") in flat, field.key


def test_every_page_has_header_and_footer(seed_pdf: Path, seed_frames: ProfileFrames) -> None:
    pages = page_texts(seed_pdf)
    for number, page in enumerate(pages, 1):
        text = normalise(page)
        assert seed_frames.page_title in text
        assert f"{seed_frames.profile_id} · canon {seed_frames.canon_version}" in text
        assert f"page {number} of {len(pages)}" in text


def fill_colour(layout: Layout) -> tuple[int, int, int]:
    css = layout.path("handout.css").read_text(encoding="utf-8")
    match = re.search(r"\.fill\s*\{[^}]*background:\s*#([0-9a-fA-F]{6})", css)
    assert match, "handout.css has no .fill background colour"
    value = match.group(1)
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def test_page_one_renders_to_an_a4_png_with_fill_marks(
    seed_pdf: Path, layout: Layout, tmp_path: Path
) -> None:
    run(
        "pdftoppm",
        "-png",
        "-r",
        "60",
        "-f",
        "1",
        "-l",
        "1",
        "-singlefile",
        str(seed_pdf),
        str(tmp_path / "page1"),
    )
    png = tmp_path / "page1.png"
    assert png.is_file()
    with Image.open(png) as image:
        width, height = image.size
        assert abs(width - 210 / 25.4 * 60) <= 2 and abs(height - 297 / 25.4 * 60) <= 2
        rgb = image.convert("RGB")
        colours = {c for _, c in rgb.getcolors(maxcolors=1 << 20) or []}
    assert min(sum(c) for c in colours) < 150, "no dark text on page 1"
    target = fill_colour(layout)
    assert any(all(abs(a - b) <= 6 for a, b in zip(c, target, strict=True)) for c in colours), (
        "no placeholder fill-in mark visible on page 1"
    )
    assert 2 <= len(PdfReader(seed_pdf).pages) <= 12


def test_same_input_same_bytes(
    pdfs: dict[str, Path],
    all_frames: dict[str, ProfileFrames],
    layout: Layout,
    options: RenderOptions,
) -> None:
    to_pdf._TYPESETTERS.clear()  # as a fresh process would: typesetter built again
    again = to_pdf.render(all_frames[SEED_ID], layout, options)
    assert again == pdfs[SEED_ID].read_bytes()
    small = "OPS.SUPPLY.S1"
    later = dataclasses.replace(options, timestamp=options.timestamp + 86_400)
    assert to_pdf.render(all_frames[small], layout, later) != pdfs[small].read_bytes()


def test_a4_by_default_letter_by_option(
    seed_pdf: Path,
    seed_frames: ProfileFrames,
    layout: Layout,
    options: RenderOptions,
    tmp_path: Path,
) -> None:
    letter = dataclasses.replace(options, page_size="Letter")
    path = render_to(tmp_path / "letter.pdf", seed_frames, layout, letter)
    for pdf, size in ((seed_pdf, A4_POINTS), (path, LETTER_POINTS)):
        for page in PdfReader(pdf).pages:
            box = page.mediabox
            assert (float(box.width), float(box.height)) == pytest.approx(size, abs=0.5)
    assert "(letter)" in run("pdfinfo", str(path))


class RecordingFetcher(to_pdf.LayoutFetcher):
    """The handout's fetcher, noting every URL WeasyPrint asks it for."""

    calls: ClassVar[list[str]] = []

    def fetch(self, url: str, headers: object = None) -> object:
        RecordingFetcher.calls.append(url)
        return super().fetch(url, headers)


def test_hostile_canon_text_prints_literally_and_fetches_nothing(
    canon: Canon,
    layout: Layout,
    options: RenderOptions,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed = canon.profile(SEED_ID)
    assert seed is not None
    hostile = dataclasses.replace(seed, responsibilities=HOSTILE, job_description=None)
    frames = compose_profile(hostile, canon.digest(SEED_ID))
    RecordingFetcher.calls = []
    monkeypatch.setattr(to_pdf, "LayoutFetcher", RecordingFetcher)
    monkeypatch.setattr(to_pdf, "_TYPESETTERS", {})
    path = render_to(tmp_path / "hostile.pdf", frames, layout, options)
    assert RecordingFetcher.calls == []
    html = to_pdf.html(frames, to_pdf.typesetter(layout, options.page_size), options)
    assert "<img" not in html and "<script" not in html and "&lt;img src=" in html
    flat, bare = normalise(pypdf_text(path)), squeeze(poppler_text(path))
    for sentence in HOSTILE:
        assert normalise(sentence) in flat, f"pypdf: {sentence!r} not printed literally"
        assert squeeze(sentence) in bare, f"pdftotext: {sentence!r} not printed literally"


def test_fetcher_refuses_everything_outside_the_layout(
    layout: Layout, weasyprint_log: WarningLog
) -> None:
    fetcher = to_pdf.LayoutFetcher(layout.root)
    inside = layout.path("handout.css")
    assert fetcher.fetch(inside.as_uri()).read() == inside.read_bytes()
    for url in (
        "http://127.0.0.1:9/pixel.png",
        "https://example.invalid/a.css",
        "file:///etc/passwd",
        f"{layout.root.as_uri()}/../../pyproject.toml",
        f"{layout.root.as_uri()}/%2e%2e/%2e%2e/pyproject.toml",
        "file://example.invalid/share/x.css",
        "data:text/css,p{}",
        "ftp://example.invalid/x",
    ):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    # Wired into WeasyPrint: markup that does reach it (never canon text) still loads nothing.
    from weasyprint import HTML

    RecordingFetcher.calls = []
    html = '<p>x<img src="file:///etc/passwd"><img src="http://127.0.0.1:9/a.png"></p>'
    HTML(
        string=html, base_url=layout.root.as_uri() + "/", url_fetcher=RecordingFetcher(layout.root)
    ).write_pdf()
    assert RecordingFetcher.calls == ["file:///etc/passwd", "http://127.0.0.1:9/a.png"]
    logged = weasyprint_log.take()
    assert len(logged) == 2 and all("outside the layout" in m or "only files" in m for m in logged)


def test_a_missing_glyph_would_fail_these_tests(weasyprint_log: WarningLog, layout: Layout) -> None:
    """The log guard works: a code point DejaVu lacks (Tibetan U+0F00) is logged as a warning."""
    from weasyprint import HTML

    HTML(string='<p style="font-family: DejaVu Sans">\u0f00</p>').write_pdf()
    logged = weasyprint_log.take()
    assert any("U+0F00" in message for message in logged), logged


def test_new_frame_kinds_render_by_block_type(
    seed_frames: ProfileFrames, layout: Layout, options: RenderOptions, tmp_path: Path
) -> None:
    """A role-profile-like frame (Groups) and a long AREA table under an unknown kind.

    The table runs over several pages: its header row repeats and no row splits.
    """
    groups = tuple(
        Group(
            f"new.g{g}",
            f"Heading {g}",
            tuple(
                Item(
                    f"new.g{g}.{i}", (Text(f"Group {g} item {i} text."),), f"job description (H{g})"
                )
                for i in range(1, 4)
            ),
        )
        for g in range(1, 3)
    )
    long_text = "A long area heading that wraps over several lines of its table cell " * 2
    areas = tuple(
        Record(
            f"new.a{n}",
            n,
            f"Area {n}: {long_text}",
            f"src {n}",
            (
                Field(f"new.a{n}.goal", "Goal", (Text(f"goal {n}"),)),
                Field(f"new.a{n}.due", "Due", (Placeholder(PlaceholderKind.DATE, f"d{n}", "Due"),)),
            ),
            RecordStyle.AREA,
        )
        for n in range(1, 25)
    )
    frames = dataclasses.replace(
        seed_frames,
        frames=(
            Frame("never-seen-before", "Role profile", "Role", None, groups),
            Frame(
                "another-new-kind", "Long table", "Long", "Intro.", areas, ("Area", "Goal", "Due")
            ),
        ),
    )
    path = render_to(tmp_path / "new.pdf", frames, layout, options)
    reader = PdfReader(path)
    assert [o.title for o in reader.outline] == ["Role profile", "Long table"]
    flat = normalise(pypdf_text(path))
    for group in groups:
        assert group.heading in flat
        for item in group.items:
            assert f"{line_text(item.line)} [source: {item.source}]" in flat
    texts = [normalise(page.extract_text()) for page in reader.pages]
    table_pages = [text for text in texts if re.search(r"goal \d", text)]
    assert len(table_pages) >= 2, "the long table should span pages"
    for text in table_pages:
        assert "Area Goal Due" in text, "table header does not repeat on every page"
    for record in areas:
        whole = normalise(f"{record.number}. {record.heading} [source: {record.source}]")
        assert sum(whole in text for text in table_pages) == 1, f"row {record.number} split"


def test_a_table_never_drops_a_field_without_a_column(seed_frames: ProfileFrames) -> None:
    frame = next(f for f in seed_frames.frames if f.columns)
    narrowed = dataclasses.replace(frame, columns=frame.columns[:-1])
    with pytest.raises(ValueError, match="table columns"):
        to_pdf.sections(dataclasses.replace(seed_frames, frames=(narrowed,)))


def test_unknown_page_size_is_a_located_error(
    seed_frames: ProfileFrames, layout: Layout, options: RenderOptions
) -> None:
    with pytest.raises(PacksError, match=r"layout\.yaml: handout\.page_sizes has no size 'A3'"):
        to_pdf.render(seed_frames, layout, dataclasses.replace(options, page_size="A3"))


def test_breakable_puts_invisible_break_points_only_into_long_runs() -> None:
    brk = to_pdf.breaker(5)
    assert brk("short words stay as they are") == "short words stay as they are"
    assert brk("abcdefghijkl and more") == "abcde\u200bfghij\u200bkl and more"
    assert brk("abcde\u0301fghijk") == "abcde\u0301fghi\u200bjk"  # never before a mark
    assert brk("abcd\u200defghijk") == "abcd\u200defghi\u200bjk"  # never next to a joiner
    assert brk(12345678) == "12345\u200b678"


def test_a_10000_letter_word_wraps_inside_the_page(
    canon: Canon, layout: Layout, options: RenderOptions, tmp_path: Path
) -> None:
    """Canon text is untrusted: one huge token wraps on the page (it never runs off the edge)
    and costs pages, not minutes; the text layer has every letter and no U+200B."""
    seed = canon.profile(SEED_ID)
    assert seed is not None
    word = ("Pneumonoultramicroscopicsilicovolcanoconiosis" * 250)[:10_000]
    long = dataclasses.replace(seed, responsibilities=(f"See {word} first",), job_description=None)
    frames = compose_profile(long, canon.digest(SEED_ID))
    path = render_to(tmp_path / "long.pdf", frames, layout, options)
    printed = poppler_text(path)  # only what lies inside the page box
    layer = pypdf_text(path)
    furniture = (frames.page_title, frames.profile_id)  # running header and footer lines

    def body(text: str) -> str:
        lines = text.replace("\f", "").splitlines()
        return squeeze("".join(line for line in lines if not line.startswith(furniture)))

    assert body(printed).count(word) >= 3, "clipped at the page edge"
    assert body(layer).count(word) >= 3, "the text layer lost letters"
    assert "\u200b" not in printed + layer
    assert len(PdfReader(path).pages) <= 40


# --- fields shared by every record print once; joined placeholders share a mark ------------------


def goal(number: int, *fields: tuple[str, tuple[Text | Placeholder, ...]]) -> Record:
    return Record(
        f"t.{number}",
        number,
        f"Goal heading {number}",
        f"src {number}",
        tuple(Field(f"t.{number}.{label}", label, line) for label, line in fields),
        RecordStyle.GOAL,
    )


def date(key: str) -> Placeholder:
    return Placeholder(PlaceholderKind.DATE, key, key)


SAME = ("Same", (Text("Quoted rubric text that every goal repeats word for word."),))


def sharing_records() -> tuple[Record, ...]:
    """Three goals: `Same` is shared; `Differs` differs in goal 2; `Partial` is missing from
    goal 3; `Fill` is the same words in all three but holds a placeholder."""
    return tuple(
        goal(
            n,
            SAME,
            ("Differs", (Text("Own words of goal 2." if n == 2 else "Common words of goals."),)),
            *([("Partial", (Text("Only goals 1 and 2 have this line."),))] if n < 3 else []),
            ("Fill", (Text("Due "), date(f"d{n}"), Text("."))),
        )
        for n in (1, 2, 3)
    )


def test_only_fields_every_record_has_word_for_word_and_without_placeholders_are_shared() -> None:
    records = sharing_records()
    frames_ = (Frame("k", "Goals", "Goals", None, records),)
    (section,) = to_pdf.sections(dataclasses.replace(_any_frames(), frames=frames_))
    (part,) = section.parts
    assert [f.label for f in part.shared] == ["Same"]
    assert [f.label for f in part.own_fields(records[0])] == ["Differs", "Partial", "Fill"]
    assert [f.label for f in part.own_fields(records[2])] == ["Differs", "Fill"]
    # One record shares nothing with anyone; groups never share.
    assert to_pdf.shared_fields(records[:1]) == ()
    # A label a record has twice is not shared (which of the two would it be?).
    doubled = dataclasses.replace(records[1], fields=(*records[1].fields, records[1].fields[0]))
    assert [f.label for f in to_pdf.shared_fields((records[0], doubled))] == ["Partial"]


def _any_frames() -> ProfileFrames:
    canon = load_canon(CANON_DIR)
    profile = canon.profile(SEED_ID)
    assert profile is not None
    return compose_profile(profile, canon.digest(SEED_ID))


def test_a_table_drops_a_shared_column_and_narrows_fill_in_columns() -> None:
    areas = tuple(
        Record(
            f"a.{n}",
            n,
            f"Area {n}",
            "src",
            (
                Field(f"a.{n}.std", "Standard", (Text("One standard for all."),)),
                Field(f"a.{n}.due", "Due", (date(f"a{n}"),)),
            ),
            RecordStyle.AREA,
        )
        for n in (1, 2)
    )
    frame = Frame("k", "Areas", "Areas", None, areas, ("Area", "Standard", "Due"))
    (section,) = to_pdf.sections(dataclasses.replace(_any_frames(), frames=(frame,)))
    (part,) = section.parts
    assert part.columns(frame) == ("Area", "Due")
    assert part.fill_column("Due") and not part.fill_column("Standard")


@pytest.mark.parametrize(
    ("line", "join", "expected"),
    [
        # "⟨baseline⟩ to ⟨target⟩ by ⟨date⟩": one mark, the template words inside it.
        (
            (Text("From "), date("b"), Text(" to "), date("t"), Text(" by "), date("d"), Text(".")),
            4,
            [("text", "From "), ("mark", "⟨date⟩ to ⟨date⟩ by ⟨date⟩"), ("text", ".")],
        ),
        # A longer joiner keeps the marks apart; join 0 joins only adjacent placeholders.
        (
            (date("a"), Text(" and then "), date("b"), date("c")),
            4,
            [("mark", "⟨date⟩"), ("text", " and then "), ("mark", "⟨date⟩⟨date⟩")],
        ),
        (
            (date("a"), Text(" to "), date("b")),
            0,
            [("mark", "⟨date⟩"), ("text", " to "), ("mark", "⟨date⟩")],
        ),
        # Short text next to one placeholder only is not a joiner.
        (
            (Text("by "), date("a"), Text(".")),
            4,
            [("text", "by "), ("mark", "⟨date⟩"), ("text", ".")],
        ),
    ],
)
def test_placeholders_joined_by_a_few_template_characters_share_one_mark(
    line: tuple[Text | Placeholder, ...], join: int, expected: list[tuple[str, str]]
) -> None:
    out = to_pdf.marked(line, join)
    assert [("mark" if isinstance(s, to_pdf.Mark) else "text", s.text) for s in out] == expected
    assert "".join(s.text for s in out) == line_text(line), "the text must not change"


def test_shared_fields_print_once_above_their_records_and_on_the_same_page(
    seed_frames: ProfileFrames, layout: Layout, options: RenderOptions, tmp_path: Path
) -> None:
    records = sharing_records()
    # Enough records to fill a page first, so the shared block lands near a page foot.
    filler = tuple(
        dataclasses.replace(r, key=f"f.{r.number}", heading=f"Filler heading {r.number}")
        for r in (goal(n, ("Filler", (Text(f"Filler line {n}. " * 6),))) for n in range(1, 13))
    )
    frames = dataclasses.replace(
        seed_frames,
        frames=(
            Frame("filler", "Filler", "Filler", None, filler),
            Frame("k", "Goals", "Goals", "Intro of goals.", records),
        ),
    )
    path = render_to(tmp_path / "shared.pdf", frames, layout, options)
    flat = normalise(pypdf_text(path))
    same = normalise(f"{SAME[0]} {line_text(SAME[1])}")
    assert flat.count(line_text(SAME[1])) == 1
    assert flat.index("The same for all 3 below:") < flat.index(same) < flat.index("Goal heading 1")
    assert flat.count("Common words of goals.") == 2 and flat.count("Own words of goal 2.") == 1
    assert flat.count("Only goals 1 and 2 have this line.") == 2
    assert flat.count("Due ⟨date⟩.") == 3
    pages = [normalise(text) for text in page_texts(path)]
    (page,) = [text for text in pages if "The same for all 3 below:" in text]
    assert "Goal heading 1" in page, "the shared block was left alone at the foot of a page"


@pytest.mark.parametrize(
    ("style", "word", "quote", "section_end"),
    [
        (RecordStyle.GOAL, "Goal", 'Specific Deliver: "{}"', "Time-bound"),
        (RecordStyle.RESULTS, "Objective", 'tied to: "{}"', "KR2."),
    ],
)
def test_a_heading_its_first_line_quotes_prints_its_words_once(
    style: RecordStyle,
    word: str,
    quote: str,
    section_end: str,
    seed_pdf: Path,
    seed_frames: ProfileFrames,
) -> None:
    """SMART goals (Specific: Deliver: "…") and objectives (KR1 … tied to: "…") are headed by
    number and source label; the canon words are read once, in the quoting line."""
    text = normalise(pypdf_text(seed_pdf))
    records = records_of(seed_frames, style)
    assert records
    start = text.index(f"{word} {records[0].number} [source: {records[0].source}]")
    end = text.index(section_end, text.index(f"{word} {records[-1].number} [source"))
    section = text[start:end]
    for record in records:
        assert f"{word} {record.number} [source: {record.source}]" in section
        assert quote.format(record.heading) in section
        assert section.count(record.heading) == 1, record.heading


def test_only_a_heading_quoted_in_full_under_its_record_is_left_out() -> None:
    def goal(heading: str, *lines: str) -> Record:
        fields = tuple(Field(f"k{n}", f"F{n}", (Text(line),)) for n, line in enumerate(lines))
        return Record("k", 1, heading, "src", fields, RecordStyle.GOAL)

    quoted = goal("Runs the plan", 'Deliver: "Runs the plan"')
    part = to_pdf.Part("goal", (quoted,))
    assert part.quotes_heading(quoted)
    for other in (
        goal("Runs the plan", "Deliver: Runs the plan"),  # not quoted
        goal("Runs the plan", 'Deliver: "Runs the plan well"'),  # not in full
        goal("Runs the plan"),  # no field
    ):
        assert not to_pdf.Part("goal", (other,)).quotes_heading(other)
    shared = to_pdf.Part("goal", (quoted,), shared=quoted.fields)
    assert not shared.quotes_heading(quoted), "a shared field prints above, not under it"


def test_seed_shared_blocks_stay_with_their_first_record(seed_pdf: Path) -> None:
    pages = [normalise(text) for text in page_texts(seed_pdf)]
    marks = [text for text in pages if "The same for all" in text]
    assert len(marks) >= 2, "SMART (Achievable, Relevant) and MBO (Standard) share fields"
    for text in marks:
        tail = text[text.rindex("The same for all") :]
        first = r"(^| )(1\.|Goal 1) "  # a record heading, or a goal's that its Specific quotes
        assert re.search(first, tail), f"shared block without its first record: {tail!r}"


# --- the default layout's markup is read as XHTML: same tree and bytes as the HTML reading --------


def as_html(layout: Layout) -> Layout:
    """The same layout, its handout read by WeasyPrint's HTML5 parser."""
    return layout.replaced("handout", markup="html")


def test_the_default_layout_is_read_as_xhtml(layout: Layout, options: RenderOptions) -> None:
    assert to_pdf.typesetter(layout, options.page_size).markup == "xhtml"
    assert to_pdf.typesetter(as_html(layout), options.page_size).markup == "html"


def awkward_frames(frames: ProfileFrames) -> ProfileFrames:
    """Line breaks, tabs and CRs in what the template prints as attribute values and as text."""
    awkward = "Line one\nline\ttwo\r\nthree\rfour <b>&amp;</b> \"q\" 'a'"
    return dataclasses.replace(
        frames, page_title=awkward, breadcrumb=awkward, document_title=awkward, intro=awkward
    )


@pytest.mark.parametrize("profile_id", [*PROFILE_IDS, "awkward"])
def test_xhtml_and_html_readings_give_the_same_bytes(
    profile_id: str,
    pdfs: dict[str, Path],
    all_frames: dict[str, ProfileFrames],
    layout: Layout,
    options: RenderOptions,
) -> None:
    if profile_id == "awkward":
        frames = awkward_frames(all_frames[SEED_ID])
        xhtml = to_pdf.render(frames, layout, options)
    else:
        frames, xhtml = all_frames[profile_id], pdfs[profile_id].read_bytes()
    assert to_pdf.render(frames, as_html(layout), options) == xhtml


def tree_dump(root: object) -> list[tuple[object, ...]]:
    """Elements in document order with attributes and text; whitespace-only text is dropped
    (both parsers keep or drop it between elements, and layout collapses it)."""

    def text(value: str | None) -> str | None:
        return value if value and value.strip(" \t\n\r\f") else None

    return [
        (element.tag, sorted(element.attrib.items()), text(element.text), text(element.tail))
        for element in root.iter()  # type: ignore[attr-defined]
    ]


@functools.cache
def seed_profile() -> Profile:
    """The seed profile, read once for all the examples of a property test."""
    profile = load_canon(CANON_DIR).profile(SEED_ID)
    assert profile is not None
    return profile


@given(CANON_TEXT, st.lists(CANON_TEXT, min_size=1, max_size=4))
def test_any_canon_text_parses_the_same_as_xhtml_and_as_html(
    title: str, responsibilities: list[str]
) -> None:
    import tinyhtml5

    typeset = to_pdf.typesetter(load_layout("default"), "A4")
    frames = compose_profile(
        dataclasses.replace(seed_profile(), responsibilities=tuple(responsibilities)),
        "sha256:" + "0" * 64,
    )
    frames = dataclasses.replace(frames, page_title=title, breadcrumb=title, document_title=title)
    markup = to_pdf.html(frames, typeset, RenderOptions(page_size="A4", timestamp=0))
    as_xhtml = to_pdf.parse_xhtml(markup, "handout.html.j2")
    as_html5 = tinyhtml5.parse(markup, namespace_html_elements=False)
    assert tree_dump(as_xhtml) == tree_dump(as_html5)


def test_a_template_that_is_not_well_formed_is_a_located_error(
    layout: Layout, options: RenderOptions, seed_frames: ProfileFrames, tmp_path: Path
) -> None:
    shutil.copytree(layout.root, tmp_path / "loose")
    template = tmp_path / "loose" / "handout.html.j2"
    template.write_text(
        template.read_text().replace('<meta charset="utf-8" />', '<meta charset="utf-8">')
    )
    loose = dataclasses.replace(layout, root=tmp_path / "loose")
    with pytest.raises(
        PacksError,
        match=r"handout\.html\.j2: renders markup that is not well-formed XHTML: mismatched "
        r"tag at line \d+, column \d+ of the markup \('</head>'\); close every element",
    ):
        to_pdf.render(seed_frames, loose, options)
    # Read as HTML, the same template renders.
    assert to_pdf.render(seed_frames, as_html(loose), options).startswith(b"%PDF-")


# --- WeasyPrint's import: its shared libraries looked up in the linker cache only -------------

#: Imports the PDF renderer in a fresh interpreter and prints every program it starts and
#: whether `ctypes.util.find_library` is CPython's own again afterwards.
IMPORT_PROBE = """
import ctypes.util, json, subprocess, sys
started, popen_init = [], subprocess.Popen.__init__
def recording(self, args, *rest, **options):
    started.append(args[0] if isinstance(args, (list, tuple)) else str(args).split()[0])
    popen_init(self, args, *rest, **options)
subprocess.Popen.__init__ = recording
find_library = ctypes.util.find_library
import pipeline.render.to_pdf
from weasyprint.text.ffi import pango
print(json.dumps({"started": started, "restored": ctypes.util.find_library is find_library,
                  "pango": pango.pango_version()}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="linker cache: Linux only")
def test_weasyprints_import_searches_the_linker_cache_only() -> None:
    """No gcc or ld run for the names of other platforms' libraries (0.2 s per build)."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    probe = json.loads(done.stdout.splitlines()[-1])
    assert probe["pango"] > 0 and probe["restored"]
    programs = {Path(program).name for program in probe["started"]}
    assert programs == {"ldconfig"}, probe["started"]


# --- The contents' page numbers: page 1 laid out once, its numbers filled in (target_counters) ---


def test_the_target_counter_workaround_is_in_place(
    seed_frames: ProfileFrames, layout: Layout, options: RenderOptions
) -> None:
    """If this fails after a WeasyPrint upgrade, check whether
    pipeline/render/weasyprint70/target_counters.py is still needed (its docstring names the two
    slips and what filling in relies on) and drop it or adapt it (the hashes of the functions it
    read)."""
    to_pdf.render(seed_frames, layout, options)
    assert not target_counters.installed(), "in place only around a render"
    with weasyprint70.patched():
        assert target_counters.installed(), "the workaround does not apply to this WeasyPrint"
        assert target_counters.filling_in(), "filling page numbers in does not apply to it"


def laid_out(
    render: Callable[[], bytes], monkeypatch: pytest.MonkeyPatch
) -> tuple[bytes, list[int]]:
    """The bytes `render` returns and the index of every page WeasyPrint laid out, in order."""
    import weasyprint.layout.page

    laid: list[int] = []
    remake = weasyprint.layout.page.remake_page

    def counted(index: int, *args: object) -> object:
        laid.append(index)
        return remake(index, *args)

    with monkeypatch.context() as patch:
        patch.setattr(weasyprint.layout.page, "remake_page", counted)
        pdf = render()
    return pdf, laid


def three_ways(
    render: Callable[[], bytes], monkeypatch: pytest.MonkeyPatch
) -> dict[str, tuple[bytes, list[int]]]:
    """`render` with the numbers filled in, with the collector alone, with WeasyPrint alone
    (inside `patched(False)`, so the render's own `patched` leaves these choices alone)."""
    with weasyprint70.patched(False):
        try:
            assert target_counters.install() and target_counters.filling_in()
            outcomes = {"filled in": laid_out(render, monkeypatch)}
            assert target_counters.install(fill_in=False)
            outcomes["collector"] = laid_out(render, monkeypatch)
            target_counters.uninstall()
            outcomes["weasyprint"] = laid_out(render, monkeypatch)
        finally:
            target_counters.uninstall()
    return outcomes


@pytest.mark.parametrize("profile_id", PROFILE_IDS)
def test_page_one_is_laid_out_once_and_its_page_numbers_filled_in(
    profile_id: str,
    pdfs: dict[str, Path],
    all_frames: dict[str, ProfileFrames],
    layout: Layout,
    options: RenderOptions,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames = all_frames[profile_id]
    outcomes = three_ways(lambda: to_pdf.render(frames, layout, options), monkeypatch)
    expected = pdfs[profile_id].read_bytes()
    assert {name: pdf == expected for name, (pdf, _) in outcomes.items()} == dict.fromkeys(
        outcomes, True
    )
    pages = list(range(len(PdfReader(pdfs[profile_id]).pages)))
    assert outcomes["filled in"][1] == pages, "page 1 once, with its numbers filled in"
    assert outcomes["collector"][1] == [*pages, 0], "page 1 again for its numbers"
    assert outcomes["weasyprint"][1] == [*pages, 0, 0]  # WeasyPrint 70 alone: a third time


#: A contents on page 1 and sections after it, as the handout has; each case below adds what
#: must make the page numbers be laid out again rather than filled in (False), or what filling
#: in must cope with (True). Either way the bytes are those of a second layout.
CONTENTS_DOCUMENT = """<!DOCTYPE html><html lang="en"><head><style>
@page { size: A7; margin: 6mm; @bottom-center { content: counter(page) } }
body { font-family: "DejaVu Sans"; font-size: 7pt }
section { break-before: page }
a::after { content: " … page " target-counter(attr(href), page) }
%(style)s
</style></head><body>
<ol>%(contents)s</ol>%(extra)s%(sections)s
</body></html>"""


def contents_document(sections: int = 3, style: str = "", extra: str = "") -> str:
    return CONTENTS_DOCUMENT % {
        "style": style,
        "extra": extra,
        "contents": "".join(f'<li><a href="#s{n}">Section {n}</a></li>' for n in range(sections)),
        "sections": "".join(f'<section id="s{n}">Section {n}</section>' for n in range(sections)),
    }


@pytest.mark.parametrize(
    ("case", "document", "filled_in"),
    [
        ("contents only", contents_document(), True),
        ("a page 10 or later: one digit more", contents_document(sections=11), False),
        (
            "a page number of its own",
            contents_document(style="li::before { content: counter(page) }"),
            False,
        ),
        (
            "the page total",
            contents_document(style='li:first-child::after { content: " of " counter(pages) }'),
            False,
        ),
        (
            "a running element",
            contents_document(
                style=".run { position: running(r) } @page { @top-center { content: element(r) } }",
                extra='<p class="run">running</p>',
            ),
            False,
        ),
        (
            "a footnote",
            contents_document(
                style=".note { float: footnote }",
                extra='<p>text<span class="note">a footnote</span></p>',
            ),
            True,
        ),
        (
            "a lookup of a target's text beside",
            contents_document(
                style="li:first-child::after { content: target-text(attr(data-t)) }"
            ).replace("<li>", '<li data-t="#s1">', 1),
            True,
        ),
    ],
)
def test_page_numbers_are_filled_in_only_where_a_layout_would_give_the_same_page(
    case: str, document: str, filled_in: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from weasyprint import HTML

    outcomes = three_ways(lambda: bytes(HTML(string=document).write_pdf()), monkeypatch)
    (pdf, laid), (collector_pdf, collector_laid) = outcomes["filled in"], outcomes["collector"]
    assert pdf == collector_pdf == outcomes["weasyprint"][0], case
    assert (laid != collector_laid) == filled_in, (case, laid, collector_laid)
    if filled_in:
        assert laid.count(0) == 1 and collector_laid.count(0) == 2, (laid, collector_laid)


# --- The layout's user-agent stylesheet: WeasyPrint's HTML defaults, cut down -------------------


def with_handout(layout: Layout, **changes: object) -> Layout:
    """The same layout with some `handout` settings changed (None: removed)."""
    return layout.replaced("handout", **changes)


def copied(layout: Layout, folder: Path) -> Layout:
    shutil.copytree(layout.root, folder)
    return dataclasses.replace(layout, root=folder)


def test_weasyprint_uses_the_layouts_user_agent_stylesheet(
    seed_frames: ProfileFrames,
    seed_pdf: Path,
    layout: Layout,
    options: RenderOptions,
    tmp_path: Path,
) -> None:
    light = copied(layout, tmp_path / "light")
    assert to_pdf.render(seed_frames, light, options) == seed_pdf.read_bytes()
    sheet = light.root / "user-agent.css"
    rule = "th { font-weight: bold }"
    original = sheet.read_text()
    assert rule in original

    def render_with(text: str) -> bytes:
        sheet.write_text(text)
        to_pdf._TYPESETTERS.clear()  # cached per layout folder, not per file content
        try:
            return to_pdf.render(seed_frames, light, options)
        finally:
            to_pdf._TYPESETTERS.clear()

    # A rule added after WeasyPrint's takes effect: the column headings lose their bold face.
    assert render_with(original + "\nth { font-weight: normal }\n") != seed_pdf.read_bytes()
    # A rule of WeasyPrint's changed in place leaves th short of its defaults: refused.
    with pytest.raises(PacksError, match=r"writes <th>, which user-agent\.css"):
        render_with(original.replace(rule, "th { font-weight: normal }"))


def test_an_element_the_user_agent_stylesheet_does_not_style_is_a_located_error(
    seed_frames: ProfileFrames, layout: Layout, options: RenderOptions, tmp_path: Path
) -> None:
    strong = copied(layout, tmp_path / "strong")
    template = strong.root / "handout.html.j2"
    plain = '<p class="breadcrumb">{{ frames.breadcrumb|breakable }}</p>'
    assert plain in template.read_text()
    template.write_text(
        template.read_text().replace(
            plain, '<p class="breadcrumb"><strong>{{ frames.breadcrumb|breakable }}</strong></p>'
        )
    )
    with pytest.raises(
        PacksError,
        match=r"handout\.html\.j2: writes <strong>, which user-agent\.css \(the layout's "
        r"user-agent stylesheet\) does not style; copy the rules that name it from "
        r"WeasyPrint's html5_ua\.css into .*user-agent\.css, or drop "
        r"handout\.user_agent_stylesheet",
    ):
        to_pdf.render(seed_frames, strong, options)
    for markup in ("xhtml", "html"):  # both readings are checked; WeasyPrint's own sheet styles it
        with pytest.raises(PacksError, match="writes <strong>"):
            to_pdf.render(seed_frames, with_handout(strong, markup=markup), options)
        weasyprints_own = with_handout(strong, markup=markup, user_agent_stylesheet=None)
        assert to_pdf.render(seed_frames, weasyprints_own, options).startswith(b"%PDF-")


def test_an_unreadable_user_agent_stylesheet_is_a_located_error(
    seed_frames: ProfileFrames, layout: Layout, options: RenderOptions
) -> None:
    missing = with_handout(layout, user_agent_stylesheet="no-such.css")
    with pytest.raises(
        PacksError,
        match=r"no-such\.css: cannot read the handout's stylesheets \(layout\.yaml "
        r"handout\.stylesheet, user_agent_stylesheet\)",
    ):
        to_pdf.render(seed_frames, missing, options)


def test_unstyled_elements_are_those_missing_a_rule_of_weasyprints_sheet(
    seed_frames: ProfileFrames, layout: Layout, options: RenderOptions
) -> None:
    weasyprints = user_agent.weasyprint_rules()
    ours = (layout.root / "user-agent.css").read_text()
    missing = user_agent.unstyled(ours, weasyprints)
    typeset = to_pdf.typesetter(layout, options.page_size)
    markup = to_pdf.html(seed_frames, typeset, options)
    written = {element.tag for element in to_pdf.parse_xhtml(markup, "handout.html.j2").iter()}
    assert written >= {"h1", "h2", "h3", "p", "ul", "ol", "li", "table", "th", "td", "span", "a"}
    assert not written & missing
    assert {"strong", "em", "b", "dl", "pre", "tfoot", "h4", "blockquote"} <= missing
    assert user_agent.unstyled(weasyprints, weasyprints) == frozenset()
    # Word for word, selector by selector; whitespace and the other selectors of a list aside.
    assert user_agent.unstyled("dd,dt{margin : 0}", "dd { margin : 0 }") == frozenset()
    assert user_agent.unstyled("dd { margin: 1px }", "dd { margin: 0 }") == {"dd"}
    assert user_agent.unstyled("", ":is(ol, ul) ul { list-style-type: circle }") == {"ol", "ul"}
    # Rules that need an attribute are the template's to need.
    assert user_agent.unstyled("", "[dir=rtl i] dd, td[hidden] { margin: 0 }") == frozenset()


def test_a_margin_box_the_user_agent_stylesheet_leaves_out_is_a_located_error(
    seed_frames: ProfileFrames, layout: Layout, options: RenderOptions, tmp_path: Path
) -> None:
    centred = copied(layout, tmp_path / "centred")
    css = centred.root / "handout.css"
    css.write_text(css.read_text().replace("@bottom-right {", "@bottom-center {"))
    with pytest.raises(
        PacksError,
        match=r"handout\.css: styles the page-margin boxes @bottom-center, which user-agent\.css "
        r"\(the layout's user-agent stylesheet\) leaves out; copy their rules in @page from "
        r"WeasyPrint's html5_ua\.css",
    ):
        to_pdf.render(seed_frames, centred, options)
    assert user_agent.margin_boxes((layout.root / "handout.css").read_text()) == {
        "@top-left",
        "@bottom-left",
        "@bottom-right",
    }


# --- Lines written with their glyphs in bulk (glyph_runs), with the layout they were fitted
# with (kept_layouts) ----------------------------------------------------------------------------

#: The speed-ups that replace WeasyPrint code while it lays out and draws, each of which must
#: leave every byte as it is.
SPEED_UPS = {
    "glyph_runs": glyph_runs,
    "kept_layouts": kept_layouts,
    "target_counters": target_counters,
}


def test_the_bulk_glyph_writer_is_in_place(
    seed_frames: ProfileFrames, layout: Layout, options: RenderOptions
) -> None:
    """If this fails after a WeasyPrint upgrade, compare WeasyPrint's draw_first_line with the
    copy in pipeline/render/weasyprint70/glyph_runs.py: copy it again (and its hash), or drop the
    module."""
    to_pdf.render(seed_frames, layout, options)
    assert not weasyprint70.any_installed(), "the speed-ups are in place only around a render"
    assert weasyprint70.active(True) == tuple(SPEED_UPS)
    with weasyprint70.patched() as names:
        assert names == tuple(SPEED_UPS)
        assert glyph_runs.installed(), "glyph_runs does not apply to this WeasyPrint"
    with weasyprint70.patched(False) as names:
        assert names == () and not weasyprint70.speedups_installed()


def test_every_line_is_drawn_with_the_layout_it_was_fitted_with(
    seed_frames: ProfileFrames,
    seed_pdf: Path,
    layout: Layout,
    options: RenderOptions,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If the first assertion fails after a WeasyPrint upgrade, read the functions named in
    pipeline/render/weasyprint70/kept_layouts.py again: update their hashes if the argument still
    holds."""
    with weasyprint70.patched():
        assert kept_layouts.installed(), "kept_layouts does not apply to this WeasyPrint"
    rebuilt: list[str] = []
    weasyprints = kept_layouts._REACTIVATE

    def rebuild(self: object, style: object) -> None:
        rebuilt.append(getattr(self, "text", ""))
        weasyprints(self, style)

    monkeypatch.setattr(kept_layouts, "_REACTIVATE", rebuild)
    assert to_pdf.render(seed_frames, layout, options) == seed_pdf.read_bytes()
    assert rebuilt == [], f"{len(rebuilt)} lines were drawn with a rebuilt layout: {rebuilt[:3]}"


def without(frames: ProfileFrames, layout: Layout, options: RenderOptions, *names: str) -> bytes:
    """The handout rendered with the named speed-ups taken out (the others in place)."""
    kept = [patch for patch in weasyprint70.PATCHES if patch.name not in names]
    with weasyprint70.patched(False):
        try:
            for patch in kept:
                patch.install()
                assert patch.installed(), patch.name
            return to_pdf.render(frames, layout, options)
        finally:
            for patch in kept:
                patch.uninstall()


@pytest.mark.parametrize("profile_id", PROFILE_IDS)
def test_the_handouts_speed_ups_change_no_byte(
    profile_id: str,
    pdfs: dict[str, Path],
    all_frames: dict[str, ProfileFrames],
    layout: Layout,
    options: RenderOptions,
) -> None:
    """The layout's user-agent stylesheet against WeasyPrint's own; the speed-ups against
    WeasyPrint's code, each alone and all (target_counters also has its own tests above: they
    count the pages laid out)."""
    frames, expected = all_frames[profile_id], pdfs[profile_id].read_bytes()
    weasyprints_own = with_handout(layout, user_agent_stylesheet=None)
    assert to_pdf.typesetter(weasyprints_own, options.page_size).user_agent is None
    assert to_pdf.render(frames, weasyprints_own, options) == expected
    for names in (*((name,) for name in SPEED_UPS), tuple(SPEED_UPS)):
        assert without(frames, layout, options, *names) == expected, f"without {names}"


#: Text WeasyPrint fits and draws in ways the handout does not: justified lines (new layouts with
#: word spacing), a table header repeated on every page (copies sharing one layout), preformatted
#: newlines (single-paragraph mode), letter and word spacing, ellipsis, right-to-left text,
#: hyphenation and words broken anywhere, in lines that fit whole and lines that are split.
UNUSUAL_TEXT = """<!DOCTYPE html><html lang="en"><head><style>
@page { size: A6; margin: 8mm }
body { font-family: "DejaVu Sans"; font-size: 8pt }
.j { text-align: justify } .s { letter-spacing: 0.6pt; word-spacing: 2pt }
pre { font-family: "DejaVu Sans Mono"; white-space: pre-wrap }
.e { width: 30mm; overflow: hidden; white-space: nowrap; text-overflow: ellipsis }
.h { hyphens: auto; width: 22mm } .w { overflow-wrap: anywhere; width: 18mm }
table { width: 100% } thead { display: table-header-group }
</style></head><body>
<p class="j">{words}</p><p class="s">{words}</p>
<pre>line one	and a tab\nline two\n\n  indented line three, long enough to wrap {words}</pre>
<p class="e">an ellipsis cuts this line that is far too long for its box</p>
<p dir="rtl" lang="he">שלום עולם, טקסט מימין לשמאל שנשבר לשתי שורות או יותר בעמוד הזה</p>
<p class="h">internationalisation characteristically incomprehensibilities</p>
<p class="w">Pneumonoultramicroscopicsilicovolcanoconiosis</p>
<table><thead><tr><th>Header repeated on every page</th></tr></thead><tbody>{rows}</tbody></table>
</body></html>"""


def test_the_speed_ups_change_no_byte_of_text_unlike_the_handouts() -> None:
    from weasyprint import HTML

    words = " ".join(["justified words of uneven length"] * 12)
    rows = "".join(f"<tr><td>row {n}: {words}</td></tr>" for n in range(12))
    html = UNUSUAL_TEXT.replace("{words}", words).replace("{rows}", rows)

    def pdf() -> bytes:
        document = HTML(string=html).render()
        assert len(document.pages) > 3, "the table header should repeat on several pages"
        return bytes(document.write_pdf())

    with weasyprint70.patched() as names:
        assert names == tuple(SPEED_UPS)
        with_them = pdf()
    assert pdf() == with_them


def test_the_speed_ups_draw_a_missing_glyph_as_weasyprint_does(
    seed_frames: ProfileFrames, layout: Layout, options: RenderOptions, weasyprint_log: WarningLog
) -> None:
    frames = dataclasses.replace(seed_frames, page_title="Tibetan \u0f00 is not in DejaVu")
    assert to_pdf.render(frames, layout, options) == without(frames, layout, options, *SPEED_UPS)
    logged = weasyprint_log.take()
    assert logged, "WeasyPrint should log the missing glyph"
    assert all("U+0F00" in message for message in logged), logged


#: Scripts and marks that take the glyph loop's other branches: right-to-left runs, combining
#: marks Pango shifts and raises, ligatures, zero-width and soft-hyphen characters.
GLYPH_SPECIMENS = (
    "Arabic: مرحبا بالعالم، ١٢٣",
    "Hebrew: שלום עולם then Latin",
    "combining: e\u0301\u0323 a\u0308 n\u0303 q\u0307\u0323",
    "Ελληνικά and Кириллица ⟨target⟩",
    "ﬁ ligatures ffi fl, zero\u200bwidth, soft\u00adhyphen",
)


@settings(max_examples=15)  # each example renders a handout twice
@given(
    st.lists(
        st.one_of(
            st.sampled_from(GLYPH_SPECIMENS),
            st.deferred(
                lambda: st.text(
                    st.sampled_from(sorted(map(chr, font_coverage()))), min_size=1, max_size=60
                )
            ),
        ).filter(lambda text: text_problem(text) is None),
        min_size=1,
        max_size=3,
    )
)
def test_the_speed_ups_change_no_byte_for_any_canon_text(texts: list[str]) -> None:
    frames = compose_profile(
        dataclasses.replace(seed_profile(), responsibilities=tuple(texts)), "sha256:" + "0" * 64
    )
    frames = dataclasses.replace(frames, page_title=texts[0])
    layout, options = load_layout("default"), RenderOptions(page_size="A4", timestamp=0)
    assert to_pdf.render(frames, layout, options) == without(frames, layout, options, *SPEED_UPS)


def test_a_workaround_applies_only_to_the_weasyprint_code_it_was_read_against() -> None:
    from pipeline.render.weasyprint70.upstream import source_digest, unchanged

    digest = source_digest(pdf_finish.flate)
    assert digest is not None and len(digest) == 64
    assert unchanged({"flate": pdf_finish.flate}, {"flate": digest})
    assert not unchanged({"flate": pdf_finish.flate}, {"flate": "0" * 64})
    assert not unchanged({"flate": pdf_finish.flate}, {"flate": digest, "other": digest})
    assert source_digest(len) is None  # a builtin has no source text
