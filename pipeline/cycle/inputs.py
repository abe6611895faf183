"""What a cycle's files depend on: the fingerprints `cycle.json` keeps (`inputs`), one
definition for `cycle()` and for whoever asks whether a built cycle is still what `cycle()`
would leave on disk now (`packs serve`, before it serves a manager's bundle).

A person's files depend on the build-wide inputs, the cycle (name, period, secret), the
profile's canon digest, their own row and their manager's name; a handout on the build-wide
inputs, the cycle and the profile's digest; a manager's bundle on its members (names and
sha256) and the build's timestamp. A file counts as on disk when its size is the recorded one.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from pipeline.build.fingerprint import build_inputs, common_fingerprint, source_digest
from pipeline.build.run import stamped
from pipeline.compose import ComposeOptions
from pipeline.cycle.contract import CycleRecord, IssuedFile, Period, PersonEntry
from pipeline.cycle.identity import fingerprint as secret_name
from pipeline.cycle.identity import load_secret
from pipeline.cycle.roster import Roster, people_from_rows
from pipeline.diagnostics import PacksError
from pipeline.layout import Layout, RenderOptions
from pipeline.model import Canon
from pipeline.render import Format, get_format

#: The keys of `cycle.json`'s `inputs`, and the cycle's folders of the same names.
PEOPLE, HANDOUTS, MANAGERS = "people", "handouts", "managers"
#: The key of `cycle.json`'s extra that records the choices the cycle was built with.
SETTINGS = "settings"
#: Formats a person gets; the handout (pdf) is per profile.
PERSONAL_FORMATS = ("docx", "xlsx")
HANDOUT_FORMAT = "pdf"
#: The roster columns `cycle.json` keeps (the only ones a cycle's files depend on).
KEPT_COLUMNS = ("employee_id", "name", "profile", "manager_id")


def digest(*parts: object) -> str:
    data = json.dumps(parts, ensure_ascii=False, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(data.encode()).hexdigest()


def present(root: Path, files: Iterable[IssuedFile]) -> bool:
    try:
        return all((root / f.path).stat().st_size == f.size for f in files)
    except OSError:
        return False


@functools.cache
def cycle_code() -> str:
    """sha256 over `pipeline/cycle` (left out of the packs' code digest, but a cycle renders
    with it): part of every person's fingerprint, and compared with each Dask worker's."""
    return source_digest(Path(__file__).resolve().parent)


def build_common(
    formats: Sequence[Format],
    layout: Layout,
    options: RenderOptions,
    compose_options: ComposeOptions,
    reproducible: bool,
) -> str:
    """The build-wide part of every fingerprint (`options` stamped as `cycle()` stamps them)."""
    inputs = build_inputs(formats, layout, options, compose_options, reproducible)
    return common_fingerprint(inputs, formats, options)


def settings_fingerprint(
    options: RenderOptions, compose_options: ComposeOptions, secret: bytes
) -> str:
    """The choices `packs cycle` takes (page size, form password, the salary line) as one
    fingerprint `cycle.json` keeps; the password keyed with the cycle's secret, so the record
    never holds it or a plain hash of it."""
    password = options.form_password
    keyed = None if password is None else hmac.new(secret, password.encode(), "sha256").hexdigest()
    return digest(options.page_size, keyed, compose_options.include_salary)


def other_settings(
    record: CycleRecord, root: Path, options: RenderOptions, compose_options: ComposeOptions
) -> str | None:
    """Why the cycle in `root` must not be built again with these choices (it was built with
    others, or `cycle.json` does not say which); None when they are the cycle's own."""
    try:
        secret = load_secret(root)
    except (OSError, PacksError):
        return "the cycle's secret is missing"
    if (record.extra or {}).get(SETTINGS) != settings_fingerprint(options, compose_options, secret):
        return (
            "it was built with other settings than this server's (page size, form password or "
            "salary line); bring it up to date with `packs cycle`, with the options it was "
            "built with"
        )
    return None


def cycle_common(build: str, name: str, period: Period, secret: bytes) -> str:
    """The part every file of one cycle shares: the build's, the cycle's code, name, period
    and (a fingerprint of) its secret."""
    return digest(build, cycle_code(), name, str(period), secret_name(secret))


def person_fingerprint(
    common: str,
    profile_digest: str,
    employee_id: str,
    name: str,
    profile: str,
    manager_id: str | None,
    manager_name: str | None,
) -> str:
    return digest(common, profile_digest, employee_id, name, profile, manager_id, manager_name)


def handout_fingerprint(common: str, profile_digest: str) -> str:
    return digest(common, profile_digest, "handout")


def bundle_members(
    reports: Sequence[PersonEntry], handouts: Mapping[str, tuple[IssuedFile, ...]]
) -> list[tuple[str, IssuedFile]]:
    """(member name, file) of one manager's bundle: each report's files, the handouts needed."""
    members: list[tuple[str, IssuedFile]] = []
    for entry in sorted(reports, key=lambda e: e.employee_id):
        for f in entry.files:
            members.append((f"{entry.employee_id}/{Path(f.path).name}", f))
    for pid in sorted({e.profile for e in reports}):
        for f in handouts.get(pid, ()):
            members.append((f.path, f))
    return members


def bundle_fingerprint(members: Sequence[tuple[str, IssuedFile]], epoch: int) -> str:
    return digest(sorted((m, f.sha256) for m, f in members), epoch)


# --- a built cycle, read back ---------------------------------------------------------------------


def roster_of(record: CycleRecord, canon: Canon) -> Roster:
    """The roster a cycle was built from, as far as its files depend on it (the columns
    `cycle.json` keeps), checked as a roster file is (safe ids, known profiles, managers on
    the roster, no loops): a `RosterError` for a hand-edited record that is not one."""
    rows = [list(KEPT_COLUMNS)] + [
        [p.employee_id, p.name, p.profile, p.manager_id or ""] for p in record.people
    ]
    return people_from_rows(
        Path(record.cycle) / "cycle.json", enumerate(rows, 1), [p.id for p in canon.profiles]
    )


def formats_of(record: CycleRecord) -> tuple[Format, ...]:
    """The formats a cycle was built with: the personal ones its people were issued, the
    handout's when it has handouts."""
    suffixes = {f.path.rsplit("/", 1)[-1] for p in record.people for f in p.files}
    names = [n for n in PERSONAL_FORMATS if any(s.endswith(get_format(n).suffix) for s in suffixes)]
    if record.handouts:
        names.append(HANDOUT_FORMAT)
    return tuple(get_format(n) for n in names)


def stale_bundle(
    record: CycleRecord,
    root: Path,
    manager_id: str,
    canon: Canon,
    build: str,
    epoch: int | None,
) -> str | None:
    """Why `managers/<manager_id>.zip` of the cycle in `root` is not what `cycle()` with these
    inputs would leave there now; None when it is. Decided as `cycle()` decides: the bundle is
    on disk, and so is each of its members, with the fingerprint `cycle.json` records for it.

    `build` is `build_common(...)` of the inputs; `epoch` the build's timestamp when it is
    reproducible (None: the bundle's fingerprint is checked against the recorded build time,
    where `cycle()` would take a new one and write every bundle again)."""
    bundle = record.managers.get(manager_id)
    if not bundle or not present(root, bundle):
        return f"{MANAGERS}/{manager_id}.zip is missing"
    try:
        secret = load_secret(root)
    except (OSError, PacksError):
        return "the cycle's secret is missing"
    old = dict((record.extra or {}).get("inputs") or {})
    fps = {k: dict(old.get(k) or {}) for k in (PEOPLE, HANDOUTS, MANAGERS)}
    common = cycle_common(build, record.cycle, record.period, secret)
    digests = dict(canon.digests)
    names = {p.employee_id: p.name for p in record.people}
    reports = [p for p in record.people if p.manager_id == manager_id]
    for entry in reports:
        profile_digest = digests.get(entry.profile)
        if profile_digest is None:
            return f"{entry.employee_id}: profile {entry.profile} is not in the canon"
        fp = person_fingerprint(
            common,
            profile_digest,
            entry.employee_id,
            entry.name,
            entry.profile,
            entry.manager_id,
            names.get(manager_id),
        )
        if fps[PEOPLE].get(entry.employee_id) != fp or not present(root, entry.files):
            return f"{entry.employee_id}'s files are out of date"
    if record.handouts:  # a cycle with handouts: each report's profile has one
        for pid in sorted({e.profile for e in reports}):
            files = record.handouts.get(pid)
            fp = handout_fingerprint(common, digests[pid])
            if files is None or fps[HANDOUTS].get(pid) != fp or not present(root, files):
                return f"the handout of {pid} is out of date"
    members = bundle_members(reports, record.handouts)
    when = record.build_epoch if epoch is None else epoch
    if fps[MANAGERS].get(manager_id) != bundle_fingerprint(members, when):
        return f"{MANAGERS}/{manager_id}.zip is out of date"
    return None


def stamped_common(
    formats: Sequence[Format],
    layout: Layout,
    options: RenderOptions,
    compose_options: ComposeOptions,
) -> tuple[str, int | None]:
    """`build_common` of a run with these options, and its timestamp when reproducible."""
    reproducible, epoch, stamped_options = stamped(options)
    common = build_common(formats, layout, stamped_options, compose_options, reproducible)
    return common, epoch if reproducible else None
