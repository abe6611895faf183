"""Benchmark of `packs cycle` (issue 17): a synthetic canon of 50 profiles, a roster of 2,000.

    python3 tasks.py bench cycle [--people 2000] [--profiles 50] [--sample 20] [--jobs 2]

Prints a Markdown section for BENCHMARKS.md: the cycle's wall time (and the no-op and one-edited
-row re-runs), the per-document medians measured in the same run (a handout, a form and a tracker
rendered in full, a person's form and tracker personalised), the ratios the issue asks for, and
the peak RSS. Timings are CPU medians over `--sample` of the cycle's profiles (one render of
each); nothing here is asserted.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.bench import EPOCH, Run, run_sampled, synthetic_canon

REPO = Path(__file__).resolve().parent.parent


def _cpu_ms(fn: Callable[..., Any], *args: Any) -> float:
    start = time.process_time()
    fn(*args)
    return (time.process_time() - start) * 1000


def _personalise_all(templates: Sequence[Any], values: Any, identity: str) -> None:
    from pipeline.cycle.personal import personalise

    for t in templates:
        personalise(t, values, identity)


def write_roster(path: Path, profiles: Sequence[str], people: int) -> None:
    """A roster CSV of `people` over `profiles` in turn, twelve reports to a manager."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["employee_id", "name", "profile", "manager_id"])
        for i in range(people):
            manager = "" if i == 0 else f"E{(i - 1) // 12:05d}"
            writer.writerow([f"E{i:05d}", f"Person {i}", profiles[i % len(profiles)], manager])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 tasks.py bench cycle")
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--profiles", type=int, default=50)
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    given = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(given)
    os.environ["SOURCE_DATE_EPOCH"] = str(EPOCH)

    from pipeline.compose import compose_profile
    from pipeline.cycle.contract import Period
    from pipeline.cycle.groups import review_fields
    from pipeline.cycle.personal import template
    from pipeline.cycle.roster import Person
    from pipeline.extract import load_canon
    from pipeline.layout import RenderOptions, load_layout
    from pipeline.render import get_format

    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="packs-cycle-bench-") as tmp:
        work = Path(tmp)
        canon_dir = synthetic_canon(work, args.profiles)
        canon = load_canon(canon_dir)
        ids = sorted(p.id for p in canon.profiles)
        roster = work / "roster.csv"
        write_roster(roster, ids, args.people)
        cmd = [
            "cycle", str(roster), "--name", "bench", "--period", "2027-01-01/2027-12-31",
            "--canon", str(canon_dir), "--out", str(work / "out"), "--zip",
            "--jobs", str(args.jobs),
        ]  # fmt: skip

        env = {**os.environ, "PYTHONPATH": str(REPO), "SOURCE_DATE_EPOCH": str(EPOCH)}
        runs: list[Run] = []

        def run(*extra: str) -> tuple[float, str]:
            """The cycle in a child process, its whole process tree sampled (CPU, memory)."""
            done = run_sampled([sys.executable, "-m", "pipeline", *cmd, *extra], env=env)
            if done.code != 0:
                raise SystemExit(f"packs cycle failed ({done.code}): {done.stderr[-2000:]}")
            runs.append(done)
            return done.seconds, done.stdout.strip()

        full, full_line = run()
        noop, _ = run()
        text = roster.read_text(encoding="utf-8").replace("Person 7,", "Person Seven,", 1)
        roster.write_text(text, encoding="utf-8")
        edited, edited_line = run()

        first = runs[0]

        # Per-document costs, each a median over `--sample` of the cycle's own profiles (spread
        # over the sorted ids): the profiles differ in size, so one profile timed again and
        # again would stand for none of them.
        layout = load_layout("default")
        options = RenderOptions(timestamp=EPOCH)
        pdf, docx, xlsx = (get_format(n) for n in ("pdf", "docx", "xlsx"))
        step = max(1, len(ids) // max(1, args.sample))
        by_id = {p.id: p for p in canon.profiles}
        sampled = [by_id[pid] for pid in ids[::step][: args.sample]]
        period = Period(date(2027, 1, 1), date(2027, 12, 31))
        identity = "jobframe-packs identity 1; cycle=b; employee=E1; profile=P; canon=d; seal=s"
        costs: dict[str, list[float]] = {"pdf": [], "docx": [], "xlsx": [], "personal": []}
        for profile in sampled:
            frames = compose_profile(profile, canon.digest(profile.id))
            for fmt in (pdf, docx, xlsx):
                costs[fmt.name].append(_cpu_ms(fmt.renderer(), frames, layout, options))
            boss = Person("E0", "Boss", profile.id, None, None, None, 2)
            person = Person("E1", "Person 1", profile.id, "E0", None, None, 3)
            values = review_fields(person, boss, period)
            templates = [template(f, frames, layout, options, tuple(values)) for f in (docx, xlsx)]
            costs["personal"].append(_cpu_ms(_personalise_all, templates, values, identity))
        handout_ms, form_ms, tracker_ms, personal_ms = (
            statistics.median(costs[k]) for k in ("pdf", "docx", "xlsx", "personal")
        )

    n, p = args.people, args.profiles
    budget = 1.2 * (p * handout_ms + n * (form_ms + tracker_ms)) / 1000 / 2
    per_person_pack = (handout_ms + form_ms + tracker_ms) / 1000 * n / 2
    say = lines.append
    say(f"### `packs cycle`: {n} people over {p} profiles, --jobs {args.jobs}, --zip")
    say("")
    say(f"Command: `python3 tasks.py bench cycle {' '.join(given)}`".rstrip())
    say("")
    say("| Measure | Value |")
    say("|---|---|")
    say(f"| full cycle, wall | {full:.1f} s (`{full_line.split(';')[0]}`) |")
    say(f"| no-op re-run, wall | {noop:.2f} s |")
    say(f"| one edited row, wall | {edited:.2f} s (`{edited_line.split(';')[0]}`) |")
    say(f"| per-document medians over | {len(sampled)} of the {p} profiles, one render each |")
    say(f"| handout, full render (median CPU) | {handout_ms:.0f} ms |")
    say(f"| form, full render (median CPU) | {form_ms:.1f} ms |")
    say(f"| tracker, full render (median CPU) | {tracker_ms:.1f} ms |")
    say(f"| form + tracker personalised (median CPU) | {personal_ms:.1f} ms |")
    say(f"| target: 1.2 × ({p} handouts + {n} forms and trackers) ÷ 2 cores | {budget:.1f} s |")
    say(f"| wall ÷ target | {full / budget:.2f} |")
    say(f"| a pack per person ({n} × handout+form+tracker ÷ 2) | {per_person_pack:.0f} s |")
    say(f"| speed-up over a pack per person | {per_person_pack / full:.1f}× |")
    say(
        f"| full cycle: CPU of its process tree / of every other process meanwhile | "
        f"{first.cpu:.1f} s / {first.others_cpu:.1f} s |"
    )
    say(
        f"| peak memory, whole process tree (full cycle) | {first.peak_pss_kib / 1024:.0f} MiB PSS "
        f"({first.peak_rss_kib / 1024:.0f} MiB RSS sum, {first.peak_processes} processes) |"
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
