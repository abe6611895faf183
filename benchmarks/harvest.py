"""Benchmark of `packs harvest`: `python -m benchmarks.harvest [--files N] [--repeats K]`.

Writes N returned files (half forms, half trackers, the bundled canon's profiles in turn, each
with one value typed in so no two files are alike) to a temporary folder, then runs
`python -m pipeline harvest --canon canon FOLDER` in a child process K times and reports the
median files/s and the child's peak RSS. Every file is read and verified in full; in canon mode
the person is the profile, so most files end up `duplicate` (settled after all are read).
"""

from __future__ import annotations

import argparse
import io
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from openpyxl import load_workbook

from pipeline.compose import ComposeOptions, compose_profile
from pipeline.extract import load_canon
from pipeline.layout import RenderOptions, load_layout
from pipeline.render import FORMATS

CANON = Path(__file__).resolve().parent.parent / "canon"


def _fill_form(data: bytes, n: int) -> bytes:
    """The form with its last placeholder token (one inside a field) replaced by a value."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "word/document.xml":
                head, token, tail = body.rpartition("⟨target⟩".encode())
                body = head + f"target {n}".encode() + tail if token else body
            dst.writestr(info, body)
    return out.getvalue()


def _fill_tracker(data: bytes, n: int) -> bytes:
    wb = load_workbook(io.BytesIO(data))
    ws = wb.worksheets[1]
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if not cell.protection.locked:
                cell.value = n
                break
        else:
            continue
        break
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def make_files(root: Path, count: int) -> None:
    canon = load_canon(CANON)
    layout = load_layout()
    issued = []
    for profile in canon.profiles:
        frames = compose_profile(profile, canon.digest(profile.id), ComposeOptions())
        form = FORMATS["docx"].renderer()(frames, layout, RenderOptions())
        tracker = FORMATS["xlsx"].renderer()(frames, layout, RenderOptions())
        issued.append((form, _fill_tracker(tracker, 0)))
    for n in range(count):
        form, tracker = issued[n // 2 % len(issued)]
        folder = root / f"batch{n // 100:03d}"
        folder.mkdir(exist_ok=True)
        if n % 2 == 0:
            (folder / f"form-{n:05d}.docx").write_bytes(_fill_form(form, n))
        else:
            (folder / f"tracker-{n:05d}.xlsx").write_bytes(tracker)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.harvest")
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="harvest-bench-") as tmp:
        root = Path(tmp) / "returned"
        root.mkdir()
        make_files(root, args.files)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pipeline",
                    "harvest",
                    "--canon",
                    str(CANON),
                    str(root),
                    "--out",
                    str(Path(tmp) / "results.xlsx"),
                ],
                check=False,
                stdout=subprocess.DEVNULL,
            )
            times.append(time.perf_counter() - start)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    median = statistics.median(times)
    print(f"harvest of {args.files} files ({args.files // 2} forms, {args.files // 2} trackers)")
    print(f"  median {median:.1f} s over {args.repeats} runs: {args.files / median:.1f} files/s")
    print(f"  peak RSS of the harvest process: {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
