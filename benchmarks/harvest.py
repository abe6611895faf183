"""Benchmark of `packs harvest` (issue 18) on a real cycle's returns.

    .venv/bin/python -m benchmarks.harvest [--files 2000] [--repeats 3] [--jobs N] [--keep DIR]

Builds a cycle with `packs cycle --formats docx,xlsx` (the bundled canon, or `--profiles N` of
the synthetic one) for `files / 2` people, fills every person's form the way Word does (with
`tests/test_docx.fill`: each field's result replaced by the value)
and every tracker with openpyxl (a value typed into each unlocked cell; as
`tests/test_xlsx.fill`), then runs `python -m pipeline harvest CYCLE_DIR RETURNED` in a child
process `repeats` times. Reports the median files/s, the peak RSS of the harvest's whole process
tree (summed from /proc every 50 ms, workers included) and the results workbook's sha256 (the
same on every run: `SOURCE_DATE_EPOCH` is set). `--keep DIR` writes the returned
files there (or reuses them when DIR already holds a set).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from openpyxl import load_workbook

from benchmarks.bench import EPOCH, REPO, TreeSample, _tree_sample, synthetic_canon
from benchmarks.cycle import write_roster


def fill_form(data: bytes, n: int) -> bytes:
    """Every field of a form but the review ones filled as Word fills it (`tests.test_docx.fill`,
    so the benchmark follows the form's field kind): ISO dates in date fields, text elsewhere,
    some of it formula-like."""
    from pipeline.harvest.docx_form import read_form

    fill = importlib.import_module("tests.test_docx").fill  # the tests' own fill, kept in step

    values = {}
    for i, key in enumerate(read_form(data)):
        if key.startswith("review."):
            continue
        if key.endswith((".due", ".time-bound", ".date")):
            values[key] = f"2027-{1 + (n + i) % 12:02d}-{1 + (n + i) % 28:02d}"
        else:
            values[key] = f"{n}.{i} by {'=HYPERLINK' if i % 17 == 0 else 'plan'}"
    filled: bytes = fill(data, values)
    return filled


def fill_tracker(data: bytes, n: int) -> bytes:
    """A value typed into every unlocked cell with openpyxl (tests/test_xlsx.fill)."""
    wb = load_workbook(io.BytesIO(data))
    k = 0
    for ws in wb.worksheets[1:-1]:
        titles = [c.value for c in ws[1]]
        for row in ws.iter_rows(min_row=2):
            for title, cell in zip(titles, row, strict=False):
                if cell.protection.locked:
                    continue
                k += 1
                cell.value = {
                    "Due": datetime(2027, 1 + (n + k) % 12, 1 + (n + k) % 28),
                    "Status": "On track",
                    "Comment": f"note {k} of {n}",
                }.get(str(title), n + k + 0.25)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def make_set(root: Path, files: int, profiles: int) -> Path:
    """A cycle under `root/out/cycles/bench` and its returns under `root/returned`; the cycle
    folder. The canon is `root/canon` (harvest's cycle mode reads `canon/`)."""
    from pipeline.cli import main as packs

    if profiles:
        synthetic_canon(root, profiles)
    else:
        (root / "canon").symlink_to(REPO / "canon")
    ids = [line.split()[0] for line in _list(root)]
    people = files // 2
    roster = root / "roster.csv"
    write_roster(roster, ids, people)
    cwd = Path.cwd()
    os.chdir(root)
    try:
        args = ["cycle", str(roster), "--name", "bench", "--period", "2027-01-01/2027-12-31"]
        code = packs([*args, "--formats", "docx,xlsx", "--out", "out", "--jobs", "2"])
    finally:
        os.chdir(cwd)
    if code != 0:
        raise SystemExit(f"packs cycle failed ({code})")
    cycle = root / "out" / "cycles" / "bench"
    returned = root / "returned"
    for n, person in enumerate(sorted((cycle / "people").iterdir())):
        folder = returned / f"batch{n // 50:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for path in sorted(person.iterdir()):
            if path.suffix == ".docx":
                (folder / f"{n:05d}-form.docx").write_bytes(fill_form(path.read_bytes(), n))
            elif path.suffix == ".xlsx":
                (folder / f"{n:05d}-tracker.xlsx").write_bytes(fill_tracker(path.read_bytes(), n))
    return cycle


def _list(root: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "list", "--canon", str(root / "canon")],
        check=True,
        capture_output=True,
        text=True,
    )
    return [line for line in done.stdout.splitlines() if line.strip()]


def run_once(root: Path, cycle: Path, jobs: int | None) -> tuple[float, float, int]:
    """Wall seconds, peak RSS of the process tree (MB), exit code of one harvest."""
    cmd = [sys.executable, "-m", "pipeline", "harvest", str(cycle), "returned"]
    cmd += ["--out", str(root / "results.xlsx")]
    if jobs is not None:
        cmd += ["--jobs", str(jobs)]
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH)}
    start = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL)
    peak = TreeSample()
    while child.poll() is None:
        peak.rss_kib = max(peak.rss_kib, _tree_sample(child.pid, pss=False).rss_kib)
        time.sleep(0.05)
    return time.perf_counter() - start, peak.rss_kib / 1024, child.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.harvest")
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profiles", type=int, default=0, help="synthetic canon (0: bundled)")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="keep (or reuse) the set here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="harvest-bench-") as tmp:
        root = args.keep or Path(tmp)
        cycle = root / "out" / "cycles" / "bench"
        if not (root / "returned").is_dir():
            root.mkdir(parents=True, exist_ok=True)
            start = time.perf_counter()
            make_set(root, args.files, args.profiles)
            print(f"set built in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        count = sum(1 for p in (root / "returned").rglob("*") if p.is_file())
        runs = [run_once(root, cycle, args.jobs) for _ in range(args.repeats)]
        sha = hashlib.sha256((root / "results.xlsx").read_bytes()).hexdigest()
    times = [t for t, _, _ in runs]
    median = statistics.median(times)
    print(f"harvest of {count} returned files (a cycle of {count // 2}: forms and trackers)")
    print(f"  wall {', '.join(f'{t:.1f}' for t in times)} s; median {median:.1f} s")
    peak = max(m for _, m, _ in runs)
    print(f"  {count / median:.1f} files/s; peak RSS (process tree) {peak:.0f} MB")
    print(f"  exit {sorted({c for _, _, c in runs})}; results.xlsx sha256 {sha}")
    print(f"  load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
