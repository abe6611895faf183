"""`packs build` and `packs cycle`: the commands that render packs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from pipeline.build import build, default_jobs, select, source_date_epoch, start_workers_early
from pipeline.compose import ComposeOptions
from pipeline.diagnostics import UsageError
from pipeline.extract import load_canon
from pipeline.layout import Layout, RenderOptions, load_layout
from pipeline.render import FORMATS, get_format


def cmd_build(args: argparse.Namespace, out: TextIO) -> int:
    names = [n.strip() for n in (args.formats or ",".join(FORMATS)).split(",") if n.strip()]
    formats = [get_format(n) for n in dict.fromkeys(names)]
    if not formats:
        raise UsageError("--formats: name at least one format")
    jobs = args.jobs or default_jobs()
    if args.cluster is not None:
        _check_cluster(args.cluster)
    elif jobs > 1:
        start_workers_early(formats, Path(args.out), args.force)
    canon = load_canon(args.canon)
    profiles = select(canon, args.patterns)
    layout = load_layout(args.layout)
    report = build(
        canon,
        profiles,
        formats,
        Path(args.out),
        layout,
        _render_options(args, layout),
        ComposeOptions(include_salary=args.include_salary),
        jobs=jobs,
        force=args.force,
        zip=args.zip,
        progress=sys.stderr,
        cluster=args.cluster,
    )
    out.write(report.line() + "\n")
    return report.exit_code


def _check_cluster(text: str) -> None:
    """`--cluster`: usage errors (a bad address, no `distributed`) before the canon is read."""
    from pipeline.build.cluster import Address, distributed_module

    Address.parse(text)
    distributed_module()


def _render_options(args: argparse.Namespace, layout: Layout) -> RenderOptions:
    """`--page-size` (else the layout's) and `--form-password`, stamped with SOURCE_DATE_EPOCH."""
    page_size = args.page_size or layout.config.page.size
    return RenderOptions(
        page_size=page_size, form_password=args.form_password, timestamp=source_date_epoch()
    )


def cmd_cycle(args: argparse.Namespace, out: TextIO) -> int:
    from pipeline.cycle import RosterError, check_arguments, read_roster
    from pipeline.cycle.inputs import PERSONAL_FORMATS
    from pipeline.cycle.run import cycle
    from pipeline.diagnostics import CanonError, Problem

    names = [n.strip() for n in args.formats.split(",") if n.strip()]
    formats = [get_format(n) for n in dict.fromkeys(names)]
    unknown = [f.name for f in formats if f.name not in (*PERSONAL_FORMATS, "pdf")]
    if not formats or unknown:
        raise UsageError("--formats: a cycle takes docx, xlsx and pdf (at least one)")
    if args.cluster is not None:
        _check_cluster(args.cluster)
    canon = load_canon(args.canon)
    problems: list[Problem] = []
    try:
        period = check_arguments(args.name, args.period)
    except CanonError as exc:
        problems.extend(exc.problems)
    roster = None
    try:
        roster = read_roster(Path(args.roster), [p.id for p in canon.profiles], args.roster)
    except CanonError as exc:
        if not exc.problems:
            raise
        problems.extend(exc.problems)
    if problems or roster is None:
        raise RosterError("the cycle's input is invalid", problems)
    layout = load_layout(args.layout)
    report = cycle(
        canon,
        roster,
        args.name,
        period,
        formats,
        Path(args.out),
        layout,
        _render_options(args, layout),
        ComposeOptions(include_salary=args.include_salary),
        jobs=args.jobs or default_jobs(),
        force=args.force,
        zip=args.zip,
        progress=sys.stderr,
        cluster=args.cluster,
    )
    out.write(report.line() + "\n")
    return report.exit_code
