"""The canon loader: located problems, all reported together, hostile YAML refused early."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.diagnostics import CanonError
from pipeline.extract import load_canon
from tests.conftest import CANON_DIR, REPO
from tests.golden import assert_golden

BROKEN = REPO / "tests" / "cases" / "broken"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    captured = capsys.readouterr()
    return code, out.getvalue() + captured.out, captured.err


def test_check_reports_every_problem_with_file_and_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, accept: bool
) -> None:
    monkeypatch.chdir(REPO)
    code, out, err = run(["check", "--canon", "tests/cases/broken/canon"], capsys)
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    assert_golden(BROKEN / "expected" / "check.txt", err, accept)


def test_bundled_canon_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["check", "--canon", str(CANON_DIR)], capsys)
    assert (code, err) == (0, "")
    assert "ok" in out


def copy_canon(tmp_path: Path) -> Path:
    root = tmp_path / "canon"
    shutil.copytree(CANON_DIR, root)
    return root


def problems_of(root: Path) -> list[str]:
    with pytest.raises(CanonError) as info:
        load_canon(root)
    return [str(p) for p in info.value.problems]


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    root = copy_canon(tmp_path)
    path = root / "levels.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    assert load_canon(root).profiles == load_canon(CANON_DIR).profiles


def test_alias_bomb_is_refused_before_expansion(tmp_path: Path) -> None:
    root = copy_canon(tmp_path)
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 12):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]")
    (root / "focuses" / "OPS.BOMB.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = problems_of(root)
    assert found == [
        f"{root}/focuses/OPS.BOMB.yaml:1: error: YAML anchor '&a' is not allowed "
        "in canon files [yaml-anchor]"
    ]


def test_deep_nesting_and_huge_files_are_refused(tmp_path: Path) -> None:
    root = copy_canon(tmp_path)
    (root / "focuses" / "OPS.DEEP.yaml").write_text("x: " + "[" * 500 + "]" * 500 + "\n")
    (root / "focuses" / "OPS.HUGE.yaml").write_text("# " + "x" * (3 * 1024 * 1024) + "\n")
    found = problems_of(root)
    assert any("OPS.DEEP.yaml:1: error: nesting deeper than" in p for p in found)
    assert any("OPS.HUGE.yaml:1: error: file is 3,145,731 bytes" in p for p in found)


def test_text_over_the_limit_is_refused(tmp_path: Path) -> None:
    root = copy_canon(tmp_path)
    path = root / "focuses" / "OPS.SUPPLY.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("responsibilities:\n", f'responsibilities:\n      - "{"y" * 20_001}"\n', 1)
    )
    (found,) = problems_of(root)
    assert "text is 20,001 characters; the limit is 20,000" in found


def test_file_name_must_match_declared_codes(tmp_path: Path) -> None:
    root = copy_canon(tmp_path)
    (root / "focuses" / "OPS.SUPPLY.yaml").rename(root / "focuses" / "OPS.OTHER.yaml")
    (found,) = problems_of(root)
    assert "rename the file to 'OPS.SUPPLY.yaml'" in found


def test_digest_covers_only_what_the_profile_draws_on(tmp_path: Path) -> None:
    root = copy_canon(tmp_path)
    before = load_canon(root)
    path = root / "focuses" / "OPS.SUPPLY.yaml"
    # Editing S1 must not change E1's digest, and must change S1's.
    text = path.read_text(encoding="utf-8")
    s1 = before.profile("OPS.SUPPLY.S1")
    assert s1 is not None
    first = s1.responsibilities[0]
    path.write_text(text.replace(first, first + " (edited)"), encoding="utf-8")
    after = load_canon(root)
    assert after.digest("OPS.SUPPLY.E1") == before.digest("OPS.SUPPLY.E1")
    assert after.digest("OPS.SUPPLY.S1") != before.digest("OPS.SUPPLY.S1")
    # Comments and formatting are not canon: the digest ignores them.
    path.write_text("# a comment\n" + text, encoding="utf-8")
    assert load_canon(root).digests == before.digests


def test_records_are_frozen(tmp_path: Path) -> None:
    canon = load_canon(CANON_DIR)
    with pytest.raises(AttributeError):
        canon.profiles[0].responsibilities = ()  # type: ignore[misc]


def test_unknown_profile_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(["show", "CLINIC.CLINICAL90BC.M5", "--canon", str(CANON_DIR)], capsys)
    assert code == 1
    assert "no profile 'CLINIC.CLINICAL90BC.M5'" in err
    assert "CLINIC.CLINICAL90BC.M4" in err
    assert "Traceback" not in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["show"], capsys)[0] == 2
    assert run(["show", "X", "--frame", "nope"], capsys)[0] == 2
    assert run(["build", "--formats", "nope", "--canon", str(CANON_DIR)], capsys)[0] == 2


def test_build_with_broken_canon_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code, _, err = run(["build", "--canon", str(BROKEN / "canon"), "--out", str(out)], capsys)
    assert code == 1
    assert "problems found" in err
    assert not out.exists()
