"""The Starlette application of `packs serve`: routes, access rules, pages, security headers.

URLs are fixed (tests and bookmarks rely on them): `/`, `/profiles/<ID>`,
`/profiles/<ID>/<file name as in the pack>`, `/profiles/<ID>/pack.zip`, `/download?pattern=…`,
`/cycles`, `/cycles/<NAME>`, `/cycles/<NAME>/managers/<manager_id>.zip`, `/healthz`, `/login`,
`/logout`. Pages are Jinja2 templates of the web layout (autoescaped: canon
text is text); ids and file names from a URL are looked up in the canon and the pack's own list
before any file is touched.

The pages are in page groups (`profile_pages.py`, `cycle_pages.py`, `login_pages.py`), the
middlewares and the CSRF check in `security.py`; here are what they share (`Site`) and the app.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from pipeline.compose import compose_profile
from pipeline.diagnostics import PacksError
from pipeline.layout import LAYOUTS_DIR
from pipeline.model import ProfileFrames
from pipeline.serve import cycle_pages, login_pages, profile_pages
from pipeline.serve.accounts import LOCAL_USER, Accounts, User
from pipeline.serve.cycles import CycleStore
from pipeline.serve.login_pages import FAILED_LOGIN_DELAY
from pipeline.serve.packs import Catalogue, Entry, PackStore
from pipeline.serve.pool import Workers
from pipeline.serve.security import (
    MAX_RETURNS_BODY,
    MAX_ROSTER_BODY,
    BodyLimit,
    LoginRequired,
    SecurityHeaders,
)
from pipeline.serve.sessions import COOKIE, LoginThrottle, Session, SessionStore

#: The web layout: page templates and static files (presentation, not code).
WEB_LAYOUT = LAYOUTS_DIR / "web"


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
    #: Each profile's row of the list (`profile_row.html.j2`), rendered once: see `rows`.
    _rows: dict[str, Markup] | None = field(init=False, default=None)
    _rows_lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.cycles = CycleStore(self.store)
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

    def rows(self, entries: Sequence[Entry]) -> Markup:
        """The list's rows of these entries. The catalogue does not change while the server
        runs, so each profile's row is rendered once (all of them, the first time: at start-up)
        and a list only joins them."""
        if self._rows is None:
            with self._rows_lock:
                if self._rows is None:
                    row = self.env.get_template("profile_row.html.j2")
                    self._rows = {e.id: Markup(row.render(e=e)) for e in self.catalogue.entries}
        rows = self._rows
        return Markup("").join(rows[e.id] for e in entries)

    def frames(self, profile_id: str) -> ProfileFrames:
        """The profile's frames, composed once (they are frozen; the canon does not change)."""
        frames = self._frames.get(profile_id)
        if frames is None:
            entry = self.catalogue.get(profile_id)
            assert entry is not None
            frames = compose_profile(entry.profile, self.catalogue.canon.digest(profile_id))
            self._frames[profile_id] = frames
        return frames


def create_app(site: Site, allowed_hosts: list[str] | None = None) -> Starlette:
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
        *profile_pages.routes(site),
        *login_pages.routes(site),
        *cycle_pages.routes(site),
        Mount("/static", StaticFiles(directory=site.web / "static"), name="static"),
    ]
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        HTTPException: on_http_error,
        LoginRequired: on_login_required,
        PacksError: on_packs_error,
    }
    uploads = [
        (re.compile(r"/cycles/new"), site.roster_limit),
        (re.compile(r"/cycles/[^/]+/roster"), site.roster_limit),
        (re.compile(r"/cycles/[^/]+/returns"), site.returns_limit),
    ]
    middleware = [Middleware(SecurityHeaders), Middleware(BodyLimit, uploads=uploads)]
    if allowed_hosts:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(site.rows, ())  # the list's rows, before the first request
        try:
            yield
        finally:  # an idle pool is joined; a running build finishes in its worker
            site.workers.close(wait=site.workers.running() is None)

    return Starlette(
        routes=routes, middleware=middleware, exception_handlers=handlers, lifespan=lifespan
    )
