"""The `packs` command line's arguments: every command, its options and their checks. argparse
raises `UsageExit` instead of exiting, so `main()` returns the exit code."""

from __future__ import annotations

import argparse
import sys

from pipeline.layout import PAGE_SIZES

FRAME_CHOICES = ("smart", "okr", "mbo", "scorecard", "role", "all")
DEFAULT_FORMATS = "docx,pdf,xlsx,txt"


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so `main()` returns the exit code."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageExit(f"{self.prog}: error: {message}")


class UsageExit(Exception):
    pass


def parser() -> argparse.ArgumentParser:
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

    # what `build` and `cycle` both take: where packs go, how they look, where they render
    rendering = _Parser(add_help=False)
    rendering.add_argument("--out", default="out", metavar="DIR")
    rendering.add_argument("--layout", default="default", help="layout name or folder")
    rendering.add_argument("--page-size", choices=PAGE_SIZES, default=None)
    rendering.add_argument(
        "--form-password", default=None, help="password for DOCX form protection"
    )
    rendering.add_argument(
        "--include-salary", action="store_true", help="print the JD salary range"
    )
    rendering.add_argument(
        "--jobs",
        type=_jobs,
        default=None,
        metavar="N",
        help="worker processes (default: the number of cores)",
    )
    rendering.add_argument(
        "--cluster",
        default=None,
        metavar="ADDRESS",
        help="render on Dask workers: a scheduler (tcp://host:8786) or local:N",
    )

    b = sub.add_parser("build", parents=[common, rendering], help="render packs into out/")
    b.add_argument("patterns", nargs="*", metavar="PATTERN", help="id patterns (default: all)")
    b.add_argument("--formats", default=None, help=f"comma-separated (default: {DEFAULT_FORMATS})")
    b.add_argument(
        "--zip", action="store_true", help="also write out/<ID>.zip per pack and out/packs.zip"
    )
    b.add_argument("--force", action="store_true", help="rebuild unchanged packs too")

    cy = sub.add_parser(
        "cycle",
        parents=[common, rendering],
        help="a review cycle: one personalised pack per roster row",
    )
    cy.add_argument("roster", metavar="ROSTER", help="the HR roster (CSV or XLSX)")
    cy.add_argument("--name", required=True, help="the cycle's folder name, e.g. 2027-annual")
    cy.add_argument("--period", required=True, metavar="START/END", help="ISO dates")
    cy.add_argument("--formats", default="docx,xlsx,pdf", help="comma-separated (default: all)")
    cy.add_argument("--zip", action="store_true", help="also write managers/<ID>.zip and cycle.zip")
    cy.add_argument("--force", action="store_true", help="rebuild unchanged people too")

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
