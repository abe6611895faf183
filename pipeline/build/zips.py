"""Zips of packs: one per profile (`<ID>.zip`) and one of the selection (`packs.zip`), kept in
step with the packs on disk without rendering again."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

from pipeline.build.commit import open_atomic, os_message, write_atomic
from pipeline.build.manifest import MANIFEST, PRODUCT, PackFile
from pipeline.diagnostics import PacksError
from pipeline.model import Profile
from pipeline.ooxml.archive import PACK_ENTRIES, ZipWriter

#: The zip of the whole selection, beside the per-profile `<ID>.zip` files.
SELECTION_ZIP = "packs.zip"


def write_zip(target: IO[bytes], members: Iterable[tuple[str, bytes]], epoch: int) -> None:
    """A pack zip: members sorted by name, fixed times (from `epoch`) and permissions."""
    with ZipWriter(target, epoch, PACK_ENTRIES) as archive:
        for name, data in sorted(members, key=lambda m: m[0]):
            archive.add(name, data)


def zip_bytes(members: Iterable[tuple[str, bytes]], epoch: int) -> bytes:
    buffer = io.BytesIO()
    write_zip(buffer, members, epoch)
    return buffer.getvalue()


def pack_members(
    profile_id: str, files: Sequence[PackFile], manifest_data: bytes
) -> list[tuple[str, bytes]]:
    """Zip members of one pack: `<ID>/<file>` and `<ID>/manifest.json`."""
    return [(f"{profile_id}/{f.name}", f.data) for f in files] + [
        (f"{profile_id}/{MANIFEST}", manifest_data)
    ]


def read_pack(folder: Path, profile_id: str, manifest_data: bytes) -> list[tuple[str, bytes]]:
    """Zip members of a pack on disk, each checked against its manifest; OSError if not."""
    members = []
    for entry in json.loads(manifest_data)["files"]:
        data = (folder / entry["path"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise OSError(errno.EIO, "does not match its manifest", str(folder / entry["path"]))
        members.append((f"{profile_id}/{entry['path']}", data))
    members.append((f"{profile_id}/{MANIFEST}", manifest_data))
    return members


def zip_is_current(path: Path, profile_id: str, manifest_data: bytes) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return z.read(f"{profile_id}/{MANIFEST}") == manifest_data
    except (OSError, KeyError, zipfile.BadZipFile):
        return False


def ensure_zip(out: Path, profile_id: str, manifest_data: bytes, epoch: int) -> bytes | None:
    """Keep a skipped pack's zip in step with it (rezip from disk: no render); None = rebuild."""
    path = out / f"{profile_id}.zip"
    if zip_is_current(path, profile_id, manifest_data):
        return manifest_data
    try:
        members = read_pack(out / profile_id, profile_id, manifest_data)
        write_atomic(path, zip_bytes(members, epoch))
    except OSError:
        return None
    return manifest_data


def selection_zip(
    out: Path, profiles: Sequence[Profile], failed: Sequence[tuple[str, str]], epoch: int
) -> str:
    """Write `out/packs.zip` (every selected pack with its manifest) unless a pack failed; skip
    the write when the zip already holds exactly these manifests."""
    target = out / SELECTION_ZIP
    if failed:
        return f"{target} not written ({len(failed)} failed)"
    ids = sorted(p.id for p in profiles)
    try:
        manifests = [(pid, (out / pid / MANIFEST).read_bytes()) for pid in ids]
    except OSError as exc:
        raise PacksError(f"cannot write {target}: {os_message(exc)}") from None
    key = hashlib.sha256()
    for pid, data in manifests:
        key.update(pid.encode() + b"\0" + hashlib.sha256(data).digest())
    comment = f"{PRODUCT} selection sha256:{key.hexdigest()}".encode()
    with contextlib.suppress(OSError, zipfile.BadZipFile), zipfile.ZipFile(target) as existing:
        if existing.comment == comment:
            return f"{target} unchanged"
    try:
        with open_atomic(target) as fh, ZipWriter(fh, epoch, PACK_ENTRIES) as archive:
            for pid, data in manifests:
                for name, member in sorted(read_pack(out / pid, pid, data)):
                    archive.add(name, member)
            archive.set_comment(comment)
    except OSError as exc:
        raise PacksError(f"cannot write {target}: {os_message(exc)}") from None
    return f"wrote {target}"
