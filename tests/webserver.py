"""What the `packs serve` tests share: sites over a canon, accounts, a real server process.

A real server is `packs serve --port 0` in a child process, bound to 127.0.0.1, read for the
address it prints, and stopped (SIGTERM, then SIGKILL) when the test is done: nothing outlives
the test, and nothing waits without a bound.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.testclient import TestClient

from pipeline.extract import load_canon
from pipeline.layout import RenderOptions, load_layout
from pipeline.serve.accounts import Accounts, add_user, load_accounts
from pipeline.serve.app import Site, create_app
from pipeline.serve.packs import Catalogue, PackStore
from pipeline.serve.sessions import LoginThrottle
from tests.adversarial.support import environment, run_cli
from tests.conftest import FIXED_EPOCH, REPO

HR = ("hana.hr", "correct horse battery staple")
MANAGER = ("max.manager", "manager password 42")
MANAGER_ID = "E1001"
SERVER_START_SECONDS = 60.0


def make_users(path: Path) -> Path:
    add_user(path, HR[0], "hr", HR[1])
    add_user(path, MANAGER[0], "manager", MANAGER[1], MANAGER_ID)
    return path


def make_site(
    canon_dir: Path,
    out: Path,
    accounts: Accounts | None = None,
    throttle: LoginThrottle | None = None,
) -> Site:
    canon = load_canon(canon_dir)
    store = PackStore(
        canon, out, load_layout("default"), RenderOptions(page_size="A4", timestamp=FIXED_EPOCH)
    )
    return Site(
        Catalogue(canon),
        store,
        accounts,
        throttle=throttle or LoginThrottle(),
        failed_login_delay=0.0,
    )


def make_client(site: Site, local: bool | None = None) -> TestClient:
    """A TestClient on 127.0.0.1; a local site (no accounts) gets the loopback Host check."""
    local = site.accounts is None if local is None else local
    hosts = ["127.0.0.1", "localhost"] if local else None
    app: Starlette = create_app(site, allowed_hosts=hosts)
    return TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)


def accounts_file(folder: Path) -> tuple[Path, Accounts]:
    path = make_users(folder / "users.json")
    return path, load_accounts(path)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def log_in(client: TestClient, name: str, password: str) -> None:
    form = client.get("/login")
    done = client.post(
        "/login", data={"name": name, "password": password, "csrf": csrf_of(form.text)}
    )
    assert done.status_code == 303, done.text


def reference_build(out: Path, *patterns: str) -> Path:
    """`packs build PATTERNS --zip --jobs 1` as a user runs it (SOURCE_DATE_EPOCH fixed)."""
    with environment(SOURCE_DATE_EPOCH=str(FIXED_EPOCH)):
        done = run_cli(
            [
                "build",
                *patterns,
                "--canon",
                str(REPO / "canon"),
                "--out",
                str(out),
                "--zip",
                "--jobs",
                "1",
            ],
            REPO,
        )
    assert done.code == 0, done.err
    return out


def zip_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        return {name: z.read(name) for name in z.namelist()}


@contextlib.contextmanager
def running_server(
    tmp: Path, users: Path | None = None, canon: Path | None = None
) -> Iterator[str]:
    """`packs serve` on 127.0.0.1, port 0, in a child process; yields its base URL."""
    argv = [
        sys.executable,
        "-m",
        "pipeline",
        "serve",
        "--canon",
        str(canon or REPO / "canon"),
        "--out",
        str(tmp / "served-out"),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ]
    if users is not None:
        argv += ["--users", str(users)]
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(FIXED_EPOCH), "PYTHONUNBUFFERED": "1"}
    log = tmp / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=tmp)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        url = None
        while url is None:
            found = re.search(rb"serving on (http://\S+/)", log.read_bytes())
            if found:
                url = found.group(1).decode()
            elif process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"packs serve did not start:\n{log.read_text()}")
            else:
                time.sleep(0.05)
        yield url.rstrip("/")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def manifest_files(folder: Path) -> list[str]:
    return [str(f["path"]) for f in json.loads((folder / "manifest.json").read_bytes())["files"]]
