"""`packs serve`'s `/login` (form and POST, throttled) and `/logout`; with no accounts (one
local user) both lead to `/`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pipeline.serve.security import checked_form, local_path, set_session_cookie
from pipeline.serve.sessions import COOKIE

if TYPE_CHECKING:
    from pipeline.serve.app import Site

#: A failed login always costs this long (besides the throttle's lock-outs).
FAILED_LOGIN_DELAY = 0.5


def routes(site: Site) -> list[Route]:
    """The login pages of `site`."""

    async def login_form(request: Request) -> Response:
        if site.accounts is None:
            return RedirectResponse("/", status_code=303)
        session = site.session(request) or site.sessions.new()
        target = local_path(request.query_params.get("next"))
        response = await site.page(request, "login.html.j2", session=session, next=target)
        set_session_cookie(request, response, session)
        return response

    async def login(request: Request) -> Response:
        accounts = site.accounts
        if accounts is None:
            return RedirectResponse("/", status_code=303)
        session, form = await checked_form(site, request)
        name = str(form.get("name", ""))[:64]
        password = str(form.get("password", ""))[:1024]
        target = local_path(str(form.get("next", "/")))
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
        set_session_cookie(request, redirect, fresh)
        return redirect

    async def logout(request: Request) -> Response:
        session, _form = await checked_form(site, request)
        site.sessions.end(session.token)
        response = RedirectResponse("/login" if site.accounts is not None else "/", 303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    return [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]
