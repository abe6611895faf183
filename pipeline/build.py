"""Build: the only stage that writes. Selection, workers, manifests, atomic writes, skips, zips.

Guarantees, and how they are kept:
- *Atomic.* Every file is staged under a hidden temporary name in its final folder (fsynced) and
  renamed into place. A pack is committed as a unit: all files are staged first, the old manifest
  is moved aside, the files are renamed, and the new manifest is renamed in last. So whenever a
  `manifest.json` exists, every file it lists is complete and matches it; a build killed at any
  point leaves other packs untouched and at worst one pack without a manifest (rebuilt next time).
- *Reproducible.* Renderers get the build time from `SOURCE_DATE_EPOCH`; manifests and zips use
  it too (sorted members, fixed times and permissions), so a rebuild gives the same bytes.
- *Incremental.* Each manifest records a fingerprint of everything that shapes the pack (canon
  digest, layout files, product code and version, library versions, formats, options); a pack
  whose fingerprint and files are unchanged is skipped without composing or importing a renderer.
- *Parallel.* Workers come from a forkserver that has imported the renderers once; each worker
  renders and writes whole packs, keeps its per-process caches (CSS, fonts, templates) and is
  replaced after a bounded number of packs so memory stays flat. The heaviest packs go first
  (`largest_first`), so the workers finish together. One build per `out/` at a time (an
  flock'ed lock file).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import fnmatch
import functools
import hashlib
import io
import json
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import platform
import signal
import sys
import tempfile
import time
import traceback
import zipfile
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import IO, Any, TextIO

from pipeline.compose import ComposeOptions, compose_profile
from pipeline.diagnostics import PacksError
from pipeline.layout import Layout, RenderOptions
from pipeline.model import Canon, Profile
from pipeline.render import FORMATS, Format

PRODUCT = "jobframe-packs"
DEFAULT_COMPOSE = ComposeOptions()
#: Libraries whose version can change output bytes (recorded in manifests and fingerprints).
LIBRARIES = (
    "weasyprint",
    "pydyf",
    "fonttools",
    "python-docx",
    "openpyxl",
    "Jinja2",
    "PyYAML",
    "lxml",
)
MANIFEST = "manifest.json"
LOCK_FILE = ".packs-build.lock"
#: The zip of the whole selection, beside the per-profile `<ID>.zip` files.
SELECTION_ZIP = "packs.zip"
#: A worker is replaced after this many packs, so leaks in a library cannot accumulate.
MAX_TASKS_PER_CHILD = 64
#: Zip timestamps cannot go before 1980-01-01.
ZIP_EPOCH_FLOOR = 315_532_800
#: Members deflated in zips; the office formats and PDF are compressed already, so stored.
COMPRESSIBLE = (".txt", ".json", ".html", ".csv", ".md")
TEMP_SUFFIX = ".tmp"


# --- versions and inputs --------------------------------------------------------------------------


@functools.cache
def product_version() -> str:
    try:
        return metadata.version(PRODUCT)
    except metadata.PackageNotFoundError:
        return "0+unknown"


@functools.cache
def _library_versions() -> tuple[tuple[str, str], ...]:
    out = []
    for name in LIBRARIES:
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(out)


def library_versions() -> dict[str, str]:
    return dict(_library_versions())


@functools.cache
def code_digest() -> str:
    """sha256 over the pipeline's own source: an edited renderer invalidates packs even when the
    version number stays the same (an editable install during development)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
            h.update(path.relative_to(root).as_posix().encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return "sha256:" + h.hexdigest()


def layout_digest(layout: Layout) -> str:
    """sha256 over every file of the layout (names and bytes), ignoring caches and dot files."""
    h = hashlib.sha256()
    for path in layout.files():
        rel = path.relative_to(layout.root)
        if "__pycache__" in rel.parts or any(part.startswith(".") for part in rel.parts):
            continue
        h.update(rel.as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return "sha256:" + h.hexdigest()


def source_date_epoch(environ: Mapping[str, str] | None = None) -> int | None:
    """SOURCE_DATE_EPOCH as an int, or None when unset; a malformed value is an input error."""
    raw = (os.environ if environ is None else environ).get("SOURCE_DATE_EPOCH")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise PacksError(
            f"SOURCE_DATE_EPOCH={raw!r} is not a whole number of seconds since 1970"
        ) from None
    if value < 0:
        raise PacksError(f"SOURCE_DATE_EPOCH={raw!r} must not be negative")
    return value


def iso_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_jobs() -> int:
    """The cores this process may run on (cgroup/affinity aware where the OS says)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def select(canon: Canon, patterns: Sequence[str]) -> tuple[Profile, ...]:
    """Profiles whose id matches any pattern (`CLINIC.*`, `*.M4`), canon order; all when none.

    A pattern that matches nothing is an error even when others match: a typo must not silently
    shrink a selection.
    """
    if not patterns:
        return canon.profiles
    unmatched = [
        pat for pat in patterns if not any(fnmatch.fnmatchcase(p.id, pat) for p in canon.profiles)
    ]
    if unmatched:
        raise PacksError(f"no profile matches {' '.join(unmatched)} (try `packs list`)")
    return tuple(
        p for p in canon.profiles if any(fnmatch.fnmatchcase(p.id, pat) for pat in patterns)
    )


# --- atomic writes --------------------------------------------------------------------------------


def _stage(path: Path, data: bytes) -> Path:
    """Write `data` to a hidden temporary file beside `path` (fsynced, mode 0644); return it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return Path(tmp)


@contextlib.contextmanager
def open_atomic(path: Path) -> Iterator[IO[bytes]]:
    """A file to stream into that appears under `path` only once complete (for big zips)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "w+b") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _stage(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _fsync_dir(folder: Path) -> None:
    """Make the renames in `folder` durable (best effort: not every filesystem allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def sweep_temps(folder: Path) -> int:
    """Remove temporary files a killed build left in `folder` (only while holding the lock)."""
    removed = 0
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(folder):
            if _is_temp(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


# --- packs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackFile:
    name: str
    data: bytes


def render_pack(
    profile: Profile,
    digest: str,
    formats: Iterable[Format],
    layout: Layout,
    options: RenderOptions,
    compose_options: ComposeOptions = DEFAULT_COMPOSE,
) -> tuple[PackFile, ...]:
    """Render one profile in every format, in memory (pure: no files, no clock)."""
    frames = compose_profile(profile, digest, compose_options)
    return tuple(
        PackFile(fmt.file_name(profile.id), fmt.renderer()(frames, layout, options))
        for fmt in formats
    )


def generator_info() -> dict[str, Any]:
    return {"name": PRODUCT, "version": product_version(), "libraries": library_versions()}


def manifest(
    profile_id: str,
    digest: str,
    files: Sequence[PackFile],
    build_epoch: int,
    inputs: Mapping[str, Any] | None = None,
) -> bytes:
    """design.md §6 manifest, plus `inputs` (the fingerprint incremental builds compare)."""
    data: dict[str, Any] = {
        "profile": profile_id,
        "canon_digest": digest,
        "build_time": iso_time(build_epoch),
        "generator": generator_info(),
        "files": [
            {"path": f.name, "bytes": len(f.data), "sha256": hashlib.sha256(f.data).hexdigest()}
            for f in sorted(files, key=lambda f: f.name)
        ],
    }
    if inputs is not None:
        data["inputs"] = dict(inputs)
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _listed_files(manifest_path: Path) -> set[str]:
    """File names a previous manifest lists (plain names in the pack folder only)."""
    try:
        data = json.loads(manifest_path.read_bytes())
        names = {str(f["path"]) for f in data["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {n for n in names if n == Path(n).name and not n.startswith(".") and n != MANIFEST}


def commit_pack(
    folder: Path,
    files: Sequence[PackFile],
    manifest_data: bytes,
    other_outputs: Iterable[str] = (),
) -> None:
    """Write one pack so that a manifest, when present, always matches the files it lists.

    Stage everything (where a full disk fails, with the old pack untouched), move the old manifest
    aside, rename the files in, drop files no longer built (those the old manifest lists and
    `other_outputs`, the names other formats would write), rename the manifest in.
    """
    folder.mkdir(parents=True, exist_ok=True)
    sweep_temps(folder)
    current = folder / MANIFEST
    obsolete = (_listed_files(current) | set(other_outputs)) - {f.name for f in files}
    staged: list[tuple[Path, Path]] = []
    try:
        for f in files:
            staged.append((_stage(folder / f.name, f.data), folder / f.name))
        staged.append((_stage(current, manifest_data), current))
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
    aside = folder / f".{MANIFEST}.old{TEMP_SUFFIX}"
    moved_aside = replaced = False
    try:
        if current.exists():
            os.replace(current, aside)
            moved_aside = True
        for tmp, final in staged[:-1]:
            os.replace(tmp, final)
            replaced = True
        for name in obsolete:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(folder / name)
        tmp, final = staged[-1]
        os.replace(tmp, final)
    except BaseException:
        if moved_aside and not replaced:  # nothing changed yet: put the old pack back whole
            with contextlib.suppress(OSError):
                os.replace(aside, current)
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(aside)
    _fsync_dir(folder)


def _compression(name: str) -> int:
    return zipfile.ZIP_DEFLATED if name.endswith(COMPRESSIBLE) else zipfile.ZIP_STORED


def write_zip(target: IO[bytes], members: Iterable[tuple[str, bytes]], epoch: int) -> None:
    """A deterministic zip: members sorted by name, fixed times (from `epoch`) and permissions."""
    stamp = time.gmtime(max(epoch, ZIP_EPOCH_FLOOR))[:6]
    with zipfile.ZipFile(target, "w") as z:
        for name, data in sorted(members, key=lambda m: m[0]):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = _compression(name)
            info.create_system = 3  # Unix, so the permissions below are honoured by unzip
            info.external_attr = 0o100644 << 16
            z.writestr(info, data)


def zip_bytes(members: Iterable[tuple[str, bytes]], epoch: int) -> bytes:
    buffer = io.BytesIO()
    write_zip(buffer, members, epoch)
    return buffer.getvalue()


def pack_members(
    profile_id: str, files: Sequence[PackFile], manifest_data: bytes
) -> list[tuple[str, bytes]]:
    """Zip members of one pack: `<ID>/<file>` and `<ID>/manifest.json`."""
    return [(f"{profile_id}/{f.name}", f.data) for f in files] + [
        (f"{profile_id}/{MANIFEST}", manifest_data)
    ]


# --- one pack, in a worker or in-process ----------------------------------------------------------


@dataclass(frozen=True)
class PackJob:
    """Everything a worker needs besides the profile; pickled once per worker."""

    formats: tuple[Format, ...]
    layout: Layout
    options: RenderOptions
    compose_options: ComposeOptions
    out: Path
    epoch: int
    inputs: Mapping[str, Any]
    zip: bool = False


@dataclass(frozen=True)
class PackTask:
    profile: Profile
    digest: str
    fingerprint: str


@dataclass(frozen=True)
class PackResult:
    profile_id: str
    seconds: float
    error: str | None = None
    #: Traceback of an unexpected exception (a bug), for the log.
    detail: str | None = None
    #: What a library warned about while rendering (e.g. a character no font can draw).
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


def build_pack(job: PackJob, task: PackTask) -> PackResult:
    """Render and commit one pack; never raises for a failure of this one profile."""
    start = time.perf_counter()
    pid = task.profile.id
    try:
        with library_warnings() as warned:
            files = render_pack(
                task.profile, task.digest, job.formats, job.layout, job.options, job.compose_options
            )
    except PacksError as exc:
        return PackResult(pid, time.perf_counter() - start, exc.report())
    except Exception as exc:
        return PackResult(
            pid, time.perf_counter() - start, f"{type(exc).__name__}: {exc}", traceback.format_exc()
        )
    inputs = {**job.inputs, "fingerprint": task.fingerprint}
    data = manifest(pid, task.digest, files, job.epoch, inputs)
    try:
        others = (f.file_name(pid) for f in FORMATS.values())
        commit_pack(job.out / pid, files, data, others)
        if job.zip:
            write_atomic(
                job.out / f"{pid}.zip", zip_bytes(pack_members(pid, files, data), job.epoch)
            )
    except OSError as exc:
        return PackResult(pid, time.perf_counter() - start, f"cannot write: {_os_message(exc)}")
    return PackResult(pid, time.perf_counter() - start, warnings=tuple(dict.fromkeys(warned)))


#: Loggers of libraries whose warnings mean the output is not what the reader should get.
WARNING_LOGGERS = ("weasyprint",)


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


@contextlib.contextmanager
def library_warnings() -> Iterator[list[str]]:
    """Collect what the rendering libraries warn about (WeasyPrint only logs a missing glyph:
    left alone, a handout would print boxes and the build would say nothing)."""
    messages: list[str] = []
    handler = _Collect(messages)
    loggers = [logging.getLogger(name) for name in WARNING_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield messages
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def _os_message(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


def _worker_main(conn: Connection, job: PackJob, max_tasks: int) -> None:
    """Worker loop: one pack per message until told to stop, the parent is gone, or the quota."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    for _ in range(max_tasks):
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send(build_pack(job, task))


@dataclass
class _Slot:
    process: Any  # multiprocessing.context.ForkServerProcess (untyped in typeshed's context API)
    conn: Connection
    task: PackTask | None = None
    done: int = 0


def _worker_context(formats: Sequence[Format]) -> Any:
    """The forkserver context, its server importing this module and the renderers once."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["pipeline.build", *sorted({f.module for f in formats})])
    return ctx


def start_workers_early(formats: Sequence[Format], out: Path, force: bool) -> bool:
    """Launch the forkserver now, before the canon is read, when the build will render.

    Its imports (WeasyPrint, python-docx, openpyxl: about 0.7 s) then run on another core while
    this process reads the canon, instead of after. Only for a forced build or an `out/` holding
    no pack yet: a rebuild may find nothing to render, and an unused server would still hold
    this command's output open until its imports finish (0.5 s more for whoever reads it).
    """
    if not force and next(out.glob(f"*/{MANIFEST}"), None) is not None:
        return False
    _worker_context(formats)
    with contextlib.suppress(OSError):  # the first worker start tries again and reports it
        multiprocessing.forkserver.ensure_running()
    return True


def render_weight(profile: Profile) -> int:
    """Roughly how long a profile's pack takes to render, to order the work: the characters of
    the canon text its frames repeat (core outputs and responsibilities, in several frames) and
    of its job description. Over 40 synthetic profiles it follows the DOCX + PDF render time
    (200-500 ms) with a correlation of 0.92."""
    texts = profile.core_outputs + profile.responsibilities
    description = profile.job_description
    return sum(map(len, texts)) + (len(repr(description)) if description is not None else 0)


def largest_first(tasks: Sequence[PackTask]) -> list[PackTask]:
    """The heaviest packs first, so that the last ones to finish are light and the workers end
    together (longest-processing-time-first scheduling); ties keep their order."""
    return sorted(tasks, key=lambda task: -render_weight(task.profile))


def _parallel(
    job: PackJob, tasks: Sequence[PackTask], jobs: int, max_tasks: int
) -> Iterator[PackResult]:
    """Render in `jobs` worker processes; yields results as they finish, in completion order.

    A small hand-made pool rather than multiprocessing.Pool (hangs when a worker dies mid-task)
    or ProcessPoolExecutor (its max_tasks_per_child deadlocks on 3.11, CPython gh-115634): the
    parent knows which profile each worker holds, so a crashed worker fails just that profile.
    """
    ctx = _worker_context(job.formats)
    pending = deque(largest_first(tasks))

    def start() -> _Slot:
        parent_end, child_end = ctx.Pipe()
        process = ctx.Process(
            target=_worker_main, args=(child_end, job, max_tasks), name="packs-worker", daemon=True
        )
        process.start()
        child_end.close()
        return _Slot(process, parent_end)

    def feed(slot: _Slot) -> None:
        slot.task = pending.popleft()
        slot.done += 1
        slot.conn.send(slot.task)

    def retire(slot: _Slot) -> None:
        with contextlib.suppress(OSError):
            slot.conn.send(None)
        slot.conn.close()
        slot.process.join(timeout=10)
        if slot.process.exitcode is None:
            slot.process.kill()
            slot.process.join()

    slots = [start() for _ in range(min(jobs, len(pending)))]
    try:
        for slot in slots:
            feed(slot)
        while any(s.task is not None for s in slots):
            active = [s for s in slots if s.task is not None]
            wait([s.conn for s in active] + [s.process.sentinel for s in active])
            for index, slot in enumerate(slots):
                task = slot.task
                if task is None:
                    continue
                result = _receive(slot)
                if result is None:
                    if slot.process.is_alive():
                        continue  # not ready yet
                    code = slot.process.exitcode
                    result = PackResult(
                        task.profile.id, 0.0, f"worker process died ({_exit_reason(code)})"
                    )
                    slot.done = max_tasks  # replace it below
                slot.task = None
                if slot.done >= max_tasks or not slot.process.is_alive():
                    retire(slot)
                    if pending:
                        slots[index] = slot = start()
                if pending:
                    feed(slot)
                yield result
    finally:
        for slot in slots:
            if slot.task is not None:  # interrupted: stop now, the pack is rebuilt next time
                slot.process.kill()
            retire(slot)


def _receive(slot: _Slot) -> PackResult | None:
    try:
        if not slot.conn.poll():
            return None
        result = slot.conn.recv()
    except (EOFError, OSError):
        return None
    return result if isinstance(result, PackResult) else None


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


# --- skipping unchanged packs ---------------------------------------------------------------------


def fingerprint(common: str, digest: str) -> str:
    """What a pack depends on: the build-wide inputs plus this profile's canon digest."""
    return "sha256:" + hashlib.sha256(f"{common}\n{digest}".encode()).hexdigest()


def current_manifest(folder: Path, expected: str) -> bytes | None:
    """The pack's manifest when its fingerprint is `expected` and its files are all there with
    the recorded sizes (a cheap check: no hashing); else None. Also sweeps leftover temps."""
    try:
        raw = (folder / MANIFEST).read_bytes()
        data = json.loads(raw)
        if data["inputs"]["fingerprint"] != expected:
            return None
        listed = {str(f["path"]): int(f["bytes"]) for f in data["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    sizes: dict[str, int] = {}
    for entry in os.scandir(folder):
        if _is_temp(entry.name):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
        elif entry.name in listed:
            sizes[entry.name] = entry.stat(follow_symlinks=False).st_size
    return raw if sizes == listed else None


def _read_pack(folder: Path, profile_id: str, manifest_data: bytes) -> list[tuple[str, bytes]]:
    """Zip members of a pack on disk, each checked against its manifest; OSError if not."""
    members = []
    for entry in json.loads(manifest_data)["files"]:
        data = (folder / entry["path"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise OSError(errno.EIO, "does not match its manifest", str(folder / entry["path"]))
        members.append((f"{profile_id}/{entry['path']}", data))
    members.append((f"{profile_id}/{MANIFEST}", manifest_data))
    return members


def _zip_is_current(path: Path, profile_id: str, manifest_data: bytes) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return z.read(f"{profile_id}/{MANIFEST}") == manifest_data
    except (OSError, KeyError, zipfile.BadZipFile):
        return False


# --- locking --------------------------------------------------------------------------------------


@contextlib.contextmanager
def build_lock(out: Path) -> Iterator[None]:
    """Hold `out/.packs-build.lock` for the whole build; a second build refuses at once."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise PacksError(f"cannot write to {out}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            raise PacksError(
                f"{out} is in use by another build (pid {holder}); wait for it to finish "
                "or build into another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)


# --- progress and report --------------------------------------------------------------------------


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Profiles done / total with rate and ETA: a bar redrawn in place on a terminal, one plain
    line per pack otherwise (CI logs). Failures always get their own line."""

    WIDTH = 24
    REDRAW_SECONDS = 0.1

    def __init__(self, stream: TextIO | None, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = bool(stream is not None and (stream.isatty() if tty is None else tty))
        self.total = 0
        self.done = 0
        self.start = time.monotonic()
        self.drawn = 0.0
        self.tracebacks = 0

    def _write(self, text: str) -> None:
        if self.stream is not None:
            self.stream.write(text)
            self.stream.flush()

    def begin(self, total: int, skipped: int, jobs: int) -> None:
        self.total, self.start = total, time.monotonic()
        if not total:
            self._write(
                f"nothing to build: {skipped} pack{'s' if skipped != 1 else ''} unchanged\n"
            )
            return
        parts = [f"building {total} pack{'s' if total != 1 else ''}"]
        if skipped:
            parts.append(f"{skipped} unchanged (skipped)")
        parts.append(f"{jobs} job{'s' if jobs != 1 else ''}")
        self._write(", ".join(parts) + "\n")

    def _rate(self) -> tuple[float, float]:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        return rate, eta

    def advance(self, result: PackResult) -> None:
        self.done += 1
        rate, eta = self._rate()
        clear = "\r\x1b[K" if self.tty else ""
        for warning in result.warnings:
            self._write(f"{clear}warning: {result.profile_id}: {warning}\n")
        if not result.ok:
            self._write(f"{clear}FAILED {result.profile_id}: {result.error}\n")
            if result.detail and self.tracebacks == 0:  # a bug: show the first trace in full
                self.tracebacks += 1
                self._write(result.detail.rstrip("\n") + "\n")
        if self.tty:
            now = time.monotonic()
            if not result.ok or self.done == self.total or now - self.drawn >= self.REDRAW_SECONDS:
                self.drawn = now
                filled = self.WIDTH * self.done // max(self.total, 1)
                bar = "#" * filled + "-" * (self.WIDTH - filled)
                self._write(
                    f"\r\x1b[K[{bar}] {self.done}/{self.total}  {rate:.1f}/s  "
                    f"ETA {_duration(eta)}  {result.profile_id}"
                )
        elif result.ok:
            width = len(str(self.total))
            self._write(
                f"[{self.done:>{width}}/{self.total}] built {result.profile_id} "
                f"({result.seconds:.2f}s; {rate:.1f}/s, ETA {_duration(eta)})\n"
            )

    def end(self) -> None:
        if self.tty and self.total:
            self._write("\n")


@dataclass(frozen=True)
class BuildReport:
    built: int
    skipped: int
    failed: tuple[tuple[str, str], ...]
    seconds: float
    notes: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def line(self) -> str:
        text = (
            f"built {self.built}, skipped {self.skipped}, failed {len(self.failed)} "
            f"in {self.seconds:.1f}s"
        )
        if self.failed:
            ids = [pid for pid, _ in self.failed]
            text += f" ({', '.join(ids[:5])}{', …' if len(ids) > 5 else ''})"
        return "; ".join((text, *self.notes))


# --- the build ------------------------------------------------------------------------------------


def build_inputs(
    formats: Sequence[Format],
    layout: Layout,
    options: RenderOptions,
    compose_options: ComposeOptions,
    reproducible: bool,
) -> dict[str, Any]:
    """The build-wide inputs of every pack, as recorded in manifests (no secrets)."""
    return {
        "layout_digest": layout_digest(layout),
        "formats": sorted(f.name for f in formats),
        "page_size": options.page_size,
        "form_password": options.form_password is not None,
        "compose": asdict(compose_options),
        "source_date_epoch": options.timestamp if reproducible else None,
    }


def _common_fingerprint(
    inputs: Mapping[str, Any], formats: Sequence[Format], options: RenderOptions
) -> str:
    """Everything but the profile's own canon digest; the password enters only as a slow hash."""
    password = None
    if options.form_password is not None:
        password = hashlib.pbkdf2_hmac(
            "sha256", options.form_password.encode(), PRODUCT.encode(), 100_000
        ).hex()
    data = {
        "inputs": inputs,
        "formats": sorted((f.name, f.suffix, f.module) for f in formats),
        "product": product_version(),
        "code": code_digest(),
        "libraries": library_versions(),
        "python": platform.python_version(),
        "generator": options.generator,
        "password": password,
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def build(
    canon: Canon,
    profiles: Sequence[Profile],
    formats: Sequence[Format],
    out: Path,
    layout: Layout,
    options: RenderOptions,
    compose_options: ComposeOptions = DEFAULT_COMPOSE,
    *,
    jobs: int = 1,
    force: bool = False,
    zip: bool = False,
    progress: TextIO | None = None,
    tty: bool | None = None,
    max_tasks_per_child: int = MAX_TASKS_PER_CHILD,
) -> BuildReport:
    """Build the packs of `profiles` into `out` (see the module docstring for the guarantees)."""
    start = time.monotonic()
    out = Path(os.path.abspath(out))  # workers may not share our working directory
    reproducible = options.timestamp is not None
    epoch = options.timestamp if options.timestamp is not None else int(time.time())
    options = RenderOptions(
        page_size=options.page_size,
        form_password=options.form_password,
        timestamp=epoch,
        generator=f"{PRODUCT} {product_version()}",
    )
    formats = tuple({f.name: f for f in formats}.values())
    inputs = build_inputs(formats, layout, options, compose_options, reproducible)
    common = _common_fingerprint(inputs, formats, options)
    digests = dict(canon.digests)
    report = Progress(progress, tty)

    with build_lock(out):
        sweep_temps(out)
        tasks: list[PackTask] = []
        skipped = 0
        for profile in profiles:
            digest = digests[profile.id]
            task = PackTask(profile, digest, fingerprint(common, digest))
            current = None if force else current_manifest(out / profile.id, task.fingerprint)
            if current is not None and zip:
                current = _ensure_zip(out, profile.id, current, epoch)
            if current is None:
                tasks.append(task)
            else:
                skipped += 1
        job = PackJob(formats, layout, options, compose_options, out, epoch, inputs, zip)
        jobs = max(1, min(jobs, len(tasks)))
        report.begin(len(tasks), skipped, jobs)
        if jobs == 1:
            results: Iterator[PackResult] = (build_pack(job, t) for t in tasks)
        else:
            results = _parallel(job, tasks, jobs, max_tasks_per_child)
        failed: list[tuple[str, str]] = []
        built = 0
        warned = 0
        for result in results:
            report.advance(result)
            warned += bool(result.warnings)
            if result.ok:
                built += 1
            else:
                failed.append((result.profile_id, result.error or "failed"))
        report.end()
        notes: list[str] = []
        if warned:
            notes.append(f"{warned} with warnings (see above)")
        if zip:
            notes.append(_selection_zip(out, profiles, failed, epoch))
    failed.sort()
    return BuildReport(built, skipped, tuple(failed), time.monotonic() - start, tuple(notes))


def _ensure_zip(out: Path, profile_id: str, manifest_data: bytes, epoch: int) -> bytes | None:
    """Keep a skipped pack's zip in step with it (rezip from disk: no render); None = rebuild."""
    path = out / f"{profile_id}.zip"
    if _zip_is_current(path, profile_id, manifest_data):
        return manifest_data
    try:
        members = _read_pack(out / profile_id, profile_id, manifest_data)
        write_atomic(path, zip_bytes(members, epoch))
    except OSError:
        return None
    return manifest_data


def _selection_zip(
    out: Path, profiles: Sequence[Profile], failed: Sequence[tuple[str, str]], epoch: int
) -> str:
    """Write `out/packs.zip` (every selected pack with its manifest) unless a pack failed; skip
    the write when the zip already holds exactly these manifests."""
    target = out / SELECTION_ZIP
    if failed:
        return f"{target} not written ({len(failed)} failed)"
    ids = sorted(p.id for p in profiles)
    try:
        manifests = [(pid, (out / pid / MANIFEST).read_bytes()) for pid in ids]
    except OSError as exc:
        raise PacksError(f"cannot write {target}: {_os_message(exc)}") from None
    key = hashlib.sha256()
    for pid, data in manifests:
        key.update(pid.encode() + b"\0" + hashlib.sha256(data).digest())
    comment = f"{PRODUCT} selection sha256:{key.hexdigest()}".encode()
    with contextlib.suppress(OSError, zipfile.BadZipFile), zipfile.ZipFile(target) as existing:
        if existing.comment == comment:
            return f"{target} unchanged"
    stamp = time.gmtime(max(epoch, ZIP_EPOCH_FLOOR))[:6]
    try:
        with open_atomic(target) as fh, zipfile.ZipFile(fh, "w") as z:
            for pid, data in manifests:
                for name, member in sorted(_read_pack(out / pid, pid, data)):
                    info = zipfile.ZipInfo(name, date_time=stamp)
                    info.compress_type = _compression(name)
                    info.create_system = 3
                    info.external_attr = 0o100644 << 16
                    z.writestr(info, member)
            z.comment = comment
    except OSError as exc:
        raise PacksError(f"cannot write {target}: {_os_message(exc)}") from None
    return f"wrote {target}"


def console_is_tty(stream: TextIO = sys.stderr) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
