"""`packs check`, `list`, `show` and the importers (`import-jd`, `export-canon`,
`import-canon`, `import-page`): the commands that read or write the canon itself."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from pipeline.build import select, source_date_epoch
from pipeline.compose import ComposeOptions, compose_profile
from pipeline.compose.registry import page_title
from pipeline.diagnostics import PacksError
from pipeline.extract import load_canon
from pipeline.model import Canon, Profile
from pipeline.render.to_json import frames_json
from pipeline.render.to_text import frames_text


def _profile(canon: Canon, profile_id: str) -> Profile:
    profile = canon.profile(profile_id)
    if profile is None:
        near = [p.id for p in canon.profiles if p.id.split(".")[:2] == profile_id.split(".")[:2]]
        hint = f" (this focus has: {', '.join(near)})" if near else " (see `packs list`)"
        raise PacksError(f"no profile '{profile_id}' in {canon.root}{hint}")
    return profile


def cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    canon = load_canon(args.canon)
    out.write(f"{args.canon}: ok — {len(canon.profiles)} profiles, {len(canon.levels)} levels\n")
    return 0


def cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    """Ids and page titles: the title is the frames' header, which needs neither composing the
    frames nor the canon digests (5,000 profiles: 8.7 s -> the time of reading the canon)."""
    canon = load_canon(args.canon, digests=False)
    profiles = select(canon, [args.pattern] if args.pattern else [])
    out.writelines(f"{p.id}\t{page_title(p)}\n" for p in profiles)
    return 0


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    canon = load_canon(args.canon)
    profile = _profile(canon, args.profile)
    frames = compose_profile(
        profile, canon.digest(profile.id), ComposeOptions(include_salary=args.include_salary)
    )
    if args.frame == "all":
        chosen = frames.goal_frames
    else:
        one = frames.frame(args.frame)
        chosen = (one,) if one is not None else ()
    if args.format == "json":
        out.write(frames_json(frames, chosen))
    elif chosen:
        out.write(frames_text(chosen) + "\n")
    return 0


def cmd_import_jd(args: argparse.Namespace, out: TextIO) -> int:
    """Import a page; warnings (missing, unplaced) are reported but do not fail the import."""
    from dataclasses import replace

    from pipeline.build import write_atomic
    from pipeline.extract.jobdesc import job_description_yaml, read_page

    page = read_page(Path(args.file), args.file)
    jd = page.job_description
    if args.profile is not None:
        linked = _profile(load_canon(args.canon), args.profile).job_description
        if linked is not None and linked.slug != jd.slug:
            raise PacksError(
                f"{args.profile} already has a job description ({linked.slug}.yaml); "
                "unlink it first"
            )
        jd = replace(jd, profile=args.profile)
        page = replace(page, job_description=jd)
    target = Path(args.out or Path(args.canon) / "job-descriptions") / f"{jd.slug}.yaml"
    if target.exists() and not args.force:
        raise PacksError(f"{target} already exists; pass --force to replace it")
    write_atomic(target, job_description_yaml(jd).encode("utf-8"))
    out.write(f"{page.report()}\nwrote {target}\n")
    return 0


def cmd_export_canon(args: argparse.Namespace, out: TextIO) -> int:
    from pipeline.exchange.commands import export_canon

    out.write(export_canon(Path(args.canon), Path(args.out), source_date_epoch()) + "\n")
    return 0


def cmd_import_canon(args: argparse.Namespace, out: TextIO) -> int:
    from pipeline.exchange.commands import import_canon

    lines = import_canon(Path(args.source), args.source, Path(args.canon), args.replace)
    out.writelines(line + "\n" for line in lines)
    return 0


def cmd_import_page(args: argparse.Namespace, out: TextIO) -> int:
    from pipeline.exchange.commands import import_goal_page

    lines = import_goal_page(
        Path(args.file), args.file, args.profile, Path(args.canon), args.replace
    )
    out.writelines(line + "\n" for line in lines)
    return 0
