"""The one deterministic zip writer, and the time stamps every output carries.

A zip stamps each entry with the current time and the permissions of the machine that wrote it;
here every entry gets the render's or build's epoch (zip cannot date before 1980, so earlier
epochs are raised to 1980-01-01) and one of the fixed `EntryStyle`s below, so the same input
gives the same bytes on any machine. The order of the entries is the caller's.
"""

from __future__ import annotations

import copy
import io
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol

#: 1980-01-01T00:00:00Z: zip entries cannot be dated earlier.
ZIP_EPOCH_FLOOR = 315_532_800

#: Members deflated in pack zips; the office formats and PDF are compressed already, so stored.
COMPRESSIBLE = (".txt", ".json", ".html", ".csv", ".md")


def iso_utc(epoch: int) -> str:
    """W3C date-time in UTC (`2023-11-14T22:13:20Z`): manifests, document properties."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def utc_moment(epoch: int) -> datetime:
    """The epoch as an aware UTC datetime (for libraries that take a datetime)."""
    return datetime.fromtimestamp(epoch, UTC)


def naive_utc(epoch: int | None) -> datetime:
    """The epoch (None: 0) as a naive UTC datetime: openpyxl's document properties take those."""
    return utc_moment(epoch or 0).replace(tzinfo=None)


def zip_date_time(epoch: int) -> tuple[int, int, int, int, int, int]:
    """A zip entry's date_time for this epoch, floored at 1980-01-01."""
    year, month, day, hour, minute, second = time.gmtime(max(epoch, ZIP_EPOCH_FLOOR))[:6]
    return year, month, day, hour, minute, second


def _deflated(name: str) -> int:
    return zipfile.ZIP_DEFLATED


def _by_suffix(name: str) -> int:
    return zipfile.ZIP_DEFLATED if name.endswith(COMPRESSIBLE) else zipfile.ZIP_STORED


@dataclass(frozen=True)
class EntryStyle:
    """How every entry of one kind of zip is marked. Each style is part of its format's bytes,
    so changing one changes every golden of that format."""

    #: The "made by" system: 0 MS-DOS, 3 Unix (unzip honours the permission bits only then).
    create_system: int
    #: The entry's external attributes (Unix mode in the high 16 bits); 0 = none.
    external_attr: int
    compression: Callable[[str], int]


#: A DOCX package: deflated, MS-DOS, mode 0644 in the attributes.
DOCX_ENTRIES = EntryStyle(0, 0o644 << 16, _deflated)
#: An XLSX package: deflated, MS-DOS, no attributes (as openpyxl's own writer leaves them).
XLSX_ENTRIES = EntryStyle(0, 0, _deflated)
#: A pack or selection zip: Unix regular files, mode 0644; text deflated, the rest stored.
PACK_ENTRIES = EntryStyle(3, 0o100644 << 16, _by_suffix)


class Writable(Protocol):
    """Where a zip goes: a file, a buffer, or a non-seekable sink (zipfile then never seeks)."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class ZipWriter:
    """A zip written entry by entry (`add`), all with one date and one `EntryStyle`."""

    def __init__(self, target: Writable, epoch: int, style: EntryStyle) -> None:
        self._zip = zipfile.ZipFile(target, mode="w")
        self._stamp = zip_date_time(epoch)
        self._style = style

    def add(self, name: str, data: bytes) -> None:
        info = zipfile.ZipInfo(name, date_time=self._stamp)
        info.compress_type = self._style.compression(name)
        info.create_system = self._style.create_system
        info.external_attr = self._style.external_attr
        self._zip.writestr(info, data)

    def set_comment(self, comment: bytes) -> None:
        self._zip.comment = comment

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> ZipWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def zip_bytes(members: Iterable[tuple[str, bytes]], epoch: int, style: EntryStyle) -> bytes:
    """A whole zip in memory, entries in the order given."""
    buffer = io.BytesIO()
    with ZipWriter(buffer, epoch, style) as archive:
        for name, data in members:
            archive.add(name, data)
    return buffer.getvalue()


def members(package: bytes) -> tuple[tuple[zipfile.ZipInfo, bytes], ...]:
    """Every member of a zip, in order, with its ZipInfo (name, time, attributes, compression)."""
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        return tuple((info, z.read(info)) for info in z.infolist())


def rewritten(
    entries: Iterable[tuple[zipfile.ZipInfo, bytes]],
    change: Callable[[int, zipfile.ZipInfo, bytes], bytes],
) -> bytes:
    """A package written again member by member: the same order and, from a copy of each
    member's own ZipInfo, the same times, attributes and compression; each member's data is
    `change(index, info, data)` (the data itself where nothing changes). Unlike `ZipWriter`,
    which stamps one `EntryStyle`, this keeps whatever the package had."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for index, (info, data) in enumerate(entries):
            z.writestr(copy.copy(info), change(index, info, data))
    return buffer.getvalue()
