"""`packs serve`: the HR download page (Starlette on uvicorn, Jinja2 pages from `layouts/web/`).

- `packs.py`: the profile catalogue and the packs of `out/`, exactly as `packs build` writes them;
- `accounts.py`: the users file, scrypt hashes, roles;
- `sessions.py`: server-side sessions, CSRF tokens, the failed-login throttle;
- `app.py`: routes, pages, security headers;
- `server.py`: binding, the loopback rule, uvicorn.
"""
