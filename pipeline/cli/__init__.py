"""The `packs` command line: a thin layer over the library.

Exit codes: 0 ok, 1 bad input (message, no traceback), 2 usage, 3 internal error (a bug: the
traceback is kept).

The arguments of every command are declared in `arguments`; each command's handler sits with its
group: `canon_commands` (check, list, show and the importers), `pack_commands` (build, cycle),
`harvest_command` (harvest) and `serve_commands` (serve, user).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from typing import TextIO

from pipeline.cli.arguments import UsageExit, parser
from pipeline.cli.canon_commands import (
    cmd_check,
    cmd_export_canon,
    cmd_import_canon,
    cmd_import_jd,
    cmd_import_page,
    cmd_list,
    cmd_show,
)
from pipeline.cli.harvest_command import cmd_harvest
from pipeline.cli.pack_commands import cmd_build, cmd_cycle
from pipeline.cli.serve_commands import cmd_serve, cmd_user
from pipeline.diagnostics import PacksError

COMMANDS = {
    "harvest": cmd_harvest,
    "check": cmd_check,
    "list": cmd_list,
    "show": cmd_show,
    "build": cmd_build,
    "cycle": cmd_cycle,
    "import-jd": cmd_import_jd,
    "export-canon": cmd_export_canon,
    "import-canon": cmd_import_canon,
    "import-page": cmd_import_page,
    "serve": cmd_serve,
    "user": cmd_user,
}


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        args = parser().parse_args(argv)
    except UsageExit as exc:
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
