"""`packs serve`: the HR download page (Starlette on uvicorn, Jinja2 pages from `layouts/web/`).

- `packs.py`: the profile catalogue and the packs of `out/`, exactly as `packs build` writes them;
- `cycles.py`: the review cycles of `out/cycles/` as their `cycle.json` says, and who sees what;
- `jobs.py`: a web build's job folder on disk (its roster, `status.json`, who claimed it);
- `worker.py`: what runs in the worker processes: cycle builds, bundle refreshes, harvests;
- `pool.py`: the server's side of those workers (`Workers`), the builds' state;
- `returns.py`: a cycle's returned files as uploaded, their index, the harvest's outputs;
- `accounts.py`: the users file, scrypt hashes, roles;
- `sessions.py`: server-side sessions, CSRF tokens, the failed-login throttle;
- `app.py`: what the pages share (`Site`), the app and its error pages;
- `profile_pages.py`, `cycle_pages.py`, `login_pages.py`: the pages, by page group;
- `security.py`: the security headers and body limits (middlewares), the CSRF check, the cookie;
- `server.py`: binding, the loopback rule, uvicorn.
"""
