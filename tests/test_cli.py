"""The `packs` command line: commands, --canon everywhere, exit codes 0/1/2/3."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from pipeline.cli import canon_commands, main
from pipeline.model import ProfileFrames
from tests.conftest import CANON_DIR, REPO, SEED_ID


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, out=out), out.getvalue()


def test_list_all_and_by_pattern() -> None:
    code, out = run(["list", "--canon", str(CANON_DIR)])
    assert code == 0
    ids = [line.split("\t")[0] for line in out.splitlines()]
    assert SEED_ID in ids and "ENGR.GEN.M2" in ids
    assert ids == sorted(ids)
    code, out = run(["list", "*.M4", "--canon", str(CANON_DIR)])
    assert out == f"{SEED_ID}\tClinical Trials Administration – Management — M4\n"


def test_list_prints_the_frames_page_titles_without_composing_or_digesting(
    all_frames: dict[str, ProfileFrames], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("packs list must not compose frames or digest the canon")

    monkeypatch.setattr(canon_commands, "compose_profile", refuse)
    monkeypatch.setattr("pipeline.extract.canon.profile_digest", refuse)
    code, out = run(["list", "--canon", str(CANON_DIR)])
    assert code == 0
    assert out == "".join(f"{pid}\t{f.page_title}\n" for pid, f in sorted(all_frames.items()))


def test_list_pattern_matching_nothing_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["list", "NOPE.*", "--canon", str(CANON_DIR)])[0] == 1
    assert "no profile matches NOPE.*" in capsys.readouterr().err


def test_show_json_is_the_intermediate_form() -> None:
    code, out = run(["show", SEED_ID, "--format", "json", "--canon", str(CANON_DIR)])
    assert code == 0
    data = json.loads(out)
    assert data["profile_id"] == SEED_ID
    assert [f["kind"] for f in data["frames"]] == ["smart", "okr", "mbo", "scorecard"]
    mbo = data["frames"][2]
    due = mbo["blocks"][3]["fields"][-1]["line"][0]
    assert due == {
        "type": "placeholder",
        "kind": "date",
        "key": "mbo.4.due",
        "label": "MBO 4 – Due",
    }
    code, out = run(["show", SEED_ID, "--format", "json", "--frame", "mbo"])
    assert [f["kind"] for f in json.loads(out)["frames"]] == ["mbo"]


def test_missing_canon_directory(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    assert run(["check", "--canon", "/nonexistent/canon"])[0] == 1
    err = capsys.readouterr().err
    assert "/nonexistent/canon: error: canon directory not found" in err
    assert "Traceback" not in err


def test_internal_error_exits_3_with_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(canon_commands, "compose_profile", boom)
    assert run(["show", SEED_ID, "--canon", str(CANON_DIR)])[0] == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "internal error" in err


def test_python_dash_m_in_a_fresh_interpreter() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "show", SEED_ID, "--frame", "scorecard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Internal process\n")
    bad = subprocess.run(
        [sys.executable, "-m", "pipeline", "check", "--canon", "tests/cases/broken/canon"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    assert bad.stderr.count(": error: ") >= 20
