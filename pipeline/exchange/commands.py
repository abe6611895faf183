"""`packs export-canon` and `packs import-canon`: the steps that read and write files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pipeline.build.commit import write_atomic
from pipeline.build.manifest import generator_info
from pipeline.diagnostics import CanonError, Collector, PacksError, Problem
from pipeline.exchange.csvfolder import CSV_FILES, read_folder
from pipeline.exchange.files import Change, canon_files, check_written, plan_change
from pipeline.exchange.table import REQUIRED_SHEETS, ImportedCanon, canon_tables, imported_canon
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
    imported: ImportedCanon, root: Path, replace: bool, source: str, removes: bool = True
) -> list[str]:
    """Write what `imported` states into `root` (see `import_canon`)."""
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
