"""What `packs serve` serves: the profile catalogue and the packs of `out/`, exactly as
`packs build` writes them.

A pack is served only from a manifest whose fingerprint is the one this server's build would
record (same canon digest, layout, code, libraries, formats, options) and whose files are all
there; otherwise it is built first, by `pipeline.build.build` itself, under its `out/` lock. Every
byte served is checked against the manifest's sha256 on the way out, so a download is the
manifest's file or nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.build import (
    DEFAULT_COMPOSE,
    MANIFEST,
    PRODUCT,
    build,
    build_inputs,
    build_lock,
    common_fingerprint,
    current_manifest,
    ensure_zip,
    fingerprint,
    product_version,
    read_pack,
    zip_is_current,
)
from pipeline.build.run import stamped
from pipeline.compose import ComposeOptions
from pipeline.compose.registry import page_title
from pipeline.diagnostics import PacksError
from pipeline.layout import Layout, RenderOptions
from pipeline.model import Canon, Profile
from pipeline.ooxml.archive import PACK_ENTRIES, ZipWriter
from pipeline.render import FORMATS, Format

ZIP_MEDIA_TYPE = "application/zip"
#: Media types of files a manifest may list, by file name ending.
MEDIA_TYPES = {
    **{f.suffix: f.media_type for f in FORMATS.values()},
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}


def media_type(name: str) -> str:
    for suffix, kind in sorted(MEDIA_TYPES.items(), key=lambda item: -len(item[0])):
        if name.endswith(suffix):
            return "text/plain; charset=utf-8" if kind == "text/plain" else kind
    return "application/octet-stream"


# --- the catalogue --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    profile: Profile
    title: str
    #: Lower-cased id, title, function and focus names: what the text filter searches.
    haystack: str

    @property
    def id(self) -> str:
        return self.profile.id


class Catalogue:
    """The canon's profiles, indexed once, filtered by text, function and level."""

    def __init__(self, canon: Canon) -> None:
        self.canon = canon
        self.entries = tuple(
            Entry(
                p,
                page_title(p),
                " ".join(
                    (p.id, page_title(p), p.function.name, p.focus.name, p.level.title)
                ).casefold(),
            )
            for p in canon.profiles
        )
        self._by_id = {e.id: e for e in self.entries}
        self.functions = tuple(sorted({(p.function.code, p.function.name) for p in canon.profiles}))
        self.levels = tuple(sorted({p.level.code for p in canon.profiles}))

    def get(self, profile_id: str) -> Entry | None:
        """The entry of an id exactly as the canon has it; None for anything else."""
        return self._by_id.get(profile_id)

    def find(self, text: str = "", function: str = "", level: str = "") -> list[Entry]:
        words = text.casefold().split()
        return [
            e
            for e in self.entries
            if (not function or e.profile.function.code == function)
            and (not level or e.profile.level.code == level)
            and all(w in e.haystack for w in words)
        ]


# --- the packs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServedFile:
    name: str
    data: bytes
    sha256: str

    @property
    def etag(self) -> str:
        return f'"sha256-{self.sha256}"'


class PackStore:
    """The packs of one `out/` as this server's build would write them."""

    def __init__(
        self,
        canon: Canon,
        out: Path,
        layout: Layout,
        options: RenderOptions,
        formats: Sequence[Format] = tuple(FORMATS.values()),
        compose_options: ComposeOptions = DEFAULT_COMPOSE,
    ) -> None:
        self.canon = canon
        self.out = Path(out).resolve()
        self.layout = layout
        self.options = options
        self.formats = tuple(formats)
        self.compose_options = compose_options
        self._lock = threading.Lock()
        self._fingerprints = self._expected_fingerprints()

    def _expected_fingerprints(self) -> dict[str, str]:
        """Per profile, the fingerprint `build()` records for these inputs (its own functions)."""
        epoch = self.options.timestamp
        options = RenderOptions(
            page_size=self.options.page_size,
            form_password=self.options.form_password,
            timestamp=epoch if epoch is not None else 0,
            generator=f"{PRODUCT} {product_version()}",
            speedups=stamped(self.options)[2].speedups,  # the build's switch, environment too
        )
        inputs = build_inputs(
            self.formats, self.layout, options, self.compose_options, epoch is not None
        )
        common = common_fingerprint(inputs, self.formats, options)
        return {pid: fingerprint(common, digest) for pid, digest in self.canon.digests}

    def current(self, profile_id: str) -> dict[str, Any] | None:
        """The pack's manifest when it is current (as `build()` decides); else None."""
        raw = current_manifest(self.out / profile_id, self._fingerprints[profile_id])
        return None if raw is None else dict(json.loads(raw))

    def ensure(self, profile_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Manifests of these packs, building the missing or stale ones first (blocking: call it
        from a worker thread). One build at a time in this process; another process building
        into the same `out/` makes this raise `BuildBusy` (the build lock's)."""
        manifests = {pid: m for pid in profile_ids if (m := self.current(pid)) is not None}
        if len(manifests) == len(profile_ids):
            return manifests
        with self._lock:
            stale = [pid for pid in profile_ids if self.current(pid) is None]
            if stale:
                self._build([p for p in self.canon.profiles if p.id in set(stale)])
            manifests = {}
            for pid in profile_ids:
                manifest = self.current(pid)
                if manifest is None:
                    raise PacksError(f"{pid}: the pack could not be built")
                manifests[pid] = manifest
        return manifests

    def _build(self, profiles: Sequence[Profile]) -> None:
        report = build(
            self.canon,
            profiles,
            self.formats,
            self.out,
            self.layout,
            self.options,
            self.compose_options,
            jobs=1,
        )
        if report.failed:
            raise PacksError("; ".join(f"{pid}: {why}" for pid, why in report.failed))

    def file(self, profile_id: str, name: str) -> ServedFile | None:
        """One file of a pack (`name` as the manifest lists it, or `manifest.json`), or None."""
        manifest = self.ensure([profile_id])[profile_id]
        folder = self.out / profile_id
        if name == MANIFEST:
            data = (folder / MANIFEST).read_bytes()
            return ServedFile(name, data, hashlib.sha256(data).hexdigest())
        listed = {str(f["path"]): str(f["sha256"]) for f in manifest["files"]}
        if name not in listed:
            return None
        data = (folder / name).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != listed[name]:
            raise PacksError(f"{profile_id}/{name} does not match its manifest; rebuild the pack")
        return ServedFile(name, data, digest)

    def pack_zip(self, profile_id: str) -> ServedFile:
        """`out/<ID>.zip` as `packs build --zip` writes it (written from the pack when missing)."""
        manifest = self.ensure([profile_id])[profile_id]
        raw = (self.out / profile_id / MANIFEST).read_bytes()
        path = self.out / f"{profile_id}.zip"
        if not zip_is_current(path, profile_id, raw):
            with self._lock, build_lock(self.out):
                ensure_zip(self.out, profile_id, raw, _epoch(manifest))
        data = path.read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if z.read(f"{profile_id}/{MANIFEST}") != raw:
                raise PacksError(f"{path} does not hold the current pack; rebuild it")
        return ServedFile(path.name, data, hashlib.sha256(data).hexdigest())

    def stream_zip(self, profile_ids: Sequence[str]) -> Iterator[bytes]:
        """One zip of these packs (members as in `out/packs.zip`), produced member by member.

        Call `ensure` first; a file that no longer matches its manifest ends the stream early
        (the client sees a broken download, never wrong bytes)."""
        sink = _Chunks()
        ids = sorted(profile_ids)
        epoch = _epoch(json.loads((self.out / ids[0] / MANIFEST).read_bytes())) if ids else 0
        with ZipWriter(sink, epoch, PACK_ENTRIES) as archive:
            for pid in ids:
                folder = self.out / pid
                raw = (folder / MANIFEST).read_bytes()
                for name, member in sorted(read_pack(folder, pid, raw)):
                    archive.add(name, member)
                    yield sink.take()
        yield sink.take()


def _epoch(manifest: dict[str, Any]) -> int:
    """The build time a manifest records, as seconds (zips of the pack are stamped with it)."""
    when = datetime.strptime(str(manifest["build_time"]), "%Y-%m-%dT%H:%M:%S%z")
    return int(when.timestamp())


class _Chunks(io.RawIOBase):
    """A write-only, non-seekable sink: zipfile then writes data descriptors and never seeks."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        return len(chunk)

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data
