"""Build `reference.docx` beside this file: the styles, bullet numbering, page setup, header and
footer of the DOCX review form.

The renderer takes everything but the body from this document, so presentation is reviewed here
(readable code) and not in a binary. Run it after changing a style or the `docx.styles` roles in
layout.yaml; the output is byte-identical from run to run:

    python layouts/default/make_reference_docx.py

Header and footer text may hold the slots {profile_id} {canon_version} {canon_digest}
{document_title} {page_title}; the renderer fills them per document.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Pt, RGBColor, Twips
from docx.styles.style import BaseStyle

HERE = Path(__file__).resolve().parent
OUT = HERE / "reference.docx"
#: DejaVu Sans has U+27E8/U+27E9 (⟨ ⟩); Liberation, Carlito and Noto Sans do not (doctech §3.6).
FONT = "DejaVu Sans"
INK = RGBColor(0x1F, 0x29, 0x37)
ACCENT = RGBColor(0x1F, 0x4E, 0x79)
MUTED = RGBColor(0x59, 0x59, 0x59)
#: A form field still showing its token: muted ink on a light shading, unlike canon text.
PLACEHOLDER = MUTED
PLACEHOLDER_FILL = "FFF2CC"
#: Zip entries get this time so the committed file only changes when its content does.
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
ALWAYS_KEPT = {"Normal", "DefaultParagraphFont", "TableNormal", "NoList", "Header", "Footer"}


def layout_roles() -> dict[str, str]:
    settings: dict[str, Any] = yaml.safe_load((HERE / "layout.yaml").read_text(encoding="utf-8"))
    roles: dict[str, str] = settings["docx"]["styles"]
    return roles


def style(doc: Any, style_id: str, name: str, kind: WD_STYLE_TYPE) -> BaseStyle:
    """The style with this id, created when missing (the renderer refers to ids, not names)."""
    for s in doc.styles:
        if s.style_id == style_id:
            return s  # type: ignore[no-any-return]
    created = doc.styles.add_style(name, kind)
    created.style_id = style_id
    return created  # type: ignore[no-any-return]


def set_font(
    s: Any,
    size: float | None = None,
    bold: bool | None = None,
    italic: bool | None = None,
    color: RGBColor | None = None,
) -> None:
    """Name the font on every script slot and drop theme fonts, which would win over the name."""
    rpr = s.element.get_or_add_rPr()
    fonts = rpr.get_or_add_rFonts()
    for attr in list(fonts.attrib):
        fonts.attrib.pop(attr)
    for slot in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(slot), FONT)
    if size is not None:
        s.font.size = Pt(size)
        szcs = rpr.find(qn("w:szCs"))
        if szcs is not None:
            rpr.remove(szcs)
    if bold is not None:
        s.font.bold = bold
    if italic is not None:
        s.font.italic = italic
    if color is not None:
        s.font.color.rgb = color


def spacing(
    s: Any,
    before: float = 0,
    after: float = 6,
    keep_next: bool = False,
    indent: float | None = None,
    hanging: float | None = None,
) -> None:
    pf = s.paragraph_format
    pf.space_before = Pt(before)
    pf.space_after = Pt(after)
    pf.line_spacing = 1.15
    pf.keep_with_next = keep_next
    if indent is not None:
        pf.left_indent = Pt(indent)
    if hanging is not None:
        pf.first_line_indent = Pt(-hanging)


def define_styles(doc: Any, roles: dict[str, str]) -> None:
    p, c, t = WD_STYLE_TYPE.PARAGRAPH, WD_STYLE_TYPE.CHARACTER, WD_STYLE_TYPE.TABLE
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    fonts = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr")).find(qn("w:rFonts"))
    for attr in list(fonts.attrib):
        fonts.attrib.pop(attr)
    for slot in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(slot), FONT)

    normal = style(doc, "Normal", "Normal", p)
    set_font(normal, 10, color=INK)
    spacing(normal, after=4)

    specs: list[tuple[str, str, WD_STYLE_TYPE, dict[str, Any], dict[str, Any]]] = [
        ("title", "Title", p, {"size": 18, "bold": True, "color": ACCENT}, {"after": 4}),
        ("breadcrumb", "Subtitle", p, {"size": 11, "italic": False, "color": MUTED}, {"after": 8}),
        ("intro", "Intro", p, {"size": 9, "italic": True, "color": MUTED}, {"after": 6}),
        ("badges", "Badges", p, {"size": 9, "color": MUTED}, {"after": 10}),
        (
            "frame_title",
            "heading 1",
            p,
            {"size": 14, "bold": True, "color": ACCENT},
            {"before": 16, "after": 4, "keep_next": True},
        ),
        (
            "frame_intro",
            "Frame Intro",
            p,
            {"size": 9, "italic": True, "color": MUTED},
            {"after": 8},
        ),
        (
            "record_heading",
            "heading 2",
            p,
            {"size": 10.5, "bold": True, "color": INK},
            {"before": 10, "after": 2, "keep_next": True},
        ),
        (
            "source_line",
            "Source Line",
            p,
            {"size": 8.5, "color": MUTED},
            {"after": 4, "keep_next": True},
        ),
        ("field", "Field Line", p, {"size": 10}, {"after": 3, "indent": 14}),
        ("key_result", "Key Result", p, {"size": 10}, {"after": 3, "indent": 14}),
        (
            "group_heading",
            "heading 3",
            p,
            {"size": 10.5, "bold": True, "color": INK},
            {"before": 8, "after": 2, "keep_next": True},
        ),
        ("item", "List Bullet", p, {"size": 10}, {"after": 3, "indent": 18, "hanging": 12}),
        (
            "table_heading",
            "Table Heading",
            p,
            {"size": 9, "bold": True, "color": INK},
            {"after": 2, "keep_next": True},
        ),
        ("table_text", "Table Text", p, {"size": 9}, {"after": 2}),
        ("form_line", "Form Line", p, {"size": 10}, {"before": 4, "after": 6}),
        ("field_label", "Field Label", c, {"bold": True}, {}),
        ("source_label", "Source Label", c, {"size": 8.5, "color": MUTED}, {}),
        ("placeholder", "Fill In", c, {"color": PLACEHOLDER}, {}),
    ]
    for role, name, kind, font, para in specs:
        s = style(doc, roles[role], name, kind)
        s.hidden = False
        s.quick_style = True
        if kind is p:
            s.base_style = normal
            spacing(s, **para)
        set_font(s, **font)

    for role in ("title", "breadcrumb"):  # drop the template's border and numbering on titles
        ppr = style(doc, roles[role], "", p).element.get_or_add_pPr()
        for extra in ("w:pBdr", "w:numPr"):
            for el in ppr.findall(qn(extra)):
                ppr.remove(el)

    # A style of our own, not Word's "Placeholder Text" (which LibreOffice drops on content
    # controls): w:shd is the last rPr child set_font leaves, so appending keeps schema order.
    placeholder = style(doc, roles["placeholder"], "Fill In", c).element.get_or_add_rPr()
    placeholder.append(
        parse_xml(
            f'<w:shd {nsdecls("w")} w:val="clear" w:color="auto" w:fill="{PLACEHOLDER_FILL}"/>'
        )
    )

    table = style(doc, roles["table"], "Form Table", t)
    table.base_style = style(doc, "TableGrid", "Table Grid", t)
    set_font(table, 9)
    for hf in ("Header", "Footer"):
        s = style(doc, hf, hf.lower(), p)
        set_font(s, 8, color=MUTED)
        spacing(s, after=0)
        ppr = s.element.get_or_add_pPr()
        for tabs in ppr.findall(qn("w:tabs")):  # letter-sized tab stops do not fit A4
            ppr.remove(tabs)


def prune_styles(doc: Any, roles: dict[str, str]) -> None:
    """Keep only the styles the form uses (and what they are based on or linked to)."""
    root = doc.styles.element
    by_id = {s.get(qn("w:styleId")): s for s in root.findall(qn("w:style"))}
    keep: set[str] = set()
    todo = [*roles.values(), *ALWAYS_KEPT, "TableGrid"]
    while todo:
        sid = todo.pop()
        if sid in keep or sid not in by_id:
            continue
        keep.add(sid)
        for ref in ("w:basedOn", "w:next"):
            el = by_id[sid].find(qn(ref))
            if el is not None:
                todo.append(el.get(qn("w:val")))
    for sid, el in by_id.items():
        if sid not in keep:
            root.remove(el)
        else:
            for link in el.findall(qn("w:link")):  # the linked "…Char" styles are dropped
                if link.get(qn("w:val")) not in keep:
                    el.remove(link)
            for rsid in el.findall(qn("w:rsid")):
                el.remove(rsid)
    latent = root.find(qn("w:latentStyles"))
    if latent is not None:
        root.remove(latent)


def bullet_numbering(doc: Any) -> None:
    """One bullet list definition (numId 1, which List Bullet points at), in the form's font."""
    numbering = doc.part.numbering_part.element
    for child in list(numbering):
        numbering.remove(child)
    numbering.append(
        parse_xml(
            f'<w:abstractNum {nsdecls("w")} w:abstractNumId="0">'
            '<w:multiLevelType w:val="singleLevel"/>'
            '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="bullet"/>'
            '<w:lvlText w:val="•"/><w:lvlJc w:val="left"/>'
            '<w:pPr><w:ind w:left="360" w:hanging="240"/></w:pPr>'
            f'<w:rPr><w:rFonts w:ascii="{FONT}" w:hAnsi="{FONT}" w:cs="{FONT}"/></w:rPr>'
            "</w:lvl></w:abstractNum>"
        )
    )
    numbering.append(
        parse_xml(f'<w:num {nsdecls("w")} w:numId="1"><w:abstractNumId w:val="0"/></w:num>')
    )


def field(instruction: str, shown: str) -> list[Any]:
    """A complex field (PAGE, NUMPAGES) as its runs, with a cached result for readers."""
    return [
        parse_xml(f'<w:r {nsdecls("w")}><w:fldChar w:fldCharType="begin"/></w:r>'),
        parse_xml(
            f'<w:r {nsdecls("w")}><w:instrText xml:space="preserve"> {instruction} </w:instrText>'
            "</w:r>"
        ),
        parse_xml(f'<w:r {nsdecls("w")}><w:fldChar w:fldCharType="separate"/></w:r>'),
        parse_xml(f"<w:r {nsdecls('w')}><w:t>{shown}</w:t></w:r>"),
        parse_xml(f'<w:r {nsdecls("w")}><w:fldChar w:fldCharType="end"/></w:r>'),
    ]


def header_footer(doc: Any) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = Twips(11906), Twips(16838)
    for side in ("top_margin", "bottom_margin", "left_margin", "right_margin"):
        setattr(section, side, Twips(1134))
    section.header_distance = section.footer_distance = Twips(567)

    section.header.is_linked_to_previous = False
    head = section.header.paragraphs[0]
    head.style = doc.styles["header"]
    head.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    head.add_run("{profile_id}  ·  canon {canon_version}")

    section.footer.is_linked_to_previous = False
    foot = section.footer.paragraphs[0]
    foot.style = doc.styles["footer"]
    foot.alignment = WD_ALIGN_PARAGRAPH.CENTER
    foot.add_run("Page ")
    for run in field("PAGE", "1"):
        foot._p.append(run)
    foot.add_run(" of ")
    for run in field("NUMPAGES", "1"):
        foot._p.append(run)


def drop_extra_parts(doc: Any) -> None:
    """No thumbnail, no Word-2010 duplicate styles part, no sample custom XML: less to ship."""
    unwanted = ("thumbnail", "stylesWithEffects", "customXml")
    for rels in (doc.part.package.rels, doc.part.rels):
        for rid, rel in list(rels.items()):
            if rel.reltype.rsplit("/", 1)[-1] in unwanted:
                del rels[rid]


def tidy_settings(doc: Any) -> None:
    settings = doc.settings.element
    zoom = settings.find(qn("w:zoom"))
    if zoom is not None:  # the template's w:zoom lacks the required w:percent (doctech §1.9)
        zoom.set(qn("w:percent"), "100")
    for name in ("w:savePreviewPicture", "w:rsids"):
        for el in settings.findall(qn(name)):
            settings.remove(el)


def clear_core_properties(doc: Any) -> None:
    """The renderer writes its own core.xml; these are only so the reference looks neutral."""
    core = doc.core_properties
    core.author = core.last_modified_by = "jobframe-packs"
    core.title = core.subject = core.comments = core.keywords = core.category = ""
    core.created = core.modified = datetime(2000, 1, 1, tzinfo=UTC)
    core.revision = 1


def normalized_zip(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.create_system = 0
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def build() -> bytes:
    roles = layout_roles()
    doc = Document()
    define_styles(doc, roles)
    prune_styles(doc, roles)
    bullet_numbering(doc)
    header_footer(doc)
    drop_extra_parts(doc)
    tidy_settings(doc)
    clear_core_properties(doc)
    body = doc.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):
            body.remove(child)
    raw = io.BytesIO()
    doc.save(raw)
    return normalized_zip(raw.getvalue())


if __name__ == "__main__":
    OUT.write_bytes(build())
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
