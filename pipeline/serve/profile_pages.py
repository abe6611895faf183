"""`packs serve`'s profile pages: `/` (the catalogue, filtered), `/profiles/<ID>`, its files and
`pack.zip`, `/download?pattern=…` (HR), `/healthz`; and the file download every page uses."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from pipeline.build import MANIFEST
from pipeline.build.lock import BuildBusy
from pipeline.model import Frame, Group
from pipeline.render.to_text import block_text
from pipeline.serve.packs import ZIP_MEDIA_TYPE, ServedFile, media_type

if TYPE_CHECKING:
    from pipeline.serve.app import Site

PACK_ZIP = "pack.zip"
MAX_PATTERN = 200


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


def attachment(name: str) -> str:
    return f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"


def file_response(request: Request, served: ServedFile, kind: str) -> Response:
    headers = {
        "etag": served.etag,
        "content-disposition": attachment(served.name),
        "cache-control": "private, no-cache",
    }
    if served.etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(served.data, media_type=kind, headers=headers)


def routes(site: Site) -> list[Route]:
    """The profile pages of `site`."""
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
            rows=await run_in_threadpool(site.rows, found),
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
            return file_response(request, served, ZIP_MEDIA_TYPE)
        allowed = {f.file_name(profile_id) for f in store.formats} | {MANIFEST}
        if name not in allowed:
            raise HTTPException(404, "No such file in this pack.")
        served = await busy(lambda: store.file(profile_id, name))
        if served is None:
            raise HTTPException(404, "No such file in this pack.")
        return file_response(request, served, media_type(name))

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
            headers={"content-disposition": attachment("packs.zip")},
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "profiles": len(catalogue.entries)})

    return [
        Route("/", index),
        Route("/healthz", healthz),
        Route("/download", download),
        Route("/profiles/{profile_id}", profile),
        Route("/profiles/{profile_id}/{name}", profile_file),
    ]
