"""The package's seams: what one module may take from another.

Each format's read-back contract lives in `pipeline/ooxml/` (`form_contract`, `tracker_contract`),
imported by its writer and its readers alike, so no reader reaches into a writer, and no module
imports another's private (`_name`) helpers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PIPELINE = Path(__file__).resolve().parent.parent / "pipeline"
#: The stages that read back what the renderers wrote.
READERS = ("harvest", "cycle")


def _imports(path: Path) -> list[tuple[int, str, str]]:
    """(line, module, name) of every `from pipeline... import name` in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [
        (node.lineno, node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pipeline")
        for alias in node.names
    ]


def _sources() -> list[Path]:
    return sorted(p for p in PIPELINE.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_module_imports_another_modules_private_names() -> None:
    found = [
        f"{path.relative_to(PIPELINE.parent)}:{line}: {module}.{name}"
        for path in _sources()
        for line, module, name in _imports(path)
        if name.startswith("_") and not name.startswith("__")
    ]
    assert found == []


@pytest.mark.parametrize("stage", READERS)
def test_readers_take_the_contracts_not_the_format_writers(stage: str) -> None:
    found = [
        f"{path.relative_to(PIPELINE.parent)}:{line}: {module}.{name}"
        for path in sorted((PIPELINE / stage).rglob("*.py"))
        for line, module, name in _imports(path)
        if module.startswith("pipeline.render.to_")
    ]
    assert found == []


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    """The scan itself: a file importing a private name is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("from pipeline.harvest.docx_form import _main_part\n", encoding="utf-8")
    assert _imports(bad) == [(1, "pipeline.harvest.docx_form", "_main_part")]
