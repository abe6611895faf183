"""`packs serve` in a real browser: Debian's Chromium, driven by Playwright, checked by axe-core.

The server is a real `packs serve --port 0` process on 127.0.0.1 (tests/webserver.py); the
browser walks it as HR (sign in, search, open the seed profile, download the pack and one file,
compare them with `packs build`; start a cycle from a roster, wait for its build, download a
manager bundle, upload returned files, download results.xlsx), as a manager (profile pages
and their own bundle yes; another manager's bundle 404, HR pages 403), and as HR again (update
the cycle's roster from its page and wait for the rebuild; a bundle deleted on disk downloaded
again, built on demand as `packs cycle` builds it). axe-core
(from the npm registry, installed by tasks.py) runs on every page: no serious or critical
violation. Every wait is bounded (Playwright timeouts, the server's start and stop).

`pytest --accept` (or ACCEPT_GOLDEN=1) also writes the screenshots in docs/.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.adversarial.support import environment, run_cli
from tests.conftest import FIXED_EPOCH, REPO, SEED_ID
from tests.webserver import (
    HR,
    MANAGER,
    MANAGER_ID,
    make_users,
    reference_build,
    running_server,
    zip_members,
)

AXE = REPO / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js"
#: Milliseconds any one browser action or navigation may take.
STEP_TIMEOUT_MS = 20_000
#: Milliseconds a whole cycle build (five people, three profiles, handouts) may take.
CYCLE_TIMEOUT_MS = 600_000
CYCLE = "2027-browser"
PERIOD = "2027-01-01/2027-12-31"
#: employee id, name, profile, manager id: the browser's roster (a name that is markup too).
ROSTER = (
    ("E1000", "Top Person", SEED_ID, ""),
    (MANAGER_ID, "Max Manager", SEED_ID, "E1000"),
    ("E2002", "Olga Other", "ENGR.GEN.M2", "E1000"),
    ("E1101", "<script>alert(1)</script> Ann", SEED_ID, MANAGER_ID),
    ("E2201", "Secret Report of Olga", "ENGR.PLATFORM.P3", "E2002"),
)
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

    def await_cycle(self, cycle: str, status: str, names: list[str]) -> None:
        """On a cycle's build page: wait for the build to end with `status`, open the cycle and
        find its people's names as typed, axe at every step."""
        page = self.page
        assert page.url.startswith(self.base + "/cycles/new/")
        self.check_accessible()
        # the page's script polls the status and reloads the page when the build has ended
        opened = page.get_by_role("link", name=f"Open the cycle {cycle}")
        opened.wait_for(timeout=CYCLE_TIMEOUT_MS)
        assert page.get_by_role("status").inner_text().startswith(status)
        self.check_accessible()
        opened.click()
        page.wait_for_load_state()
        assert page.url == f"{self.base}/cycles/{cycle}"
        people = page.locator("section[aria-labelledby=people] tbody td:nth-child(2)")
        assert sorted(people.all_inner_texts()) == sorted(names)  # the markup name as typed
        self.check_accessible()

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
        "/cycles/../../etc/passwd",
        "/cycles/%2e%2e/managers/%2e%2e.zip",
        f"/cycles/{CYCLE}/managers/../../../users.json",
        f"/cycles/{CYCLE}/returns/%2e%2e%2fcycle.json",
        "/cycles/new/..%2f..%2fusers.json/status",
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


def write_roster(path: Path, rows: tuple[tuple[str, str, str, str], ...]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["employee_id", "name", "profile", "manager_id"])
        writer.writerows(rows)
    return path


def test_hr_builds_a_cycle_uploads_returns_and_downloads_the_results(
    walk: Walk, work: Path, accept: bool
) -> None:
    from openpyxl import load_workbook

    page = walk.page
    roster = write_roster(work / "roster.csv", ROSTER)
    walk.goto("/cycles")
    walk.sign_in(*HR)
    assert page.url == walk.base + "/cycles"
    walk.check_accessible()
    page.get_by_role("link", name="Start a cycle from a roster").click()
    page.wait_for_load_state()
    assert page.url == walk.base + "/cycles/new"
    walk.check_accessible()
    page.get_by_label("Roster").set_input_files(str(roster))
    page.get_by_label("Cycle name").fill(CYCLE)
    page.get_by_label("Review period").fill(PERIOD)
    walk.screenshot("web-cycle-new.png", accept)
    page.get_by_role("button", name="Build the cycle").click()
    page.wait_for_load_state()
    walk.await_cycle(CYCLE, "Built: built 5, skipped 0", [r[1] for r in ROSTER])
    walk.screenshot("web-cycle.png", accept)

    bundle = walk.download(f"{MANAGER_ID}.zip")
    on_disk = work / "served-out" / "cycles" / CYCLE / "managers" / f"{MANAGER_ID}.zip"
    assert bundle == on_disk.read_bytes()
    members = zip_members(bundle)
    assert f"handouts/{SEED_ID}.handout.pdf" in members
    returned = []
    for name in ("E1101.review-form.docx", "E1101.mbo-tracker.xlsx"):
        target = walk.downloads / f"returned {name}"
        target.write_bytes(members[f"E1101/{name}"])
        returned.append(str(target))

    page.get_by_role("link", name="Returned files and results").click()
    page.wait_for_load_state()
    walk.check_accessible()
    page.get_by_label("Returned review forms (.docx) and trackers (.xlsx)").set_input_files(
        returned
    )
    page.get_by_role("button", name="Upload and read them").click()
    page.wait_for_load_state()
    verdicts = page.locator("table#returned tbody td:nth-child(4)").all_inner_texts()
    assert verdicts == ["ok", "ok"]
    assert "Returned by 1 of 5 people." in page.inner_text("main")
    walk.check_accessible()
    walk.screenshot("web-cycle-returns.png", accept)
    results = walk.download("Download results.xlsx")
    book = load_workbook(io.BytesIO(results), read_only=True)
    try:
        assert book.sheetnames == ["Results", "Returns", "People", "Summary"]
        rows = list(book["Returns"].iter_rows(min_row=2, values_only=True))
        assert [(r[0], r[3], r[4]) for r in rows] == [
            ("returned E1101.review-form.docx", "E1101", "ok"),
            ("returned E1101.mbo-tracker.xlsx", "E1101", "ok"),
        ]
        people = {r[0]: r for r in book["People"].iter_rows(min_row=2, values_only=True)}
        assert people["E1101"][1] == "<script>alert(1)</script> Ann"
    finally:
        book.close()


def test_a_manager_downloads_only_their_own_bundle(walk: Walk, work: Path) -> None:
    """Runs after the HR walk above, which builds the cycle."""
    page = walk.page
    if not (work / "served-out" / "cycles" / CYCLE / "cycle.json").is_file():
        pytest.fail("the HR walk did not build the cycle")
    walk.goto(f"/cycles/{CYCLE}")
    walk.sign_in(*MANAGER)
    assert page.url == f"{walk.base}/cycles/{CYCLE}"
    ids = page.locator("section[aria-labelledby=people] tbody td:nth-child(1)").all_inner_texts()
    assert ids == ["E1101"]
    text = page.inner_text("main")
    assert "Secret Report of Olga" not in text and "E2002.zip" not in text
    walk.check_accessible()
    bundle = walk.download(f"{MANAGER_ID}.zip")
    on_disk = work / "served-out" / "cycles" / CYCLE / "managers" / f"{MANAGER_ID}.zip"
    assert bundle == on_disk.read_bytes()
    with zipfile.ZipFile(io.BytesIO(bundle)) as z:
        assert all(not n.startswith("E2201/") for n in z.namelist())
    response = walk.goto(f"/cycles/{CYCLE}/managers/E2002.zip")
    assert response.status == 404
    assert "No such bundle in this cycle." in page.inner_text("main")
    walk.check_accessible(status_shown=404)
    for hr_page in (f"/cycles/{CYCLE}/returns", "/cycles/new"):
        response = walk.goto(hr_page)
        assert response.status == 403, hr_page
        assert "This page is for HR accounts." in page.inner_text("main")
        walk.check_accessible(status_shown=403)


def test_hr_updates_the_roster_and_a_missing_bundle_is_built_on_demand(
    walk: Walk, work: Path
) -> None:
    """Runs after the walks above (the HR walk builds the cycle). HR uploads a changed roster
    on the cycle's page (`/cycles/<NAME>/roster`: one person renamed), waits for the rebuild,
    sees the new name; then a manager bundle deleted from the cycle's folder is downloaded from
    the page: built again on demand, the bytes `packs cycle` writes for the same cycle."""
    page = walk.page
    cycle_dir = work / "served-out" / "cycles" / CYCLE
    if not (cycle_dir / "cycle.json").is_file():
        pytest.fail("the HR walk did not build the cycle")
    renamed = "Ann <b>Renamed</b> & Co"
    updated = tuple((e, renamed if e == "E1101" else n, p, m) for e, n, p, m in ROSTER)
    roster = write_roster(work / "updated roster.csv", updated)
    walk.goto(f"/cycles/{CYCLE}")
    walk.sign_in(*HR)
    assert page.url == f"{walk.base}/cycles/{CYCLE}"
    page.get_by_label("New roster").set_input_files(str(roster))
    page.get_by_role("button", name="Update the cycle").click()
    page.wait_for_load_state()
    walk.await_cycle(CYCLE, "Built: built 1, skipped 4", [r[1] for r in updated])

    bundle = cycle_dir / "managers" / f"{MANAGER_ID}.zip"
    before = bundle.read_bytes()
    bundle.unlink()
    # `packs cycle` itself over a copy of the cycle as it stands, its bundle missing too
    by_cli = work / "cli-out"
    shutil.copytree(cycle_dir, by_cli / "cycles" / CYCLE)
    argv = ["cycle", str(roster), "--name", CYCLE, "--period", PERIOD, "--zip", "--jobs", "1"]
    with environment(SOURCE_DATE_EPOCH=str(FIXED_EPOCH)):
        done = run_cli([*argv, "--canon", str(REPO / "canon"), "--out", str(by_cli)], REPO)
    assert done.code == 0, done.err
    assert done.out.startswith("built 0, skipped 5"), done.out  # only the bundle was missing
    downloaded = walk.download(f"{MANAGER_ID}.zip")
    assert downloaded == (by_cli / "cycles" / CYCLE / "managers" / f"{MANAGER_ID}.zip").read_bytes()
    assert downloaded == bundle.read_bytes() == before
