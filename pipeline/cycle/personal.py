"""A person's form and tracker: the profile's render once, then only what differs patched in.

Rendering a tracker (about 80 ms) and a form (about 25 ms) again for every person would cost
about 0.1 s a person. What differs between two people on one profile is a handful of strings: the
review fields (names, period) and the identity line in the core properties. So each profile's
form and tracker are rendered once with a unique *marker* in each of those places (`template`);
a person's files are the template's parts with the markers replaced by that person's values,
escaped as the XML writer escapes text, and zipped again with the template's member order, times
and attributes (`personalise`). The result is byte for byte what a full render with the person's
values gives (`tests/test_cycle_build.py` checks it), or, where that cannot be guaranteed (a
value the marker could not stand for: a Read me line long enough to wrap, a value holding a
marker character), `personalise` says so and the caller renders that person in full.
"""

from __future__ import annotations

import secrets
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.layout import Layout, RenderOptions
from pipeline.model import ProfileFrames
from pipeline.ooxml.archive import members, rewritten
from pipeline.ooxml.tracker_contract import PERSONAL_LINES
from pipeline.render import Format
from pipeline.render.xlsx_sheets import wrapped_lines

IDENTITY_KEY = "identity"


def marker(key: str, nonce: str) -> str:
    """A string no canon text holds (a fresh nonce per template), with a non-ASCII character so
    the template shows whether a part writes text as UTF-8 or as character references."""
    return f"\u00a7{nonce}\u00a7{key}\u00a7"


def _refs(text: str) -> bytes:
    return text.encode("ascii", "xmlcharrefreplace")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class Template:
    """One format's render for a profile with markers in the personal places."""

    infos: tuple[zipfile.ZipInfo, ...]
    parts: tuple[bytes, ...]
    #: Index of each part that holds a marker -> whether it writes non-ASCII as `&#N;`.
    marked: Mapping[int, bool]
    keys: tuple[str, ...]
    nonce: str
    fmt: str
    readme_width: float
    chars_per_width: float


def template(
    fmt: Format, frames: ProfileFrames, layout: Layout, options: RenderOptions, keys: Sequence[str]
) -> Template:
    """Render `frames` in `fmt` once with a marker for every review field key and the identity."""
    nonce = secrets.token_hex(6)
    marked_options = _with(
        options, {k: marker(k, nonce) for k in keys}, marker(IDENTITY_KEY, nonce)
    )
    data = fmt.renderer()(frames, layout, marked_options)
    entries = members(data)
    infos = tuple(info for info, _ in entries)
    parts = tuple(part for _, part in entries)
    raw, referenced = f"\u00a7{nonce}\u00a7".encode(), f"&#167;{nonce}&#167;".encode()
    marked = {
        i: referenced in part for i, part in enumerate(parts) if raw in part or referenced in part
    }
    width, cpw = 0.0, 1.0
    if fmt.name == "xlsx":
        xlsx = layout.config.xlsx
        width = xlsx.readme.widths[1]
        cpw = xlsx.row_height.chars_per_width
    return Template(infos, parts, marked, tuple(keys), nonce, fmt.name, width, cpw)


def _with(options: RenderOptions, fields: Mapping[str, str], identity: str) -> RenderOptions:
    return RenderOptions(
        page_size=options.page_size,
        form_password=options.form_password,
        timestamp=options.timestamp,
        generator=options.generator,
        speedups=options.speedups,
        fields=tuple(fields.items()),
        identity=identity,
    )


def person_options(
    options: RenderOptions, fields: Mapping[str, str], identity: str
) -> RenderOptions:
    """The options of a full render of one person (what `personalise` must equal)."""
    return _with(options, fields, identity)


def personalise(t: Template, fields: Mapping[str, str], identity: str) -> bytes | None:
    """The template with this person's values in; None when only a full render is exact."""
    values = {**fields, IDENTITY_KEY: identity}
    if set(values) != {*t.keys, IDENTITY_KEY}:
        return None
    if t.fmt == "xlsx":
        for _, keys in PERSONAL_LINES:
            if not all(k in fields for k in keys):
                continue
            real = " to ".join(fields[k] for k in keys)
            marked_text = " to ".join(marker(k, t.nonce) for k in keys)
            width, cpw = t.readme_width, t.chars_per_width
            if wrapped_lines(real, width, cpw) != wrapped_lines(marked_text, width, cpw):
                return None
    replacements = {
        False: [(marker(k, t.nonce).encode(), _escape(v).encode()) for k, v in values.items()],
        True: [(_refs(marker(k, t.nonce)), _refs(_escape(v))) for k, v in values.items()],
    }

    def change(index: int, info: zipfile.ZipInfo, part: bytes) -> bytes:
        refs = t.marked.get(index)
        if refs is not None:
            for old, new in replacements[refs]:
                part = part.replace(old, new)
        return part

    return rewritten(zip(t.infos, t.parts, strict=True), change)
