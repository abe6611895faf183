"""Canon records as the files of a canon directory, and what an import would change in one.

Both sides of a comparison go through the same writer: the records an import brings, and the
records the target directory holds now (read with the canon loader). A file whose records are
equal is left as it is (its comments kept), whatever its spelling; only files whose records
differ are written, and only with `--replace` when they already exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.diagnostics import CanonError, Collector
from pipeline.exchange.records import ImportedCanon
from pipeline.exchange.table import level_order, profile_order
from pipeline.extract.canon import FORMAT_VERSION, load_canon
from pipeline.extract.jobdesc import job_description_yaml
from pipeline.extract.yamlwrite import Present, Value, emit
from pipeline.model import DIMENSIONS, Level, Profile

LEVELS_FILE = "levels.yaml"
FOCUS_DIR = "focuses"
JD_DIR = "job-descriptions"

_LEVELS_COMMENT = (
    "yaml-language-server: $schema=../pipeline/schema/levels.schema.json\n"
    "The level guide, written by `packs import-canon` / `packs import-page`: every text is\n"
    "verbatim from the workbook or page it came from."
)
_FOCUS_COMMENT = (
    "yaml-language-server: $schema=../../pipeline/schema/focus.schema.json\n"
    "Written by `packs import-canon` / `packs import-page`: every text is verbatim from the\n"
    "workbook or page it came from. Edit with care: the packs print these lines as they are."
)


def levels_yaml(levels: Iterable[Level]) -> str:
    doc: dict[str, Value] = {}
    for lv in sorted(levels, key=lambda lv: level_order(lv.code)):
        entry: dict[str, Value] = {"title": lv.title, "track": lv.track}
        if lv.years is not None:
            entry["years"] = lv.years
        if lv.description is not None:
            entry["description"] = lv.description
        entry["dimensions"] = {k: v for k, v in lv.dimensions if k in DIMENSIONS}
        doc[lv.code] = entry
    return emit({"canon": FORMAT_VERSION, "levels": doc}, _LEVELS_COMMENT)


def _profile_doc(p: Profile) -> Present:
    doc = Present()
    for key in ("title", "status"):
        if (value := getattr(p, key)) is not None:
            doc[key] = value
    if p.confidence is not None:
        confidence: dict[str, Value] = {"band": p.confidence.band}
        if p.confidence.score is not None:
            confidence["score"] = p.confidence.score
        doc["confidence"] = confidence
    for key in ("region", "version"):
        if (value := getattr(p, key)) is not None:
            doc[key] = value
    doc["core_outputs"] = p.core_outputs
    doc["responsibilities"] = p.responsibilities
    doc["rubrics"] = dict(p.rubrics)
    c = p.components
    doc["components"] = {
        "responsibilities": c.responsibilities,
        "tasks": c.tasks,
        "skills": c.skills,
        "knowledge": c.knowledge,
        "competencies": c.competencies,
    }
    if p.pay is not None:
        doc["pay"] = {
            k: v
            for k, v in (
                ("median", p.pay.median),
                ("low", p.pay.low),
                ("high", p.pay.high),
                ("currency", p.pay.currency),
            )
            if v is not None
        }
    return doc


def focus_yaml(profiles: list[Profile]) -> str:
    """One focus file: its profiles share function and focus."""
    first = profiles[0]
    focus: dict[str, Value] = {"code": first.focus.code, "name": first.focus.name}
    if first.focus.description is not None:
        focus["description"] = first.focus.description
    doc: dict[str, Value] = {
        "canon": FORMAT_VERSION,
        "function": {"code": first.function.code, "name": first.function.name},
        "focus": focus,
        "profiles": {
            p.level.code: _profile_doc(p)
            for p in sorted(profiles, key=lambda p: level_order(p.level.code))
        },
    }
    return emit(doc, _FOCUS_COMMENT)


def canon_files(canon: ImportedCanon) -> dict[str, str]:
    """Relative path -> YAML text of every file of the canon directory."""
    files = {LEVELS_FILE: levels_yaml(canon.levels)}
    by_focus: dict[str, list[Profile]] = {}
    for p in sorted(canon.profiles, key=profile_order):
        by_focus.setdefault(f"{p.function.code}.{p.focus.code}", []).append(p)
    for key, profiles in by_focus.items():
        files[f"{FOCUS_DIR}/{key}.yaml"] = focus_yaml(profiles)
    for jd in canon.job_descriptions:
        files[f"{JD_DIR}/{jd.slug}.yaml"] = job_description_yaml(replace(jd, where=None))
    return files


def read_target(root: Path) -> ImportedCanon | None:
    """What the target canon holds now, or None when it is new or empty; invalid canon is an
    error (an import must not build on files it cannot read)."""
    if not root.exists() or (root.is_dir() and not any(root.iterdir())):
        return None
    try:
        canon = load_canon(root, digests=False)
    except CanonError as exc:
        raise CanonError(
            f"the target canon {root} is invalid; fix it or import into a new folder",
            exc.problems,
        ) from None
    return ImportedCanon(
        canon.levels,
        tuple(replace(p, job_description=None) for p in canon.profiles),
        canon.job_descriptions,
    )


@dataclass(frozen=True)
class Change:
    """What an import does to one target: files to write and remove, records by id."""

    writes: dict[str, str]
    removes: tuple[str, ...]
    unchanged: tuple[str, ...]
    #: ("added" | "changed" | "removed", "profile" | "level" | "job description", id)
    records: tuple[tuple[str, str, str], ...]
    #: The canon files the target holds now.
    existing: frozenset[str] = frozenset()

    @property
    def overwrites(self) -> list[str]:
        """Existing files whose content the import changes (refused without --replace)."""
        return sorted(p for p in self.writes if p in self.existing)


def _records_diff(old: ImportedCanon | None, new: ImportedCanon) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []

    def compare(kind: str, before: dict[str, object], after: dict[str, object]) -> None:
        for key in sorted(before.keys() | after.keys()):
            if key not in before:
                out.append(("added", kind, key))
            elif key not in after:
                out.append(("removed", kind, key))
            elif before[key] != after[key]:
                out.append(("changed", kind, key))

    o = old or ImportedCanon((), (), ())
    compare(
        "level",
        {lv.code: replace(lv, where=None) for lv in o.levels},
        {lv.code: lv for lv in new.levels},
    )
    compare(
        "profile",
        {p.id: _unlocated(p) for p in o.profiles},
        {p.id: _unlocated(p) for p in new.profiles},
    )
    compare(
        "job description",
        {j.slug: replace(j, where=None) for j in o.job_descriptions},
        {j.slug: replace(j, where=None) for j in new.job_descriptions},
    )
    return out


def _unlocated(p: Profile) -> Profile:
    return replace(p, level=replace(p.level, where=None), where=None, job_description=None)


def plan_change(root: Path, new: ImportedCanon) -> Change:
    """Compare the files `new` makes with what `root` holds (semantically, per file)."""
    old = read_target(root)
    target_files = canon_files(new)
    old_files = canon_files(old) if old is not None else {}
    on_disk = {
        p.relative_to(root).as_posix()
        for folder in (root / FOCUS_DIR, root / JD_DIR)
        if folder.is_dir()
        for p in folder.iterdir()
        if p.suffix in (".yaml", ".yml")
    }
    if (root / LEVELS_FILE).is_file():
        on_disk.add(LEVELS_FILE)
    writes = {p: t for p, t in target_files.items() if old_files.get(p) != t}
    unchanged = tuple(sorted(p for p in target_files if p not in writes))
    removes = tuple(sorted(p for p in on_disk if p not in target_files))
    return Change(writes, removes, unchanged, tuple(_records_diff(old, new)), frozenset(on_disk))


def check_written(files: dict[str, str], problems: Collector) -> None:
    """The canon loader must read back what an import writes (a safety net: a failure is a bug
    in the importer, reported rather than written)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="jobframe-import-") as tmp:
        root = Path(tmp)
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        try:
            load_canon(root, digests=False)
        except CanonError as exc:
            for p in exc.problems:
                problems.error(
                    p.path.replace(tmp, "<import>"), p.line, f"(importer bug) {p.message}", p.code
                )
