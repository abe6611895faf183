"""The `packs` command line: a thin layer over the library.

Exit codes: 0 ok, 1 bad input (message, no traceback), 2 usage, 3 internal error (a bug: the
traceback is kept).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from pipeline.build import (
    build,
    default_jobs,
    select,
    source_date_epoch,
    start_workers_early,
)
from pipeline.compose import ComposeOptions, compose_profile
from pipeline.compose.registry import page_title
from pipeline.diagnostics import PacksError, UsageError
from pipeline.extract import load_canon
from pipeline.layout import PAGE_SIZES, Layout, RenderOptions, load_layout
from pipeline.model import Canon, Profile
from pipeline.render import FORMATS, get_format
from pipeline.render.to_json import frames_json
from pipeline.render.to_text import frames_text

FRAME_CHOICES = ("smart", "okr", "mbo", "scorecard", "role", "all")
DEFAULT_FORMATS = "docx,pdf,xlsx,txt"


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so `main()` returns the exit code."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise _UsageExit(f"{self.prog}: error: {message}")


class _UsageExit(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--canon", default="canon", metavar="DIR", help="canon directory (default: canon/)"
    )
    p = _Parser(prog="packs", description="Turn a job-architecture canon into review packs.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("check", parents=[common], help="validate the canon; list every problem")

    ls = sub.add_parser("list", parents=[common], help="profile ids and titles")
    ls.add_argument("pattern", nargs="?", default=None, help="id pattern, e.g. 'CLINIC.*'")

    show = sub.add_parser("show", parents=[common], help="print a profile's frames")
    show.add_argument("profile", metavar="ID")
    show.add_argument("--frame", choices=FRAME_CHOICES, default="all")
    show.add_argument("--format", choices=("text", "json"), default="text")
    show.add_argument("--include-salary", action="store_true", help="print the JD salary range")

    b = sub.add_parser("build", parents=[common], help="render packs into out/")
    b.add_argument("patterns", nargs="*", metavar="PATTERN", help="id patterns (default: all)")
    b.add_argument("--formats", default=None, help=f"comma-separated (default: {DEFAULT_FORMATS})")
    b.add_argument("--out", default="out", metavar="DIR")
    b.add_argument("--layout", default="default", help="layout name or folder")
    b.add_argument("--page-size", choices=PAGE_SIZES, default=None)
    b.add_argument("--form-password", default=None, help="password for DOCX form protection")
    b.add_argument("--include-salary", action="store_true", help="print the JD salary range")
    b.add_argument(
        "--jobs",
        type=_jobs,
        default=None,
        metavar="N",
        help="worker processes (default: the number of cores)",
    )
    b.add_argument(
        "--zip", action="store_true", help="also write out/<ID>.zip per pack and out/packs.zip"
    )
    b.add_argument("--force", action="store_true", help="rebuild unchanged packs too")
    b.add_argument(
        "--cluster",
        default=None,
        metavar="ADDRESS",
        help="render on Dask workers: a scheduler (tcp://host:8786) or local:N",
    )

    cy = sub.add_parser(
        "cycle", parents=[common], help="a review cycle: one personalised pack per roster row"
    )
    cy.add_argument("roster", metavar="ROSTER", help="the HR roster (CSV or XLSX)")
    cy.add_argument("--name", required=True, help="the cycle's folder name, e.g. 2027-annual")
    cy.add_argument("--period", required=True, metavar="START/END", help="ISO dates")
    cy.add_argument("--formats", default="docx,xlsx,pdf", help="comma-separated (default: all)")
    cy.add_argument("--out", default="out", metavar="DIR")
    cy.add_argument("--layout", default="default", help="layout name or folder")
    cy.add_argument("--page-size", choices=PAGE_SIZES, default=None)
    cy.add_argument("--form-password", default=None, help="password for DOCX form protection")
    cy.add_argument("--include-salary", action="store_true", help="print the JD salary range")
    cy.add_argument("--jobs", type=_jobs, default=None, metavar="N", help="worker processes")
    cy.add_argument("--zip", action="store_true", help="also write managers/<ID>.zip and cycle.zip")
    cy.add_argument("--force", action="store_true", help="rebuild unchanged people too")
    cy.add_argument(
        "--cluster",
        default=None,
        metavar="ADDRESS",
        help="render on Dask workers: a scheduler (tcp://host:8786) or local:N",
    )

    jd = sub.add_parser(
        "import-jd", parents=[common], help="job-description page (text or HTML) -> canon YAML"
    )
    jd.add_argument("file", metavar="FILE", help="the page, as plain text or saved HTML")
    jd.add_argument("--profile", metavar="ID", help="link the job description to this profile")
    jd.add_argument(
        "--out", metavar="DIR", help="folder to write into (default: <canon>/job-descriptions)"
    )
    jd.add_argument("--force", action="store_true", help="replace an existing file")

    ex = sub.add_parser(
        "export-canon", parents=[common], help="the whole canon as one workbook a person can edit"
    )
    ex.add_argument("--out", required=True, metavar="FILE.xlsx", help="the workbook to write")

    ic = sub.add_parser(
        "import-canon", parents=[common], help="a canon workbook (or CSV folder) -> canon YAML"
    )
    ic.add_argument(
        "source", metavar="FILE.xlsx|FOLDER", help="a workbook, or a folder of levels.csv, …"
    )
    ic.add_argument("--replace", action="store_true", help="change or remove existing canon files")

    ip = sub.add_parser(
        "import-page", parents=[common], help="a JobFrame goal-templates page -> canon YAML"
    )
    ip.add_argument("file", metavar="FILE", help="the page, as copied text or saved HTML")
    ip.add_argument("--profile", metavar="ID", help="its profile id (else from the URL or name)")
    ip.add_argument("--replace", action="store_true", help="change an existing profile or level")

    hv = sub.add_parser(
        "harvest", help="read returned forms and trackers into one results workbook"
    )
    hv.add_argument(
        "--canon", metavar="DIR", help="profile packs: match returned files by profile only"
    )
    hv.add_argument("returned", nargs="+", metavar="CYCLE_DIR|RETURNED")
    hv.add_argument("--out", metavar="FILE", help="results workbook (default: results.xlsx)")
    hv.add_argument("--csv", metavar="DIR", help="also results.csv, returns.csv, people.csv")
    hv.add_argument(
        "--jobs",
        type=_jobs,
        default=None,
        metavar="N",
        help="worker processes (default: the number of cores)",
    )
    sv = sub.add_parser("serve", parents=[common], help="the HR download page (a web server)")
    sv.add_argument("--out", default="out", metavar="DIR", help="packs folder (default: out/)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    sv.add_argument("--port", type=_port, default=8000, help="port (0: any free one)")
    sv.add_argument("--users", default=None, metavar="FILE", help="accounts (`packs user add`)")
    sv.add_argument("--layout", default="default", help="layout name or folder of the packs")

    us = sub.add_parser("user", help="accounts of `packs serve`")
    user_sub = us.add_subparsers(dest="user_command", required=True, parser_class=_Parser)
    add = user_sub.add_parser("add", help="add or replace an account")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, choices=("hr", "manager"))
    add.add_argument("--manager-id", default=None, metavar="ID", help="a manager's roster id")
    add.add_argument("--users", default="users.json", metavar="FILE", help="default: users.json")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    return p


def _profile(canon: Canon, profile_id: str) -> Profile:
    profile = canon.profile(profile_id)
    if profile is None:
        near = [p.id for p in canon.profiles if p.id.split(".")[:2] == profile_id.split(".")[:2]]
        hint = f" (this focus has: {', '.join(near)})" if near else " (see `packs list`)"
        raise PacksError(f"no profile '{profile_id}' in {canon.root}{hint}")
    return profile


def _cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    canon = load_canon(args.canon)
    out.write(f"{args.canon}: ok — {len(canon.profiles)} profiles, {len(canon.levels)} levels\n")
    return 0


def _cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    """Ids and page titles: the title is the frames' header, which needs neither composing the
    frames nor the canon digests (5,000 profiles: 8.7 s -> the time of reading the canon)."""
    canon = load_canon(args.canon, digests=False)
    profiles = select(canon, [args.pattern] if args.pattern else [])
    out.writelines(f"{p.id}\t{page_title(p)}\n" for p in profiles)
    return 0


def _cmd_show(args: argparse.Namespace, out: TextIO) -> int:
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


def _jobs(text: str) -> int:
    """`--jobs N`: a whole number of worker processes, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be 0-65535")
    return value


def _cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from pipeline.serve.server import ServeOptions, serve

    users = Path(args.users) if args.users else None
    options = ServeOptions(
        Path(args.canon), Path(args.out), args.host, args.port, users, args.layout
    )
    return serve(options, out)


def _cmd_user(args: argparse.Namespace, out: TextIO) -> int:
    import getpass

    from pipeline.serve.accounts import add_user

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise PacksError("the two passwords differ; nothing changed")
    else:
        raise UsageError("no terminal to ask for the password: pass --password-stdin")
    user = add_user(Path(args.users), args.name, args.role, password, args.manager_id)
    out.write(f"{args.users}: {user.name} ({user.role.value}) saved\n")
    return 0


def _cmd_build(args: argparse.Namespace, out: TextIO) -> int:
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


def _cmd_cycle(args: argparse.Namespace, out: TextIO) -> int:
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


def _cmd_import_jd(args: argparse.Namespace, out: TextIO) -> int:
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


def _cmd_export_canon(args: argparse.Namespace, out: TextIO) -> int:
    from pipeline.exchange.commands import export_canon

    out.write(export_canon(Path(args.canon), Path(args.out), source_date_epoch()) + "\n")
    return 0


def _cmd_import_canon(args: argparse.Namespace, out: TextIO) -> int:
    from pipeline.exchange.commands import import_canon

    lines = import_canon(Path(args.source), args.source, Path(args.canon), args.replace)
    out.writelines(line + "\n" for line in lines)
    return 0


def _cmd_import_page(args: argparse.Namespace, out: TextIO) -> int:
    from pipeline.exchange.commands import import_goal_page

    lines = import_goal_page(
        Path(args.file), args.file, args.profile, Path(args.canon), args.replace
    )
    out.writelines(line + "\n" for line in lines)
    return 0


def _cmd_harvest(args: argparse.Namespace, out: TextIO) -> int:
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


COMMANDS = {
    "harvest": _cmd_harvest,
    "check": _cmd_check,
    "list": _cmd_list,
    "show": _cmd_show,
    "build": _cmd_build,
    "cycle": _cmd_cycle,
    "import-jd": _cmd_import_jd,
    "export-canon": _cmd_export_canon,
    "import-canon": _cmd_import_canon,
    "import-page": _cmd_import_page,
    "serve": _cmd_serve,
    "user": _cmd_user,
}


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        args = _parser().parse_args(argv)
    except _UsageExit as exc:
        print(exc, file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    try:
        return COMMANDS[args.command](args, out)
    except PacksError as exc:
        print(exc.report(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception:
        traceback.print_exc()
        print(
            "packs: internal error (a bug; please report it with the trace above)", file=sys.stderr
        )
        return 3


def run() -> None:
    sys.exit(main())
