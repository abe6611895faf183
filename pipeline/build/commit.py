"""Atomic writes: every file is staged under a hidden temporary name in its final folder
(fsynced) and renamed into place; a pack is committed as a unit, its manifest renamed in last,
so whenever a `manifest.json` exists every file it lists is complete and matches it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

from pipeline.build.manifest import MANIFEST, PackFile, listed_files

TEMP_SUFFIX = ".tmp"


def stage(path: Path, data: bytes, mode: int = 0o644) -> Path:
    """Write `data` to a hidden temporary file beside `path` (fsynced, `mode`); return it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return Path(tmp)


@contextlib.contextmanager
def open_atomic(path: Path, mode: int = 0o644) -> Iterator[IO[bytes]]:
    """A file to stream into that appears under `path` only once complete (for big zips)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "w+b") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `path` through a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = stage(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _fsync_dir(folder: Path) -> None:
    """Make the renames in `folder` durable (best effort: not every filesystem allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def sweep_temps(folder: Path) -> int:
    """Remove temporary files a killed build left in `folder` (only while holding the lock)."""
    removed = 0
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(folder):
            if is_temp(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def commit_pack(
    folder: Path,
    files: Sequence[PackFile],
    manifest_data: bytes,
    other_outputs: Iterable[str] = (),
) -> None:
    """Write one pack so that a manifest, when present, always matches the files it lists.

    Stage everything (where a full disk fails, with the old pack untouched), move the old manifest
    aside, rename the files in, drop files no longer built (those the old manifest lists and
    `other_outputs`, the names other formats would write), rename the manifest in.
    """
    folder.mkdir(parents=True, exist_ok=True)
    sweep_temps(folder)
    current = folder / MANIFEST
    obsolete = (listed_files(current) | set(other_outputs)) - {f.name for f in files}
    staged: list[tuple[Path, Path]] = []
    try:
        for f in files:
            staged.append((stage(folder / f.name, f.data), folder / f.name))
        manifest_tmp = stage(current, manifest_data)
    except BaseException:
        discard(staged)
        raise
    commit_staged(current, manifest_tmp, staged, [folder / name for name in obsolete])
    _fsync_dir(folder)


def discard(staged: Iterable[tuple[Path, Path]]) -> None:
    """Remove staged temporary files that will not be committed."""
    for tmp, _ in staged:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def commit_staged(
    manifest: Path,
    manifest_tmp: Path,
    staged: Sequence[tuple[Path, Path]],
    obsolete: Iterable[Path] = (),
) -> None:
    """Commit files already staged (`stage`) under the manifest that lists them: move the old
    manifest aside, rename the files in, drop `obsolete` files, rename the new manifest in. A
    failure before the first rename puts the old manifest back; staged files are removed."""
    aside = manifest.parent / f".{manifest.name}.old{TEMP_SUFFIX}"
    moved_aside = replaced = False
    try:
        if manifest.exists():
            os.replace(manifest, aside)
            moved_aside = True
        for tmp, final in staged:
            os.replace(tmp, final)
            replaced = True
        for path in obsolete:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        os.replace(manifest_tmp, manifest)
    except BaseException:
        if moved_aside and not replaced:  # nothing changed yet: put the old pack back whole
            with contextlib.suppress(OSError):
                os.replace(aside, manifest)
        discard([*staged, (manifest_tmp, manifest)])
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(aside)


def os_message(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"
