"""The case table cannot drift: every case names a test that exists, every family is covered,
and the README's "What bad input does" section is exactly what the table generates."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.adversarial import readme
from tests.adversarial.cases import (
    CANON_FILE_CASES,
    CANON_TEST,
    CASES,
    FAMILIES,
    LAYOUT_FILE_CASES,
    LAYOUT_TEST,
    cases,
)
from tests.conftest import REPO

NODE = re.compile(r"(?P<path>tests/[\w/]+\.py)::(?P<function>\w+)(?:\[(?P<param>.+)\])?\Z")
#: Families whose cases issue 8 requires, each with at least this many cases.
REQUIRED = {family: 3 for family in FAMILIES}


def functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


def test_every_case_names_tests_that_exist() -> None:
    found: dict[Path, set[str]] = {}
    for case in CASES:
        assert case.tests, f"{case.name}: no test asserts it"
        for node in case.tests:
            match = NODE.match(node)
            assert match, f"{case.name}: {node!r} is not path::function[param]"
            path = REPO / match["path"]
            assert path.is_file(), f"{case.name}: no test file {match['path']}"
            names = found.setdefault(path, functions(path))
            assert match["function"] in names, f"{case.name}: no test {node}"
            param = match["param"]
            tabled = node.startswith((CANON_TEST, LAYOUT_TEST))  # their ids come from the table
            if param and not tabled:
                assert param in path.read_text(encoding="utf-8"), f"{case.name}: no [{param}]"


def test_every_family_has_its_cases_and_names_are_unique() -> None:
    for family, least in REQUIRED.items():
        assert len(cases(family)) >= least, family
    keys = [(c.family, c.name) for c in CASES]
    assert len(keys) == len(set(keys)), "two cases share a name"
    assert all(c.outcome.strip() for c in CASES)


def test_canon_cases_are_all_run_and_state_their_exact_lines() -> None:
    run = {c.name for c in CANON_FILE_CASES}
    tabled = {c.name for c in CASES if any(t.startswith(f"{CANON_TEST}[") for t in c.tests)}
    assert run == tabled
    for case in CANON_FILE_CASES:
        assert case.expect, case.name
        for line in case.expect:
            assert re.fullmatch(r"canon/\S+:\d+: error: .+ \[[a-z-]+\]", line), line


def test_layout_cases_are_all_run_and_state_their_exact_lines() -> None:
    run = {c.name for c in LAYOUT_FILE_CASES}
    tabled = {c.name for c in CASES if any(t.startswith(f"{LAYOUT_TEST}[") for t in c.tests)}
    assert run == tabled
    for case in LAYOUT_FILE_CASES:
        assert case.expect, case.name
        for line in case.expect:
            assert re.fullmatch(r"layouts/test/layout\.yaml:\d+: error: .+ \[[a-z-]+\]", line), line


def test_readme_section_matches_the_table() -> None:
    text = readme.README.read_text(encoding="utf-8")
    assert readme.START in text and readme.END in text, (
        f"README.md has no generated section; run `{readme.COMMAND}`"
    )
    current = text[text.index(readme.START) : text.index(readme.END) + len(readme.END)] + "\n"
    assert current == readme.section(), (
        f"README.md's 'What bad input does' differs from tests/adversarial/cases.py; run "
        f"`{readme.COMMAND}` and review the diff"
    )
    assert text.index(readme.END) < text.index(f"\n{readme.BEFORE}\n"), "section after ## Tests"


def test_the_readme_check_can_fail() -> None:
    text = readme.README.read_text(encoding="utf-8")
    tampered = text.replace("| malformed YAML |", "| bad YAML |", 1)
    assert readme.with_section(tampered) == text  # regenerating restores it
    assert tampered != text
