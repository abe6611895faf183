"""`packs serve` in a real browser: Debian's Chromium, driven by Playwright, checked by axe-core.

The server is a real `packs serve --port 0` process on 127.0.0.1 (tests/webserver.py); the
browser walks it as HR (sign in, search, open the seed profile, download the pack and one file,
compare them with `packs build`) and as a manager (profile pages yes, HR pages no). axe-core
(from the npm registry, installed by tasks.py) runs on every page: no serious or critical
violation. Every wait is bounded (Playwright timeouts, the server's start and stop).

`pytest --accept` (or ACCEPT_GOLDEN=1) also writes the screenshots in docs/.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, SEED_ID
from tests.webserver import (
    HR,
    MANAGER,
    make_users,
    reference_build,
    running_server,
    zip_members,
)

AXE = REPO / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js"
#: Milliseconds any one browser action or navigation may take.
STEP_TIMEOUT_MS = 20_000
DOCS = REPO / "docs"


def _required(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI (python3 tasks.py setup installs it)")
    pytest.skip(f"{what} is not installed (python3 tasks.py setup installs it)")


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        _required("Debian's chromium")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        _required("axe-core (.venv/node)")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="module")
def reference(work: Path) -> Path:
    return reference_build(work / "reference", SEED_ID)


@pytest.fixture(scope="module")
def server(work: Path) -> Iterator[str]:
    users = make_users(work / "users.json")
    with running_server(work, users=users) as url:
        yield url


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
            timeout=STEP_TIMEOUT_MS * 3,
        )
        try:
            yield launched
        finally:
            launched.close()


class Walk:
    """One browser context (its own cookies) with axe and console checks at every page."""

    def __init__(self, browser: Any, base: str, axe: str, downloads: Path) -> None:
        self.context = browser.new_context(
            accept_downloads=True, viewport={"width": 1200, "height": 900}
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(STEP_TIMEOUT_MS)
        self.page.set_default_navigation_timeout(STEP_TIMEOUT_MS)
        self.base = base
        self.axe = axe
        self.downloads = downloads
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def check_accessible(self, status_shown: int | None = None) -> None:
        """axe-core on the current page: no serious or critical violation; nothing in the
        console (but the browser's note of the page's own error status, when one is expected)."""
        self.page.evaluate(self.axe)
        result = self.page.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations']})"
        )
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert not bad, f"{self.page.url}: " + "; ".join(bad)
        expected = (
            f"error: Failed to load resource: the server responded with a status of {status_shown} "
        )
        errors = [
            m
            for m in self.console
            if m.startswith(("error", "pageerror")) and not m.startswith(expected)
        ]
        assert not errors, errors
        self.console.clear()

    def download(self, link_text: str) -> bytes:
        with self.page.expect_download(timeout=STEP_TIMEOUT_MS * 3) as info:
            self.page.get_by_role("link", name=link_text, exact=True).click()
        target = self.downloads / info.value.suggested_filename
        info.value.save_as(target)
        return target.read_bytes()

    def sign_in(self, name: str, password: str) -> None:
        self.page.get_by_label("Name").fill(name)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state()

    def screenshot(self, name: str, accept: bool) -> None:
        folder = DOCS if accept else self.downloads
        self.page.screenshot(path=str(folder / name), full_page=False)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def walk(browser: Any, server: str, axe_source: str, tmp_path: Path) -> Iterator[Walk]:
    w = Walk(browser, server, axe_source, tmp_path)
    try:
        yield w
    finally:
        w.close()


def test_hr_searches_opens_the_seed_and_downloads_what_packs_build_writes(
    walk: Walk, reference: Path, accept: bool
) -> None:
    page = walk.page
    walk.goto("/")
    assert page.url.startswith(walk.base + "/login?next=")
    walk.check_accessible()
    walk.screenshot("web-login.png", accept)
    walk.sign_in(*HR)
    assert page.url == walk.base + "/"
    walk.check_accessible()

    page.get_by_label("Text").fill("clinical trials")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    assert "q=clinical+trials" in page.url
    rows = page.locator("table.profiles tbody tr")
    assert rows.count() == 1
    walk.check_accessible()
    walk.screenshot("web-profiles.png", accept)

    page.get_by_role("link", name=SEED_ID).click()
    page.wait_for_load_state()
    assert page.url == f"{walk.base}/profiles/{SEED_ID}"
    assert page.get_by_role("heading", level=1).inner_text().startswith("Goal templates — ")
    walk.check_accessible()
    walk.screenshot("web-profile.png", accept)

    zipped = walk.download(f"Download all as {SEED_ID}.zip")
    assert zipped == (reference / f"{SEED_ID}.zip").read_bytes()
    members = zip_members(zipped)
    for path in (reference / SEED_ID).iterdir():
        assert members[f"{SEED_ID}/{path.name}"] == path.read_bytes()
    pdf = walk.download(f"{SEED_ID}.handout.pdf")
    assert pdf == (reference / SEED_ID / f"{SEED_ID}.handout.pdf").read_bytes()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert page.url.startswith(walk.base + "/login")
    walk.goto(f"/profiles/{SEED_ID}")
    assert page.url.startswith(walk.base + "/login?next=")


def test_a_manager_sees_profiles_but_hr_pages_are_refused(walk: Walk) -> None:
    page = walk.page
    walk.goto(f"/profiles/{SEED_ID}")
    walk.sign_in(*MANAGER)
    assert page.url == f"{walk.base}/profiles/{SEED_ID}"
    walk.check_accessible()
    walk.goto("/")
    assert page.get_by_role("heading", name="Download packs").count() == 0
    response = walk.goto("/download?pattern=*")
    assert response.status == 403
    assert "This page is for HR accounts." in page.inner_text("main")
    walk.check_accessible(status_shown=403)


def test_wrong_passwords_in_the_browser_end_in_a_lock_out(walk: Walk) -> None:
    page = walk.page
    walk.goto("/login")
    statuses = []
    for _ in range(6):
        page.get_by_label("Name").fill("nobody.here")
        page.get_by_label("Password").fill("wrong password")
        with page.expect_response(
            lambda r: r.url.endswith("/login") and r.request.method == "POST"
        ) as done:
            page.get_by_role("button", name="Sign in").click()
        statuses.append(done.value.status)
        page.wait_for_load_state()
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    assert page.get_by_role("alert").inner_text().startswith("Too many failed logins")
    walk.console = [m for m in walk.console if "status of 401" not in m]
    walk.check_accessible(status_shown=429)


@pytest.mark.parametrize(
    "target",
    [
        "/profiles/../../etc/passwd",
        "/profiles/../pyproject.toml",
        f"/profiles/{SEED_ID}/../../../../etc/passwd",
        f"/profiles/{SEED_ID}/../{SEED_ID}/manifest.json",
        "/static/../templates/base.html.j2",
        "/profiles/%2e%2e/%2e%2e/etc/passwd",
        f"/profiles/{SEED_ID}/%2e%2e%2f%2e%2e%2fusers.json",
    ],
)
def test_dot_dot_in_a_raw_request_line_is_404(server: str, target: str) -> None:
    """Sent byte for byte (a browser or httpx would resolve the `..` first)."""
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    status = reply.split(b"\r\n", 1)[0]
    assert status in (b"HTTP/1.1 404 Not Found", b"HTTP/1.1 303 See Other"), status
    assert b"root:" not in reply and b"scrypt$" not in reply and b"{% block" not in reply
