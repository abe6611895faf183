"""`packs serve` at the HTTP level (Starlette's TestClient): pages, downloads, who may see what.

The browser walk is in test_browser.py; these check each rule directly, one request at a time.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from lxml import html as lxml_html
from starlette.routing import Route
from starlette.testclient import TestClient

from pipeline.build import build_lock
from pipeline.cli import main
from pipeline.model import ProfileFrames
from pipeline.render import FORMATS
from pipeline.render.to_text import frame_text
from pipeline.serve.accounts import (
    Role,
    add_user,
    load_accounts,
    verify_password,
)
from pipeline.serve.security import CONTENT_SECURITY_POLICY
from pipeline.serve.sessions import COOKIE, LoginThrottle
from tests.adversarial.conftest import CODE_TEXTS, FIELD_TEXTS, PROFILE, hostile_canon
from tests.conftest import CANON_DIR, SEED_ID
from tests.webserver import (
    HR,
    MANAGER,
    MANAGER_ID,
    accounts_file,
    csrf_of,
    log_in,
    make_client,
    make_site,
    reference_build,
    zip_members,
)

SEED_FILES = [f.file_name(SEED_ID) for f in FORMATS.values()]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `packs build CLINIC.* --zip` writes: the bytes every download must equal."""
    return reference_build(tmp_path_factory.mktemp("reference") / "out", "CLINIC.*")


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """A loopback server with no users file; its own out/, built on demand."""
    out = tmp_path_factory.mktemp("served") / "out"
    return make_client(make_site(CANON_DIR, out))


@pytest.fixture
def accounts_client(tmp_path: Path) -> TestClient:
    _path, accounts = accounts_file(tmp_path)
    return make_client(make_site(CANON_DIR, tmp_path / "out", accounts))


def page(response_text: str) -> lxml_html.HtmlElement:
    return lxml_html.fromstring(response_text)


# --- pages ----------------------------------------------------------------------------------------


def test_the_profile_list_filters_by_text_function_and_level(local: TestClient) -> None:
    everything = page(local.get("/").text)
    ids = everything.xpath("//table[@class='profiles']//td[1]/a/text()")
    assert ids == sorted(ids) and SEED_ID in ids and len(ids) == 6
    found = page(local.get("/", params={"q": "clinical trials"}).text)
    assert found.xpath("//table[@class='profiles']//td[1]/a/text()") == [SEED_ID]
    by_function = page(local.get("/", params={"function": "ENGR"}).text)
    engr = by_function.xpath("//table[@class='profiles']//td[1]/a/text()")
    assert engr and all(i.startswith("ENGR.") for i in engr)
    by_level = page(local.get("/", params={"level": "M4"}).text)
    assert by_level.xpath("//table[@class='profiles']//td[1]/a/text()") == [SEED_ID]
    nothing = local.get("/", params={"q": "no such words"})
    assert nothing.status_code == 200 and "No profile matches" in nothing.text


def test_the_profile_page_has_the_text_forms_lines_and_every_download(
    local: TestClient, seed_frames: ProfileFrames
) -> None:
    response = local.get(f"/profiles/{SEED_ID}")
    assert response.status_code == 200
    tree = page(response.text)
    shown = [" ".join(t.split()) for t in tree.xpath("//main//*[self::h3 or self::li]/text()")]
    for frame in seed_frames.frames:
        for line in frame_text(frame).split("\n"):
            if line.strip():
                assert " ".join(line.split()) in shown, line
    assert any("[source: " in line for line in shown)
    links = set(tree.xpath("//section[@class='downloads']//a/@href"))
    expected = {f"/profiles/{SEED_ID}/{name}" for name in [*SEED_FILES, "manifest.json"]}
    assert expected | {f"/profiles/{SEED_ID}/pack.zip"} == links


def test_healthz(local: TestClient) -> None:
    response = local.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "profiles": 6}


# --- downloads ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SEED_FILES)
def test_each_file_is_the_bytes_packs_build_writes(
    local: TestClient, reference: Path, name: str
) -> None:
    response = local.get(f"/profiles/{SEED_ID}/{name}")
    assert response.status_code == 200
    assert response.content == (reference / SEED_ID / name).read_bytes()
    kind = FORMATS[next(f for f in FORMATS if name.endswith(FORMATS[f].suffix))].media_type
    assert response.headers["content-type"].split(";")[0] == kind
    assert response.headers["content-disposition"].startswith(f'attachment; filename="{name}"')
    etag = response.headers["etag"]
    again = local.get(f"/profiles/{SEED_ID}/{name}", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""


def test_the_manifest_and_pack_zip_are_what_packs_build_writes(
    local: TestClient, reference: Path
) -> None:
    manifest = local.get(f"/profiles/{SEED_ID}/manifest.json")
    assert manifest.content == (reference / SEED_ID / "manifest.json").read_bytes()
    assert manifest.headers["content-type"] == "application/json"
    zipped = local.get(f"/profiles/{SEED_ID}/pack.zip")
    assert zipped.status_code == 200
    assert zipped.headers["content-type"] == "application/zip"
    assert zipped.headers["content-disposition"].startswith(f'attachment; filename="{SEED_ID}.zip"')
    assert zipped.content == (reference / f"{SEED_ID}.zip").read_bytes()


def test_download_by_pattern_streams_one_zip_of_the_matching_packs(
    local: TestClient, reference: Path
) -> None:
    response = local.get("/download", params={"pattern": "CLINIC.*"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert "content-length" not in response.headers  # streamed
    assert zip_members(response.content) == zip_members((reference / "packs.zip").read_bytes())
    assert local.get("/download", params={"pattern": "NOPE.*"}).status_code == 404


def test_a_stale_or_broken_pack_is_rebuilt_before_it_is_served(
    tmp_path: Path, reference: Path
) -> None:
    client = make_client(make_site(CANON_DIR, tmp_path / "out"))
    name = FORMATS["txt"].file_name(SEED_ID)
    assert client.get(f"/profiles/{SEED_ID}/{name}").status_code == 200
    folder = tmp_path / "out" / SEED_ID
    manifest = json.loads((folder / "manifest.json").read_bytes())
    manifest["inputs"]["fingerprint"] = "sha256:stale"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / name).write_bytes(b"edited by hand")
    response = client.get(f"/profiles/{SEED_ID}/{name}")
    assert response.content == (reference / SEED_ID / name).read_bytes()
    assert json.loads((folder / "manifest.json").read_bytes())["inputs"]["fingerprint"] != (
        "sha256:stale"
    )


def test_a_file_edited_behind_a_current_manifest_is_never_served(tmp_path: Path) -> None:
    client = make_client(make_site(CANON_DIR, tmp_path / "out"))
    name = FORMATS["txt"].file_name(SEED_ID)
    good = client.get(f"/profiles/{SEED_ID}/{name}").content
    (tmp_path / "out" / SEED_ID / name).write_bytes(good.replace(b"a", b"b", 1))  # same size
    response = client.get(f"/profiles/{SEED_ID}/{name}")
    assert response.status_code == 500
    assert b"does not match its manifest" in response.content


def test_a_build_running_elsewhere_gives_503_with_retry_after(tmp_path: Path) -> None:
    out = tmp_path / "out"
    client = make_client(make_site(CANON_DIR, out))
    with build_lock(out):
        response = client.get(f"/profiles/{SEED_ID}/{SEED_FILES[0]}")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert not (out / SEED_ID).exists()


# --- untrusted input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/profiles/%2e%2e",
        "/profiles/%2e%2e/manifest.json",
        "/profiles/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        f"/profiles/{SEED_ID}/%2e%2e",
        f"/profiles/{SEED_ID}/%2e%2e%2fmanifest.json",
        f"/profiles/{SEED_ID}/..%2F..%2Fpyproject.toml",
        f"/profiles/{SEED_ID}/{SEED_ID}.goal-templates.txt%00",
        f"/profiles/{SEED_ID}/.manifest.json.old.tmp",
        "/profiles/clinic.clinicalbc.m4",
        "/profiles/..%5C..%5Cwindows",
        "/static/%2e%2e/templates/base.html.j2",
        "/static/..%2ftemplates%2fbase.html.j2",
    ],
)
def test_path_parameters_outside_the_canon_are_404_before_any_file_is_touched(
    tmp_path: Path, path: str
) -> None:
    out = tmp_path / "out"
    client = make_client(make_site(CANON_DIR, out))
    response = client.get(path)
    assert response.status_code == 404
    assert not out.exists()  # nothing was built or read for it
    assert b"{%" not in response.content


def test_hostile_canon_text_renders_literally_on_every_page(tmp_path: Path) -> None:
    canon = hostile_canon(tmp_path / "canon")
    client = make_client(make_site(canon, tmp_path / "out"))
    for url in ("/", f"/profiles/{PROFILE}", "/?q=%3Cscript%3E"):
        response = client.get(url)
        assert response.status_code == 200
        tree = page(response.text)
        assert not tree.xpath(
            "//script | //style | //iframe | //object | //img"
            " | //link[not(@href='/static/site.css' or @href='/static/favicon.svg')]"
        )
        assert not [a for el in tree.iter() for a in el.attrib if a.lower().startswith("on")]
        hrefs = tree.xpath("//a/@href")
        assert all(h.startswith(("/", "#")) for h in hrefs), hrefs
    text = " ".join(page(client.get(f"/profiles/{PROFILE}").text).itertext())
    for hostile in [*CODE_TEXTS, *FIELD_TEXTS.values()]:
        if hostile.strip() in ("+1", "-2"):
            continue
        first_line = hostile.strip().split("\n")[0]
        assert " ".join(first_line.split()) in " ".join(text.split()), hostile
    assert "{{ 7*7 }}" in text and "49" not in text


def test_security_headers_are_on_every_response(local: TestClient) -> None:
    for response in (
        local.get("/"),
        local.get(f"/profiles/{SEED_ID}"),
        local.get("/profiles/NOPE"),
        local.get("/static/site.css"),
        local.get("/healthz"),
        local.post("/login", content=b"x" * 100_000),
    ):
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY


def test_an_oversize_request_body_is_413(local: TestClient, accounts_client: TestClient) -> None:
    assert local.post("/login", content=b"x" * 100_000).status_code == 413
    form = accounts_client.get("/login")
    csrf = csrf_of(form.text)
    response = accounts_client.post(
        "/login", data={"name": "x", "password": "y" * 70_000, "csrf": csrf}
    )
    assert response.status_code == 413


def test_a_loopback_server_without_users_refuses_other_host_names(local: TestClient) -> None:
    response = local.get("/", headers={"host": "attacker.example"})
    assert response.status_code == 400


# --- accounts, sessions, roles --------------------------------------------------------------------


def test_user_add_stores_a_scrypt_hash_never_the_password(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    add_user(path, "hana.hr", "hr", HR[1])
    add_user(path, "max.manager", "manager", MANAGER[1], MANAGER_ID)
    raw = path.read_text()
    assert HR[1] not in raw and MANAGER[1] not in raw
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entries = {e["name"]: e for e in json.loads(raw)["users"]}
    assert entries["hana.hr"]["password"].startswith("scrypt$16384$8$1$")
    assert verify_password(HR[1], entries["hana.hr"]["password"])
    assert not verify_password(MANAGER[1], entries["hana.hr"]["password"])
    accounts = load_accounts(path)
    manager = accounts.get("max.manager")
    assert manager is not None and manager.role is Role.MANAGER
    assert manager.manager_id == MANAGER_ID


def test_packs_user_add_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    path = tmp_path / "users.json"
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    argv = ["user", "add", "mia", "--role", "manager", "--manager-id", "E7", "--users", str(path)]
    assert main([*argv, "--password-stdin"]) == 0
    assert load_accounts(path).authenticate("mia", "a long enough password") is not None
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main([*argv, "--password-stdin"]) == 1
    assert "at least 12 characters" in capsys.readouterr().err


def test_a_non_loopback_start_without_users_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["serve", "--canon", str(CANON_DIR), "--host", "0.0.0.0", "--port", "0"])
    assert code == 2
    err = capsys.readouterr().err
    assert "refusing to serve on 0.0.0.0 without --users FILE" in err
    assert "Traceback" not in err


def test_without_a_session_pages_and_downloads_go_to_the_login(
    accounts_client: TestClient,
) -> None:
    for url in ("/", f"/profiles/{SEED_ID}", f"/profiles/{SEED_ID}/pack.zip", "/download"):
        response = accounts_client.get(url)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    assert accounts_client.get("/healthz").status_code == 200


def test_login_sets_a_strict_httponly_cookie_and_a_new_session(
    accounts_client: TestClient,
) -> None:
    form = accounts_client.get("/login")
    before = accounts_client.cookies[COOKIE]
    cookie = form.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    done = accounts_client.post(
        "/login",
        data={"name": HR[0], "password": HR[1], "csrf": csrf_of(form.text), "next": "/?q=x"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/?q=x"
    assert "HttpOnly" in done.headers["set-cookie"]
    assert accounts_client.cookies[COOKIE] != before  # no session fixation
    assert accounts_client.get("/").status_code == 200


def test_a_login_redirect_never_leaves_the_site(accounts_client: TestClient) -> None:
    form = accounts_client.get("/login")
    done = accounts_client.post(
        "/login",
        data={
            "name": HR[0],
            "password": HR[1],
            "csrf": csrf_of(form.text),
            "next": "//attacker.example/x",
        },
    )
    assert done.headers["location"] == "/"


def test_every_post_needs_its_csrf_token(accounts_client: TestClient) -> None:
    app = accounts_client.app
    posts = [r.path for r in app.routes if isinstance(r, Route) and "POST" in (r.methods or ())]  # type: ignore[attr-defined]
    assert sorted(posts) == [
        "/cycles/new",
        "/cycles/{name}/returns",
        "/cycles/{name}/roster",
        "/login",
        "/logout",
    ]
    accounts_client.get("/login")
    for path in ("/login", "/logout"):
        missing = accounts_client.post(path, data={"name": HR[0], "password": HR[1]})
        assert missing.status_code == 403, path
        wrong = accounts_client.post(path, data={"name": HR[0], "password": HR[1], "csrf": "x"})
        assert wrong.status_code == 403, path
    log_in(accounts_client, *HR)
    assert accounts_client.post("/logout", data={}).status_code == 403
    # /cycles/<NAME>/returns and /cycles/<NAME>/roster: tests/test_serve_cycles.py
    for path in ("/cycles/new",):
        assert accounts_client.post(path, data={"name": "x"}).status_code == 403, path
        assert accounts_client.post(path, data={"name": "x", "csrf": "x"}).status_code == 403
    assert accounts_client.get("/").status_code == 200  # still signed in


def test_logout_ends_the_session(accounts_client: TestClient) -> None:
    log_in(accounts_client, *HR)
    home = accounts_client.get("/")
    done = accounts_client.post("/logout", data={"csrf": csrf_of(home.text)})
    assert done.status_code == 303
    assert accounts_client.get("/").status_code == 303


def test_wrong_passwords_many_times_lock_the_account_out(tmp_path: Path) -> None:
    _path, accounts = accounts_file(tmp_path)
    now = [1000.0]
    throttle = LoginThrottle(free=3, base=30.0, clock=lambda: now[0])
    client = make_client(make_site(CANON_DIR, tmp_path / "out", accounts, throttle))
    csrf = csrf_of(client.get("/login").text)
    for _ in range(3):
        wrong = client.post("/login", data={"name": HR[0], "password": "nope", "csrf": csrf})
        assert wrong.status_code == 401
        assert "Wrong name or password." in wrong.text
    locked = client.post("/login", data={"name": HR[0], "password": HR[1], "csrf": csrf})
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) == 30
    now[0] += 31
    assert (
        client.post("/login", data={"name": HR[0], "password": HR[1], "csrf": csrf}).status_code
        == 303
    )


def test_an_unknown_name_fails_like_a_wrong_password(accounts_client: TestClient) -> None:
    csrf = csrf_of(accounts_client.get("/login").text)
    response = accounts_client.post(
        "/login", data={"name": "nobody", "password": "x", "csrf": csrf}
    )
    assert response.status_code == 401 and "Wrong name or password." in response.text


def test_a_manager_sees_profiles_but_not_hr_pages(accounts_client: TestClient) -> None:
    log_in(accounts_client, *MANAGER)
    assert accounts_client.get("/").status_code == 200
    assert "Download packs" not in accounts_client.get("/").text
    assert accounts_client.get(f"/profiles/{SEED_ID}").status_code == 200
    refused = accounts_client.get("/download", params={"pattern": "*"})
    assert refused.status_code == 403
    assert "for HR accounts" in refused.text


def test_hr_may_download_in_bulk(accounts_client: TestClient) -> None:
    log_in(accounts_client, *HR)
    assert "Download packs" in accounts_client.get("/").text
    response = accounts_client.get("/download", params={"pattern": "CLINIC.*"})
    assert response.status_code == 200
    assert f"{SEED_ID}/manifest.json" in zip_members(response.content)


def test_many_names_from_one_address_are_slowed_down_too(tmp_path: Path) -> None:
    _path, accounts = accounts_file(tmp_path)
    throttle = LoginThrottle(free=100, address_free=4, base=60.0)
    client = make_client(make_site(CANON_DIR, tmp_path / "out", accounts, throttle))
    csrf = csrf_of(client.get("/login").text)
    for n in range(4):
        data = {"name": f"guess{n}", "password": "x", "csrf": csrf}
        assert client.post("/login", data=data).status_code == 401
    data = {"name": HR[0], "password": HR[1], "csrf": csrf}
    assert client.post("/login", data=data).status_code == 429


def test_the_list_shows_each_profile_row_in_canon_order_and_filtered(tmp_path: Path) -> None:
    """The rows are rendered once per profile and joined (Site.rows): the same rows, in the
    catalogue's order, for every filter."""
    site = make_site(CANON_DIR, tmp_path / "out")
    with make_client(site) as client:
        for query, found in (
            ("", site.catalogue.entries),
            ("?level=M4", site.catalogue.find(level="M4")),
            ("?q=platform", site.catalogue.find("platform")),
        ):
            tree = page(client.get(f"/{query}").text)
            ids = tree.xpath("//table[@class='profiles']/tbody/tr/td[1]/a/text()")
            assert ids == [e.id for e in found], query
            titles = tree.xpath("//table[@class='profiles']/tbody/tr/td[2]/text()")
            assert titles == [e.title for e in found], query
        assert "No profile matches" in client.get("/?q=nothing-matches-this").text
