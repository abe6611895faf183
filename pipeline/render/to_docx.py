"""The DOCX review form (format `docx`): a Word form in which only the placeholders can be edited.

Every placeholder and every review / sign-off field is a legacy text form field (`FORMTEXT`: a
complex field whose `w:ffData` names it); the rest is plain text under "filling in forms"
protection. Why not content controls: LibreOffice 7.4 imports plain-text controls as input
fields that refuse typing under that protection, and its date controls refused it too, while a
FORMTEXT field takes typing in both suites and keeps its `w:ffData` through a LibreOffice save
(evidence: README, "Filling in the form"). Each field carries its key twice: `w:statusText`
"label [key]" (both suites keep it), and `w:name` `F001`… (Word's form-field bookmark, at most 20
characters), the position in the `FormFields` custom property.

The body is built with lxml from the frames (`docx_body`); styles, numbering, header, footer and
page setup come from the layout's reference document (`docx_reference`, doctech §1.8), loaded once
per process; the other parts are `docx_parts`; what the harvest reads back is
`pipeline.ooxml.form_contract`. The package is zipped here, not by python-docx, so the same frames
and timestamp give the same bytes.

The renderer switches on block types only (Record by style, Group), never on frame kinds.
"""

from __future__ import annotations

from pipeline.layout import Layout, RenderOptions
from pipeline.model import ProfileFrames
from pipeline.ooxml.archive import DOCX_ENTRIES, zip_bytes
from pipeline.ooxml.form_contract import (
    CANON_DIGEST_PROPERTY,
    CANON_VERSION_PROPERTY,
    DOCUMENT_PART,
    FORM_FIELDS_PROPERTY,
    PROFILE_ID_PROPERTY,
    SETTINGS_PART,
)
from pipeline.ooxml.ns import (
    APP_PART,
    CONTENT_TYPES_PART,
    CORE_PART,
    CUSTOM_PART,
    PACKAGE_RELS_PART,
)
from pipeline.render.docx_body import Body
from pipeline.render.docx_parts import (
    app_xml,
    content_types,
    core_xml,
    custom_xml,
    fill_slots,
    package_rels,
    section_properties,
    settings_xml,
    xml_bytes,
)
from pipeline.render.docx_reference import docx_layout


def render(frames: ProfileFrames, layout: Layout, options: RenderOptions) -> bytes:
    ref = docx_layout(layout)
    epoch = options.timestamp or 0
    section, text_width = section_properties(ref, options.page_size)
    body = Body(ref, text_width, dict(options.fields))
    body.title_block(frames)
    for frame in frames.frames:
        body.frame(frame)
    body.review_block()
    body.body.append(section)

    replaced = {
        SETTINGS_PART: settings_xml(ref, frames, options.form_password),
        **{name: fill_slots(part, frames) for name, part in ref.slotted},
    }
    properties = (
        (PROFILE_ID_PROPERTY, frames.profile_id),
        (CANON_DIGEST_PROPERTY, frames.canon_digest),
        (CANON_VERSION_PROPERTY, frames.canon_version),
        (FORM_FIELDS_PROPERTY, " ".join(body.keys)),
    )
    parts = [
        (CONTENT_TYPES_PART, content_types(ref)),
        (PACKAGE_RELS_PART, package_rels(ref)),
        (CORE_PART, core_xml(frames, epoch, options.identity)),
        (APP_PART, app_xml(options.generator)),
        (CUSTOM_PART, custom_xml(properties)),
        (DOCUMENT_PART, xml_bytes(body.root)),
        *((name, replaced.get(name, data)) for name, data in ref.parts),
    ]
    return zip_bytes(parts, epoch, DOCX_ENTRIES)
