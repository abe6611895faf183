"""`packs serve`'s cycle pages at the HTTP level (Starlette's TestClient): the cycles, their
people and bundles, and who may see which.

One cycle is built once for the module by `packs cycle --zip` itself (docx and xlsx: the
handout is the profile pages' business); every download must be its bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import stat
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future
from pathlib import Path

import pytest
from httpx2 import Response
from lxml import html as lxml_html
from starlette.testclient import TestClient

from pipeline.build.lock import BuildBusy, build_lock
from pipeline.cycle import check_arguments, read_cycle_json
from pipeline.diagnostics import PacksError
from pipeline.serve.accounts import add_user, load_accounts
from pipeline.serve.app import Site
from pipeline.serve.pool import Workers
from pipeline.serve.worker import BuildRequest, Refreshed, run_build
from tests.adversarial.conftest import CODE_TEXTS
from tests.conftest import CANON_DIR, FIXED_EPOCH, SEED_ID
from tests.test_cycle_build import NAME, PERIOD, run_cycle
from tests.test_cycle_build import write_roster as write_rows
from tests.webserver import HR, MANAGER, MANAGER_ID, csrf_of, log_in, make_client, make_site

OTHER_MANAGER = ("olga.manager", "another manager password")
OTHER_ID = "E2002"
#: Names that are code somewhere (no control characters: a roster refuses those).
HOSTILE = tuple(t for t in CODE_TEXTS if t.isprintable())
#: employee id -> (name, profile, manager id)
PEOPLE = {
    "E1000": ("Top <b>Boss</b>", SEED_ID, ""),
    MANAGER_ID: ("Max Manager", SEED_ID, "E1000"),
    OTHER_ID: ("Olga Other", "ENGR.GEN.M2", "E1000"),
    **{
        f"E11{i:02d}": (text, "ENGR.PLATFORM.P2" if i % 2 else SEED_ID, MANAGER_ID)
        for i, text in enumerate(HOSTILE)
    },
    "E2201": ("Secret Person of Olga", "ENGR.PLATFORM.P3", OTHER_ID),
}


def write_roster(path: Path) -> Path:
    """PEOPLE as a roster (as `tests.test_cycle_build` writes its rosters)."""
    fields = ("employee_id", "name", "profile", "manager_id")
    write_rows(path, [dict(zip(fields, (eid, *row), strict=True)) for eid, row in PEOPLE.items()])
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`packs cycle roster.csv --zip` into a fresh out/ (SOURCE_DATE_EPOCH fixed)."""
    base = tmp_path_factory.mktemp("cycle")
    roster = write_roster(base / "roster.csv")
    out = base / "out"
    mp = pytest.MonkeyPatch()
    mp.setenv("SOURCE_DATE_EPOCH", str(FIXED_EPOCH))
    try:
        code = run_cycle(roster, out, "--formats", "docx,xlsx", "--zip", "--jobs", "1")
    finally:
        mp.undo()
    assert code == 0
    return out


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.json"
    add_user(path, HR[0], "hr", HR[1])
    add_user(path, MANAGER[0], "manager", MANAGER[1], MANAGER_ID)
    add_user(path, OTHER_MANAGER[0], "manager", OTHER_MANAGER[1], OTHER_ID)
    add_user(path, "no.reports", "manager", "a manager without reports", "E9999")
    return path


@pytest.fixture
def client(built: Path, users: Path) -> Iterator[TestClient]:
    site = make_site(CANON_DIR, built, load_accounts(users))
    with make_client(site) as c:
        yield c


@contextlib.contextmanager
def serving(out: Path, users: Path, canon: Path = CANON_DIR) -> Iterator[tuple[TestClient, Site]]:
    """A site over `out` with the module's accounts, its client, and its worker processes
    ended afterwards."""
    site = make_site(canon, out, load_accounts(users))
    try:
        with make_client(site) as client:
            yield client, site
    finally:
        site.workers.close()


def as_user(client: TestClient, who: tuple[str, str]) -> TestClient:
    log_in(client, *who)
    return client


def page(text: str) -> lxml_html.HtmlElement:
    return lxml_html.fromstring(text)


def main_text(response_text: str) -> str:
    return " ".join(" ".join(page(response_text).xpath("//main")[0].itertext()).split())


# --- the pages ------------------------------------------------------------------------------------


def test_hr_sees_every_cycle_person_and_bundle(client: TestClient, built: Path) -> None:
    as_user(client, HR)
    listing = page(client.get("/cycles").text)
    assert listing.xpath("//table[@id='cycles']//td[1]/a/@href") == [f"/cycles/{NAME}"]
    response = client.get(f"/cycles/{NAME}")
    assert response.status_code == 200
    tree = page(response.text)
    ids = tree.xpath("//section[@aria-labelledby='people']//tbody/tr/td[1]/text()")
    assert sorted(ids) == sorted(PEOPLE)
    bundles = tree.xpath("//section[@aria-labelledby='bundles']//a/@href")
    record = read_cycle_json(built / "cycles" / NAME / "cycle.json")
    assert bundles == [f"/cycles/{NAME}/managers/{m}.zip" for m in sorted(record.managers)]
    assert sorted(record.managers) == ["E1000", MANAGER_ID, OTHER_ID]


def test_a_bundle_is_the_bytes_packs_cycle_wrote(client: TestClient, built: Path) -> None:
    as_user(client, HR)
    for manager in ("E1000", MANAGER_ID, OTHER_ID):
        response = client.get(f"/cycles/{NAME}/managers/{manager}.zip")
        assert response.status_code == 200
        expected = (built / "cycles" / NAME / "managers" / f"{manager}.zip").read_bytes()
        assert response.content == expected
        assert response.headers["content-type"] == "application/zip"
        assert response.headers["content-disposition"].startswith(
            f'attachment; filename="{manager}.zip"'
        )
        etag = response.headers["etag"]
        assert etag == f'"sha256-{hashlib.sha256(expected).hexdigest()}"'
        again = client.get(
            f"/cycles/{NAME}/managers/{manager}.zip", headers={"if-none-match": etag}
        )
        assert again.status_code == 304 and again.content == b""


def test_a_manager_sees_only_their_reports_and_their_bundle(client: TestClient) -> None:
    as_user(client, MANAGER)
    assert page(client.get("/cycles").text).xpath("//table[@id='cycles']//td[1]/a/text()") == [NAME]
    response = client.get(f"/cycles/{NAME}")
    assert response.status_code == 200
    tree = page(response.text)
    ids = tree.xpath("//section[@aria-labelledby='people']//tbody/tr/td[1]/text()")
    mine = sorted(e for e, (_n, _p, m) in PEOPLE.items() if m == MANAGER_ID)
    assert sorted(ids) == mine
    text = main_text(response.text)
    for eid, (name, _profile, manager) in PEOPLE.items():
        if manager != MANAGER_ID and eid != MANAGER_ID:
            assert name not in text and eid not in text, eid
    assert tree.xpath("//section[@aria-labelledby='bundles']//a/@href") == [
        f"/cycles/{NAME}/managers/{MANAGER_ID}.zip"
    ]
    assert client.get(f"/cycles/{NAME}/managers/{MANAGER_ID}.zip").status_code == 200
    for other in (OTHER_ID, "E1000"):
        refused = client.get(f"/cycles/{NAME}/managers/{other}.zip")
        assert refused.status_code == 404, other
        assert refused.headers["content-type"].startswith("text/html")
        assert b"PK" not in refused.content[:4]
    assert f"/cycles/{NAME}/returns" not in response.text


def test_another_manager_sees_only_theirs(client: TestClient) -> None:
    as_user(client, OTHER_MANAGER)
    text = main_text(client.get(f"/cycles/{NAME}").text)
    assert "Secret Person of Olga" in text and "Max Manager" not in text
    assert "E1101" not in text
    assert client.get(f"/cycles/{NAME}/managers/{MANAGER_ID}.zip").status_code == 404


def test_a_manager_without_reports_sees_no_cycle(client: TestClient) -> None:
    as_user(client, ("no.reports", "a manager without reports"))
    assert "No review cycle with your reports yet." in client.get("/cycles").text
    assert client.get(f"/cycles/{NAME}").status_code == 404
    assert client.get(f"/cycles/{NAME}/managers/{MANAGER_ID}.zip").status_code == 404


def test_without_a_session_cycle_pages_go_to_the_login(client: TestClient) -> None:
    for url in ("/cycles", f"/cycles/{NAME}", f"/cycles/{NAME}/managers/{MANAGER_ID}.zip"):
        response = client.get(url)
        assert response.status_code == 303, url
        assert response.headers["location"].startswith("/login?next=")


def test_roster_names_render_literally(client: TestClient) -> None:
    as_user(client, HR)
    response = client.get(f"/cycles/{NAME}")
    tree = page(response.text)
    assert not tree.xpath("//main//script | //main//style | //main//img | //main//iframe")
    assert not [a for el in tree.iter() for a in el.attrib if a.lower().startswith("on")]
    cells = tree.xpath("//section[@aria-labelledby='people']//tbody/tr/td[2]/text()")
    for name in [PEOPLE["E1000"][0], *HOSTILE]:
        assert name in cells, name
    assert "49" not in main_text(response.text)


@pytest.mark.parametrize(
    "path",
    [
        "/cycles/%2e%2e",
        "/cycles/..%2f..%2fetc",
        "/cycles/%2e%2e/managers/E1001.zip",
        f"/cycles/{NAME}/managers/%2e%2e.zip",
        f"/cycles/{NAME}/managers/..%2f..%2fcycle.json",
        f"/cycles/{NAME}/managers/%2e%2e%2f%2e%2e%2fcycle.zip",
        f"/cycles/{NAME}/managers/E1001.zip%00",
        f"/cycles/{NAME}/managers/E1001",
        f"/cycles/{NAME}/managers/e1001.zip",
        "/cycles/2027-ANNUAL",
        "/cycles/.builds",
        "/cycles/NOPE",
    ],
)
def test_path_parameters_outside_a_cycle_are_404(client: TestClient, path: str) -> None:
    as_user(client, HR)
    response = client.get(path)
    assert response.status_code == 404
    assert b"PK" not in response.content[:4] and b'"people"' not in response.content


def test_a_bundle_edited_behind_cycle_json_is_never_served(
    tmp_path: Path, built: Path, users: Path
) -> None:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(built, out)
    bundle = out / "cycles" / NAME / "managers" / f"{MANAGER_ID}.zip"
    data = bytearray(bundle.read_bytes())
    data[-30] ^= 1
    bundle.write_bytes(bytes(data))
    with make_client(make_site(CANON_DIR, out, load_accounts(users))) as client:
        as_user(client, HR)
        response = client.get(f"/cycles/{NAME}/managers/{MANAGER_ID}.zip")
    assert response.status_code == 500
    assert b"does not match cycle.json" in response.content


# --- bundles built again when missing or stale ------------------------------------------------


def inodes(cycle_dir: Path, folder: str) -> dict[str, int]:
    return {
        str(p.relative_to(cycle_dir)): p.stat().st_ino
        for p in (cycle_dir / folder).rglob("*")
        if p.is_file()
    }


def cli_cycle(roster: Path, out: Path, *extra: str) -> None:
    """`packs cycle` as the `built` fixture runs it (SOURCE_DATE_EPOCH fixed), into `out`."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SOURCE_DATE_EPOCH", str(FIXED_EPOCH))
    try:
        code = run_cycle(roster, out, "--formats", "docx,xlsx", "--zip", "--jobs", "1", *extra)
    finally:
        mp.undo()
    assert code == 0


def test_a_missing_bundle_is_built_again_as_packs_cycle_wrote_it(
    tmp_path: Path, built: Path, users: Path
) -> None:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(built, out)
    cycle_dir = out / "cycles" / NAME
    original = (cycle_dir / "managers" / f"{MANAGER_ID}.zip").read_bytes()
    people = inodes(cycle_dir, "people")
    for manager in (MANAGER_ID, OTHER_ID):
        (cycle_dir / "managers" / f"{manager}.zip").unlink()
    with serving(out, users) as (client, _site):
        as_user(client, MANAGER)
        # another manager's bundle: 404 whether or not it is on disk, and not built
        assert client.get(f"/cycles/{NAME}/managers/{OTHER_ID}.zip").status_code == 404
        assert not (cycle_dir / "managers" / f"{OTHER_ID}.zip").exists()
        response = client.get(f"/cycles/{NAME}/managers/{MANAGER_ID}.zip")
        assert response.status_code == 200, response.text
        assert response.content == original
        assert response.headers["etag"] == f'"sha256-{hashlib.sha256(original).hexdigest()}"'
    # the cycle as `packs cycle` left it; nobody's files rendered again
    assert (cycle_dir / "cycle.json").read_bytes() == (
        built / "cycles" / NAME / "cycle.json"
    ).read_bytes()
    assert inodes(cycle_dir, "people") == people
    assert (cycle_dir / "managers" / f"{OTHER_ID}.zip").read_bytes() == (
        built / "cycles" / NAME / "managers" / f"{OTHER_ID}.zip"
    ).read_bytes()


def test_a_bundle_of_a_cycle_built_elsewhere_is_busy_not_failed(
    tmp_path: Path, built: Path, users: Path
) -> None:
    """A missing bundle while another build holds the cycle's lock (`packs cycle` in a
    terminal): 503 with Retry-After, nothing written; once the lock is free, the bundle."""
    import shutil

    out = tmp_path / "out"
    shutil.copytree(built, out)
    cycle_dir = out / "cycles" / NAME
    bundle = cycle_dir / "managers" / f"{MANAGER_ID}.zip"
    original = bundle.read_bytes()
    bundle.unlink()
    with serving(out, users) as (client, _site):
        as_user(client, HR)
        with build_lock(cycle_dir):
            busy = client.get(f"/cycles/{NAME}/managers/{MANAGER_ID}.zip")
        assert busy.status_code == 503, busy.text
        assert busy.headers["retry-after"] == "5"
        assert "being built" in busy.text and "could not be brought up to date" not in busy.text
        assert not bundle.exists()
        response = client.get(f"/cycles/{NAME}/managers/{MANAGER_ID}.zip")
        assert response.status_code == 200, response.text
        assert response.content == original


def test_a_refresh_tells_busy_from_failed_by_the_locks_type_not_its_words(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.serve.worker as worker

    site = make_site(CANON_DIR, built)
    record = site.cycles.record(NAME)
    assert record is not None
    request = site.cycles.refresh_request(record)

    def refusing(error: PacksError) -> Callable[..., None]:
        def call(*_args: object, **_kwargs: object) -> None:
            raise error

        return call

    monkeypatch.setattr(worker, "cycle", refusing(BuildBusy("held (pid 7): other words")))
    assert worker.run_refresh(request) == (Refreshed.BUSY, "held (pid 7): other words")
    failed = PacksError("roster: in use by another build, says a message that is not the lock")
    monkeypatch.setattr(worker, "cycle", refusing(failed))
    assert worker.run_refresh(request) == (Refreshed.FAILED, str(failed))


def test_a_canon_edit_makes_bundles_stale_and_they_are_built_as_packs_cycle_builds_them(
    tmp_path: Path, built: Path, users: Path
) -> None:
    import shutil

    canon = tmp_path / "canon"
    shutil.copytree(CANON_DIR, canon)
    focus = canon / "focuses" / "ENGR.PLATFORM.yaml"
    text = focus.read_text(encoding="utf-8")
    old = next(line for line in text.splitlines() if line.strip().startswith('- "'))
    focus.write_text(text.replace(old, old[:-1] + ' (edited)"', 1), encoding="utf-8")
    served, by_cli = tmp_path / "served", tmp_path / "cli"
    shutil.copytree(built, served)
    shutil.copytree(built, by_cli)  # the same cycle (its secret too), updated by `packs cycle`
    cli_cycle(write_roster(tmp_path / "roster.csv"), by_cli, "--canon", str(canon))
    cycle_dir = served / "cycles" / NAME
    before = inodes(cycle_dir, "people")
    with serving(served, users, canon) as (client, _site):
        as_user(client, HR)
        response = client.get(f"/cycles/{NAME}/managers/{MANAGER_ID}.zip")
        assert response.status_code == 200, response.text
        expected = (by_cli / "cycles" / NAME / "managers" / f"{MANAGER_ID}.zip").read_bytes()
        assert response.content == expected
        assert expected != (built / "cycles" / NAME / "managers" / f"{MANAGER_ID}.zip").read_bytes()
        # now current: served as it is, nothing built again
        assert client.get(f"/cycles/{NAME}/managers/{OTHER_ID}.zip").status_code == 200
    assert (cycle_dir / "cycle.json").read_bytes() == (
        by_cli / "cycles" / NAME / "cycle.json"
    ).read_bytes()
    # only the people whose profile changed were rendered again
    was = {
        p.employee_id: p.files
        for p in read_cycle_json(built / "cycles" / NAME / "cycle.json").people
    }
    now = read_cycle_json(cycle_dir / "cycle.json").people
    changed = {p.employee_id for p in now if p.files != was[p.employee_id]}
    assert changed and len(changed) < len(now)
    after = inodes(cycle_dir, "people")
    assert {path.split("/")[1] for path in before if after[path] != before[path]} == changed


def test_a_hand_edited_cycle_json_is_not_built_again(
    tmp_path: Path, built: Path, users: Path
) -> None:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(built, out)
    cycle_dir = out / "cycles" / NAME
    raw = json.loads((cycle_dir / "cycle.json").read_bytes())
    person = next(p for p in raw["people"] if p["manager_id"] == MANAGER_ID)
    person["employee_id"] = "../../escaped"
    (cycle_dir / "cycle.json").write_text(json.dumps(raw), encoding="utf-8")
    (cycle_dir / "managers" / f"{MANAGER_ID}.zip").unlink()
    with serving(out, users) as (client, _site):
        as_user(client, HR)
        response = client.get(f"/cycles/{NAME}/managers/{MANAGER_ID}.zip")
    assert response.status_code == 500
    assert "cannot be built again" in response.text and "not a safe file name" in response.text
    assert not list(tmp_path.rglob("escaped*"))
    assert not (cycle_dir / "managers" / f"{MANAGER_ID}.zip").exists()


def test_a_cycle_built_with_other_settings_is_never_built_again_with_the_servers(
    tmp_path: Path, users: Path
) -> None:
    """A cycle built with a form password (and Letter pages, the salary line) is stale to a
    server without them; the server serves its bundles as they are, and where one is missing
    answers 409 rather than rebuilding everyone's forms without the password."""
    out = tmp_path / "out"
    roster = write_roster(tmp_path / "roster.csv")
    options = ("--form-password", "a cycle password", "--page-size", "Letter", "--include-salary")
    cli_cycle(roster, out, *options)
    cycle_dir = out / "cycles" / NAME
    recorded = (cycle_dir / "cycle.json").read_bytes()
    assert b"a cycle password" not in recorded
    kept = (cycle_dir / "managers" / f"{OTHER_ID}.zip").read_bytes()
    (cycle_dir / "managers" / f"{MANAGER_ID}.zip").unlink()
    people = inodes(cycle_dir, "people")
    with serving(out, users) as (client, _site):
        as_user(client, HR)
        missing = client.get(f"/cycles/{NAME}/managers/{MANAGER_ID}.zip")
        assert missing.status_code == 409
        assert "built with other settings" in missing.text and "packs cycle" in missing.text
        present = client.get(f"/cycles/{NAME}/managers/{OTHER_ID}.zip")
        assert present.status_code == 200 and present.content == kept
        refused = update_cycle(client, roster.read_bytes())
        assert refused.status_code == 400 and "built with other settings" in refused.text
    assert (cycle_dir / "cycle.json").read_bytes() == recorded
    assert inodes(cycle_dir, "people") == people
    assert not (cycle_dir / "managers" / f"{MANAGER_ID}.zip").exists()


def test_a_cycle_json_naming_another_cycle_is_not_shown(
    tmp_path: Path, built: Path, users: Path
) -> None:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(built / "cycles" / NAME, out / "cycles" / "copied")
    raw = json.loads((out / "cycles" / "copied" / "cycle.json").read_bytes())
    assert raw["cycle"] == NAME
    with make_client(make_site(CANON_DIR, out, load_accounts(users))) as client:
        as_user(client, HR)
        assert client.get("/cycles/copied").status_code == 404
        assert "copied" not in client.get("/cycles").text


# --- /cycles/new ----------------------------------------------------------------------------------

SMALL_ROSTER = (
    "employee_id;name;profile;manager_id\r\n"
    f"B1;Boss <b>One</b>;{SEED_ID};\r\n"
    f"B2;{{{{ 7*7 }}}};ENGR.GEN.M2;B1\r\n"
    f"B3;<script>alert(1)</script>;{SEED_ID};B1\r\n"
).encode("utf-8-sig")


@pytest.fixture
def fresh(tmp_path: Path, users: Path) -> Iterator[tuple[TestClient, Site]]:
    with serving(tmp_path / "out", users) as served:
        yield served


def new_cycle(
    client: TestClient, roster: bytes, name: str = "web-2027", filename: str = "roster.csv"
) -> Response:
    csrf = csrf_of(client.get("/cycles/new").text)
    return client.post(
        "/cycles/new",
        data={"csrf": csrf, "name": name, "period": PERIOD},
        files={"roster": (filename, roster, "text/csv")},
    )


def test_hr_builds_a_cycle_from_an_uploaded_roster(fresh: tuple[TestClient, Site]) -> None:
    client, site = fresh
    as_user(client, HR)
    form = client.get("/cycles/new")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    started = new_cycle(client, SMALL_ROSTER)
    assert started.status_code == 303, started.text
    location = started.headers["location"]
    job = location.rsplit("/", 1)[1]
    assert location == f"/cycles/new/{job}"
    stored = list((site.store.out / "cycles" / ".builds" / job).iterdir())
    assert sorted(p.name for p in stored) == ["roster.csv", "status.json"]
    assert (stored[0].stat().st_mode & 0o077) == 0
    site.workers.wait(job, timeout=900)
    status = client.get(f"{location}/status").json()
    assert status["state"] == "done" and status["done"] == status["total"] == 2, status
    assert status["text"].startswith("Built: built 3, skipped 0, failed 0")
    shown = client.get(location)  # the page after a reload
    assert shown.status_code == 200
    assert page(shown.text).xpath("//a[@class='button']/@href") == ["/cycles/web-2027"]
    assert not page(shown.text).xpath("//script")  # no polling once it has ended
    people = page(client.get("/cycles/web-2027").text)
    assert people.xpath("//section[@aria-labelledby='people']//tbody/tr/td[2]/text()") == [
        "Boss <b>One</b>",
        "{{ 7*7 }}",
        "<script>alert(1)</script>",
    ]
    root = site.store.out / "cycles" / "web-2027"
    record = read_cycle_json(root / "cycle.json")
    assert sorted(record.managers) == ["B1"] and len(record.handouts) == 2
    bundle = client.get("/cycles/web-2027/managers/B1.zip")
    assert bundle.content == (root / "managers" / "B1.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as z:
        names = z.namelist()
    assert "B2/B2.review-form.docx" in names and f"handouts/{SEED_ID}.handout.pdf" in names
    again = new_cycle(client, SMALL_ROSTER)
    assert again.status_code == 400
    assert (
        "--name: error: a cycle &#39;web-2027&#39; exists already (`packs cycle` updates it)"
        in again.text
    )


def test_a_running_build_shows_progress_and_a_script_that_polls(
    fresh: tuple[TestClient, Site],
) -> None:
    client, site = fresh
    as_user(client, HR)
    job, folder = site.workers.new_job()
    (folder / "status.json").write_text(
        json.dumps(
            {"job": job, "cycle": "x", "state": "running", "done": 3, "total": 7, "message": ""}
            | {"problems": [], "period": PERIOD}
        )
    )
    site.workers._futures[job] = Future()  # a build of this server, still running
    tree = page(client.get(f"/cycles/new/{job}").text)
    assert tree.xpath("//progress/@value") == ["3"] and tree.xpath("//progress/@max") == ["7"]
    assert tree.xpath("//script/@src") == ["/static/cycle-progress.js"]
    assert tree.xpath("//div[@id='build-status']/@data-status") == [f"/cycles/new/{job}/status"]
    status = client.get(f"/cycles/new/{job}/status").json()
    assert status == {
        "state": "running",
        "done": 3,
        "total": 7,
        "cycle": "x",
        "text": "Building: 3 of 7 profiles done",
    }
    script = client.get("/static/cycle-progress.js")
    assert script.status_code == 200 and "fetch(" in script.text
    del site.workers._futures[job]  # the server restarted: the build is gone
    assert client.get(f"/cycles/new/{job}/status").json()["state"] == "failed"


def test_roster_problems_are_shown_located_and_escaped(fresh: tuple[TestClient, Site]) -> None:
    client, site = fresh
    as_user(client, HR)
    bad = (
        "employee_id,name,profile,manager_id\n"
        f"E1,<script>x</script>,{SEED_ID},\n"
        "E1,Dup,ENGR.PLATFORM.P9,E9\n"
    ).encode()
    response = new_cycle(client, bad, name="../x")
    assert response.status_code == 400
    lines = page(response.text).xpath("//div[@class='problems']//code/text()")
    assert lines == [
        "--name: error: '../x' is not a safe folder name (expected 1–64 letters, digits, '.', "
        "'_' or '-', starting with a letter or digit, such as 2027-annual) [cycle-name]",
        "roster.csv:2: error: column 'employee_id': duplicate employee id 'E1' (also on line 3)"
        " [roster-duplicate]",
        "roster.csv:3: error: column 'employee_id': duplicate employee id 'E1' (also on line 2)"
        " [roster-duplicate]",
        "roster.csv:3: error: column 'profile': unknown profile 'ENGR.PLATFORM.P9' (did you mean"
        " ENGR.PLATFORM.P3?) [roster-profile]",
        "4 problems found",
    ]
    assert "<script>x</script>" not in response.text
    assert not (site.store.out / "cycles").exists() or not list(
        (site.store.out / "cycles" / ".builds").iterdir()
    )
    assert "a roster is a .csv or .xlsx" in new_cycle(client, bad, filename="r.txt").text
    assert "is the name of this page" in new_cycle(client, SMALL_ROSTER, name="new").text


def test_a_cycle_upload_needs_hr_csrf_and_a_bounded_body(
    fresh: tuple[TestClient, Site], users: Path, tmp_path: Path
) -> None:
    client, site = fresh
    as_user(client, MANAGER)
    assert client.get("/cycles/new").status_code == 403
    assert "Start a cycle" not in client.get("/cycles").text
    refused = client.post(
        "/cycles/new",
        data={"name": "x", "period": PERIOD},
        files={"roster": ("roster.csv", SMALL_ROSTER, "text/csv")},
    )
    assert refused.status_code == 403
    client.cookies.clear()
    as_user(client, HR)
    no_token = client.post(
        "/cycles/new",
        data={"name": "x", "period": PERIOD},
        files={"roster": ("roster.csv", SMALL_ROSTER, "text/csv")},
    )
    assert no_token.status_code == 403
    assert "did not come from this site" in no_token.text
    assert not (site.store.out / "cycles").exists()
    small = make_site(CANON_DIR, tmp_path / "small", load_accounts(users))
    small.roster_limit = 4096
    with make_client(small) as limited:
        as_user(limited, HR)
        too_big = new_cycle(limited, SMALL_ROSTER + b"B4;x;y;B1\r\n" * 1000)
        assert too_big.status_code == 413
        assert too_big.text == "request body too large\n"
    assert not (tmp_path / "small" / "cycles").exists()


# --- /cycles/<NAME>/roster: updating a cycle -------------------------------------------------

#: PEOPLE with one name changed and one person added (both under OTHER_ID).
UPDATED = {
    **PEOPLE,
    "E2201": ("Renamed <i>Person</i> of Olga", "ENGR.PLATFORM.P3", OTHER_ID),
    "E2202": ("New Person", "ENGR.GEN.M2", OTHER_ID),
}


def write_updated(path: Path) -> Path:
    fields = ("employee_id", "name", "profile", "manager_id")
    write_rows(path, [dict(zip(fields, (eid, *row), strict=True)) for eid, row in UPDATED.items()])
    return path


@pytest.fixture
def updating(tmp_path: Path, built: Path, users: Path) -> Iterator[tuple[TestClient, Site]]:
    import shutil

    shutil.copytree(built, tmp_path / "out")
    with serving(tmp_path / "out", users) as served:
        yield served


def update_cycle(
    client: TestClient, roster: bytes, filename: str = "roster.csv", csrf: str | None = None
) -> Response:
    token = csrf_of(client.get(f"/cycles/{NAME}").text) if csrf is None else csrf
    return client.post(
        f"/cycles/{NAME}/roster",
        data={"csrf": token},
        files={"roster": (filename, roster, "text/csv")},
    )


def test_hr_updates_a_cycle_as_packs_cycle_does(
    updating: tuple[TestClient, Site], built: Path, tmp_path: Path
) -> None:
    import shutil

    client, site = updating
    as_user(client, HR)
    form = page(client.get(f"/cycles/{NAME}").text).xpath("//form[@enctype]")[0]
    assert form.get("action") == f"/cycles/{NAME}/roster"
    cycle_dir = site.store.out / "cycles" / NAME
    before = inodes(cycle_dir, "people")
    roster = write_updated(tmp_path / "updated.csv")
    started = update_cycle(client, roster.read_bytes(), filename="HR export (new).csv")
    assert started.status_code == 303, started.text
    location = started.headers["location"]
    job = location.rsplit("/", 1)[1]
    site.workers.wait(job, timeout=900)
    status = client.get(f"{location}/status").json()
    assert status["state"] == "done" and status["cycle"] == NAME, status
    assert status["text"].startswith(f"Built: built 2, skipped {len(PEOPLE) - 1},")
    done = page(client.get(location).text)
    assert done.xpath("//a[@class='button']/@href") == [f"/cycles/{NAME}"]
    # what `packs cycle UPDATED --name NAME` makes of the same cycle
    by_cli = tmp_path / "cli"
    shutil.copytree(built, by_cli)
    cli_cycle(roster, by_cli)
    expected = by_cli / "cycles" / NAME
    assert (cycle_dir / "cycle.json").read_bytes() == (expected / "cycle.json").read_bytes()
    for manager in ("E1000", MANAGER_ID, OTHER_ID):
        rel = f"managers/{manager}.zip"
        assert (cycle_dir / rel).read_bytes() == (expected / rel).read_bytes()
        downloaded = client.get(f"/cycles/{NAME}/{rel}")
        assert downloaded.status_code == 200 and downloaded.content == (expected / rel).read_bytes()
    assert (cycle_dir / "managers" / f"{OTHER_ID}.zip").read_bytes() != (
        built / "cycles" / NAME / "managers" / f"{OTHER_ID}.zip"
    ).read_bytes()
    # only the changed people were rendered again
    after = inodes(cycle_dir, "people")
    assert {p.split("/")[1] for p in after if after[p] != before.get(p)} == {"E2201", "E2202"}
    shown = main_text(client.get(f"/cycles/{NAME}").text)
    assert "Renamed <i>Person</i> of Olga" in shown and "New Person" in shown


def test_updating_a_cycle_needs_hr_csrf_a_bounded_body_and_a_good_roster(
    updating: tuple[TestClient, Site], users: Path, tmp_path: Path
) -> None:
    client, site = updating
    cycle_json = (site.store.out / "cycles" / NAME / "cycle.json").read_bytes()
    as_user(client, MANAGER)
    assert not page(client.get(f"/cycles/{NAME}").text).xpath("//form[@enctype]")
    assert update_cycle(client, SMALL_ROSTER, csrf="").status_code == 403
    client.cookies.clear()
    as_user(client, HR)
    no_token = update_cycle(client, SMALL_ROSTER, csrf="")
    assert no_token.status_code == 403 and "did not come from this site" in no_token.text
    csrf = csrf_of(client.get(f"/cycles/{NAME}").text)
    for name in ("%2e%2e", "..%2fx", "new", "no-such-cycle"):
        response = client.post(
            f"/cycles/{name}/roster",
            data={"csrf": csrf},
            files={"roster": ("roster.csv", SMALL_ROSTER, "text/csv")},
        )
        assert response.status_code == 404, name
    bad = (
        "employee_id,name,profile,manager_id\n"
        f"E1,<script>x</script>,{SEED_ID},\n"
        "E1,Dup,ENGR.PLATFORM.P9,E9\n"
    ).encode()
    response = update_cycle(client, bad)
    assert response.status_code == 400
    lines = page(response.text).xpath("//div[@class='problems']//code/text()")
    assert lines[0] == (
        "roster.csv:2: error: column 'employee_id': duplicate employee id 'E1' (also on line 3)"
        " [roster-duplicate]"
    )
    assert lines[-1] == "3 problems found"
    assert "<script>x</script>" not in response.text
    assert "a roster is a .csv or .xlsx" in update_cycle(client, bad, filename="r.txt").text
    builds = site.store.out / "cycles" / ".builds"
    assert not builds.exists() or not list(builds.iterdir())
    small = make_site(CANON_DIR, site.store.out, load_accounts(users))
    small.roster_limit = 4096
    with make_client(small) as limited:
        as_user(limited, HR)
        too_big = update_cycle(limited, SMALL_ROSTER + b"B4;x;y;B1\r\n" * 1000)
        assert too_big.status_code == 413
    assert (site.store.out / "cycles" / NAME / "cycle.json").read_bytes() == cycle_json


# --- /cycles/<NAME>/returns -----------------------------------------------------------------------


def zip_bomb(name: str = "word/document.xml", mib: int = 65) -> bytes:
    """A small zip whose one member unpacks to more than the harvest's 64 MiB."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z,
        z.open(name, "w", force_zip64=True) as member,
    ):
        chunk = bytes(1 << 20)
        for _ in range(mib):
            member.write(chunk)
    return out.getvalue()


@pytest.fixture
def returns_site(tmp_path: Path, built: Path, users: Path) -> Iterator[tuple[TestClient, Site]]:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(built, out)
    with serving(out, users) as served:
        yield served


def issued(site: Site, eid: str, suffix: str) -> bytes:
    kind = "review-form.docx" if suffix == "docx" else "mbo-tracker.xlsx"
    return (site.store.out / "cycles" / NAME / "people" / eid / f"{eid}.{kind}").read_bytes()


def upload(client: TestClient, files: list[tuple[str, bytes]], csrf: str | None = None) -> Response:
    if csrf is None:
        csrf = csrf_of(client.get(f"/cycles/{NAME}/returns").text)
    return client.post(
        f"/cycles/{NAME}/returns",
        data={"csrf": csrf},
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
    )


def test_hr_uploads_returns_and_downloads_the_results(
    returns_site: tuple[TestClient, Site],
) -> None:
    from openpyxl import load_workbook

    client, site = returns_site
    as_user(client, HR)
    empty = client.get(f"/cycles/{NAME}/returns")
    assert empty.status_code == 200 and "No returned file yet." in empty.text
    assert client.get(f"/cycles/{NAME}/returns/results.xlsx").status_code == 404
    hostile_name = "<img src=x onerror=alert(1)> {{ 7*7 }}.docx"
    response = upload(
        client,
        [
            ("E1101 form.docx", issued(site, "E1101", "docx")),
            ("E1101 tracker.xlsx", issued(site, "E1101", "xlsx")),
            (hostile_name, issued(site, "E2201", "docx")),
            ("../../../escape.xlsx", issued(site, "E2201", "xlsx")),
            ("notes.txt", b"not a form"),
            ("bomb.docx", zip_bomb()),
            ("again.docx", issued(site, "E1101", "docx")),
        ],
    )
    assert response.status_code == 200, response.text
    tree = page(response.text)
    refused = [" ".join(li.itertext()) for li in tree.xpath("//div[@class='problems']//li")]
    assert refused == [
        "notes.txt : not a .docx or .xlsx file; not stored",
        "bomb.docx : file unpacks to more than 64 MiB; refusing it; not stored",
        "again.docx : uploaded before (the same bytes); not stored again",
    ]
    counts = dict(
        zip(
            tree.xpath("//table[@id='verdicts']//td[1]/text()"),
            tree.xpath("//table[@id='verdicts']//td[2]/text()"),
            strict=True,
        )
    )
    assert counts["ok"] == "4" and sum(int(n) for n in counts.values()) == 4
    names = tree.xpath("//table[@id='returned']//td[1]/text()")
    assert names == ["E1101 form.docx", "E1101 tracker.xlsx", hostile_name, "escape.xlsx"]
    assert not tree.xpath("//main//script")
    stored = sorted((site.store.out / "cycles" / NAME / "returns" / "files").iterdir())
    assert len(stored) == 4
    assert all(len(p.stem) == 32 and p.suffix in (".docx", ".xlsx") for p in stored)
    assert all((p.stat().st_mode & 0o077) == 0 for p in stored)
    assert not list(site.store.out.rglob("escape.xlsx")) and not list(site.store.out.rglob("*.txt"))

    results = client.get(f"/cycles/{NAME}/returns/results.xlsx")
    assert results.status_code == 200
    assert results.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert results.headers["content-disposition"].startswith('attachment; filename="results.xlsx"')
    book = load_workbook(io.BytesIO(results.content), read_only=True)
    assert book.sheetnames == ["Results", "Returns", "People", "Summary"]
    listed = [row[0] for row in book["Returns"].iter_rows(min_row=2, values_only=True)]
    verdicts = [row[4] for row in book["Returns"].iter_rows(min_row=2, values_only=True)]
    book.close()
    assert listed == names and verdicts == ["ok"] * 4

    cycle_page = page(client.get(f"/cycles/{NAME}").text)
    rows = cycle_page.xpath("//section[@aria-labelledby='people']//tbody/tr")
    returned = {r.xpath("td[1]/text()")[0]: r.xpath("string(td[5])") for r in rows}
    assert returned["E1101"] == "yes" and returned["E2201"] == "yes" and returned["E1000"] == "no"

    client.cookies.clear()
    as_user(client, MANAGER)
    mine = page(client.get(f"/cycles/{NAME}").text)
    rows = mine.xpath("//section[@aria-labelledby='people']//tbody/tr")
    assert {r.xpath("td[1]/text()")[0]: r.xpath("string(td[5])") for r in rows}["E1101"] == "yes"
    for url in (f"/cycles/{NAME}/returns", f"/cycles/{NAME}/returns/results.xlsx"):
        refused_page = client.get(url)
        assert refused_page.status_code == 403, url
        assert "This page is for HR accounts." in refused_page.text
    assert upload(client, [("x.docx", b"x")], csrf="x").status_code == 403


def test_returned_uploads_need_csrf_and_a_bounded_body(
    returns_site: tuple[TestClient, Site], users: Path, tmp_path: Path
) -> None:
    client, site = returns_site
    as_user(client, HR)
    no_token = client.post(
        f"/cycles/{NAME}/returns",
        files=[("files", ("a.docx", issued(site, "E1101", "docx"), "application/octet-stream"))],
    )
    assert no_token.status_code == 403
    assert not (site.store.out / "cycles" / NAME / "returns").exists()
    site.returns_limit = 10_000
    with make_client(site) as limited:
        as_user(limited, HR)
        too_big = upload(limited, [("a.docx", issued(site, "E1101", "docx"))])
    assert too_big.status_code == 413
    assert not (site.store.out / "cycles" / NAME / "returns").exists()
    nothing = upload(client, [])
    assert nothing.status_code == 400 and "choose one or more returned forms" in nothing.text


@pytest.mark.parametrize(
    "path",
    [
        "/cycles/%2e%2e/returns",
        "/cycles/..%2f..%2f/returns",
        f"/cycles/{NAME}/returns/%2e%2e%2fcycle.json",
        f"/cycles/{NAME}/returns/..%2fresults.xlsx",
        "/cycles/%2e%2e/returns/results.xlsx",
    ],
)
def test_dot_dot_in_the_returns_paths_is_404(
    returns_site: tuple[TestClient, Site], path: str
) -> None:
    client, _site = returns_site
    as_user(client, HR)
    assert client.get(path).status_code == 404
    csrf = csrf_of(client.get(f"/cycles/{NAME}/returns").text)
    assert client.post(path, data={"csrf": csrf}).status_code in (404, 405)


def test_the_local_user_gets_a_csrf_token_for_the_upload_forms(tmp_path: Path) -> None:
    """Loopback without accounts: no login, so the form pages start the session."""
    with make_client(make_site(CANON_DIR, tmp_path / "out")) as local:
        form = local.get("/cycles/new")
        assert form.status_code == 200 and csrf_of(form.text)
        response = new_cycle(local, b"employee_id,name,profile\n", name="local-1")
        assert response.status_code == 400  # checked, not refused as a forged form
        assert "roster.csv: error: no people (nothing below the header row)" in response.text


def test_an_xlsx_roster_is_read_and_located_by_cell(fresh: tuple[TestClient, Site]) -> None:
    from openpyxl import Workbook

    client, site = fresh
    as_user(client, HR)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Employee ID", "Full name", "Job profile", "Reports to"])
    sheet.append(["X1", "Xena", SEED_ID, None])
    sheet.append(["X2", "Xavier", "NOPE.NOPE.M1", "X1"])
    data = io.BytesIO()
    book.save(data)
    response = new_cycle(client, data.getvalue(), name="xlsx-1", filename="HR export.XLSX")
    assert response.status_code == 400
    lines = page(response.text).xpath("//div[@class='problems']//code/text()")
    assert lines[-1] == "1 problem found"
    assert lines[0].startswith(
        "roster.xlsx:3: error: column 'profile': unknown profile 'NOPE.NOPE.M1'"
    )
    assert not list((site.store.out / "cycles" / ".builds").iterdir())


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def test_a_stopped_server_leaves_no_worker_and_its_build_finishes(
    tmp_path: Path, users: Path
) -> None:
    """`packs serve` stopped (SIGTERM) while it builds: the worker finishes the build, writes
    its status, and exits; nothing outlives the server for long (bounded waits)."""
    import http.client
    import os
    import time

    from tests.webserver import running_server

    roster = write_roster(tmp_path / "roster.csv")
    with running_server(tmp_path, users=users) as url:
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        client_cookie = ""

        def call(method: str, path: str, body: bytes = b"", kind: str = "") -> tuple[int, str]:
            nonlocal client_cookie
            headers = {"Cookie": client_cookie} if client_cookie else {}
            if kind:
                headers["Content-Type"] = kind
            conn.request(method, path, body or None, headers)
            response = conn.getresponse()
            text = response.read().decode()
            cookie = response.getheader("set-cookie")
            if cookie:
                client_cookie = cookie.split(";")[0]
            return response.status, response.getheader("location") or text

        from urllib.parse import urlencode

        _status, form = call("GET", "/login")
        fields = {"name": HR[0], "password": HR[1], "csrf": csrf_of(form)}
        kind = "application/x-www-form-urlencoded"
        assert call("POST", "/login", urlencode(fields).encode(), kind)[0] == 303
        csrf = csrf_of(call("GET", "/cycles/new")[1])
        boundary = "b0undary"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in {"csrf": csrf, "name": "stopped", "period": PERIOD}.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="roster"; '
            f'filename="roster.csv"\r\n\r\n'.encode()
            + roster.read_bytes()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        status, location = call(
            "POST", "/cycles/new", b"".join(parts), f"multipart/form-data; boundary={boundary}"
        )
        assert status == 303, location
        server = next(
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit()
            and str(tmp_path / "served-out").encode() in (p / "cmdline").read_bytes()
        )
        job = location.rsplit("/", 1)[1]
        status_file = tmp_path / "served-out" / "cycles" / ".builds" / job / "status.json"
        deadline = time.monotonic() + 600
        # a worker has taken the build (one still queued when the server stops is marked
        # stopped: test_a_build_still_queued_at_shutdown_is_marked_stopped)
        while json.loads(status_file.read_bytes())["state"] == "queued":
            assert time.monotonic() < deadline, "no worker took the build"
            time.sleep(0.1)
        workers = _children(server)
        assert workers  # the pool's worker (and multiprocessing's resource tracker)
        conn.close()
    while json.loads(status_file.read_bytes())["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, "the build never ended"
        time.sleep(0.2)
    assert json.loads(status_file.read_bytes())["state"] == "done"
    assert (tmp_path / "served-out" / "cycles" / "stopped" / "cycle.json").is_file()
    while any(os.path.exists(f"/proc/{pid}") for pid in workers):
        assert time.monotonic() < deadline, f"workers outlived the server: {workers}"
        time.sleep(0.2)


def build_request(site: Site, name: str) -> BuildRequest:
    job, folder = site.workers.new_job()
    store = site.store
    return BuildRequest(
        job,
        folder,
        write_roster(folder / "roster.csv"),
        site.catalogue.canon,
        name,
        check_arguments(name, PERIOD),
        store.out,
        store.layout,
        store.options,
        store.compose_options,
        1,
    )


def test_a_build_still_queued_at_shutdown_is_marked_stopped(tmp_path: Path) -> None:
    import time

    site = make_site(CANON_DIR, tmp_path / "out")
    workers = Workers(site.store.out, processes=1)
    site.workers = workers
    pool = workers.pool()
    busy = pool.submit(time.sleep, 5)  # the one worker: the build waits behind it
    request = build_request(site, "dropped")
    workers.start(request)
    workers.close(wait=False)
    status = json.loads((request.folder / "status.json").read_bytes())
    assert status["state"] == "failed"
    assert status["message"].startswith("stopped at shutdown")
    busy.result(timeout=600)
    # cancelled, or taken from the queue by the worker, which found it dropped and left it
    with contextlib.suppress(CancelledError):
        workers.wait(request.job, timeout=600)
    assert json.loads((request.folder / "status.json").read_bytes()) == status
    assert not (site.store.out / "cycles" / "dropped").exists()
    # the next server shows it the same, and so does the page
    again = Workers(site.store.out)
    assert again.status(request.job) == status
    with make_client(make_site(CANON_DIR, tmp_path / "out")) as client:
        text = main_text(client.get(f"/cycles/new/{request.job}").text)
    assert "Not built: stopped at shutdown" in text


def test_builds_of_a_stopped_server_are_reconciled(tmp_path: Path) -> None:
    """A restarted server: a build left queued is dropped (no late worker runs it), one whose
    worker is gone is stopped, one whose worker still runs is running."""
    site = make_site(CANON_DIR, tmp_path / "out")
    queued, gone, alive = (build_request(site, n) for n in ("queued", "gone", "alive"))
    for request, state, pid in (
        (queued, "queued", None),
        (gone, "running", 2**22 + 1),  # above Linux's largest pid: no such process
        (alive, "running", os.getpid()),
    ):
        status = {"job": request.job, "cycle": request.name, "period": PERIOD, "state": state}
        status |= {"done": 0, "total": 3, "message": "", "problems": []}
        if pid is not None:
            status["pid"] = pid
            (request.folder / "claimed").write_text("worker\n")
        (request.folder / "status.json").write_text(json.dumps(status))
    restarted = Workers(site.store.out)
    first = restarted.status(queued.job)
    assert first is not None and first["state"] == "failed"
    assert first["message"].startswith("stopped at shutdown")
    assert json.loads((queued.folder / "status.json").read_bytes()) == first
    run_build(queued)  # a worker that would take it late finds it taken
    assert json.loads((queued.folder / "status.json").read_bytes()) == first
    assert not (site.store.out / "cycles" / "queued").exists()
    stopped = restarted.status(gone.job)
    assert stopped is not None and stopped["state"] == "failed"
    assert stopped["message"].startswith("stopped: its worker process ended")
    assert json.loads((gone.folder / "status.json").read_bytes())["state"] == "failed"
    running = restarted.status(alive.job)
    assert running is not None and running["state"] == "running"


def test_a_bug_in_a_web_build_leaves_an_owner_only_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build that fails by a bug says so on its page and keeps the trace with the job, mode
    0600 like the roster beside it: a trace may quote roster text (names are personal data)."""
    import pipeline.serve.worker as worker

    site = make_site(CANON_DIR, tmp_path / "out")
    request = build_request(site, "buggy")

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("Top <b>Boss</b> broke it")

    monkeypatch.setattr(worker, "cycle", broken)
    run_build(request)
    status = json.loads((request.folder / "status.json").read_bytes())
    assert status["state"] == "failed"
    assert status["message"] == "internal error (a bug): RuntimeError"
    trace = request.folder / "traceback.txt"
    assert "Top <b>Boss</b> broke it" in trace.read_text()
    assert stat.S_IMODE(trace.stat().st_mode) == 0o600
