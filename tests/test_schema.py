"""The shipped JSON Schema (for editors) and the loader agree on every fixture file.

The schema cannot see across files (is a level defined?), YAML syntax (anchors, duplicate keys)
or file names; those problems are excluded from the comparison. Everything else must agree:
a file the schema accepts has no loader problem, and vice versa.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from pipeline.diagnostics import CanonError
from pipeline.extract import load_canon
from tests.conftest import CANON_DIR, REPO

SCHEMA_DIR = REPO / "pipeline" / "schema"
#: Problem codes about things a per-file JSON Schema cannot express.
OUT_OF_SCHEMA = {
    "duplicate-key",
    "yaml",
    "yaml-alias",
    "yaml-anchor",
    "yaml-tag",
    "yaml-depth",
    "encoding",
    "size",
    "file-name",
    "link",
    "io",
    "duplicate-id",
}
CROSS_FILE = ("is not defined in", "is invalid in")


def schema_for(path: Path) -> dict[str, object]:
    name = {"focuses": "focus", "job-descriptions": "job-description"}.get(
        path.parent.name, "levels"
    )
    data: dict[str, object] = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
    return data


def loader_problems(root: Path) -> dict[str, list[str]]:
    """Problems per file that a schema could express."""
    try:
        load_canon(root)
    except CanonError as exc:
        out: dict[str, list[str]] = {}
        for p in exc.problems:
            out.setdefault(p.path, []).append(f"{p.code}: {p.message}")
        return out
    return {}


def comparable_files(root: Path, problems: dict[str, list[str]]) -> list[tuple[Path, bool]]:
    """(file, loader accepts it) for files whose problems are all schema-expressible."""
    out = []
    for path in sorted(root.rglob("*.yaml")):
        found = problems.get(path.as_posix(), [])
        if any(f.split(":")[0] in OUT_OF_SCHEMA for f in found):
            continue
        found = [f for f in found if not any(c in f for c in CROSS_FILE)]
        out.append((path, not found))
    return out


def schema_accepts(path: Path) -> bool:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema_for(path))
    return validator.is_valid(data)


def mutated_canons(tmp_path: Path) -> list[Path]:
    """Bundled canon with one schema-level defect per copy."""
    edits = {
        "missing-track": ("levels.yaml", "    track: management\n", ""),
        "unknown-key": (
            "levels.yaml",
            "    title: Director\n",
            "    title: Director\n    grade: 7\n",
        ),
        "number-for-text": ("levels.yaml", 'years: "10–15"', "years: 12"),
        "bad-code": ("focuses/OPS.SUPPLY.yaml", "code: OPS", "code: ops"),
        "bad-version": ("focuses/OPS.SUPPLY.yaml", "canon: 1", "canon: 3"),
        "empty-text": ("focuses/ENGR.GEN.yaml", "title: ", 'title: "  "\n    status: '),
        "control-char": (
            "focuses/OPS.SUPPLY.yaml",
            "responsibilities:\n",
            'responsibilities:\n      - "a\\u0001b"\n',
        ),
        "scalar-for-list": (
            "focuses/ENGR.PLATFORM.yaml",
            "core_outputs:\n",
            "tasks_done: 3\n    core_outputs:\n",
        ),
        "level-code": (
            "levels.yaml",
            "  M4:\n",
            "  M7:\n    title: X\n    track: management\n  M4:\n",
        ),
    }
    roots = []
    for name, (rel, old, new) in edits.items():
        root = tmp_path / name
        shutil.copytree(CANON_DIR, root)
        path = root / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, (name, old)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        roots.append(root)
    return roots


def test_schemas_are_valid_json_schema() -> None:
    for path in SCHEMA_DIR.glob("*.schema.json"):
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text()))


@pytest.mark.parametrize("which", ["bundled", "broken", "mutated"])
def test_schema_and_loader_agree(which: str, tmp_path: Path) -> None:
    if which == "bundled":
        roots = [CANON_DIR]
    elif which == "broken":
        roots = [REPO / "tests" / "cases" / "broken" / "canon"]
    else:
        roots = mutated_canons(tmp_path)
    compared = 0
    rejected = 0
    for root in roots:
        problems = loader_problems(root)
        for path, loader_ok in comparable_files(root, problems):
            verdict = schema_accepts(path)
            assert verdict == loader_ok, (
                f"{path}: schema says {'valid' if verdict else 'invalid'}, loader found "
                f"{problems.get(path.as_posix(), [])}"
            )
            compared += 1
            rejected += not loader_ok
    assert compared > 0
    if which != "bundled":
        assert rejected > 0, "the fixtures must include files both sides reject"
