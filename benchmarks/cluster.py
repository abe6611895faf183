"""`packs build --cluster local:N` against `--jobs N` (issue 20): wall time of each on one
synthetic canon, and the client's own peak memory (workers not counted).

    .venv/bin/python -m benchmarks.cluster [--profiles 200] [--workers 2] [--formats ...]
        [--memory-profiles 2000]

Each build is a child process (`packs build --force`, `SOURCE_DATE_EPOCH` set); the outputs of
the two are compared byte for byte. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.bench import synthetic_canon

#: Runs `packs` and prints the process's own peak RSS (KiB) as the last stderr line.
CLIENT = (
    "import resource, sys\n"
    "from pipeline.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def run(canon: Path, out: Path, formats: str, *extra: str) -> tuple[float, int, str]:
    argv = [sys.executable, "-c", CLIENT, "build", "--canon", str(canon), "--out", str(out)]
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    start = time.perf_counter()
    done = subprocess.run(
        [*argv, "--formats", formats, "--force", *extra],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    rss = int(done.stderr.strip().splitlines()[-1].split()[-1])
    return wall, rss // 1024, done.stdout.strip()


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cluster", description=__doc__)
    p.add_argument("--profiles", type=int, default=200)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--formats", default="docx,pdf,xlsx,txt")
    p.add_argument("--memory-profiles", type=int, default=2000, help="0: skip")
    p.add_argument("--memory-formats", default="txt")
    args = p.parse_args(argv)
    rows = []
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="packs-cluster-bench-") as tmp:
        base = Path(tmp)
        canon = synthetic_canon(base / "small", args.profiles)
        n = args.workers
        jobs = run(canon, base / "jobs", args.formats, "--jobs", str(n))
        cluster = run(canon, base / "cluster", args.formats, "--cluster", f"local:{n}")
        same = tree(base / "jobs") == tree(base / "cluster")
        rows.append((f"{args.profiles} profiles, {args.formats}, `--jobs {n}`", *jobs))
        rows.append((f"{args.profiles} profiles, {args.formats}, `--cluster local:{n}`", *cluster))
        if args.memory_profiles:
            for count in (args.profiles, args.memory_profiles):
                big = synthetic_canon(base / f"c{count}", count)
                where = base / f"m{count}"
                result = run(big, where, args.memory_formats, "--cluster", f"local:{n}")
                label = f"{count} profiles, {args.memory_formats}, `--cluster local:{n}`"
                rows.append((label, *result))
    print(f"load average (1 min): {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    print("| run | wall | client peak RSS | report |\n|---|---|---|---|")
    for label, wall, rss, line in rows:
        print(f"| {label} | {wall:.1f} s | {rss} MB | `{line}` |")
    ratio = jobs[0] / cluster[0]
    print(f"\nthroughput --cluster / --jobs: {ratio:.2f}x; outputs identical: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
