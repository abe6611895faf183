"""The Starlette application of `packs serve`: routes, access rules, pages, security headers.

URLs are fixed (tests and bookmarks rely on them): `/`, `/profiles/<ID>`,
`/profiles/<ID>/<file name as in the pack>`, `/profiles/<ID>/pack.zip`, `/download?pattern=…`,
`/cycles`, `/cycles/<NAME>`, `/cycles/<NAME>/managers/<manager_id>.zip`, `/healthz`, `/login`,
`/logout`. Pages are Jinja2 templates of the web layout (autoescaped: canon
text is text); ids and file names from a URL are looked up in the canon and the pack's own list
before any file is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import hashlib
import os
import re
import shutil
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.build import MANIFEST
from pipeline.compose import compose_profile
from pipeline.cycle import (
    MAX_ROSTER_BYTES,
    CycleRecord,
    Period,
    RosterError,
    check_arguments,
    read_roster,
)
from pipeline.diagnostics import CanonError, PacksError, Problem
from pipeline.harvest.collect import MAX_FILE_BYTES
from pipeline.layout import LAYOUTS_DIR
from pipeline.model import Frame, Group, ProfileFrames
from pipeline.ooxml.archive import iso_utc
from pipeline.render.to_text import block_text
from pipeline.serve.accounts import LOCAL_USER, Accounts, User
from pipeline.serve.cycles import (
    RESERVED_NAMES,
    CycleStore,
    managers_shown,
    may_see,
    valid_name,
    visible_people,
)
from pipeline.serve.jobs import (
    FINAL,
    RESULTS,
    RETURNS,
    ROSTER_SUFFIXES,
    BuildRequest,
    HarvestRequest,
    Workers,
    read_summary,
    returned_files,
    shown_name,
    store_returned,
)
from pipeline.serve.packs import (
    ZIP_MEDIA_TYPE,
    BuildBusy,
    Catalogue,
    PackStore,
    ServedFile,
    media_type,
)
from pipeline.serve.sessions import COOKIE, LoginThrottle, Session, SessionStore, csrf_ok

#: The web layout: page templates and static files (presentation, not code).
WEB_LAYOUT = LAYOUTS_DIR / "web"
PACK_ZIP = "pack.zip"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Request bodies larger than this are refused with 413 (but on the upload pages).
MAX_BODY = 64 * 1024
#: A roster upload: the roster's own limit and room for the form around it.
MAX_ROSTER_BODY = MAX_ROSTER_BYTES + MAX_BODY
#: One upload of returned files (each file at most the harvest's MAX_FILE_BYTES).
MAX_RETURNS_BODY = 256 * 1024 * 1024
#: Files in one upload of returned files.
MAX_RETURNED_FILES = 500
MAX_PATTERN = 200
#: A failed login always costs this long (besides the throttle's lock-outs).
FAILED_LOGIN_DELAY = 0.5

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


class SecurityHeaders:
    """Adds the security headers to every response, errors and static files included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                if b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _TooLarge(Exception):
    pass


class BodyLimit:
    """413 for a request body over `limit` bytes, declared or streamed; the upload pages have
    limits of their own (`uploads`: a path pattern and its limit)."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int = MAX_BODY,
        uploads: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.default = limit
        self.uploads = tuple(uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = next((n for pattern, n in self.uploads if pattern.fullmatch(path)), self.default)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _too_large(send)


async def _too_large(send: Send) -> None:
    body = b"request body too large\n"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class LoginRequired(Exception):
    def __init__(self, path: str) -> None:
        self.path = path


@dataclass
class Site:
    """What the routes share: the catalogue, the packs, who may log in, and the pages."""

    catalogue: Catalogue
    store: PackStore
    #: None: one local user (loopback, no users file).
    accounts: Accounts | None
    web: Path = WEB_LAYOUT
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    sessions: SessionStore = field(default_factory=SessionStore)
    failed_login_delay: float = FAILED_LOGIN_DELAY
    env: jinja2.Environment = field(init=False)
    #: The cycles under the packs' `out/` (`out/cycles/`).
    cycles: CycleStore = field(init=False)
    #: Worker processes of cycle builds and harvests.
    workers: Workers = field(init=False)
    #: Worker processes a cycle build itself uses (`packs cycle --jobs`).
    cycle_jobs: int = 1
    roster_limit: int = MAX_ROSTER_BODY
    returns_lock: threading.Lock = field(default_factory=threading.Lock)
    returns_limit: int = MAX_RETURNS_BODY
    _frames: dict[str, ProfileFrames] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.cycles = CycleStore(self.store.out)
        self.workers = Workers(self.store.out)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.web / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE))

    def user(self, request: Request) -> User | None:
        if self.accounts is None:
            return LOCAL_USER
        session = self.session(request)
        return session.user if session is not None else None

    def need(self, request: Request, hr: bool = False) -> User:
        user = self.user(request)
        if user is None:
            raise LoginRequired(
                request.url.path + (f"?{request.url.query}" if request.url.query else "")
            )
        if hr and not user.is_hr:
            raise HTTPException(403, "This page is for HR accounts.")
        return user

    async def page(
        self,
        request: Request,
        name: str,
        status: int = 200,
        session: Session | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """A page of the web layout; `session` when its cookie is only being set now."""
        session = session or self.session(request)
        values = {
            "user": self.user(request),
            "local": self.accounts is None,
            "csrf": session.csrf if session is not None else "",
            **context,
        }
        html = await run_in_threadpool(self.env.get_template(name).render, values)
        return HTMLResponse(html, status_code=status)

    def frames(self, profile_id: str) -> ProfileFrames:
        """The profile's frames, composed once (they are frozen; the canon does not change)."""
        frames = self._frames.get(profile_id)
        if frames is None:
            entry = self.catalogue.get(profile_id)
            assert entry is not None
            frames = compose_profile(entry.profile, self.catalogue.canon.digest(profile_id))
            self._frames[profile_id] = frames
        return frames


def _set_session_cookie(request: Request, response: Response, session: Session) -> None:
    response.set_cookie(
        COOKIE,
        session.token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def _local_path(target: str | None) -> str:
    """A redirect target only within this site (no `//host`, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# --- views ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockView:
    heading: str
    lines: tuple[str, ...]
    is_group: bool


@dataclass(frozen=True)
class FrameView:
    kind: str
    title: str
    intro: str | None
    blocks: tuple[BlockView, ...]


def frame_view(frame: Frame) -> FrameView:
    """A frame as the lines of its text form (`to_text.block_text`): the page shows the same
    lines, source labels included; only the grouping into headings and lists is HTML's."""
    blocks = []
    for block in frame.blocks:
        first, *rest = block_text(block).split("\n")
        blocks.append(
            BlockView(first, tuple(line.strip() for line in rest), isinstance(block, Group))
        )
    return FrameView(frame.kind, frame.title, frame.intro, tuple(blocks))


def _attachment(name: str) -> str:
    return f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"


def _download(request: Request, served: ServedFile, kind: str) -> Response:
    headers = {
        "etag": served.etag,
        "content-disposition": _attachment(served.name),
        "cache-control": "private, no-cache",
    }
    if served.etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(served.data, media_type=kind, headers=headers)


def build_text(status: dict[str, Any]) -> str:
    """One line of a build's state, for the page and its progress bar."""
    state, done, total = status["state"], int(status["done"]), int(status["total"])
    if state == "queued":
        return "Waiting for a worker process…"
    if state == "running":
        return f"Building: {done} of {total} profiles done" if total else "Reading the roster…"
    if state == "done":
        return f"Built: {status['message']}"
    return f"Not built: {status['message']}"


def create_app(site: Site, allowed_hosts: list[str] | None = None) -> Starlette:
    catalogue, store = site.catalogue, site.store

    async def busy(call: Callable[[], Any]) -> Any:
        try:
            return await run_in_threadpool(call)
        except BuildBusy:
            raise HTTPException(
                503, "Packs are being built by another process; try again shortly."
            ) from None

    async def index(request: Request) -> Response:
        user = site.need(request)
        text = request.query_params.get("q", "")[:200]
        function = request.query_params.get("function", "")
        level = request.query_params.get("level", "")
        if function not in {code for code, _ in catalogue.functions}:
            function = ""
        if level not in catalogue.levels:
            level = ""
        found = catalogue.find(text, function, level)
        return await site.page(
            request,
            "index.html.j2",
            entries=found,
            total=len(catalogue.entries),
            q=text,
            function=function,
            level=level,
            functions=catalogue.functions,
            levels=catalogue.levels,
            can_bulk=user.is_hr,
        )

    def entry_of(request: Request) -> str:
        profile_id = str(request.path_params["profile_id"])
        if catalogue.get(profile_id) is None:
            raise HTTPException(404, "No such profile.")
        return profile_id

    async def profile(request: Request) -> Response:
        site.need(request)
        profile_id = entry_of(request)
        frames = await run_in_threadpool(site.frames, profile_id)
        manifest = await run_in_threadpool(store.current, profile_id)
        sizes = {str(f["path"]): int(f["bytes"]) for f in manifest["files"]} if manifest else {}
        files = [
            (f.file_name(profile_id), sizes.get(f.file_name(profile_id))) for f in store.formats
        ]
        return await site.page(
            request,
            "profile.html.j2",
            frames=frames,
            views=[frame_view(f) for f in frames.frames],
            files=files,
            built=manifest is not None,
            pack_zip=PACK_ZIP,
        )

    async def profile_file(request: Request) -> Response:
        site.need(request)
        profile_id = entry_of(request)
        name = str(request.path_params["name"])
        if name == PACK_ZIP:
            served = await busy(lambda: store.pack_zip(profile_id))
            return _download(request, served, ZIP_MEDIA_TYPE)
        allowed = {f.file_name(profile_id) for f in store.formats} | {MANIFEST}
        if name not in allowed:
            raise HTTPException(404, "No such file in this pack.")
        served = await busy(lambda: store.file(profile_id, name))
        if served is None:
            raise HTTPException(404, "No such file in this pack.")
        return _download(request, served, media_type(name))

    async def download(request: Request) -> Response:
        site.need(request, hr=True)
        pattern = request.query_params.get("pattern", "*")
        if not pattern or len(pattern) > MAX_PATTERN:
            raise HTTPException(400, "Give a pattern of profile ids, such as CLINIC.*")
        ids = [e.id for e in catalogue.entries if fnmatch.fnmatchcase(e.id, pattern)]
        if not ids:
            raise HTTPException(404, "No profile matches that pattern.")
        await busy(lambda: store.ensure(ids))
        return StreamingResponse(
            store.stream_zip(ids),
            media_type=ZIP_MEDIA_TYPE,
            headers={"content-disposition": _attachment("packs.zip")},
        )

    def cycle_of(request: Request, user: User) -> CycleRecord:
        """The cycle a URL names, if this user may see it; 404 otherwise (no file touched for a
        name that is not a safe cycle name)."""
        record = site.cycles.record(str(request.path_params["name"]))
        if record is None or not may_see(user, record):
            raise HTTPException(404, "No such cycle.")
        return record

    async def cycles(request: Request) -> Response:
        user = site.need(request)
        records = await run_in_threadpool(site.cycles.records, user)
        records.sort(key=lambda r: (r.period.start, r.cycle), reverse=True)
        rows = [(r, len(visible_people(user, r))) for r in records]
        built = {r.cycle: iso_utc(r.build_epoch) for r in records}
        return await site.page(request, "cycles.html.j2", rows=rows, build_times=built)

    async def cycle_page(request: Request) -> Response:
        user = site.need(request)
        record = await run_in_threadpool(cycle_of, request, user)
        reports = Counter(p.manager_id for p in record.people if p.manager_id)
        summary = await run_in_threadpool(read_summary, site.cycles.folder(record.cycle))
        returned = None if summary is None else set(summary["returned"])
        return await site.page(
            request,
            "cycle.html.j2",
            record=record,
            built=iso_utc(record.build_epoch),
            people=visible_people(user, record),
            bundles=managers_shown(user, record),
            reports=reports,
            returned=returned,
        )

    async def cycle_bundle(request: Request) -> Response:
        user = site.need(request)
        record = await run_in_threadpool(cycle_of, request, user)
        file = str(request.path_params["file"])
        manager_id = file.removesuffix(".zip")
        if not file.endswith(".zip") or manager_id not in managers_shown(user, record):
            raise HTTPException(404, "No such bundle in this cycle.")
        served = await run_in_threadpool(site.cycles.bundle, record, manager_id)
        if served is None:
            raise HTTPException(404, "No such bundle in this cycle.")
        return _download(request, served, ZIP_MEDIA_TYPE)

    def new_cycle_form(**values: Any) -> dict[str, Any]:
        defaults = {"cycle_name": "", "period": "", "problems": []}
        return defaults | {"running": site.workers.running()} | values

    async def form_page(request: Request, name: str, **context: Any) -> Response:
        """A page with a POST form: the local user (no accounts, so no login) gets a session
        here, for the form's CSRF token."""
        session = site.session(request) or site.sessions.new()
        response = await site.page(request, name, session=session, **context)
        _set_session_cookie(request, response, session)
        return response

    async def cycle_new_form(request: Request) -> Response:
        site.need(request, hr=True)
        return await form_page(request, "cycle_new.html.j2", **new_cycle_form())

    async def cycle_new(request: Request) -> Response:
        site.need(request, hr=True)
        _session, form = await checked_form(request, max_files=1)
        try:
            name = str(form.get("name", "")).strip()[:100]
            period = str(form.get("period", "")).strip()[:100]
            upload = form.get("roster")
            problems: list[str] = []
            running = site.workers.running()
            if running is not None:
                problems.append(f"the cycle {running} is being built; wait for it to finish")
            elif not isinstance(upload, UploadFile) or not upload.filename:
                problems.append("roster: choose the roster file (CSV or XLSX)")
            else:
                suffix = Path(shown_name(upload.filename, "")).suffix.casefold()
                if suffix not in ROSTER_SUFFIXES:
                    problems.append("roster: a roster is a .csv or .xlsx file")
            if not problems:
                assert isinstance(upload, UploadFile)
                job, folder = site.workers.new_job()
                roster = folder / f"roster{suffix}"
                await save_upload(upload, roster)
                problems, parsed = await run_in_threadpool(check_cycle, name, period, roster)
                if not problems:
                    assert parsed is not None
                    site.workers.start(
                        BuildRequest(
                            job,
                            folder,
                            roster,
                            catalogue.canon,
                            name,
                            parsed,
                            store.out,
                            store.layout,
                            store.options,
                            store.compose_options,
                            site.cycle_jobs,
                        )
                    )
                    return RedirectResponse(f"/cycles/new/{job}", status_code=303)
                shutil.rmtree(folder, ignore_errors=True)
        finally:
            await form.close()
        values = new_cycle_form(cycle_name=name, period=period, problems=problems)
        return await site.page(request, "cycle_new.html.j2", status=400, **values)

    def check_cycle(name: str, period: str, roster: Path) -> tuple[list[str], Period | None]:
        """The form's values checked as `packs cycle` checks its arguments; the problems as it
        prints them (the roster located as `roster.csv:LINE`)."""
        problems: list[Problem] = []
        parsed = None
        try:
            parsed = check_arguments(name, period)
        except CanonError as exc:
            problems.extend(exc.problems)
        taken = None
        if name in RESERVED_NAMES:
            taken = f"{name!r} is the name of this page; choose another"
        elif valid_name(name) and name in site.cycles.names():
            taken = f"a cycle {name!r} exists already (`packs cycle` updates it); choose another"
        if taken:
            problems.insert(0, Problem("--name", 0, taken, "cycle-name"))
        try:
            read_roster(roster, [p.id for p in catalogue.canon.profiles], roster.name)
        except CanonError as exc:
            if not exc.problems:
                problems.append(Problem(roster.name, 0, str(exc), "roster-format"))
            problems.extend(exc.problems)
        if problems:
            return RosterError("the cycle's input is invalid", problems).report().splitlines(), None
        return [], parsed

    async def save_upload(upload: UploadFile, target: Path) -> None:
        """An uploaded file to `target` (mode 0600), chunk by chunk, off the event loop."""

        def write(chunk: bytes, first: bool) -> None:
            with target.open("wb" if first else "ab") as fh:
                fh.write(chunk)
            if first:
                os.chmod(target, 0o600)

        first = True
        while True:
            chunk = await upload.read(1 << 20)
            if not chunk and not first:
                return
            await run_in_threadpool(write, chunk, first)
            if not chunk:
                return
            first = False

    def build_of(request: Request) -> dict[str, Any]:
        status = site.workers.status(str(request.path_params["job"]))
        if status is None:
            raise HTTPException(404, "No such build.")
        return status

    async def cycle_build(request: Request) -> Response:
        site.need(request, hr=True)
        status = await run_in_threadpool(build_of, request)
        return await site.page(
            request,
            "cycle_build.html.j2",
            build=status,
            final=status["state"] in FINAL,
            text=build_text(status),
        )

    async def cycle_build_status(request: Request) -> Response:
        site.need(request, hr=True)
        status = await run_in_threadpool(build_of, request)
        return JSONResponse(
            {k: status[k] for k in ("state", "done", "total", "cycle")}
            | {"text": build_text(status)}
        )

    async def cycle_returns(request: Request) -> Response:
        site.need(request, hr=True)
        record = await run_in_threadpool(cycle_of, request, site.need(request))
        summary = await run_in_threadpool(read_summary, site.cycles.folder(record.cycle))
        return await form_page(
            request, "cycle_returns.html.j2", record=record, summary=summary, refused=[]
        )

    async def cycle_returns_upload(request: Request) -> Response:
        user = site.need(request, hr=True)
        record = await run_in_threadpool(cycle_of, request, user)
        folder = site.cycles.folder(record.cycle)
        _session, form = await checked_form(request, max_files=MAX_RETURNED_FILES)
        refused: list[tuple[str, str]] = []
        stored = 0
        try:
            for upload in form.getlist("files"):
                if not isinstance(upload, UploadFile) or not upload.filename:
                    continue
                shown = shown_name(upload.filename, "unnamed file")
                data = await upload.read(MAX_FILE_BYTES + 1)
                why = await run_in_threadpool(store_one, folder, shown, data)
                if why is None:
                    stored += 1
                else:
                    refused.append((shown, why))
        finally:
            await form.close()
        summary = await run_in_threadpool(read_summary, folder)
        if stored or (summary is None and returned_files(folder)):
            request_ = HarvestRequest(
                folder,
                catalogue.canon,
                store.layout,
                store.options.timestamp,
                await run_in_threadpool(returned_files, folder),
            )
            summary = await asyncio.wrap_future(site.workers.harvest(request_))
        if not stored and not refused:
            refused.append(("", "choose one or more returned forms (.docx) or trackers (.xlsx)"))
        return await site.page(
            request,
            "cycle_returns.html.j2",
            status=200 if stored else 400,
            record=record,
            summary=summary,
            refused=refused,
        )

    def store_one(folder: Path, shown: str, data: bytes) -> str | None:
        with site.returns_lock:
            return store_returned(folder, shown, data)

    async def cycle_results(request: Request) -> Response:
        user = site.need(request, hr=True)
        record = await run_in_threadpool(cycle_of, request, user)
        path = site.cycles.folder(record.cycle) / RETURNS / RESULTS

        def read() -> ServedFile | None:
            try:
                data = path.read_bytes()
            except OSError:
                return None
            return ServedFile(RESULTS, data, hashlib.sha256(data).hexdigest())

        served = await run_in_threadpool(read)
        if served is None:
            raise HTTPException(404, "No results yet: upload returned files first.")
        return _download(request, served, XLSX_MEDIA_TYPE)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "profiles": len(catalogue.entries)})

    async def login_form(request: Request) -> Response:
        if site.accounts is None:
            return RedirectResponse("/", status_code=303)
        session = site.session(request) or site.sessions.new()
        target = _local_path(request.query_params.get("next"))
        response = await site.page(request, "login.html.j2", session=session, next=target)
        _set_session_cookie(request, response, session)
        return response

    async def login(request: Request) -> Response:
        accounts = site.accounts
        if accounts is None:
            return RedirectResponse("/", status_code=303)
        session, form = await checked_form(request)
        name = str(form.get("name", ""))[:64]
        password = str(form.get("password", ""))[:1024]
        target = _local_path(str(form.get("next", "/")))
        client = request.client.host if request.client else "?"
        keys = (f"name:{name.casefold()}", f"address:{client}")
        wait = site.throttle.retry_after(keys)
        if wait > 0:
            response = await site.page(
                request,
                "login.html.j2",
                session=session,
                status=429,
                next=target,
                error="Too many failed logins. Wait a little, then try again.",
            )
            response.headers["retry-after"] = str(max(1, round(wait)))
            return response
        user = await run_in_threadpool(accounts.authenticate, name, password)
        if user is None:
            site.throttle.failed(*keys)
            await asyncio.sleep(site.failed_login_delay)
            return await site.page(
                request,
                "login.html.j2",
                session=session,
                status=401,
                next=target,
                error="Wrong name or password.",
            )
        site.throttle.succeeded(keys[0])
        site.sessions.end(session.token)
        fresh = site.sessions.new(user)
        redirect = RedirectResponse(target, status_code=303)
        _set_session_cookie(request, redirect, fresh)
        return redirect

    async def logout(request: Request) -> Response:
        session, _form = await checked_form(request)
        site.sessions.end(session.token)
        response = RedirectResponse("/login" if site.accounts is not None else "/", 303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    async def checked_form(request: Request, max_files: int = 0) -> tuple[Session, FormData]:
        """Every POST: the form, read with limits, and its CSRF token checked (403 without)."""
        form = await request.form(max_files=max_files, max_fields=20, max_part_size=8 * 1024)
        session = site.session(request)
        if session is None or not csrf_ok(session, form.get("csrf")):
            await form.close()
            raise HTTPException(403, "This form has expired or did not come from this site.")
        return session, form

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        response = await site.page(
            request, "error.html.j2", status=exc.status_code, message=exc.detail
        )
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        if exc.status_code == 503:
            response.headers["retry-after"] = "5"
        return response

    async def on_login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(f"/login?next={quote(exc.path, safe='')}", status_code=303)

    async def on_packs_error(request: Request, exc: Exception) -> Response:
        return await site.page(request, "error.html.j2", status=500, message=str(exc))

    routes = [
        Route("/", index),
        Route("/healthz", healthz),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/download", download),
        Route("/profiles/{profile_id}", profile),
        Route("/profiles/{profile_id}/{name}", profile_file),
        Route("/cycles", cycles),
        Route("/cycles/new", cycle_new_form, methods=["GET"]),
        Route("/cycles/new", cycle_new, methods=["POST"]),
        Route("/cycles/new/{job}", cycle_build),
        Route("/cycles/new/{job}/status", cycle_build_status),
        Route("/cycles/{name}", cycle_page),
        Route("/cycles/{name}/managers/{file}", cycle_bundle),
        Route("/cycles/{name}/returns", cycle_returns, methods=["GET"]),
        Route("/cycles/{name}/returns", cycle_returns_upload, methods=["POST"]),
        Route(f"/cycles/{{name}}/returns/{RESULTS}", cycle_results),
        Mount("/static", StaticFiles(directory=site.web / "static"), name="static"),
    ]
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        HTTPException: on_http_error,
        LoginRequired: on_login_required,
        PacksError: on_packs_error,
    }
    uploads = [
        (re.compile(r"/cycles/new"), site.roster_limit),
        (re.compile(r"/cycles/[^/]+/returns"), site.returns_limit),
    ]
    middleware = [Middleware(SecurityHeaders), Middleware(BodyLimit, uploads=uploads)]
    if allowed_hosts:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:  # an idle pool is joined; a running build finishes in its worker
            site.workers.close(wait=site.workers.running() is None)

    return Starlette(
        routes=routes, middleware=middleware, exception_handlers=handlers, lifespan=lifespan
    )
