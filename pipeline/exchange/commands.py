"""`packs export-canon` and `packs import-canon`: the steps that read and write files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pipeline.build.commit import write_atomic
from pipeline.build.manifest import generator_info
from pipeline.diagnostics import CanonError, Collector, PacksError, Problem
from pipeline.exchange.csvfolder import CSV_FILES, read_folder
from pipeline.exchange.files import (
    Change,
    canon_files,
    check_written,
    plan_change,
    read_target,
)
from pipeline.exchange.records import ImportedCanon, imported_canon
from pipeline.exchange.table import REQUIRED_SHEETS, canon_tables
from pipeline.exchange.workbook import MAX_WORKBOOK_BYTES, read_workbook, workbook_bytes
from pipeline.extract import load_canon


def _generator() -> str:
    info = generator_info()
    return f"{info.get('name', 'jobframe-packs')} {info.get('version', '')}".strip()


def export_canon(canon_dir: Path, target: Path, epoch: int | None) -> str:
    """Write the whole canon as one workbook; returns the report line."""
    if target.suffix.lower() != ".xlsx":
        raise PacksError(f"--out {target}: the workbook's name must end in .xlsx")
    canon = load_canon(canon_dir, digests=False)
    tables = canon_tables(canon)
    write_atomic(target, workbook_bytes(tables, epoch, _generator()))
    return (
        f"wrote {target}: {len(tables.levels)} levels, {len(canon.profiles)} profiles "
        f"({len(tables.profiles)} lines), {len(canon.job_descriptions)} job descriptions"
    )


def read_source(source: Path, display: str) -> ImportedCanon:
    """The records a workbook or CSV folder states; every problem at once as a CanonError."""
    problems = Collector()
    if source.is_dir():
        tables = read_folder(source, display, problems)
        for name in REQUIRED_SHEETS:
            if tables and not (source / CSV_FILES[name]).is_file():
                problems.error(display, 0, f"no {CSV_FILES[name]} in this folder", "csv")
        imported = imported_canon(tables, display, problems, report_missing=False)
        problems.raise_if_any("the canon folder cannot be imported")
        return imported
    elif source.is_file():
        size = source.stat().st_size
        if size > MAX_WORKBOOK_BYTES:
            raise CanonError(
                "too large",
                [
                    Problem(
                        display,
                        0,
                        f"{size:,} bytes; the limit is {MAX_WORKBOOK_BYTES:,}",
                        "too-large",
                    )
                ],
            )
        with source.open("rb") as fh:
            tables = read_workbook(fh, display, problems)
    else:
        raise PacksError(f"{display}: no such file or folder")
    imported = imported_canon(tables, display, problems)
    problems.raise_if_any("the canon workbook cannot be imported")
    return imported


def describe(change: Change) -> list[str]:
    lines = [f"{verb} {kind} {key}" for verb, kind, key in change.records]
    return lines


def apply_change(root: Path, change: Change) -> None:
    for rel, text in sorted(change.writes.items()):
        write_atomic(root / rel, text.encode("utf-8"))
    for rel in change.removes:
        (root / rel).unlink()


def import_canon(source: Path, display: str, root: Path, replace: bool) -> list[str]:
    """Import a workbook or folder into `root`; returns the report lines.

    Nothing is written when any problem is found, or when an existing file would change (or be
    removed) without `replace`.
    """
    imported = read_source(source, display)
    return commit_import(imported, root, replace, source=display)


def commit_import(
    imported: ImportedCanon,
    root: Path,
    replace: bool,
    source: str,
    removes: bool = True,
    additions_only_free: bool = False,
) -> list[str]:
    """Write what `imported` states into `root` (see `import_canon`).

    `additions_only_free`: an import that only adds records (a page's new profile into an
    existing focus file) needs no --replace; changing or removing a record still does."""
    problems = Collector()
    check_written(canon_files(imported), problems)
    problems.raise_if_any("the import would write canon that does not read back")
    change = plan_change(root, imported)
    if not removes:
        change = Change(
            change.writes, (), change.unchanged, _no_removals(change.records), change.existing
        )
    report = describe(change)
    refused = change.overwrites + list(change.removes)
    if additions_only_free and all(verb == "added" for verb, _, _ in change.records):
        refused = []
    if refused and not replace:
        lines = "\n".join(f"  {line}" for line in report)
        files = ", ".join(refused)
        raise PacksError(
            f"{source}: the import would change or remove existing canon files ({files}):\n"
            f"{lines}\nnothing written; pass --replace to apply it"
        )
    apply_change(root, change)
    written = len(change.writes)
    report.append(
        f"{root}: {written} file{'s' if written != 1 else ''} written, "
        f"{len(change.removes)} removed, {len(change.unchanged)} unchanged"
    )
    return report


def _no_removals(records: Iterable[tuple[str, str, str]]) -> tuple[tuple[str, str, str], ...]:
    return tuple(r for r in records if r[0] != "removed")


def import_goal_page(
    path: Path, display: str, profile_id: str | None, root: Path, replace: bool
) -> list[str]:
    """`packs import-page`: a goal-templates page into the canon at `root`.

    The profile is composed again and every copy block of the page must come back byte for byte;
    otherwise nothing is written (exit 1)."""
    from dataclasses import replace as with_

    from pipeline.compose import ComposeOptions, compose_profile
    from pipeline.extract.canon import profile_digest
    from pipeline.extract.goal_fields import page_profile
    from pipeline.extract.goal_page import parse_goal_page, verify
    from pipeline.extract.page_text import MAX_PAGE_BYTES
    from pipeline.render.to_text import frame_text

    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_PAGE_BYTES + 1)
    except OSError as exc:
        raise PacksError(f"{display}: cannot read: {exc.strerror or exc}") from None
    page = parse_goal_page(data, display, profile_id)
    target = read_target(root)
    levels = {lv.code: lv for lv in target.levels} if target else {}
    imported = page_profile(page, levels)
    profile = imported.profile
    problems = Collector()
    siblings = [
        p
        for p in (target.profiles if target else ())
        if (p.function.code, p.focus.code) == (profile.function.code, profile.focus.code)
    ]
    if siblings:
        known = siblings[0]
        for what, mine, theirs in (
            ("function name", profile.function.name, known.function.name),
            ("focus name", profile.focus.name, known.focus.name),
        ):
            if mine != theirs:
                where = f"{known.where.path}:{known.where.line}" if known.where else "canon"
                problems.error(
                    display,
                    page.breadcrumb.number if page.breadcrumb else 0,
                    f"{what}: the page's '{mine}' differs from '{theirs}' in {where}",
                    "conflict",
                )
        profile = with_(profile, focus=with_(profile.focus, description=known.focus.description))
    problems.raise_if_any("the page conflicts with the canon")
    existing = next((p for p in siblings if p.id == profile.id), None)
    if existing is not None:
        # What a goal-templates page never prints (badges, pay) is kept from the canon, not
        # dropped for being absent from the page.
        profile = with_(
            profile,
            status=existing.status,
            confidence=existing.confidence,
            region=existing.region,
            version=existing.version,
            pay=existing.pay,
        )
    frames = compose_profile(profile, profile_digest(profile), ComposeOptions())
    rendered = {f.kind: frame_text(f) for f in frames.frames if f.kind != "role"}
    errors, warnings = verify(page, rendered)
    if errors:
        raise CanonError(
            "the page does not come back from the imported canon", [*errors, *warnings]
        )
    new = ImportedCanon(
        tuple(levels.values())
        if profile.level.code in levels
        else (*levels.values(), profile.level),
        (*tuple(p for p in (target.profiles if target else ()) if p.id != profile.id), profile),
        target.job_descriptions if target else (),
    )
    report = [str(w) for w in warnings]
    counts = (
        f"{profile.id}: {len(profile.core_outputs)} core outputs, "
        f"{len(profile.responsibilities)} responsibilities, {len(profile.rubrics)} rubrics, "
        f"{len(profile.level.dimensions)} level dimensions, "
        f"{len(profile.components.responsibilities)} component responsibilities; "
        f"{len(rendered)} copy blocks checked"
    )
    report.append(counts)
    if profile.level.code not in levels:
        report.append(
            f"level {profile.level.code} is new: track '{profile.level.track}' from its code "
            "(the page does not print the track)"
        )
    report += commit_import(
        new, root, replace, source=display, removes=False, additions_only_free=True
    )
    return report
