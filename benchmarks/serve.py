"""Benchmark of `packs serve`: `python -m benchmarks serve [--downloads N] [--concurrency C]
[--profiles P] [--people K]`.

Three measurements (issue 19's targets), each bounded (it stops by itself):

1. **Downloads**: a real `packs serve --port 0` (loopback, one local user) on the bundled canon;
   the seed pack is built by a first request, then N downloads of its files and its pack.zip
   from C threads (one keep-alive connection each): latency p50 / p95 / max, errors.
2. **Pages while a cycle builds**: a cycle of K people is started through `/cycles/new` (the
   roster uploaded as a browser would), and `/`, `/profiles/<seed>` and `/cycles` are loaded from
   4 threads until the build's status says it ended: page latency p50 / p95 / max.
3. **A 5,000-profile list**: the synthetic canon of benchmarks/bench.py with P profiles, loaded
   once; the median time of rendering `/` (every profile) in process, and `packs list` against
   `packs check` as child processes (median of 3).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.bench import synthetic_canon

REPO = Path(__file__).resolve().parent.parent
CANON = REPO / "canon"
SEED_ID = "CLINIC.CLINICAL90BC.M4"
START_SECONDS = 60.0
BUILD_SECONDS = 900.0


def _p(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _row(label: str, values: Sequence[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"| {label} | {len(ms)} | {statistics.median(ms):.1f} | {_p(ms, 0.95):.1f} "
        f"| {max(ms):.1f} |"
    )


class Server:
    """`packs serve` on 127.0.0.1, port 0, in a child process (stopped on exit)."""

    def __init__(self, work: Path) -> None:
        self.log = work / "server.log"
        argv = [sys.executable, "-m", "pipeline", "serve", "--canon", str(CANON)]
        argv += ["--out", str(work / "out"), "--port", "0"]
        env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + START_SECONDS
        while True:
            found = re.search(rb"serving on http://127.0.0.1:(\d+)/", self.log.read_bytes())
            if found:
                self.port = int(found.group(1))
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"packs serve did not start:\n{self.log.read_text()}")
            time.sleep(0.05)

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


def _get(conn: http.client.HTTPConnection, path: str, cookie: str = "") -> tuple[int, bytes]:
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = conn.getresponse()
    return response.status, response.read()


def _timed_loop(
    server: Server, paths: Sequence[str], threads: int, keep_going: Callable[[int], bool]
) -> tuple[list[float], int]:
    """GET `paths` in turn from `threads` threads while `keep_going(done)`: latencies, errors."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = [0]

    def worker() -> None:
        conn = server.connection()
        try:
            while True:
                with lock:
                    n = counter[0]
                    if not keep_going(n):
                        return
                    counter[0] += 1
                start = time.perf_counter()
                try:
                    status, _body = _get(conn, paths[n % len(paths)])
                except (OSError, http.client.HTTPException):
                    status = 0
                    conn.close()
                    conn = server.connection()
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    if status != 200:
                        errors[0] += 1
        finally:
            conn.close()

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
    return latencies, errors[0]


def downloads(server: Server, count: int, concurrency: int) -> str:
    files = [
        f"/profiles/{SEED_ID}/{SEED_ID}.{name}"
        for name in ("review-form.docx", "handout.pdf", "mbo-tracker.xlsx", "goal-templates.txt")
    ]
    paths = [*files, f"/profiles/{SEED_ID}/pack.zip"]
    conn = server.connection()
    for path in paths:  # builds the pack (and its zip) once
        status, _ = _get(conn, path)
        assert status == 200, (path, status)
    conn.close()
    latencies, errors = _timed_loop(server, paths, concurrency, lambda n: n < count)
    return _row(f"{count} downloads, concurrency {concurrency}, errors {errors}", latencies)


def _roster(people: int) -> bytes:
    profiles = [SEED_ID, "ENGR.GEN.M2", "ENGR.PLATFORM.P2", "ENGR.PLATFORM.P3", "OPS.SUPPLY.E1"]
    lines = ["employee_id,name,profile,manager_id"]
    for i in range(people):
        manager = "" if i == 0 else f"P{(i - 1) // 8:04d}"
        lines.append(f"P{i:04d},Person {i},{profiles[i % len(profiles)]},{manager}")
    return ("\n".join(lines) + "\n").encode()


def _multipart(fields: dict[str, str], name: str, filename: str, data: bytes) -> tuple[str, bytes]:
    boundary = "bench" + secrets.token_hex(8)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
        f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'
    ).encode()
    body = b"".join(parts) + head + data + f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


def pages_while_building(server: Server, people: int) -> str:
    conn = server.connection()
    conn.request("GET", "/cycles/new")
    response = conn.getresponse()
    html = response.read().decode()
    cookie = (response.getheader("set-cookie") or "").split(";")[0]
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    kind, body = _multipart(
        {"csrf": found.group(1), "name": "bench", "period": "2027-01-01/2027-12-31"},
        "roster",
        "roster.csv",
        _roster(people),
    )
    conn.request("POST", "/cycles/new", body, {"Content-Type": kind, "Cookie": cookie})
    response = conn.getresponse()
    response.read()
    location = response.getheader("location") or ""
    assert response.status == 303 and location.startswith("/cycles/new/"), response.status
    started = time.monotonic()
    state = ["queued"]

    def poll() -> None:
        c = server.connection()
        try:
            while time.monotonic() - started < BUILD_SECONDS:
                status, data = _get(c, f"{location}/status", cookie)
                state[0] = json.loads(data)["state"] if status == 200 else "?"
                if state[0] in ("done", "failed"):
                    return
                time.sleep(0.5)
        finally:
            c.close()

    poller = threading.Thread(target=poll)
    poller.start()
    paths = ["/", f"/profiles/{SEED_ID}", "/cycles"]
    latencies, errors = _timed_loop(
        server, paths, 4, lambda n: state[0] not in ("done", "failed", "?") and poller.is_alive()
    )
    poller.join()
    took = time.monotonic() - started
    label = (
        f"pages while a {people}-person cycle builds ({took:.0f} s, {state[0]}), "
        f"4 threads, errors {errors}"
    )
    return _row(label, latencies)


def big_list(profiles: int, work: Path) -> list[str]:
    from starlette.testclient import TestClient

    from pipeline.extract import load_canon
    from pipeline.layout import RenderOptions, load_layout
    from pipeline.serve.app import Site, create_app
    from pipeline.serve.packs import Catalogue, PackStore

    root = synthetic_canon(work / "canon", profiles)
    canon = load_canon(root)
    site = Site(
        Catalogue(canon),
        PackStore(canon, work / "big-out", load_layout("default"), RenderOptions()),
        None,
    )
    times = []
    with TestClient(create_app(site), base_url="http://127.0.0.1") as client:
        client.get("/")
        for _ in range(5):
            start = time.perf_counter()
            response = client.get("/")
            times.append(time.perf_counter() - start)
            assert response.status_code == 200 and response.text.count("<tr>") > profiles
    rows = [_row(f"`/` of a {profiles:,}-profile canon (in process)", times)]

    def cli(*args: str) -> float:
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "pipeline", *args, "--canon", str(root)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            runs.append(time.perf_counter() - start)
        return statistics.median(runs)

    listing, check = cli("list"), cli("check")
    rows.append(
        f"`packs list` {listing:.2f} s, `packs check` {check:.2f} s (median of 3, "
        f"{profiles:,} profiles)"
    )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks serve")
    parser.add_argument("--downloads", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--profiles", type=int, default=5000)
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print("| what | requests | p50 ms | p95 ms | max ms |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        work = Path(tmp)
        server = Server(work)
        try:
            print(downloads(server, args.downloads, args.concurrency), flush=True)
            print(pages_while_building(server, args.people), flush=True)
        finally:
            server.stop()
        for line in big_list(args.profiles, work):
            print(line, flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0
