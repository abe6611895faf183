"""What a pack depends on, so an unchanged pack is skipped without rendering.

Each manifest records a fingerprint of everything that shapes the pack (canon digest, layout
files, the code that renders, product and library versions, formats, options); a pack whose
fingerprint and files are unchanged is skipped without composing or importing a renderer.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pipeline.build.commit import is_temp
from pipeline.build.manifest import MANIFEST, PRODUCT, library_versions, product_version
from pipeline.compose import ComposeOptions
from pipeline.layout import Layout, RenderOptions
from pipeline.render import Format

#: Parts of `pipeline/` that cannot change a pack's bytes, left out of `code_digest`: editing the
#: command line, the harvest readers, the download page or the error texts does not rebuild
#: every pack. Anything
#: else under `pipeline/` (a new package too) counts, so a forgotten module errs towards a rebuild.
NOT_RENDERING = frozenset(
    {"__main__.py", "cli", "diagnostics.py", "cycle", "exchange", "harvest", "serve"}
    | {"layouts"}  # an installed wheel's copy of layouts/: `layout_digest` covers it
)


@functools.cache
def code_digest() -> str:
    """sha256 over the source of the code that renders: an edited renderer invalidates packs
    even when the version number stays the same (an editable install during development)."""
    return source_digest(Path(__file__).resolve().parent.parent)


def source_digest(root: Path) -> str:
    """sha256 over the .py and .json files under `root` (the `pipeline` package) that render."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in NOT_RENDERING or "__pycache__" in rel.parts:
            continue
        if path.suffix in (".py", ".json"):
            h.update(rel.as_posix().encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return "sha256:" + h.hexdigest()


def layout_digest(layout: Layout) -> str:
    """sha256 over every file of the layout (names and bytes), ignoring caches and dot files."""
    h = hashlib.sha256()
    for path in layout.files():
        rel = path.relative_to(layout.root)
        if "__pycache__" in rel.parts or any(part.startswith(".") for part in rel.parts):
            continue
        h.update(rel.as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return "sha256:" + h.hexdigest()


def build_inputs(
    formats: Sequence[Format],
    layout: Layout,
    options: RenderOptions,
    compose_options: ComposeOptions,
    reproducible: bool,
) -> dict[str, Any]:
    """The build-wide inputs of every pack, as recorded in manifests (no secrets)."""
    return {
        "layout_digest": layout_digest(layout),
        "formats": sorted(f.name for f in formats),
        "page_size": options.page_size,
        "form_password": options.form_password is not None,
        "compose": asdict(compose_options),
        "source_date_epoch": options.timestamp if reproducible else None,
    }


def common_fingerprint(
    inputs: Mapping[str, Any], formats: Sequence[Format], options: RenderOptions
) -> str:
    """Everything but the profile's own canon digest; the password enters only as a slow hash."""
    password = None
    if options.form_password is not None:
        password = hashlib.pbkdf2_hmac(
            "sha256", options.form_password.encode(), PRODUCT.encode(), 100_000
        ).hex()
    data = {
        "inputs": inputs,
        "formats": sorted((f.name, f.suffix, f.module) for f in formats),
        "product": product_version(),
        "code": code_digest(),
        "libraries": library_versions(),
        "python": platform.python_version(),
        "generator": options.generator,
        "password": password,
        "speedups": options.speedups,  # same bytes, but the manifest's generator records them
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def fingerprint(common: str, digest: str) -> str:
    """What a pack depends on: the build-wide inputs plus this profile's canon digest."""
    return "sha256:" + hashlib.sha256(f"{common}\n{digest}".encode()).hexdigest()


def current_manifest(folder: Path, expected: str) -> bytes | None:
    """The pack's manifest when its fingerprint is `expected` and its files are all there with
    the recorded sizes (a cheap check: no hashing); else None. Also sweeps leftover temps."""
    try:
        raw = (folder / MANIFEST).read_bytes()
        data = json.loads(raw)
        if data["inputs"]["fingerprint"] != expected:
            return None
        listed = {str(f["path"]): int(f["bytes"]) for f in data["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    sizes: dict[str, int] = {}
    for entry in os.scandir(folder):
        if is_temp(entry.name):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
        elif entry.name in listed:
            sizes[entry.name] = entry.stat(follow_symlinks=False).st_size
    return raw if sizes == listed else None
