"""jobframe-packs: canon -> frames -> review packs (DOCX form, PDF handout, XLSX tracker, text).

The public API: `load_canon` (extract), `compose_profile` (compose), the format registry
(render) and `build` (the only stage that writes).
"""

from pipeline.build import build
from pipeline.compose import ComposeOptions, compose_profile
from pipeline.extract import load_canon
from pipeline.render import FORMATS, get_format

__all__ = ["FORMATS", "ComposeOptions", "build", "compose_profile", "get_format", "load_canon"]
