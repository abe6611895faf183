"""`packs serve` (the HR download page) and `packs user` (its accounts)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from pipeline.diagnostics import PacksError, UsageError


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from pipeline.serve.server import ServeOptions, serve

    users = Path(args.users) if args.users else None
    options = ServeOptions(
        Path(args.canon), Path(args.out), args.host, args.port, users, args.layout
    )
    return serve(options, out)


def cmd_user(args: argparse.Namespace, out: TextIO) -> int:
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
