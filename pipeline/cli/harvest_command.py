"""`packs harvest`: returned forms and trackers read into one results workbook."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from pipeline.build import default_jobs, source_date_epoch
from pipeline.diagnostics import PacksError, UsageError
from pipeline.extract import load_canon
from pipeline.layout import load_layout


def cmd_harvest(args: argparse.Namespace, out: TextIO) -> int:
    from pipeline.harvest.collect import CanonMatcher, Verdict, canon_texts, harvest
    from pipeline.harvest.cycle_matcher import CycleMatcher
    from pipeline.harvest.results import write_results

    sources = [Path(s) for s in args.returned]
    cycle_dir = None
    if args.canon is None:  # CYCLE_DIR RETURNED...
        if len(sources) < 2 or not (sources[0] / "cycle.json").is_file():
            raise UsageError(
                "packs harvest: expected CYCLE_DIR (a folder with cycle.json) and RETURNED..., "
                "or --canon DIR RETURNED... for profile packs"
            )
        cycle_dir, sources = sources[0], sources[1:]
    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        raise UsageError(f"packs harvest: no such file or folder: {', '.join(missing)}")
    canon = load_canon(Path(args.canon or "canon"))
    layout = load_layout()
    jobs = args.jobs or default_jobs()
    by_profile = CanonMatcher(canon, layout)
    if cycle_dir is not None:
        try:
            in_cycle = CycleMatcher(cycle_dir, by_profile)
        except (OSError, ValueError, KeyError) as exc:
            raise PacksError(f"{cycle_dir}: not a readable cycle: {exc}") from None
        returns = harvest(sources, in_cycle, jobs=jobs)
        people = in_cycle.people()
    else:
        returns = harvest(sources, by_profile, jobs=jobs)
        profiles = sorted({r.employee_id for r in returns if r.employee_id})
        people = [p for p in by_profile.people() if p.profile in profiles]
    matcher = by_profile
    texts: dict[str, dict[str, str]] = {}
    for p in people:
        frames = matcher.frames(p.profile)
        if frames is not None:
            canon_texts(frames, layout, texts)
    default = cycle_dir / "results.xlsx" if cycle_dir is not None else Path("results.xlsx")
    target = Path(args.out) if args.out else default
    write_results(
        target, Path(args.csv) if args.csv else None, people, returns, texts, source_date_epoch()
    )
    problems = [r for r in returns if r.verdict not in (Verdict.OK, Verdict.SKIPPED)]
    for r in problems:
        out.write(f"{r.path}: {r.verdict.value}: {r.message}\n")
    ok = sum(r.verdict is Verdict.OK for r in returns)
    out.write(f"{len(returns)} files: {ok} ok, {len(problems)} with problems; wrote {target}\n")
    return 1 if problems else 0
