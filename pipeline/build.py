"""Build: the only stage that writes. Selection, rendering, manifest, atomic writes.

Every file is written to a temporary name in its final folder and renamed into place, so a crash
never leaves a half-written file under a final name and never clobbers an earlier good pack.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from pipeline.compose import ComposeOptions, compose_profile
from pipeline.diagnostics import PacksError
from pipeline.layout import Layout, RenderOptions
from pipeline.model import Canon, Profile
from pipeline.render import Format

PRODUCT = "jobframe-packs"
DEFAULT_COMPOSE = ComposeOptions()
LIBRARIES = ("weasyprint", "python-docx", "openpyxl", "Jinja2", "PyYAML", "lxml")


def product_version() -> str:
    try:
        return metadata.version(PRODUCT)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def source_date_epoch(environ: dict[str, str] | None = None) -> int | None:
    """SOURCE_DATE_EPOCH as an int, or None when unset; a malformed value is an input error."""
    raw = (os.environ if environ is None else environ).get("SOURCE_DATE_EPOCH")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise PacksError(
            f"SOURCE_DATE_EPOCH={raw!r} is not a whole number of seconds since 1970"
        ) from None
    if value < 0:
        raise PacksError(f"SOURCE_DATE_EPOCH={raw!r} must not be negative")
    return value


def iso_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def select(canon: Canon, patterns: Sequence[str]) -> tuple[Profile, ...]:
    """Profiles whose id matches any pattern (`CLINIC.*`, `*.M4`); all when no pattern."""
    if not patterns:
        return canon.profiles
    chosen = tuple(
        p for p in canon.profiles if any(fnmatch.fnmatchcase(p.id, pat) for pat in patterns)
    )
    if not chosen:
        raise PacksError(f"no profile matches {' '.join(patterns)} (try `packs list`)")
    return chosen


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@dataclass(frozen=True)
class PackFile:
    name: str
    data: bytes


def render_pack(
    profile: Profile,
    digest: str,
    formats: Iterable[Format],
    layout: Layout,
    options: RenderOptions,
    compose_options: ComposeOptions = DEFAULT_COMPOSE,
) -> tuple[PackFile, ...]:
    """Render one profile in every format, in memory (pure: no files, no clock)."""
    frames = compose_profile(profile, digest, compose_options)
    return tuple(
        PackFile(fmt.file_name(profile.id), fmt.renderer()(frames, layout, options))
        for fmt in formats
    )


def manifest(profile_id: str, digest: str, files: Sequence[PackFile], build_epoch: int) -> bytes:
    data = {
        "profile": profile_id,
        "canon_digest": digest,
        "build_time": iso_time(build_epoch),
        "generator": {
            "name": PRODUCT,
            "version": product_version(),
            "libraries": library_versions(),
        },
        "files": [
            {"path": f.name, "bytes": len(f.data), "sha256": hashlib.sha256(f.data).hexdigest()}
            for f in files
        ],
    }
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


@dataclass(frozen=True)
class BuildReport:
    built: int
    skipped: int
    failed: tuple[tuple[str, str], ...]
    seconds: float

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def line(self) -> str:
        return (
            f"built {self.built}, skipped {self.skipped}, failed {len(self.failed)} "
            f"in {self.seconds:.1f}s"
        )


def build(
    canon: Canon,
    profiles: Sequence[Profile],
    formats: Sequence[Format],
    out: Path,
    layout: Layout,
    options: RenderOptions,
    compose_options: ComposeOptions = DEFAULT_COMPOSE,
) -> BuildReport:
    start = time.monotonic()
    epoch = options.timestamp if options.timestamp is not None else int(time.time())
    options = RenderOptions(
        page_size=options.page_size,
        form_password=options.form_password,
        timestamp=epoch,
        generator=f"{PRODUCT} {product_version()}",
    )
    built = 0
    failed: list[tuple[str, str]] = []
    for profile in profiles:
        digest = canon.digest(profile.id)
        files = render_pack(profile, digest, formats, layout, options, compose_options)
        folder = out / profile.id
        for f in files:
            write_atomic(folder / f.name, f.data)
        write_atomic(folder / "manifest.json", manifest(profile.id, digest, files, epoch))
        built += 1
    return BuildReport(built, 0, tuple(failed), time.monotonic() - start)
