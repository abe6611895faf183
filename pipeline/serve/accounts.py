"""Accounts of `packs serve`: the users file, scrypt password hashes, roles.

The users file is JSON (`{"users": [{"name", "role", "manager_id", "password"}]}`), written
atomically with mode 0600 by `packs user add`; a password is only ever stored as
`scrypt$N$r$p$<salt>$<hash>` (base64), never in clear, and compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pipeline.diagnostics import PacksError

#: scrypt cost: N=2**14, r=8, p=1 (16 MiB, ~50 ms): OWASP's floor for scrypt.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
#: Account names: short, printable, no path or markup characters.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}\Z")
#: Manager ids as a roster gives them (HR system ids).
MANAGER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
MIN_PASSWORD = 12


class Role(StrEnum):
    HR = "hr"
    MANAGER = "manager"


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    #: The manager's id in a cycle roster (managers only): which bundles they may download.
    manager_id: str | None = None

    @property
    def is_hr(self) -> bool:
        return self.role is Role.HR


#: The one user of a server bound to loopback without a users file.
LOCAL_USER = User("local", Role.HR)


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        dklen=HASH_BYTES,
        maxmem=64 * 1024 * 1024,
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches the stored hash; False for any malformed hash."""
    try:
        scheme, n, r, p, salt_b64, hash_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(hash_b64, validate=True)
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=salt,
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=64 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


#: Checked against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hash_password("not a password", salt=b"\0" * SALT_BYTES)


@dataclass(frozen=True)
class Account:
    user: User
    password_hash: str


class Accounts:
    """The users file, loaded once; `authenticate` is the only way in."""

    def __init__(self, accounts: dict[str, Account]) -> None:
        self._accounts = accounts

    def __len__(self) -> int:
        return len(self._accounts)

    def authenticate(self, name: str, password: str) -> User | None:
        account = self._accounts.get(name)
        ok = verify_password(password, account.password_hash if account else _DUMMY_HASH)
        return account.user if ok and account is not None else None

    def get(self, name: str) -> User | None:
        account = self._accounts.get(name)
        return account.user if account else None


def _problem(path: Path, where: str, message: str) -> PacksError:
    return PacksError(f"{path}: {where}: {message}")


def load_accounts(path: Path) -> Accounts:
    """Read and check a users file; every problem names the file, the entry and the field."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PacksError(
            f"{path}: users file not found (create it with `packs user add NAME --role hr`)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PacksError(f"{path}: cannot read the users file: {exc}") from None
    except json.JSONDecodeError as exc:
        raise PacksError(f"{path}:{exc.lineno}: malformed JSON: {exc.msg}") from None
    entries = data.get("users") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise _problem(path, "users", 'expected {"users": [...]}')
    accounts: dict[str, Account] = {}
    problems: list[str] = []
    for index, entry in enumerate(entries):
        where = f"users[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{path}: {where}: expected an object")
            continue
        name, role, stored = entry.get("name"), entry.get("role"), entry.get("password")
        manager_id = entry.get("manager_id")
        if not isinstance(name, str) or not NAME.match(name):
            problems.append(f"{path}: {where}.name: expected an account name, got {name!r}")
            continue
        if role not in tuple(Role):
            problems.append(f"{path}: {where}.role: expected 'hr' or 'manager', got {role!r}")
        if not isinstance(stored, str) or not stored.startswith("scrypt$"):
            problems.append(f"{path}: {where}.password: expected a scrypt hash")
        if manager_id is not None and (
            not isinstance(manager_id, str) or not MANAGER_ID.match(manager_id)
        ):
            problems.append(f"{path}: {where}.manager_id: expected an id, got {manager_id!r}")
        if name in accounts:
            problems.append(f"{path}: {where}.name: '{name}' is listed twice")
        if not problems:
            accounts[name] = Account(User(name, Role(str(role)), manager_id), str(stored))
    if problems:
        raise PacksError("\n".join(problems))
    return Accounts(accounts)


def add_user(
    path: Path, name: str, role: str, password: str, manager_id: str | None = None
) -> User:
    """Add (or replace) one account in the users file, written atomically with mode 0600."""
    if not NAME.match(name):
        raise PacksError(
            f"'{name}' is not a valid account name (letters, digits and . _ @ -, up to 64)"
        )
    if role not in tuple(Role):
        raise PacksError(f"--role: expected 'hr' or 'manager', got '{role}'")
    if manager_id is not None and not MANAGER_ID.match(manager_id):
        raise PacksError(f"--manager-id: '{manager_id}' is not a valid id")
    if manager_id is not None and role != Role.MANAGER:
        raise PacksError("--manager-id: only a manager account has a manager id")
    if len(password) < MIN_PASSWORD:
        raise PacksError(f"the password must have at least {MIN_PASSWORD} characters")
    entries: list[dict[str, object]] = []
    if path.exists():
        load_accounts(path)  # refuse to rewrite a file with problems
        entries = json.loads(path.read_text(encoding="utf-8"))["users"]
    entries = [e for e in entries if e.get("name") != name]
    entry: dict[str, object] = {"name": name, "role": role, "password": hash_password(password)}
    if manager_id is not None:
        entry["manager_id"] = manager_id
    entries.append(entry)
    entries.sort(key=lambda e: str(e["name"]))
    data = (json.dumps({"users": entries}, indent=2) + "\n").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return User(name, Role(role), manager_id)
