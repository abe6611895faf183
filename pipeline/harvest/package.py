"""Open a returned office file (DOCX, XLSX) as a zip package without trusting it.

A returned file comes from outside: it may be no zip at all, a zip bomb, a zip whose member names
climb out of a folder (`../`), a zip with two members of one name (one scanned, the other read),
or a zip whose deflate stream or sizes lie. Every reader opens returned files through here, so
each of those becomes one clear `PacksError` and memory stays bounded by the declared sizes:
`zipfile` stops reading a member at its declared size and refuses it when the CRC then fails.
Nothing is ever extracted to disk.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pipeline.diagnostics import PacksError

#: A pack's office file unpacks to well under a megabyte; refuse bombs long before memory is at
#: risk.
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
MAX_MEMBERS = 2_000
#: A member name no office suite writes: absolute, a drive, a backslash, a NUL, or a `..` step.
_UNSAFE_NAME = re.compile(r"(^[/\\])|(^[A-Za-z]:)|\\|\x00|(^|/)\.\.(/|$)")


class PackageError(PacksError):
    """A returned file that is not a readable, safe office package."""


@dataclass(frozen=True)
class PackageKind:
    """What a reader expects, for its messages and its error type."""

    #: With its article, as in "not an XLSX workbook".
    label: str
    #: The short name messages start with ("workbook", "review form").
    noun: str
    error: type[PacksError] = PackageError


class Package:
    """A checked zip: members are read whole but never beyond their checked, declared size."""

    def __init__(self, archive: zipfile.ZipFile, kind: PackageKind) -> None:
        self.archive = archive
        self.kind = kind

    def names(self) -> list[str]:
        return self.archive.namelist()

    def read(self, name: str) -> bytes:
        """A member's bytes; KeyError when there is no such member, the kind's error when the
        member is corrupt, encrypted or compressed with a method this Python cannot read."""
        try:
            return self.archive.read(name)
        except KeyError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise self.kind.error(f"{self.kind.noun} part {name} is corrupt: {exc}") from None
        except (NotImplementedError, RuntimeError) as exc:  # unknown method, encrypted
            raise self.kind.error(f"{self.kind.noun} part {name} cannot be read: {exc}") from None


def check(archive: zipfile.ZipFile, kind: PackageKind) -> None:
    """Refuse what no office suite writes, using only the central directory (cheap)."""
    infos = archive.infolist()
    noun, error = kind.noun, kind.error
    if len(infos) > MAX_MEMBERS:
        raise error(f"{noun} has {len(infos)} parts; refusing more than {MAX_MEMBERS}")
    seen: set[str] = set()
    for info in infos:
        if _UNSAFE_NAME.search(info.filename):
            raise error(f"{noun} has a part named {info.filename!r}; refusing unsafe names")
        if info.filename in seen:
            raise error(f"{noun} has two parts named {info.filename!r}; refusing it")
        seen.add(info.filename)
    if sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
        limit = MAX_UNPACKED_BYTES // (1024 * 1024)
        raise error(f"{noun} unpacks to more than {limit} MiB; refusing it")


@contextmanager
def open_package(data: bytes, kind: PackageKind) -> Iterator[Package]:
    """`data` as a checked package (a context manager); the kind's error if it is unusable."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError) as exc:
        raise kind.error(f"not {kind.label} (not a zip package: {exc})") from None
    with archive:
        check(archive, kind)
        yield Package(archive, kind)
