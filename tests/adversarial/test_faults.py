"""Build faults that tests/test_build.py does not cover (it has SIGKILL, a full disk, `out/` as a
file, racing builds, failing renderers and dying workers): a read-only `out/`, a rename failing
half-way through a pack's commit, and Ctrl-C mid-build."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

import pipeline.render.to_docx as to_docx
from pipeline.build import MANIFEST
from tests.adversarial.support import environment, run_cli, tree
from tests.conftest import CANON_DIR, FIXED_EPOCH, SEED_ID

BUILD = ["build", "--canon", str(CANON_DIR), "--out", "out", "--jobs", "1"]


def manifests_tell_the_truth(out: Path) -> int:
    """Every manifest lists files that exist with its sizes and digests; returns how many."""
    count = 0
    for manifest in out.glob(f"*/{MANIFEST}"):
        for entry in json.loads(manifest.read_bytes())["files"]:
            data = (manifest.parent / entry["path"]).read_bytes()
            assert len(data) == entry["bytes"], entry["path"]
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
        count += 1
    return count


def temporaries(out: Path) -> list[str]:
    return sorted(p.name for p in out.rglob(".*") if p.name.endswith(".tmp"))


def test_a_read_only_out_folder_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root ignores permissions, so a read-only mount is simulated: every create under out/
    fails with EROFS."""
    out = tmp_path / "out"
    out.mkdir()
    real_open = os.open

    def read_only(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).startswith(str(out)) and flags & (os.O_CREAT | os.O_WRONLY | os.O_RDWR):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    done = run_cli([*BUILD, "--formats", "txt"], tmp_path)
    monkeypatch.undo()
    assert (done.code, done.out) == (1, "")
    assert done.err == f"cannot write to {out}: Read-only file system\n"
    assert list(out.iterdir()) == []


def test_a_rename_failing_mid_commit_never_leaves_a_lying_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pack being rebuilt may lose its manifest (it is rebuilt next time); its files are
    whole, no temporary stays, and the next build repairs it."""
    argv = [*BUILD, "CLINIC.*", "--formats", "txt,docx,xlsx"]
    with environment(SOURCE_DATE_EPOCH=str(FIXED_EPOCH)):
        assert run_cli(argv, tmp_path).code == 0
    out = tmp_path / "out"
    first = tree(out / SEED_ID)
    real_replace = os.replace
    calls: list[str] = []

    def failing_third(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(str(dst))
        if len(calls) == 3:  # aside the old manifest, one file in, then the disk gives up
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(dst))
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", failing_third)
    with environment(SOURCE_DATE_EPOCH=str(FIXED_EPOCH + 100)):
        done = run_cli([*argv, "--force"], tmp_path)
    monkeypatch.undo()
    assert done.code == 1
    assert f"FAILED {SEED_ID}: cannot write: " in done.err and "Input/output error" in done.err
    assert "Traceback" not in done.err
    assert temporaries(out) == []
    manifests_tell_the_truth(out)
    files = tree(out / SEED_ID)
    assert set(files) <= set(first)  # whole files only, old or new, never a half-written one
    with environment(SOURCE_DATE_EPOCH=str(FIXED_EPOCH + 100)):
        assert run_cli(argv, tmp_path).code == 0
    assert manifests_tell_the_truth(out) == 1
    assert (out / SEED_ID / MANIFEST).is_file()


def test_ctrl_c_mid_build_keeps_finished_packs_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered: list[str] = []
    real_render = to_docx.render

    def interrupted_on_the_third(*args: Any) -> bytes:
        rendered.append("docx")
        if len(rendered) == 3:
            raise KeyboardInterrupt
        return real_render(*args)

    monkeypatch.setattr(to_docx, "render", interrupted_on_the_third)
    done = run_cli([*BUILD, "--formats", "txt,docx"], tmp_path)
    monkeypatch.undo()
    assert done.code == 130
    assert done.err.endswith("interrupted\n") and "Traceback" not in done.err
    out = tmp_path / "out"
    assert manifests_tell_the_truth(out) == 2  # the two packs finished before Ctrl-C
    assert temporaries(out) == []
    assert run_cli([*BUILD, "--formats", "txt,docx"], tmp_path).code == 0  # nothing stuck
