"""The build stage: selection, manifests, reproducible bytes, atomic writes, skips, workers, zips.

Every registered format whose renderer imports is built, and every output is re-opened with a
real reader. This module also serves the `probe` test format (its `render` below), so failures
and slow renders can be injected in worker processes too (workers import `tests.test_build`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import io
import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipeline.build import (
    LOCK_FILE,
    MANIFEST,
    SELECTION_ZIP,
    BuildReport,
    PackResult,
    PackTask,
    Progress,
    build,
    build_lock,
    largest_first,
    render_weight,
    select,
    start_workers_early,
    write_atomic,
)
from pipeline.build.lock import BuildBusy
from pipeline.cli import main
from pipeline.diagnostics import PacksError
from pipeline.extract import load_canon
from pipeline.layout import Layout, RenderOptions, load_layout
from pipeline.model import Canon, ProfileFrames
from pipeline.render import FORMATS, Format
from pipeline.render.to_text import frames_text
from tests.conftest import CANON_DIR, FIXED_EPOCH, REPO, SEED_ID

#: A few profiles that between them use every frame kind (role via the seed's job description).
PATTERNS = ("CLINIC.*", "ENGR.GEN.*", "OPS.SUPPLY.S1")
ISO_EPOCH = "2023-11-14T22:13:20Z"
#: The probe format fails for these profiles when asked for Letter pages.
PROBE_FAILS = "ENGR.PLATFORM."
PROBE = Format("probe", ".probe.txt", "tests.test_build", "text/plain")
PROBE_SLEEP = "PACKS_TEST_PROBE_SLEEP"
#: With this form password the probe kills the worker process rendering the seed profile.
PROBE_CRASH = "crash-the-worker"


def render(frames: ProfileFrames, layout: Layout, options: RenderOptions) -> bytes:
    """The `probe` format: the plain text again, optionally slow, failing on request."""
    time.sleep(float(os.environ.get(PROBE_SLEEP, "0")))
    if options.page_size == "Letter" and frames.profile_id.startswith(PROBE_FAILS):
        raise ValueError(f"probe refuses {frames.profile_id}")
    in_worker = multiprocessing.parent_process() is not None  # never kill pytest itself
    if options.form_password == PROBE_CRASH and frames.profile_id == SEED_ID and in_worker:
        os.kill(os.getpid(), signal.SIGKILL)
    return frames_text(frames.frames).encode("utf-8")


def cli_with_probe(argv: Sequence[str]) -> int:
    """`packs` with the probe format registered (for subprocess builds)."""
    FORMATS[PROBE.name] = PROBE
    return main(list(argv))


def available() -> list[Format]:
    """Registered formats whose renderer imports (others may still be landing)."""
    out = []
    for fmt in FORMATS.values():
        try:
            fmt.renderer()
        except ImportError:
            continue
        out.append(fmt)
    return out


def names(formats: Sequence[Format]) -> str:
    return ",".join(f.name for f in formats)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` (but the lock file) by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != LOCK_FILE
    }


def temps(root: Path) -> list[str]:
    return [p.name for p in root.rglob("*") if p.name.endswith(".tmp")]


def check_manifests(out: Path) -> int:
    """Every manifest under `out` lists files that exist and match; returns how many."""
    count = 0
    for path in sorted(out.glob(f"*/{MANIFEST}")):
        data = json.loads(path.read_bytes())
        assert data["profile"] == path.parent.name
        for entry in data["files"]:
            blob = (path.parent / entry["path"]).read_bytes()
            assert len(blob) == entry["bytes"], entry["path"]
            assert hashlib.sha256(blob).hexdigest() == entry["sha256"], entry["path"]
        count += 1
    return count


def reopen(path: Path, profile_id: str) -> None:
    """Open an output with the reader its format calls for and check it belongs to the profile."""
    if path.suffix == ".pdf":
        from pypdf import PdfReader

        reader = PdfReader(path)
        assert len(reader.pages) >= 1
    elif path.suffix == ".docx":
        import docx

        text = "\n".join(p.text for p in docx.Document(str(path)).paragraphs)
        assert text.strip()
    elif path.suffix == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path)
        assert book.sheetnames
        book.close()
    elif path.suffix == ".txt":
        assert path.read_text(encoding="utf-8").strip()
    else:
        assert path.stat().st_size > 0
    assert path.name.startswith(profile_id + ".")


@dataclass(frozen=True)
class Built:
    out: Path
    formats: tuple[Format, ...]
    ids: tuple[str, ...]
    report: BuildReport


def run_build(
    canon: Canon,
    layout: Layout,
    out: Path,
    formats: Sequence[Format],
    patterns: Sequence[str] = PATTERNS,
    *,
    jobs: int = 1,
    epoch: int = FIXED_EPOCH,
    page_size: str = "A4",
    zip: bool = False,
    force: bool = False,
) -> BuildReport:
    options = RenderOptions(page_size=page_size, timestamp=epoch)
    return build(
        canon,
        select(canon, patterns),
        formats,
        out,
        layout,
        options,
        jobs=jobs,
        zip=zip,
        force=force,
        progress=io.StringIO(),
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, canon: Canon, layout: Layout) -> Built:
    """The selection in every available format, --jobs 1, with zips: built once, read by many."""
    formats = tuple(available())
    out = tmp_path_factory.mktemp("build") / "out"
    report = run_build(canon, layout, out, formats, zip=True)
    ids = tuple(p.id for p in select(canon, PATTERNS))
    return Built(out, formats, ids, report)


# --- selection ------------------------------------------------------------------------------------


def test_select_by_id_patterns(canon: Canon) -> None:
    ids = [p.id for p in canon.profiles]
    assert [p.id for p in select(canon, [])] == ids
    assert [p.id for p in select(canon, ["CLINIC.*"])] == [SEED_ID]
    assert [p.id for p in select(canon, ["*.M4"])] == [SEED_ID]
    assert [p.id for p in select(canon, [SEED_ID])] == [SEED_ID]
    both = [p.id for p in select(canon, ["*.S1", "ENGR.*"])]
    assert both == [i for i in ids if i.startswith("ENGR.") or i.endswith(".S1")]  # canon order
    assert [p.id for p in select(canon, ["ENGR.*", "ENGR.GEN.M2"])].count("ENGR.GEN.M2") == 1
    with pytest.raises(PacksError, match=r"no profile matches NOPE\.\*"):
        select(canon, ["NOPE.*"])
    with pytest.raises(PacksError, match=r"no profile matches TYPO\.\* \(try"):
        select(canon, ["CLINIC.*", "TYPO.*"])  # one typo must not silently shrink a selection


# --- manifests and outputs ------------------------------------------------------------------------


def test_manifest_lists_every_file_with_size_and_digest(built: Built, canon: Canon) -> None:
    assert built.report.built == len(built.ids) and not built.report.failed
    assert check_manifests(built.out) == len(built.ids)
    for pid in built.ids:
        folder = built.out / pid
        data = json.loads((folder / MANIFEST).read_bytes())
        assert data["profile"] == pid
        assert data["canon_digest"] == canon.digest(pid)
        assert data["build_time"] == ISO_EPOCH
        assert data["generator"]["name"] == "jobframe-packs"
        assert data["generator"]["version"]
        libraries = data["generator"]["libraries"]
        if any(f.name == "pdf" for f in built.formats):
            assert libraries["weasyprint"]
            assert data["generator"]["speedups"] == list(SPEED_UPS)
        expected = sorted(f.file_name(pid) for f in built.formats)
        assert [f["path"] for f in data["files"]] == expected
        assert sorted(p.name for p in folder.iterdir()) == sorted([*expected, MANIFEST])
        assert data["inputs"]["fingerprint"].startswith("sha256:")
        assert data["inputs"]["formats"] == sorted(f.name for f in built.formats)
        assert data["inputs"]["source_date_epoch"] == FIXED_EPOCH
        for name in expected:
            reopen(folder / name, pid)
    seed_text = (built.out / SEED_ID / f"{SEED_ID}.goal-templates.txt").read_text("utf-8")
    assert "Leads crisis management efforts across studies" in seed_text


def test_same_inputs_give_identical_bytes_across_builds_and_jobs(
    built: Built, canon: Canon, layout: Layout, tmp_path: Path
) -> None:
    again = run_build(canon, layout, tmp_path / "again", built.formats, zip=True)
    parallel = run_build(canon, layout, tmp_path / "jobs2", built.formats, zip=True, jobs=2)
    assert again.built == parallel.built == len(built.ids)
    first = tree(built.out)
    assert len(first) == len(built.ids) * (len(built.formats) + 2) + 1  # files, manifest, zips
    for other in (tree(tmp_path / "again"), tree(tmp_path / "jobs2")):
        assert sorted(other) == sorted(first)
        different = [name for name in first if first[name] != other[name]]
        assert different == []
    # The comparison can fail: another build time changes the manifests and the zips.
    later = run_build(canon, layout, tmp_path / "later", built.formats, epoch=FIXED_EPOCH + 86_400)
    assert later.built == len(built.ids)
    manifest = f"{SEED_ID}/{MANIFEST}"
    assert tree(tmp_path / "later")[manifest] != first[manifest]


# --- zips -----------------------------------------------------------------------------------------


def test_zips_are_deterministic_and_hold_the_manifests(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stamp = (2023, 11, 14, 22, 13, 20)
    everything: list[str] = []
    for pid in built.ids:
        with zipfile.ZipFile(built.out / f"{pid}.zip") as z:
            assert z.testzip() is None
            members = z.namelist()
            assert members == sorted(members)
            assert f"{pid}/{MANIFEST}" in members
            for info in z.infolist():
                assert info.date_time == stamp
                assert info.external_attr >> 16 == 0o100644
                assert z.read(info) == (built.out / info.filename).read_bytes()
            everything += members
    with zipfile.ZipFile(built.out / SELECTION_ZIP) as z:
        assert z.testzip() is None
        assert z.namelist() == sorted(everything)
        assert all(info.date_time == stamp for info in z.infolist())
    # Byte-identical when written again from the same packs.
    before = (built.out / SELECTION_ZIP).read_bytes()
    copy = tmp_path / "copy"
    shutil.copytree(built.out, copy)
    (copy / SELECTION_ZIP).unlink()
    for pid in built.ids:
        (copy / f"{pid}.zip").unlink()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(FIXED_EPOCH))
    stdout = io.StringIO()
    code = main(
        [
            "build",
            *PATTERNS,
            "--canon",
            str(CANON_DIR),
            "--out",
            str(copy),
            "--zip",
            "--formats",
            names(built.formats),
        ],
        out=stdout,
    )
    assert code == 0
    # The packs are unchanged, so they are re-zipped from disk without rendering.
    assert stdout.getvalue().startswith(f"built 0, skipped {len(built.ids)}, failed 0")
    assert (copy / SELECTION_ZIP).read_bytes() == before
    for pid in built.ids:
        assert (copy / f"{pid}.zip").read_bytes() == (built.out / f"{pid}.zip").read_bytes()


# --- incremental builds ---------------------------------------------------------------------------


def test_unchanged_packs_are_skipped_without_composing(
    canon: Canon, layout: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    txt = [FORMATS["txt"]]
    out = tmp_path / "out"
    first = run_build(canon, layout, out, txt, [])
    assert (first.built, first.skipped) == (len(canon.profiles), 0)
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*/*")}

    def explode(*args: object, **kwargs: object) -> None:
        raise AssertionError("a skipped pack must not be composed")

    # `pipeline.build` the attribute is the function (pipeline/__init__.py), hence sys.modules.
    monkeypatch.setattr(sys.modules["pipeline.build.workers"], "compose_profile", explode)
    again = run_build(canon, layout, out, txt, [])
    assert (again.built, again.skipped, again.failed) == (0, len(canon.profiles), ())
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/*")} == stamps  # nothing rewritten
    monkeypatch.undo()

    forced = run_build(canon, layout, out, txt, [], force=True)
    assert (forced.built, forced.skipped) == (len(canon.profiles), 0)
    # Another build time, a missing file, other formats: each invalidates what it touches.
    assert run_build(canon, layout, out, txt, [], epoch=FIXED_EPOCH + 1).built == len(
        canon.profiles
    )
    (out / SEED_ID / f"{SEED_ID}.goal-templates.txt").unlink()
    assert run_build(canon, layout, out, txt, [], epoch=FIXED_EPOCH + 1).built == 1


def test_workers_start_early_only_for_a_build_that_will_render(
    canon: Canon, layout: Layout, tmp_path: Path
) -> None:
    """A fresh or forced build starts the forkserver before reading the canon; a rebuild, which
    may render nothing, does not (an unused server would hold the command's output open)."""
    txt = [FORMATS["txt"]]
    out = tmp_path / "out"
    assert start_workers_early(txt, out, force=False)  # no out/ yet
    run_build(canon, layout, out, txt, [])
    assert not start_workers_early(txt, out, force=False)
    assert start_workers_early(txt, out, force=True)


def test_canon_edit_rebuilds_only_the_affected_profile(layout: Layout, tmp_path: Path) -> None:
    source = tmp_path / "canon"
    shutil.copytree(CANON_DIR, source)
    canon = load_canon(source)
    out = tmp_path / "out"
    txt = [FORMATS["txt"]]
    assert run_build(canon, layout, out, txt, []).built == len(canon.profiles)
    focus = source / "focuses" / "OPS.SUPPLY.yaml"
    text = focus.read_text(encoding="utf-8")
    target = next(p for p in canon.profiles if p.id == "OPS.SUPPLY.S1")
    old = (target.responsibilities or target.components.responsibilities)[0]
    assert text.count(old) == 1
    focus.write_text(text.replace(old, old + " (edited)"), encoding="utf-8")
    edited = load_canon(source)
    report = run_build(edited, layout, out, txt, [])
    assert (report.built, report.skipped) == (1, len(canon.profiles) - 1)
    written = (out / target.id / f"{target.id}.goal-templates.txt").read_text("utf-8")
    assert old + " (edited)" in written
    assert check_manifests(out) == len(canon.profiles)


def test_dropping_a_format_removes_its_file_from_the_pack(
    canon: Canon, layout: Layout, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run_build(canon, layout, out, [FORMATS["txt"], PROBE], [SEED_ID])
    assert (out / SEED_ID / f"{SEED_ID}.probe.txt").is_file()
    assert run_build(canon, layout, out, [FORMATS["txt"]], [SEED_ID]).built == 1
    assert sorted(p.name for p in (out / SEED_ID).iterdir()) == [
        f"{SEED_ID}.goal-templates.txt",
        MANIFEST,
    ]
    assert check_manifests(out) == 1


# --- failures -------------------------------------------------------------------------------------


def probe_build(out: Path, jobs: int) -> list[str]:
    """CLI arguments of a build of the bundled canon as text and the probe format."""
    return [
        "build",
        "--canon",
        str(CANON_DIR),
        "--out",
        str(out),
        "--formats",
        "txt,probe",
        "--jobs",
        str(jobs),
    ]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failing_profile_is_reported_and_the_others_are_built(
    jobs: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(FORMATS, PROBE.name, PROBE)
    out = tmp_path / "out"
    argv = probe_build(out, jobs)
    stdout = io.StringIO()
    assert main(argv, out=stdout) == 0
    good = (out / "ENGR.PLATFORM.P2" / MANIFEST).read_bytes()
    capsys.readouterr()

    stdout = io.StringIO()
    assert main([*argv, "--page-size", "Letter"], out=stdout) == 1
    err = capsys.readouterr().err
    assert "FAILED ENGR.PLATFORM.P2: ValueError: probe refuses ENGR.PLATFORM.P2" in err
    assert "FAILED ENGR.PLATFORM.P3: ValueError: probe refuses ENGR.PLATFORM.P3" in err
    assert "Traceback" in err  # an unexpected exception is a bug: its trace is shown once
    line = stdout.getvalue()
    assert line.startswith("built 4, skipped 0, failed 2 in ")
    assert "(ENGR.PLATFORM.P2, ENGR.PLATFORM.P3)" in line
    # The failed profiles keep their earlier good pack; the others were rebuilt for Letter.
    assert (out / "ENGR.PLATFORM.P2" / MANIFEST).read_bytes() == good
    assert json.loads((out / SEED_ID / MANIFEST).read_bytes())["inputs"]["page_size"] == "Letter"
    assert check_manifests(out) == 6
    assert temps(out) == []


def test_a_crashed_worker_fails_only_its_profile(
    canon: Canon, layout: Layout, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    options = RenderOptions(timestamp=FIXED_EPOCH, form_password=PROBE_CRASH)
    progress = io.StringIO()
    report = build(
        canon,
        canon.profiles,
        [FORMATS["txt"], PROBE],
        out,
        layout,
        options,
        jobs=2,
        progress=progress,
        max_tasks_per_child=2,
    )
    assert report.failed == ((SEED_ID, "worker process died (killed by SIGKILL)"),)
    assert report.built == len(canon.profiles) - 1  # the pool replaced the dead worker
    assert f"FAILED {SEED_ID}: worker process died" in progress.getvalue()
    assert check_manifests(out) == len(canon.profiles) - 1
    assert not (out / SEED_ID / MANIFEST).exists()


def test_a_full_disk_leaves_the_previous_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "pack" / "file.txt"
    write_atomic(target, b"previous")

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, b"new content")
    monkeypatch.undo()
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.txt"]


def test_a_failing_write_keeps_the_earlier_pack_whole(
    canon: Canon, layout: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    txt = [FORMATS["txt"], PROBE]
    assert run_build(canon, layout, out, txt, [SEED_ID]).built == 1
    before = tree(out)

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    report = run_build(canon, layout, out, txt, [SEED_ID], force=True, epoch=FIXED_EPOCH + 1)
    monkeypatch.undo()
    assert report.exit_code == 1
    assert report.failed == ((SEED_ID, "cannot write: No space left on device"),)
    assert tree(out) == before
    assert temps(out) == []


def test_out_not_writable_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for out in (blocker, blocker / "sub"):
        argv = ["build", "--canon", str(CANON_DIR), "--out", str(out), "--formats", "txt"]
        assert main(argv, out=io.StringIO()) == 1
        err = capsys.readouterr().err
        assert f"cannot write to {out}" in err
        assert "Traceback" not in err
    assert blocker.read_text() == "not a folder"


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in (["--jobs", "0"], ["--jobs", "two"], ["--formats", ","], ["--formats", "nope"]):
        assert main(["build", "--canon", str(CANON_DIR), *bad], out=io.StringIO()) == 2
    assert "--jobs" in capsys.readouterr().err


# --- concurrency ----------------------------------------------------------------------------------


def test_a_second_build_on_the_same_out_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["build", "--canon", str(CANON_DIR), "--out", str(out), "--formats", "txt"]
    with build_lock(out):
        assert main(argv, out=io.StringIO()) == 1
        err = capsys.readouterr().err
        assert f"{out} is in use by another build (pid {os.getpid()})" in err
        assert not list(out.glob("*/manifest.json"))
        with pytest.raises(BuildBusy), build_lock(out):  # a type to catch, not words to match
            pass
    assert main(argv, out=io.StringIO()) == 0  # the lock goes with the build holding it


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "SOURCE_DATE_EPOCH": str(FIXED_EPOCH), **extra}


def test_two_racing_builds_never_interleave(tmp_path: Path) -> None:
    out = tmp_path / "out"
    script = "import sys, tests.test_build as t; sys.exit(t.cli_with_probe(sys.argv[1:]))"
    argv = [sys.executable, "-c", script, *probe_build(out, 1)]
    procs = [
        subprocess.Popen(
            argv,
            cwd=REPO,
            env=_env(**{PROBE_SLEEP: "0.1"}),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    results = [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]
    codes = sorted(code for code, _, _ in results)
    assert codes in ([0, 0], [0, 1]), results
    for code, _, err in results:
        if code == 1:
            assert "is in use by another build" in err and "Traceback" not in err
    assert check_manifests(out) == 6
    assert temps(out) == []


# --- a killed build -------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_killed_build_leaves_only_complete_files(tmp_path: Path) -> None:
    from benchmarks.bench import synthetic_canon

    canon_dir = synthetic_canon(tmp_path, TOTAL := 12)
    out = tmp_path / "out"
    formats = [*available(), PROBE]
    script = "import sys, tests.test_build as t; sys.exit(t.cli_with_probe(sys.argv[1:]))"
    argv = [
        sys.executable,
        "-c",
        script,
        "build",
        "--canon",
        str(canon_dir),
        "--out",
        str(out),
        "--formats",
        names(formats),
        "--jobs",
        "2",
    ]
    proc = subprocess.Popen(
        argv,
        cwd=REPO,
        env=_env(**{PROBE_SLEEP: "0.05"}),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while len(list(out.glob(f"*/{MANIFEST}"))) < 2:
            assert proc.poll() is None, "the build finished before it could be killed"
            assert time.monotonic() < deadline, "no pack appeared in time"
            time.sleep(0.02)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the build, its forkserver, its workers
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(0.2)

    complete = check_manifests(out)
    assert 2 <= complete < TOTAL, "the kill must land mid-way"
    survivors = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        if path.name.endswith(".tmp") or path.name == LOCK_FILE:
            assert path.name.startswith("."), f"temporary file under a visible name: {path}"
            continue
        survivors[path.relative_to(out).as_posix()] = path.read_bytes()

    resumed = subprocess.run(
        argv, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith(f"built {TOTAL - complete}, skipped {complete}, failed 0")
    assert check_manifests(out) == TOTAL
    assert temps(out) == []
    final = tree(out)
    partial = [name for name, data in survivors.items() if final.get(name) != data]
    assert partial == [], "a file under its final name differed from the finished build"


# --- progress -------------------------------------------------------------------------------------


def test_progress_is_plain_lines_off_a_terminal_and_a_bar_on_one() -> None:
    plain = io.StringIO()
    progress = Progress(plain, tty=False)
    progress.begin(2, 3, 2)
    progress.advance(PackResult("A.B.P1", 0.5))
    progress.advance(PackResult("A.B.P2", 0.1, "ValueError: no"))
    progress.end()
    lines = plain.getvalue().splitlines()
    assert lines[0] == "building 2 packs, 3 unchanged (skipped), 2 jobs"
    assert lines[1].startswith("[1/2] built A.B.P1 (0.50s; ") and "ETA" in lines[1]
    assert lines[2] == "FAILED A.B.P2: ValueError: no"
    assert "\r" not in plain.getvalue()

    bar = io.StringIO()
    progress = Progress(bar, tty=True)
    progress.begin(2, 0, 1)
    progress.advance(PackResult("A.B.P1", 0.5))
    progress.advance(PackResult("A.B.P2", 0.5))
    progress.end()
    text = bar.getvalue()
    assert "\r\x1b[K[" in text and "2/2" in text and "/s" in text and "ETA" in text
    assert text.endswith("\n")


def test_report_line_sets_the_exit_code() -> None:
    ok = BuildReport(3, 2, (), 1.25)
    assert (ok.line(), ok.exit_code) == ("built 3, skipped 2, failed 0 in 1.2s", 0)
    bad = BuildReport(1, 0, (("A.B.P1", "boom"),), 0.5, ("out/packs.zip not written (1 failed)",))
    assert bad.exit_code == 1
    assert bad.line() == (
        "built 1, skipped 0, failed 1 in 0.5s (A.B.P1); out/packs.zip not written (1 failed)"
    )


# --- the benchmark stays runnable -----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.office
def test_bench_quick_smoke(tmp_path: Path) -> None:
    """A quick run through every section, the LibreOffice routes included where they exist."""
    report = tmp_path / "bench.md"
    office = shutil.which("soffice") is not None or shutil.which("libreoffice") is not None
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--office" if office else "--no-office",
            "--out",
            str(report),
        ],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    text = report.read_text(encoding="utf-8")
    for heading in (
        "## Machine",
        "## Per profile, per format",
        "## Whole packs",
        "## Full canon (5 profiles",
    ):
        assert heading in text
    assert "Scaling --jobs 2 / --jobs 1" in text
    assert "no-op rebuild" in text
    own = text[text.index("## Versus LibreOffice converting our review form") :]
    own = own[: own.index("## Versus the docxtpl route")]
    if office:
        for row in ("`packs build --formats docx --jobs", "of which LibreOffice alone (per PDF)"):
            assert row in own, own
        assert re.search(r"all four formats, .* per PDF: \*\*\d+\.\d\d×\*\*", own), own
        route = text[text.index("## Versus the docxtpl route") :]
        for row in ("docxtpl: fill", "python-docx table: fill", "--formats docx,pdf --jobs 1"):
            assert row in route
        assert re.search(r"wall per pack \*\*\d+\.\d\d×\*\*", route), route
    else:
        assert "Not measured (--no-office or --quick)." in own
        assert "Not measured (--no-office or --quick)." in text


def test_the_benchs_bare_weasyprint_runs_without_the_handouts_workarounds() -> None:
    """The overhead row compares with WeasyPrint as a user gets it: the speed-ups are in place
    only inside a handout render (`weasyprint70.patched`), never before or after one."""
    from benchmarks.bench import _weasyprint_as_installed
    from pipeline.render import to_pdf, weasyprint70

    to_pdf.typesetter(load_layout("default"), "A4")
    assert not weasyprint70.any_installed()
    with _weasyprint_as_installed():
        assert not weasyprint70.any_installed()
    with weasyprint70.patched():
        assert all(patch.installed() for patch in weasyprint70.PATCHES)
        with (
            pytest.raises(RuntimeError, match="outside a handout render"),
            _weasyprint_as_installed(),
        ):
            pass
    assert not weasyprint70.any_installed()


#: The WeasyPrint speed-ups this WeasyPrint takes (all of them: WeasyPrint 70.0).
SPEED_UPS = ("glyph_runs", "kept_layouts", "target_counters")


def test_a_build_with_the_speed_ups_off_gives_the_same_bytes(
    built: Built, canon: Canon, layout: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The off switch (`PACKS_WEASYPRINT_SPEEDUPS=off`, read by the build into
    `RenderOptions.speedups`) renders with WeasyPrint's own code: every file the same bytes; the
    manifest's generator says none were on, and the switch counts as an input (a rebuild)."""
    ids = (SEED_ID,)
    pdf = tuple(FORMATS[name] for name in ("pdf", "docx"))
    monkeypatch.setenv("PACKS_WEASYPRINT_SPEEDUPS", "off")
    progress = io.StringIO()
    out = tmp_path / "out"

    def build_seed(**kwargs: Any) -> BuildReport:
        selection = [p for p in canon.profiles if p.id in ids]
        options = RenderOptions(page_size="A4", timestamp=FIXED_EPOCH)
        return build(canon, selection, pdf, out, layout, options, **kwargs)

    build_seed(progress=progress, tty=False)
    assert "WeasyPrint speed-ups: off" in progress.getvalue().splitlines()
    for pid in ids:
        for fmt in pdf:
            name = fmt.file_name(pid)
            assert (out / pid / name).read_bytes() == (built.out / pid / name).read_bytes(), name
        off = json.loads((out / pid / MANIFEST).read_bytes())
        on = json.loads((built.out / pid / MANIFEST).read_bytes())
        assert off["generator"]["speedups"] == [] and on["generator"]["speedups"] == list(SPEED_UPS)
    monkeypatch.delenv("PACKS_WEASYPRINT_SPEEDUPS")
    again = build_seed()
    assert again.built == len(ids), "switching the speed-ups back on rebuilds (the manifest says)"


def test_workers_get_the_heaviest_packs_first_ties_in_order() -> None:
    base = load_canon(CANON_DIR).profiles[0]

    def task(name: str, *responsibilities: str) -> PackTask:
        profile = dataclasses.replace(
            base, responsibilities=responsibilities, core_outputs=(), job_description=None
        )
        return PackTask(profile, name, name)

    tasks = [task("a", "x" * 10), task("b", "y" * 300), task("c", "z" * 10), task("d", "w" * 50)]
    assert [t.digest for t in largest_first(tasks)] == ["b", "d", "a", "c"]
    assert render_weight(tasks[1].profile) == 300
    with_description = dataclasses.replace(base, core_outputs=(), responsibilities=())
    assert render_weight(with_description) == (
        len(repr(base.job_description)) if base.job_description else 0
    )


def test_the_code_digest_covers_the_code_that_renders_only(tmp_path: Path) -> None:
    from pipeline.build.fingerprint import code_digest, source_digest

    root = tmp_path / "pipeline"
    renders = ("render/to_text.py", "build/zips.py", "ooxml/archive.py")
    # none of these can change a pack's bytes
    quiet = ("cli/pack_commands.py", "harvest/verify.py", "serve/app.py")
    for rel in renders + quiet:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x = 1\n", encoding="utf-8")
    first = source_digest(root)
    for rel in quiet:
        (root / rel).write_text("x = 2\n", encoding="utf-8")
    assert source_digest(root) == first
    for rel in renders:
        (root / rel).write_text("x = 3\n", encoding="utf-8")
        assert source_digest(root) != first
        first = source_digest(root)
    # The benchmark is not part of the product package, so it is not hashed at all.
    assert not (REPO / "pipeline" / "bench.py").exists()
    assert code_digest() == source_digest(REPO / "pipeline")
