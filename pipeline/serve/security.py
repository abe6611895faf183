"""`packs serve`'s guards: the security headers and body-size ASGI middlewares, the login
requirement, the session cookie and every POST form's CSRF check."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.cycle import MAX_ROSTER_BYTES
from pipeline.serve.sessions import COOKIE, Session, csrf_ok

if TYPE_CHECKING:
    from pipeline.serve.app import Site

#: Request bodies larger than this are refused with 413 (but on the upload pages).
MAX_BODY = 64 * 1024
#: A roster upload: the roster's own limit and room for the form around it.
MAX_ROSTER_BODY = MAX_ROSTER_BYTES + MAX_BODY
#: One upload of returned files (each file at most the harvest's MAX_FILE_BYTES).
MAX_RETURNS_BODY = 256 * 1024 * 1024
#: Files in one upload of returned files.
MAX_RETURNED_FILES = 500

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


def set_session_cookie(request: Request, response: Response, session: Session) -> None:
    response.set_cookie(
        COOKIE,
        session.token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def local_path(target: str | None) -> str:
    """A redirect target only within this site (no `//host`, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def checked_form(
    site: Site, request: Request, max_files: int = 0
) -> tuple[Session, FormData]:
    """Every POST: the form, read with limits, and its CSRF token checked (403 without)."""
    form = await request.form(max_files=max_files, max_fields=20, max_part_size=8 * 1024)
    session = site.session(request)
    if session is None or not csrf_ok(session, form.get("csrf")):
        await form.close()
        raise HTTPException(403, "This form has expired or did not come from this site.")
    return session, form


async def form_page(site: Site, request: Request, name: str, **context: Any) -> Response:
    """A page with a POST form: the local user (no accounts, so no login) gets a session
    here, for the form's CSRF token."""
    session = site.session(request) or site.sessions.new()
    response = await site.page(request, name, session=session, **context)
    set_session_cookie(request, response, session)
    return response
