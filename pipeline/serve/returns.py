"""A cycle's returned files as `packs serve` keeps them: each upload stored under
`CYCLE/returns/files/` under a random name (the name the client gave it kept as text, in
`returns/index.json`), beside the harvest's `results.xlsx` and `summary.json`
(`pipeline.serve.worker.run_harvest` writes those).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from pathlib import Path
from typing import Any

from pipeline.build import write_atomic
from pipeline.cycle.groups import FILE_MODE
from pipeline.diagnostics import PacksError
from pipeline.serve.jobs import make_folder, write_json

#: Where a cycle's uploads, their index and the harvest's outputs live.
RETURNS = "returns"
RETURNED_FILES = "files"
INDEX = "index.json"
RESULTS = "results.xlsx"
SUMMARY = "summary.json"


def read_index(cycle_dir: Path) -> list[dict[str, Any]]:
    try:
        return list(json.loads((cycle_dir / RETURNS / INDEX).read_bytes()))
    except (OSError, ValueError):
        return []


def read_summary(cycle_dir: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads((cycle_dir / RETURNS / SUMMARY).read_bytes()))
    except (OSError, ValueError):
        return None


def store_returned(cycle_dir: Path, shown: str, data: bytes) -> str | None:
    """Keep one uploaded file under `CYCLE/returns/files/` (a random name, mode 0600) when it is
    an office package the harvest can open; else the reason it was refused (nothing stored).
    Call under one lock per server: the index is read, extended and written back."""
    from pipeline.harvest.collect import MAX_FILE_BYTES, SUFFIXES
    from pipeline.harvest.package import open_package
    from pipeline.harvest.verify import RETURNED_PACKAGE

    suffix = Path(shown).suffix.lower()
    if suffix not in SUFFIXES:
        return "not a .docx or .xlsx file; not stored"
    if len(data) > MAX_FILE_BYTES:
        return f"over {MAX_FILE_BYTES // (1024 * 1024)} MiB; not stored"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    index = read_index(cycle_dir)
    if any(entry["sha256"] == digest for entry in index):
        return "uploaded before (the same bytes); not stored again"
    try:
        with open_package(data, RETURNED_PACKAGE):
            pass
    except PacksError as exc:
        return f"{exc}; not stored"
    folder = cycle_dir / RETURNS / RETURNED_FILES
    make_folder(folder.parent)
    make_folder(folder)
    stored = f"{secrets.token_hex(16)}{suffix}"
    write_atomic(folder / stored, data, FILE_MODE)
    index.append({"file": stored, "name": shown, "bytes": len(data), "sha256": digest})
    write_json(cycle_dir / RETURNS / INDEX, index)
    return None


def returned_files(cycle_dir: Path) -> tuple[tuple[Path, str], ...]:
    """(stored path, name shown) of the cycle's uploads; only names this server chose."""
    folder = cycle_dir / RETURNS / RETURNED_FILES
    found = []
    for entry in read_index(cycle_dir):
        name = str(entry["file"])
        if re.fullmatch(r"[0-9a-f]{32}\.(docx|xlsx)", name):
            found.append((folder / name, str(entry["name"])))
    return tuple(found)
