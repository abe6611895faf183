"""The manifest of a pack (design.md §6): every file with size and sha256, the canon digest,
the generator and library versions, the build time, and the inputs fingerprint."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline.ooxml.archive import iso_utc

PRODUCT = "jobframe-packs"


#: Libraries whose version can change output bytes (recorded in manifests and fingerprints).
LIBRARIES = (
    "weasyprint",
    "pydyf",
    "fonttools",
    "python-docx",
    "openpyxl",
    "Jinja2",
    "PyYAML",
    "lxml",
)


@functools.cache
def product_version() -> str:
    try:
        return metadata.version(PRODUCT)
    except metadata.PackageNotFoundError:
        return "0+unknown"


@functools.cache
def _library_versions() -> tuple[tuple[str, str], ...]:
    out = []
    for name in LIBRARIES:
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(out)


def library_versions() -> dict[str, str]:
    return dict(_library_versions())


MANIFEST = "manifest.json"


@dataclass(frozen=True)
class PackFile:
    name: str
    data: bytes


def generator_info(speedups: Sequence[str] = ()) -> dict[str, Any]:
    """The product, its libraries, and the WeasyPrint speed-ups its handouts were drawn with."""
    return {
        "name": PRODUCT,
        "version": product_version(),
        "libraries": library_versions(),
        "speedups": list(speedups),
    }


def manifest(
    profile_id: str,
    digest: str,
    files: Sequence[PackFile],
    build_epoch: int,
    inputs: Mapping[str, Any] | None = None,
    speedups: Sequence[str] = (),
) -> bytes:
    """design.md §6 manifest, plus `inputs` (the fingerprint incremental builds compare)."""
    data: dict[str, Any] = {
        "profile": profile_id,
        "canon_digest": digest,
        "build_time": iso_utc(build_epoch),
        "generator": generator_info(speedups),
        "files": [
            {"path": f.name, "bytes": len(f.data), "sha256": hashlib.sha256(f.data).hexdigest()}
            for f in sorted(files, key=lambda f: f.name)
        ],
    }
    if inputs is not None:
        data["inputs"] = dict(inputs)
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def listed_files(manifest_path: Path) -> set[str]:
    """File names a previous manifest lists (plain names in the pack folder only)."""
    try:
        data = json.loads(manifest_path.read_bytes())
        names = {str(f["path"]) for f in data["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {n for n in names if n == Path(n).name and not n.startswith(".") and n != MANIFEST}
