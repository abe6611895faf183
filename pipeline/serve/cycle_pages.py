"""`packs serve`'s cycle pages: `/cycles`, `/cycles/<NAME>` and its managers' bundles (who may
see which is `cycles.py`'s), and for HR `/cycles/new` (a cycle built from an uploaded roster in
a worker process, with its progress page), `/cycles/<NAME>/roster` (a new roster for a cycle
that exists: `packs cycle ROSTER --name NAME` again, only the changed people rebuilt, with the
same progress page) and `/cycles/<NAME>/returns` (returned files uploaded, harvested into
`results.xlsx`)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from pipeline.cycle import CycleRecord, Period, RosterError, check_arguments, read_roster
from pipeline.cycle.inputs import formats_of
from pipeline.diagnostics import CanonError, PacksError, Problem
from pipeline.harvest.collect import MAX_FILE_BYTES
from pipeline.ooxml.archive import iso_utc
from pipeline.serve.accounts import User
from pipeline.serve.cycles import (
    RESERVED_NAMES,
    managers_shown,
    may_see,
    valid_name,
    visible_people,
)
from pipeline.serve.jobs import FINAL, ROSTER_SUFFIXES, shown_name
from pipeline.serve.packs import ZIP_MEDIA_TYPE, ServedFile
from pipeline.serve.profile_pages import file_response
from pipeline.serve.returns import RESULTS, RETURNS, read_summary, returned_files, store_returned
from pipeline.serve.security import MAX_RETURNED_FILES, checked_form, form_page
from pipeline.serve.worker import CYCLE_FORMATS, BuildRequest, HarvestRequest, Refreshed

if TYPE_CHECKING:
    from pipeline.serve.app import Site

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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


def routes(site: Site) -> list[Route]:
    """The cycle pages of `site`."""
    catalogue, store = site.catalogue, site.store
    #: One bundle refresh at a time per cycle in this server (others wait, then find it current).
    refreshing: dict[str, asyncio.Lock] = {}

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
        return await show_cycle(request, user, record)

    async def show_cycle(
        request: Request, user: User, record: CycleRecord, problems: list[str] | None = None
    ) -> Response:
        """The cycle's page; for HR with the roster update form (and its problems, 400)."""
        reports = Counter(p.manager_id for p in record.people if p.manager_id)
        summary = await run_in_threadpool(read_summary, site.cycles.folder(record.cycle))
        returned = None if summary is None else set(summary["returned"])
        values: dict[str, Any] = {
            "record": record,
            "built": iso_utc(record.build_epoch),
            "people": visible_people(user, record),
            "bundles": managers_shown(user, record),
            "reports": reports,
            "returned": returned,
            "problems": problems or [],
            "running": site.workers.running(),
        }
        if not user.is_hr:
            return await site.page(request, "cycle.html.j2", **values)
        if problems:
            return await site.page(request, "cycle.html.j2", status=400, **values)
        return await form_page(site, request, "cycle.html.j2", **values)

    async def cycle_update(request: Request) -> Response:
        """A new roster for a cycle that exists: checked as `packs cycle` checks it, then
        `packs cycle ROSTER --name NAME --zip` (the recorded period and formats) in a worker."""
        user = site.need(request, hr=True)
        _session, form = await checked_form(site, request, max_files=1)
        try:
            record = await run_in_threadpool(cycle_of, request, user)
            problems: list[str] = []
            other = await run_in_threadpool(site.cycles.other_settings, record)
            refused = None if other is None else f"{record.cycle}: {other}"
            received = await received_roster(form.get("roster"), problems, refused)
            if received is not None:
                job, folder, roster = received
                found = await run_in_threadpool(roster_problems, roster)
                if found:
                    problems = RosterError("the roster is invalid", found).report().splitlines()
                    shutil.rmtree(folder, ignore_errors=True)
                else:
                    formats = tuple(f.name for f in formats_of(record))
                    site.workers.start(
                        build_request(job, folder, roster, record.cycle, record.period, formats)
                    )
                    return RedirectResponse(f"/cycles/new/{job}", status_code=303)
        finally:
            await form.close()
        return await show_cycle(request, user, record, problems)

    def build_request(
        job: str,
        folder: Path,
        roster: Path,
        name: str,
        period: Period,
        formats: tuple[str, ...] = CYCLE_FORMATS,
    ) -> BuildRequest:
        return BuildRequest(
            job,
            folder,
            roster,
            catalogue.canon,
            name,
            period,
            store.out,
            store.layout,
            store.options,
            store.compose_options,
            site.cycle_jobs,
            formats,
        )

    def roster_suffix(upload: object, problems: list[str]) -> str:
        """The uploaded roster's suffix (`.csv` or `.xlsx`), or a problem for an upload that
        is not one; the client's file name gives its suffix only, never a path."""
        if not isinstance(upload, UploadFile) or not upload.filename:
            problems.append("roster: choose the roster file (CSV or XLSX)")
            return ""
        suffix = Path(shown_name(upload.filename, "")).suffix.casefold()
        if suffix not in ROSTER_SUFFIXES:
            problems.append("roster: a roster is a .csv or .xlsx file")
        return suffix

    async def received_roster(
        upload: object, problems: list[str], refused: str | None = None
    ) -> tuple[str, Path, Path] | None:
        """A roster upload taken in for a build: refused while a cycle builds (or for `refused`,
        the page's own reason), else its suffix checked and the file saved (owner-only) in a new
        build job's folder: the job, the folder and the roster's path (named by us, never by the
        client). None, with the problems added, when it is not taken."""
        running = site.workers.running()
        if running is not None:
            problems.append(f"the cycle {running} is being built; wait for it to finish")
        elif refused is not None:
            problems.append(refused)
        suffix = "" if problems else roster_suffix(upload, problems)
        if problems:
            return None
        assert isinstance(upload, UploadFile)
        job, folder = site.workers.new_job()
        roster = folder / f"roster{suffix}"
        await save_upload(upload, roster)
        return job, folder, roster

    def roster_problems(roster: Path) -> list[Problem]:
        """The roster checked as `packs cycle` checks it (located as `roster.csv:LINE`)."""
        try:
            read_roster(roster, [p.id for p in catalogue.canon.profiles], roster.name)
        except CanonError as exc:
            if not exc.problems:
                return [Problem(roster.name, 0, str(exc), "roster-format")]
            return list(exc.problems)
        return []

    async def cycle_bundle(request: Request) -> Response:
        user = site.need(request)
        record = await run_in_threadpool(cycle_of, request, user)
        file = str(request.path_params["file"])
        manager_id = file.removesuffix(".zip")
        if not file.endswith(".zip") or manager_id not in managers_shown(user, record):
            raise HTTPException(404, "No such bundle in this cycle.")
        if await run_in_threadpool(site.cycles.stale, record, manager_id) is not None:
            other = await run_in_threadpool(site.cycles.other_settings, record)
            if other is None:
                record = await refreshed(record, manager_id)
                if manager_id not in managers_shown(user, record):
                    raise HTTPException(404, "No such bundle in this cycle.")
            elif not await run_in_threadpool(site.cycles.on_disk, record, manager_id):
                # never rebuilt with the server's choices (a form password dropped, say)
                raise HTTPException(409, f"This bundle cannot be built here: {other}.")
        served = await run_in_threadpool(site.cycles.bundle, record, manager_id)
        if served is None:
            raise HTTPException(404, "No such bundle in this cycle.")
        return file_response(request, served, ZIP_MEDIA_TYPE)

    async def refreshed(record: CycleRecord, manager_id: str) -> CycleRecord:
        """The cycle after `packs cycle`'s own code brought it up to date in a worker process
        (under its build lock), when the bundle is still stale once it is this request's turn."""
        lock = refreshing.setdefault(record.cycle, asyncio.Lock())
        async with lock:
            current = await run_in_threadpool(site.cycles.record, record.cycle)
            if current is None:
                raise HTTPException(404, "No such cycle.")
            if await run_in_threadpool(site.cycles.stale, current, manager_id) is None:
                return current
            job = await run_in_threadpool(site.cycles.refresh_request, current)
            outcome, line = await asyncio.wrap_future(site.workers.refresh(job))
            if outcome == Refreshed.BUSY:
                raise HTTPException(503, "The cycle is being built; try again shortly.")
            if outcome != Refreshed.DONE:
                raise PacksError(f"{record.cycle} could not be brought up to date: {line}")
            current = await run_in_threadpool(site.cycles.record, record.cycle)
            if current is None:
                raise HTTPException(404, "No such cycle.")
            why = await run_in_threadpool(site.cycles.stale, current, manager_id)
            if why is not None:
                raise PacksError(f"{record.cycle}: {why} after building it again")
            return current

    def new_cycle_form(**values: Any) -> dict[str, Any]:
        defaults = {"cycle_name": "", "period": "", "problems": []}
        return defaults | {"running": site.workers.running()} | values

    async def cycle_new_form(request: Request) -> Response:
        site.need(request, hr=True)
        return await form_page(site, request, "cycle_new.html.j2", **new_cycle_form())

    async def cycle_new(request: Request) -> Response:
        site.need(request, hr=True)
        _session, form = await checked_form(site, request, max_files=1)
        try:
            name = str(form.get("name", "")).strip()[:100]
            period = str(form.get("period", "")).strip()[:100]
            problems: list[str] = []
            received = await received_roster(form.get("roster"), problems)
            if received is not None:
                job, folder, roster = received
                problems, parsed = await run_in_threadpool(check_cycle, name, period, roster)
                if not problems:
                    assert parsed is not None
                    site.workers.start(build_request(job, folder, roster, name, parsed))
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
        problems.extend(roster_problems(roster))
        if problems:
            return RosterError("the cycle's input is invalid", problems).report().splitlines(), None
        return [], parsed

    async def save_upload(upload: UploadFile, target: Path) -> None:
        """An uploaded file to `target` (mode 0600), chunk by chunk, off the event loop."""

        def write(chunk: bytes, first: bool) -> None:
            # created owner-only: a roster is personal data from its first byte
            flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if first else os.O_APPEND)
            with os.fdopen(os.open(target, flags, 0o600), "wb") as fh:
                fh.write(chunk)
            if first:
                os.chmod(target, 0o600)  # an existing file keeps its mode through O_CREAT

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
            exists=str(status["cycle"]) in await run_in_threadpool(site.cycles.names),
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
            site, request, "cycle_returns.html.j2", record=record, summary=summary, refused=[]
        )

    async def cycle_returns_upload(request: Request) -> Response:
        user = site.need(request, hr=True)
        record = await run_in_threadpool(cycle_of, request, user)
        folder = site.cycles.folder(record.cycle)
        _session, form = await checked_form(site, request, max_files=MAX_RETURNED_FILES)
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
        return file_response(request, served, XLSX_MEDIA_TYPE)

    return [
        Route("/cycles", cycles),
        Route("/cycles/new", cycle_new_form, methods=["GET"]),
        Route("/cycles/new", cycle_new, methods=["POST"]),
        Route("/cycles/new/{job}", cycle_build),
        Route("/cycles/new/{job}/status", cycle_build_status),
        Route("/cycles/{name}", cycle_page),
        Route("/cycles/{name}/managers/{file}", cycle_bundle),
        Route("/cycles/{name}/roster", cycle_update, methods=["POST"]),
        Route("/cycles/{name}/returns", cycle_returns, methods=["GET"]),
        Route("/cycles/{name}/returns", cycle_returns_upload, methods=["POST"]),
        Route(f"/cycles/{{name}}/returns/{RESULTS}", cycle_results),
    ]
