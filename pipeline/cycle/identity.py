"""The identity of an issued file, sealed, and where it lives inside a DOCX or XLSX.

An issued form or tracker says which cycle, employee, profile and canon digest it was made for.
A returned file is matched by that identity, never by its file name or an editable field, so the
identity must survive a save by Word and by LibreOffice 7.4, which drops DOCX content-control
tags on save. Both keep the core property `cp:category` (Word shows it as *Category*; checked
with LibreOffice 7.4.7 for DOCX and XLSX in `tests/test_cycle_identity.py`), so the identity is
one line there, in both formats:

    jobframe-packs identity 1; cycle=2027-annual; employee=E100; profile=ENGR.GEN.P3;
    canon=sha256:…; seal=hmac-sha256:…            (one line, `; `-separated)

Anyone can edit a core property, so the line is sealed: an HMAC-SHA256 over the four fields with
a per-cycle secret kept in the cycle folder (`.cycle-secret`, 0600, never inside an issued file).
A file whose identity was edited (another employee id typed in) fails `verify` and is tampered.

API for the harvest (issue 18):
- `read_identity(source) -> Identity | None`: the identity a DOCX/XLSX (path or bytes) carries;
  None when it carries none (a plain pack file, or not a package at all).
- `verify(identity, secret) -> bool`: the seal matches the four fields under this cycle's secret.
- `load_secret(cycle_dir) -> bytes`: the cycle's secret (PacksError when missing or unreadable).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import os
import re
import secrets
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from pipeline.diagnostics import PacksError
from pipeline.ooxml.archive import members, rewritten
from pipeline.ooxml.ns import CORE_PART, CP_NS

#: The identity line lives in `docProps/core.xml` (`CORE_PART`, both formats).
CATEGORY = f"{{{CP_NS}}}category"
#: The first words of an identity line, then its version.
MARK = "jobframe-packs identity"
VERSION = "1"
SEAL_PREFIX = "hmac-sha256:"
#: The per-cycle secret's file in the cycle folder (0600).
SECRET_FILE = ".cycle-secret"
SECRET_BYTES = 32
#: Bigger core parts are not ours; refuse before parsing.
MAX_CORE_BYTES = 256 * 1024

_FIELDS = ("cycle", "employee", "profile", "canon", "seal")
_VALUE = re.compile(r"[^;=\s]+")


@dataclass(frozen=True)
class Identity:
    """Who and what an issued file is for, with its seal (hex HMAC, `hmac-sha256:` prefixed)."""

    cycle: str
    employee_id: str
    profile_id: str
    canon_digest: str
    seal: str

    def line(self) -> str:
        """The one line written into the file's core properties."""
        values = (self.cycle, self.employee_id, self.profile_id, self.canon_digest, self.seal)
        fields = "; ".join(f"{k}={v}" for k, v in zip(_FIELDS, values, strict=True))
        return f"{MARK} {VERSION}; {fields}"


def _message(cycle: str, employee_id: str, profile_id: str, canon_digest: str) -> bytes:
    return "\n".join((MARK, VERSION, cycle, employee_id, profile_id, canon_digest)).encode()


def seal(
    cycle: str, employee_id: str, profile_id: str, canon_digest: str, secret: bytes
) -> Identity:
    """A sealed identity. Every field must be a non-empty token without `;`, `=` or spaces."""
    for value in (cycle, employee_id, profile_id, canon_digest):
        if not _VALUE.fullmatch(value):
            raise ValueError(f"identity field {value!r} is not a plain token")
    mac = hmac.new(secret, _message(cycle, employee_id, profile_id, canon_digest), "sha256")
    return Identity(cycle, employee_id, profile_id, canon_digest, SEAL_PREFIX + mac.hexdigest())


def verify(identity: Identity, secret: bytes) -> bool:
    """True when the seal matches the identity's fields under `secret` (constant time)."""
    try:
        expected = seal(
            identity.cycle, identity.employee_id, identity.profile_id, identity.canon_digest, secret
        )
    except ValueError:
        return False
    return hmac.compare_digest(expected.seal, identity.seal)


def parse_line(text: str) -> Identity | None:
    """The identity in a core-property value, or None when it is not one of ours."""
    head, sep, rest = text.strip().partition("; ")
    if not sep or head != f"{MARK} {VERSION}":
        return None
    values: dict[str, str] = {}
    for item in rest.split("; "):
        key, eq, value = item.partition("=")
        if not eq or key not in _FIELDS or key in values or not _VALUE.fullmatch(value):
            return None
        values[key] = value
    if set(values) != set(_FIELDS):
        return None
    return Identity(
        values["cycle"], values["employee"], values["profile"], values["canon"], values["seal"]
    )


# --- the secret ---------------------------------------------------------------------------------


def ensure_secret(cycle_dir: Path) -> bytes:
    """The cycle's secret, created (0600, random) the first time; never changed afterwards."""
    path = cycle_dir / SECRET_FILE
    with contextlib.suppress(FileNotFoundError):
        return load_secret(cycle_dir)
    cycle_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_hex(SECRET_BYTES).encode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return load_secret(cycle_dir)
    with os.fdopen(fd, "wb") as fh:
        fh.write(value + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    return value


def load_secret(cycle_dir: Path) -> bytes:
    """The cycle's secret; FileNotFoundError when the cycle has none, PacksError when unusable."""
    path = cycle_dir / SECRET_FILE
    data = path.read_bytes().strip()
    if not re.fullmatch(rb"[0-9a-f]{64}", data):
        raise PacksError(f"{path}: not a cycle secret (expected 64 hex digits)")
    return data


# --- inside the files ---------------------------------------------------------------------------


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def with_identity(core_xml: bytes, identity: Identity) -> bytes:
    """`docProps/core.xml` with the identity as its `cp:category` (any old category replaced)."""
    root = etree.fromstring(core_xml, _parser())
    for old in root.findall(CATEGORY):
        root.remove(old)
    element = etree.Element(CATEGORY)
    element.text = identity.line()
    root.insert(0, element)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    return data


def stamp(package: bytes, identity: Identity) -> bytes:
    """A DOCX or XLSX with the identity written into its core properties, every other member
    (order, times, attributes, compression) as it was."""

    def change(index: int, info: zipfile.ZipInfo, data: bytes) -> bytes:
        return with_identity(data, identity) if info.filename == CORE_PART else data

    return rewritten(members(package), change)


def read_identity(source: Path | bytes) -> Identity | None:
    """The identity a DOCX or XLSX carries (None: none, or not an office package at all).

    Reads only the central directory and the core-properties part, which must be small, so a
    hostile file costs little; it proves nothing until `verify` accepts its seal."""
    try:
        data = source.read_bytes() if isinstance(source, Path) else source
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = [i for i in z.infolist() if i.filename == CORE_PART]
            if len(names) != 1 or names[0].file_size > MAX_CORE_BYTES:
                return None
            root = etree.fromstring(z.read(names[0]), _parser())
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError):
        return None
    except etree.XMLSyntaxError:
        return None
    categories = root.findall(CATEGORY)
    if len(categories) != 1:
        return None
    return parse_line(categories[0].text or "")


def fingerprint(secret: bytes) -> str:
    """A short, non-reversible name for a secret (for logs and cycle.json; never the secret)."""
    return hashlib.sha256(b"jobframe-packs cycle secret\n" + secret).hexdigest()[:16]
