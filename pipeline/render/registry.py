"""The output formats. Adding one is a module with `render(frames, layout, options) -> bytes`
plus one line here; modules are imported on first use, so `packs show` never pays for WeasyPrint.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.diagnostics import UsageError
from pipeline.layout import Layout, RenderOptions
from pipeline.model import ProfileFrames

Renderer = Callable[[ProfileFrames, Layout, RenderOptions], bytes]


@dataclass(frozen=True)
class Format:
    name: str
    #: Appended to the profile id to name the file: `<ID><suffix>`.
    suffix: str
    module: str
    media_type: str

    def renderer(self) -> Renderer:
        render: Renderer = importlib.import_module(self.module).render
        return render

    def file_name(self, profile_id: str) -> str:
        return f"{profile_id}{self.suffix}"


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("txt", ".goal-templates.txt", "pipeline.render.to_text", "text/plain"),
        Format("pdf", ".handout.pdf", "pipeline.render.to_pdf", "application/pdf"),
        Format(
            "xlsx",
            ".mbo-tracker.xlsx",
            "pipeline.render.to_xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        Format(
            "docx",
            ".review-form.docx",
            "pipeline.render.to_docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
    )
}


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        known = ", ".join(FORMATS)
        raise UsageError(f"unknown format '{name}' (known: {known})") from None
