"""Starting `packs serve`: who may connect (the loopback rule), binding, uvicorn.

Bound to a loopback address without a users file, the server has one local user and accepts only
loopback `Host` headers (so a web page elsewhere cannot reach it by DNS rebinding). On any other
address it refuses to start without `--users FILE`.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import uvicorn
from starlette.applications import Starlette

from pipeline.build import source_date_epoch
from pipeline.diagnostics import PacksError, UsageError
from pipeline.extract import load_canon
from pipeline.layout import RenderOptions, load_layout
from pipeline.serve.accounts import load_accounts
from pipeline.serve.app import WEB_LAYOUT, Site, create_app
from pipeline.serve.packs import Catalogue, PackStore

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeOptions:
    canon: Path
    out: Path
    host: str = "127.0.0.1"
    port: int = 8000
    users: Path | None = None
    layout: str = "default"
    web: Path = WEB_LAYOUT


def make_app(options: ServeOptions) -> Starlette:
    """Check the options, load the canon and the accounts, and build the application."""
    loopback = is_loopback(options.host)
    if not loopback and options.users is None:
        raise UsageError(
            f"refusing to serve on {options.host} without --users FILE: only a loopback address "
            "(127.0.0.1, ::1) serves one local user; create accounts with "
            "`packs user add NAME --role hr --users FILE`"
        )
    accounts = load_accounts(options.users) if options.users is not None else None
    if accounts is not None and len(accounts) == 0:
        raise PacksError(f"{options.users}: no accounts; add one with `packs user add`")
    canon = load_canon(options.canon)
    layout = load_layout(options.layout)
    render = RenderOptions(page_size=layout.config.page.size, timestamp=source_date_epoch())
    store = PackStore(canon, options.out, layout, render)
    site = Site(Catalogue(canon), store, accounts, web=options.web)
    hosts = None
    if loopback and accounts is None:
        hosts = ["127.0.0.1", "localhost", "[::1]", "::1"]
    return create_app(site, allowed_hosts=hosts)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise PacksError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    return sock


def serve(options: ServeOptions, out: TextIO) -> int:
    app = make_app(options)
    sock = bind(options.host, options.port)
    port = sock.getsockname()[1]
    shown = f"[{options.host}]" if ":" in options.host else options.host
    who = "one local user" if options.users is None else f"accounts of {options.users}"
    out.write(f"serving on http://{shown}:{port}/ for {who} (Ctrl-C stops)\n")
    out.flush()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
    return 0
