"""Benchmark of the build: `python -m benchmarks [--profiles N] [--repeats K] [--quick]`.

Generates a synthetic canon (fixed seed, realistic sizes) in a temporary folder outside the
repository and reports medians over repeats taken in one run: per-profile time per format, whole
packs at --jobs 1 and --jobs 2, a no-op rebuild, peak memory, the pipeline's overhead over the bare
library calls on the same content, the route of a user who keeps our review form and lets
LibreOffice convert the forms to PDF in one batch, and the route a docxtpl user takes (fill a
DOCX, convert it with LibreOffice in one batch) side by side. Numbers only mean something on a
quiet machine.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes.util
import io
import multiprocessing
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from pipeline.build import LIBRARIES, default_jobs
from pipeline.compose import compose_profile
from pipeline.extract import load_canon
from pipeline.layout import Layout, RenderOptions, load_layout
from pipeline.model import Group, ProfileFrames, Record, line_text
from pipeline.render import FORMATS, Format

REPO = Path(__file__).resolve().parent.parent
SEED = 20_240_611
#: The build time every benchmark build uses (design.md §6 example).
EPOCH = 1_700_000_000

# --- the synthetic canon --------------------------------------------------------------------------

_WORDS_TEXT = (
    "accountability alignment analysis annual approval audit backlog baseline budget business "
    "capacity change clinical compliance contract controls cost coverage cross-functional "
    "customer data decisions delivery dependencies design development documentation efficiency "
    "escalation evidence execution forecast framework functional governance guidance hiring "
    "improvement incident initiatives insight inspection integration inventory key launch "
    "leadership lifecycle metrics milestones monitoring negotiation objectives onboarding "
    "operational oversight partners performance planning platform policy portfolio priorities "
    "procedures process procurement program quality readiness regulatory reliability reporting "
    "requirements resourcing review risk roadmap safety scope service senior stakeholders "
    "standards strategy suppliers support systems targets teams technology timelines training "
    "trends validation vendor visibility workflow"
)
_WORDS = _WORDS_TEXT.split()
_VERBS_TEXT = (
    "Leads Owns Manages Drives Establishes Coordinates Defines Oversees Builds Improves "
    "Develops Maintains Reviews Negotiates Aligns Delivers Plans Monitors Streamlines Champions"
)
_VERBS = _VERBS_TEXT.split()
_LINKS_TEXT = "and across with for within to under through by of"
_LINKS = _LINKS_TEXT.split()
_LEVELS: tuple[tuple[str, str, str], ...] = (
    *((f"P{i}", f"Professional {i}", "professional") for i in range(1, 9)),
    *((f"M{i}", f"Manager {i}", "management") for i in range(1, 7)),
    *((f"E{i}", f"Executive {i}", "executive") for i in range(1, 6)),
    ("S1", "Support", "support"),
)
_DIMENSIONS = ("scope", "autonomy", "complexity", "impact", "decision_rights", "leadership")


def _sentence(rng: random.Random, low: int, high: int, verb: bool = True, stop: str = "") -> str:
    """A canon-like sentence of `low`..`high` words (letters only: never formula-like)."""
    count = rng.randint(low, high)
    words = [rng.choice(_VERBS)] if verb else [rng.choice(_WORDS).capitalize()]
    while len(words) < count:
        words.append(rng.choice(_LINKS) if rng.random() < 0.22 else rng.choice(_WORDS))
        if rng.random() < 0.06 and len(words) < count - 2:
            words[-1] += ","
    return " ".join(words) + stop


class _Dumper(yaml.SafeDumper):
    """No anchors or aliases (the canon format forbids them); text double-quoted, as people write
    canon files."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = '"' if " " in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def _write_yaml(path: Path, data: Any) -> None:
    text = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100_000)
    path.write_text("canon: 1\n" + text, encoding="utf-8")


def synthetic_canon(root: Path, profiles: int, seed: int = SEED) -> Path:
    """Write a canon of `profiles` profiles into `root/canon`: 5–12 responsibilities each, with
    rubrics, some core outputs, and a General (GEN) family with components every eighth focus."""
    rng = random.Random(seed)
    canon = root / "canon"
    (canon / "focuses").mkdir(parents=True, exist_ok=True)
    levels: dict[str, Any] = {}
    for code, title, track in _LEVELS:
        dims = {d: _sentence(rng, 6, 14, verb=False) for d in _DIMENSIONS if rng.random() < 0.9}
        levels[code] = {
            "title": title,
            "track": track,
            "years": f"{rng.randint(0, 10)}–{rng.randint(11, 20)}",
            "dimensions": dims,
        }
    _write_yaml(canon / "levels.yaml", {"levels": levels})
    codes = [code for code, _, _ in _LEVELS]
    made, focus_no = 0, 0
    while made < profiles:
        focus_no += 1
        general = focus_no % 8 == 0
        function = f"FN{(focus_no - 1) // 5 + 1:03d}"
        focus = "GEN" if general else f"FOC{focus_no:04d}"
        count = min(10, profiles - made)
        entries: dict[str, Any] = {}
        for level in sorted(rng.sample(codes, count), key=codes.index):
            entries[level] = _profile(rng, general)
        data = {
            "function": {
                "code": function,
                "name": f"Function {function[2:]} " + rng.choice(_WORDS),
            },
            "focus": {
                "code": focus,
                "name": "General" if general else _sentence(rng, 3, 6, verb=False),
            },
            "profiles": entries,
        }
        _write_yaml(canon / "focuses" / f"{function}.{focus}.yaml", data)
        made += count
    return canon


def _profile(rng: random.Random, general: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"status": rng.choice(("approved", "draft"))}
    if general:
        entry["title"] = _sentence(rng, 2, 4, verb=False)
        entry["components"] = {
            "responsibilities": [_sentence(rng, 12, 28) for _ in range(rng.randint(5, 12))],
            "tasks": [_sentence(rng, 6, 12) for _ in range(rng.randint(2, 5))],
            "skills": [_sentence(rng, 2, 5, verb=False) for _ in range(rng.randint(2, 6))],
            "knowledge": [_sentence(rng, 4, 8, verb=False) for _ in range(rng.randint(1, 4))],
            "competencies": [_sentence(rng, 2, 4, verb=False) for _ in range(rng.randint(2, 4))],
        }
        return entry
    if rng.random() < 0.3:
        entry["core_outputs"] = [_sentence(rng, 8, 16) for _ in range(rng.randint(1, 3))]
    entry["responsibilities"] = [_sentence(rng, 15, 35) for _ in range(rng.randint(5, 12))]
    entry["rubrics"] = {
        kind: _sentence(rng, 18, 30, verb=False, stop=".")
        for kind in ("complexity/problem-solving", "knowledge-application")
        if rng.random() < 0.85
    }
    return entry


# --- measuring ------------------------------------------------------------------------------------


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _time(fn: Callable[..., Any], *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def _proc_children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(name))
    return children


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class TreeSample:
    pss_kib: int = 0
    rss_kib: int = 0
    processes: int = 0
    #: pid -> user+system CPU seconds, as last seen.
    cpu: dict[int, float] = field(default_factory=dict)


_PAGE_KIB = (os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096) // 1024


def _tree_sample(root: int, pss: bool) -> TreeSample:
    """CPU time and RSS (cheap: /proc/PID/stat) of `root` and all its descendants, and their
    PSS when `pss` (smaps_rollup walks page tables and takes the target's mmap lock: sampling it
    often slows the very build being measured, so it is read rarely)."""
    children = _proc_children()
    todo, sample = [root], TreeSample()
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            text = Path(f"/proc/{pid}/smaps_rollup").read_text() if pss else ""
        except OSError:
            continue
        sample.processes += 1
        sample.cpu[pid] = (int(stat[11]) + int(stat[12])) / _TICK
        sample.rss_kib += int(stat[21]) * _PAGE_KIB
        for line in text.splitlines():
            if line.startswith("Pss:"):
                sample.pss_kib += int(line.split()[1])
    return sample


def _busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (from /proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


@dataclass
class Run:
    seconds: float
    code: int
    stdout: str
    stderr: str
    peak_pss_kib: int = 0
    peak_rss_kib: int = 0
    peak_processes: int = 0
    #: CPU seconds of the command's process tree (sampled: an exit between samples loses <0.2 s).
    cpu: float = 0.0
    #: CPU seconds every other process on the machine used meanwhile (contention).
    others_cpu: float = 0.0


def run_sampled(cmd: Sequence[str], env: dict[str, str] | None = None) -> Run:
    """Run a command, sampling CPU and RSS of its whole process tree every 0.2 s, PSS every 1 s."""
    peak = TreeSample()
    cpu: dict[int, float] = {}
    busy = _busy_seconds()
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    stop = threading.Event()

    def sample() -> None:
        ticks = 0
        while not stop.wait(0.2):
            now = _tree_sample(proc.pid, pss=ticks % 5 == 0)
            ticks += 1
            peak.pss_kib = max(peak.pss_kib, now.pss_kib)
            peak.rss_kib = max(peak.rss_kib, now.rss_kib)
            peak.processes = max(peak.processes, now.processes)
            cpu.update(now.cpu)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    ours = sum(cpu.values())
    others = max(0.0, _busy_seconds() - busy - ours)
    return Run(
        seconds,
        proc.returncode,
        out,
        err,
        peak.pss_kib,
        peak.rss_kib,
        peak.processes,
        ours,
        others,
    )


def _build_cmd(canon: Path, out: Path, jobs: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pipeline",
        "build",
        "--canon",
        str(canon),
        "--out",
        str(out),
        "--jobs",
        str(jobs),
        *extra,
    ]


def _env(code: Path) -> dict[str, str]:
    """Builds run the snapshot in `code`: the same code throughout, even while people edit."""
    return {
        **os.environ,
        "SOURCE_DATE_EPOCH": str(EPOCH),
        "PYTHONHASHSEED": "0",
        "PYTHONPATH": str(code),
    }


def snapshot(work: Path) -> Path:
    """Copy the pipeline package and its layouts into `work/code` (shadows the editable install
    for the subprocess builds), so an edit to the tree mid-run cannot invalidate the packs."""
    code = work / "code"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "pipeline", code / "pipeline", ignore=ignore)
    shutil.copytree(REPO / "layouts", code / "layouts", ignore=ignore)
    shutil.copytree(REPO / "benchmarks", code / "benchmarks", ignore=ignore)  # the fill scripts
    return code


def _revision() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if done.returncode == 0:
            return done.stdout.strip()
    return "unknown"


def wait_idle(limit: float, window: float = 5.0, threshold: float = 0.15) -> bool:
    """Wait (at most `limit` seconds) until the machine's busy CPU over `window` seconds is under
    `threshold` cores; only this process runs meanwhile and it sleeps. True once idle."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = _busy_seconds()
        time.sleep(window)
        if (_busy_seconds() - before) / window < threshold:
            return True
    return limit <= 0


def _checked(run: Run, what: str) -> Run:
    if run.code != 0:
        raise SystemExit(f"bench: {what} failed (exit {run.code}):\n{run.stdout}\n{run.stderr}")
    return run


# --- bare library routes (the same content, without the pipeline) ---------------------------------


def _docx_bare(frames: ProfileFrames) -> bytes:
    """The same text through python-docx's ordinary API (what a hand-written script does)."""
    import docx

    doc = docx.Document()
    doc.add_heading(frames.page_title, 0)
    doc.add_paragraph(frames.breadcrumb)
    doc.add_paragraph(frames.intro)
    for frame in frames.frames:
        doc.add_heading(frame.title, 1)
        if frame.intro:
            doc.add_paragraph(frame.intro)
        areas = [b for b in frame.blocks if isinstance(b, Record) and frame.columns]
        table = doc.add_table(rows=1, cols=len(frame.columns)) if areas else None
        if table is not None:
            for cell, name in zip(table.rows[0].cells, frame.columns, strict=False):
                cell.text = name
        for block in frame.blocks:
            if isinstance(block, Group):
                doc.add_heading(block.heading, 2)
                for item in block.items:
                    doc.add_paragraph(f"{line_text(item.line)}  [{item.source}]", "List Bullet")
            elif table is not None:
                cells = table.add_row().cells
                values = [block.heading, *(line_text(f.line) for f in block.fields)]
                for cell, value in zip(cells, values, strict=False):
                    cell.text = value
            else:
                doc.add_heading(f"{block.number}. {block.heading}", 2)
                doc.add_paragraph(f"[source: {block.source}]")
                for f in block.fields:
                    doc.add_paragraph(f"{f.label}: {line_text(f.line)}")
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class XlsxContent:
    """What goes where in the tracker, worked out before timing: the bare route gets the same
    sheets, rows and cells as the pipeline, as the bare PDF route gets the same HTML."""

    frames: ProfileFrames
    settings: Any  # pipeline.render.xlsx_settings.Settings
    plans: tuple[Any, ...]  # pipeline.render.xlsx_plan.SheetPlan


def _xlsx_content(frames: ProfileFrames, lay: Layout) -> XlsxContent:
    from pipeline.ooxml import tracker_contract
    from pipeline.render import xlsx_plan, xlsx_settings

    s = xlsx_settings.settings_for(lay)
    taken = {s.readme.sheet.casefold(), tracker_contract.META_SHEET.casefold()}
    plans = tuple(
        xlsx_plan.sheet_plan(xlsx_plan.sheet_name(f.short_title, taken), f, s)
        for f in frames.frames
    )
    return XlsxContent(frames, s, plans)


def _xlsx_bare(content: XlsxContent, options: RenderOptions) -> bytes:
    """The same workbook through openpyxl's ordinary API: the same sheets, cells, fonts, fills,
    widths, checks, highlighting, names, print setup and protection, each cell styled attribute
    by attribute and the file written by `Workbook.save`. Not done: row heights fitted to the
    text, the `_meta` row signatures and a reproducible zip (the pipeline's own work)."""
    from openpyxl import Workbook
    from openpyxl.styles import Protection
    from openpyxl.workbook.protection import WorkbookProtection

    from pipeline.ooxml import tracker_contract
    from pipeline.render import xlsx_sheets

    s, frames = content.settings, content.frames
    wb = Workbook()
    readme = wb.active
    assert readme is not None
    readme.title = s.readme.sheet
    for row, text in enumerate((frames.page_title, frames.breadcrumb, frames.intro), 1):
        cell = readme.cell(row=row, column=2, value=text)
        cell.font, cell.alignment = s.body_font, s.wrap
    for row, (label, text) in enumerate(
        (("Profile", frames.profile_id), ("Canon version", frames.canon_version)), 5
    ):
        readme.cell(row=row, column=1, value=label).font = s.header_font
        readme.cell(row=row, column=2, value=text).font = s.body_font
    xlsx_sheets.print_setup(readme, s, options, frames.document_title)
    xlsx_sheets.protect(readme, s, options)
    meta: list[tuple[object, ...]] = []
    for plan in content.plans:
        ws = wb.create_sheet(plan.name)
        letters: dict[str, str] = {}
        for i, col in enumerate(plan.columns, 1):
            cell = ws.cell(row=1, column=i, value=col.title)
            cell.font, cell.fill, cell.alignment = s.header_font, s.header_fill, s.wrap
            letters[col.title] = cell.column_letter
            ws.column_dimensions[cell.column_letter].width = col.width
        for r, row_plan in enumerate(plan.rows, 2):
            for i, col in enumerate(plan.columns, 1):
                if col.role is tracker_contract.Role.INPUT:
                    opened = row_plan.inputs.get(col.title)
                    if opened is None:
                        continue
                    cell = ws.cell(row=r, column=i, value=opened.start)
                    cell.fill, cell.protection = s.input_fill, Protection(locked=False)
                    if col.spec is not None and col.spec.number_format:
                        cell.number_format = col.spec.number_format
                else:
                    cell = ws.cell(row=r, column=i, value=row_plan.cells.get(col.title))
                cell.font, cell.alignment = s.body_font, s.wrap
                if isinstance(cell.value, str):
                    cell.data_type = "s"
            key = ws.cell(row=r, column=len(plan.columns) + 1, value=row_plan.key)
            key.data_type = "s"
            meta.append(("row", plan.name, row_plan.key, r))
        ws.freeze_panes = "A2"
        ws.print_title_rows = "1:1"
        inputs = [c for c in plan.columns if c.role is tracker_contract.Role.INPUT]
        if plan.rows and inputs:
            xlsx_sheets.validate(ws, plan.name, inputs, letters, len(plan.rows) + 1, s, wb)
        xlsx_sheets.print_setup(ws, s, options, plan.frame.title)
        xlsx_sheets.protect(ws, s, options)
    hidden = wb.create_sheet(tracker_contract.META_SHEET)
    for values in meta:
        hidden.append(values)
    hidden.sheet_state = "veryHidden"
    xlsx_sheets.protect(hidden, s, options)
    wb.security = WorkbookProtection(lockStructure=True)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


@dataclass
class PdfSplit:
    pipeline: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    #: Bare WeasyPrint asked for what the handout asks for: a tagged PDF with an attachment.
    bare_tagged: list[float] = field(default_factory=list)
    layout: list[float] = field(default_factory=list)
    write: list[float] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)


@contextlib.contextmanager
def _weasyprint_as_installed() -> Iterator[None]:
    """WeasyPrint as a user gets it: the handout's speed-ups (`pipeline.render.weasyprint70`) are
    in place only inside `to_pdf.render`, so outside it there is nothing to undo (checked)."""
    from pipeline.render import weasyprint70

    if weasyprint70.any_installed():
        raise RuntimeError("a WeasyPrint speed-up is in place outside a handout render")
    yield


def _pdf_compare(
    frames_list: Sequence[ProfileFrames], lay: Layout, options: RenderOptions, repeats: int
) -> PdfSplit | str:
    """to_pdf.render vs the same HTML through WeasyPrint alone (shared CSS and fonts), plus the
    layout / PDF-writing split and pages per handout."""
    try:
        from weasyprint import HTML, Attachment

        from pipeline.render import to_pdf
        from pipeline.render.to_json import frames_json

        typeset = to_pdf.typesetter(lay, options.page_size)
        htmls = [to_pdf.html(f, typeset, options) for f in frames_list]
    except (ImportError, AttributeError) as exc:
        return f"not measured: the PDF renderer has no typesetter()/html() yet ({exc})"
    split = PdfSplit()
    sheets = list(typeset.stylesheets)

    def bare(html: str) -> None:
        with _weasyprint_as_installed():
            HTML(string=html, base_url=typeset.base_url, url_fetcher=typeset.fetcher).write_pdf(
                stylesheets=sheets, font_config=typeset.fonts
            )

    def tagged(html: str, frames: ProfileFrames) -> None:
        with _weasyprint_as_installed():
            HTML(string=html, base_url=typeset.base_url, url_fetcher=typeset.fetcher).write_pdf(
                stylesheets=sheets,
                font_config=typeset.fonts,
                pdf_tags=True,
                attachments=[Attachment(string=frames_json(frames), name="frames.json")],
            )

    bare(htmls[0])
    tagged(htmls[0], frames_list[0])
    to_pdf.render(frames_list[0], lay, options)
    for _ in range(repeats):
        for frames, html in zip(frames_list, htmls, strict=True):
            split.pipeline.append(_time(to_pdf.render, frames, lay, options))
            split.bare.append(_time(bare, html))
            split.bare_tagged.append(_time(tagged, html, frames))
            start = time.perf_counter()
            doc = HTML(string=html, base_url=typeset.base_url, url_fetcher=typeset.fetcher).render(
                stylesheets=sheets, font_config=typeset.fonts
            )
            middle = time.perf_counter()
            doc.write_pdf()
            split.layout.append(middle - start)
            split.write.append(time.perf_counter() - middle)
            split.pages.append(len(doc.pages))
    return split


# --- the docxtpl user's route ---------------------------------------------------------------------
#
# A docxtpl user keeps a Word template with Jinja tags, renders one .docx per profile with
# docxtpl, and converts them all to PDF in one LibreOffice call. The template below is what such
# a user would write for the same frames: title, breadcrumb and intro, then per frame its title
# and intro, per record or group its heading, its lines and its source. The earlier stand-in
# (python-docx filling one 3-column table) is kept beside it for comparison with older runs.

TEMPLATE_PARAGRAPHS: tuple[tuple[str, str | None], ...] = (
    ("{{ title }}", "Title"),
    ("{{ breadcrumb }}", "Subtitle"),
    ("{{ intro }}", None),
    ("{%p for frame in frames %}", None),
    ("{{ frame.title }}", "Heading 1"),
    ("{{ frame.intro }}", None),
    ("{%p for block in frame.blocks %}", None),
    ("{{ block.heading }}", "Heading 2"),
    ("{%p for line in block.lines %}", None),
    ("{{ line }}", "List Bullet"),
    ("{%p endfor %}", None),
    ("Source: {{ block.source }}", None),
    ("{%p endfor %}", None),
    ("{%p endfor %}", None),
)


def _docxtpl_template(path: Path) -> None:
    """The user's template, as Word would save it (python-docx writes it here)."""
    import docx

    doc = docx.Document()
    for text, style in TEMPLATE_PARAGRAPHS:
        doc.add_paragraph(text, style)
    doc.save(str(path))


def _docxtpl_context(frames: ProfileFrames) -> dict[str, Any]:
    blocks_of = []
    for frame in frames.frames:
        blocks = []
        for block in frame.blocks:
            if isinstance(block, Group):
                lines = [f"{line_text(i.line)} [{i.source}]" for i in block.items]
                blocks.append({"heading": block.heading, "lines": lines, "source": "as marked"})
            else:
                lines = [f"{f.label}: {line_text(f.line)}" for f in block.fields]
                heading = f"{block.number}. {block.heading}"
                blocks.append({"heading": heading, "lines": lines, "source": block.source})
        blocks_of.append({"title": frame.title, "intro": frame.intro or "", "blocks": blocks})
    return {
        "title": frames.page_title,
        "breadcrumb": frames.breadcrumb,
        "intro": frames.intro,
        "frames": blocks_of,
    }


def _docxtpl_fill(template: Path, frames: ProfileFrames, target: Path) -> None:
    """What the user's script does per profile: load the template, render, save."""
    from docxtpl import DocxTemplate

    doc = DocxTemplate(str(template))
    doc.render(_docxtpl_context(frames), autoescape=True)  # canon text may hold & < >
    doc.save(str(target))


def _table_template(path: Path) -> None:
    import docx

    doc = docx.Document()
    doc.add_heading("title", 0)
    doc.add_paragraph("breadcrumb")
    table = doc.add_table(rows=1, cols=3)
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, ("Item", "Text", "Source"), strict=True):
        cell.text = name
    doc.save(str(path))


def _table_fill(template: Path, frames: ProfileFrames, target: Path) -> None:
    """The earlier stand-in: python-docx fills one 3-column table (open, add rows, save)."""
    import docx

    doc = docx.Document(str(template))
    doc.paragraphs[0].text = frames.page_title
    doc.paragraphs[1].text = frames.breadcrumb
    table: Any = doc.tables[0]
    for frame in frames.frames:
        table.add_row().cells[0].text = frame.title
        for block in frame.blocks:
            if isinstance(block, Group):
                for item in block.items:
                    row = table.add_row().cells
                    row[0].text, row[1].text, row[2].text = (
                        block.heading,
                        line_text(item.line),
                        item.source,
                    )
            else:
                row = table.add_row().cells
                row[0].text = f"{block.number}. {block.heading}"
                row[1].text = "\n".join(f"{f.label}: {line_text(f.line)}" for f in block.fields)
                row[2].text = block.source
    doc.save(str(target))


@dataclass(frozen=True)
class OfficeRoute:
    """Fill a template .docx per profile, then convert them all in one LibreOffice call."""

    name: str
    template: Callable[[Path], None]
    fill: Callable[[Path, ProfileFrames, Path], None]


OFFICE_ROUTES = (
    OfficeRoute("docxtpl", _docxtpl_template, _docxtpl_fill),
    OfficeRoute("python-docx table", _table_template, _table_fill),
)


def fill_route(route: str, canon: str, template: str, folder: str) -> None:
    """The user's fill script, run in a fresh process as `packs build` is: read the canon, and
    for each profile fill the template and save `<folder>/<ID>.docx`. It composes the frames with
    our composers, which a docxtpl user would have to write; their cost counts on both sides."""
    fill = {r.name: r.fill for r in OFFICE_ROUTES}[route]
    loaded = load_canon(Path(canon))
    for profile in loaded.profiles:
        frames = compose_profile(profile, loaded.digest(profile.id))
        fill(Path(template), frames, Path(folder) / f"{profile.id}.docx")


def _fill_cmd(route: OfficeRoute, canon: Path, template: Path, folder: Path) -> list[str]:
    script = "import sys; from benchmarks.bench import fill_route; fill_route(*sys.argv[1:])"
    return [sys.executable, "-c", script, route.name, str(canon), str(template), str(folder)]


@dataclass
class RouteResult:
    """Per repeat, for all `count` profiles: wall and CPU seconds of the fill and the conversion."""

    fill: list[float] = field(default_factory=list)
    convert: list[float] = field(default_factory=list)
    fill_cpu: list[float] = field(default_factory=list)
    convert_cpu: list[float] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)
    count: int = 0

    def wall(self) -> float:
        """Median wall seconds per pack (fill + conversion)."""
        return (_median(self.fill) + _median(self.convert)) / self.count

    def cpu(self) -> float:
        """Median CPU seconds per pack (the fill script + LibreOffice converting)."""
        return (_median(self.fill_cpu) + _median(self.convert_cpu)) / self.count

    def round(
        self,
        repeat: int,
        made: Sequence[Path],
        frames: ProfileFrames,
        seconds: tuple[float, float, float, float],
    ) -> str | None:
        """Keep a timed round's (fill, fill CPU, convert, convert CPU) seconds; the warm-up round
        (0) checks the PDFs instead: why they are not the profile's document, or None."""
        if repeat:
            for kept, value in zip(
                (self.fill, self.fill_cpu, self.convert, self.convert_cpu), seconds, strict=True
            ):
                kept.append(value)
            return None
        self.pages = [_pdf_pages(path) for path in made]
        return _route_problem(made[0], frames)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _office_route(
    route: OfficeRoute,
    canon: Path,
    frames_list: Sequence[ProfileFrames],
    work: Path,
    repeats: int,
    idle: float,
    env: dict[str, str],
) -> RouteResult | str:
    """Both steps of the route in fresh processes, as a user runs them (and as `packs build`
    runs): the fill script (`fill_route`: start-up, imports and reading the canon included),
    then one soffice call for all the files."""
    soffice = _soffice()
    if soffice is None:
        return "not measured: LibreOffice (soffice) is not installed"
    slug = route.name.replace(" ", "-")
    template = work / f"{slug}-template.docx"
    route.template(template)
    profile = work / "lo-profile"
    result = RouteResult(count=len(frames_list))
    for repeat in range(repeats + 1):  # the first round warms LibreOffice's user profile
        folder = work / f"{slug}-{repeat}"
        (folder / "pdf").mkdir(parents=True)
        paths = [folder / f"{frames.profile_id}.docx" for frames in frames_list]
        wait_idle(idle)
        start, start_cpu = time.perf_counter(), _children_cpu()
        filling = subprocess.run(
            _fill_cmd(route, canon, template, folder),
            capture_output=True,
            text=True,
            timeout=3600,
            env=env,
            cwd=tempfile.gettempdir(),
        )
        filled, filled_cpu = time.perf_counter(), _children_cpu()
        if filling.returncode != 0 or not all(path.is_file() for path in paths):
            return f"not measured: the {route.name} fill failed: {filling.stderr[-300:]}"
        children = filled_cpu
        failed = _soffice_pdfs(soffice, profile, paths, folder / "pdf")
        converted = time.perf_counter()
        if failed:
            return f"not measured: {failed}"
        made = sorted((folder / "pdf").glob("*.pdf"))
        seconds = (filled - start, filled_cpu - start_cpu, converted - filled)
        problem = result.round(repeat, made, frames_list[0], (*seconds, _children_cpu() - children))
        if problem:
            return f"not measured: the {route.name} route {problem}"
    return result


def _soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def _soffice_pdfs(soffice: str, profile: Path, paths: Sequence[Path], outdir: Path) -> str | None:
    """One soffice call converting all of `paths` to PDF in `outdir`; why it failed, or None."""
    done = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(outdir),
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        timeout=3600,
        env={**os.environ, "HOME": str(profile)},
    )
    if done.returncode != 0 or len(list(outdir.glob("*.pdf"))) != len(paths):
        return f"LibreOffice failed ({done.returncode}): {done.stderr[-300:]}"
    return None


def _own_form_route(
    canon: Path,
    frames_list: Sequence[ProfileFrames],
    work: Path,
    jobs: int,
    plan: Plan,
    env: dict[str, str],
) -> RouteResult | str:
    """The route of a user who keeps our review form and lets LibreOffice make the PDF: a fresh
    `packs build --formats docx --jobs JOBS` (as a user runs it), then one soffice call that
    converts every form to PDF. `fill` holds the build, `convert` the conversion."""
    soffice = _soffice()
    if soffice is None:
        return "not measured: LibreOffice (soffice) is not installed"
    profile = work / "lo-profile"
    result = RouteResult(count=len(frames_list))
    for repeat in range(plan.repeats + 1):  # the first round warms LibreOffice's user profile
        out, pdfs = work / f"own-form-{repeat}", work / f"own-form-{repeat}-pdf"
        pdfs.mkdir(parents=True)
        wait_idle(plan.wait_idle)
        built = run_sampled(_build_cmd(canon, out, jobs, "--force", "--formats", "docx"), env)
        paths = sorted(out.glob("*/*.review-form.docx"))
        if built.code != 0 or len(paths) != result.count:
            return f"not measured: `packs build --formats docx` failed: {built.stderr[-300:]}"
        start, start_cpu = time.perf_counter(), _children_cpu()
        failed = _soffice_pdfs(soffice, profile, paths, pdfs)
        converted, converted_cpu = time.perf_counter(), _children_cpu()
        if failed:
            return f"not measured: {failed}"
        made = sorted(pdfs.glob("*.pdf"))
        seconds = (built.seconds, built.cpu, converted - start, converted_cpu - start_cpu)
        problem = result.round(repeat, made, frames_list[0], seconds)
        if problem:
            return f"not measured: the own-form route {problem}"
    return result


def _versus_own_form(
    say: Report,
    plan: Plan,
    work: Path,
    canon: Path,
    jobs: int,
    env: dict[str, str],
    ours: Sequence[Run],
    names: str,
) -> None:
    """Our packs against LibreOffice converting our own review forms, on the same profiles."""
    say("## Versus LibreOffice converting our review form (one soffice call for all forms)")
    say()
    if not plan.office:
        say("Not measured (--no-office or --quick).")
        say()
        return
    loaded = load_canon(canon)
    frames_list = [compose_profile(p, loaded.digest(p.id)) for p in loaded.profiles]
    route = _own_form_route(canon, frames_list, work, jobs, plan, env)
    if isinstance(route, str):
        say(route)
        say()
        return
    count = route.count
    per_pdf = _median(route.convert) / count
    ours_wall = _median([r.seconds for r in ours]) / count
    ours_cpu = _median([r.cpu for r in ours]) / count
    say.table(
        ("route", "files per profile", "wall per pack", "CPU per pack"),
        [
            (
                f"`packs build --formats docx --jobs {jobs}`, then one soffice call for {count} "
                f"forms (PDF median {_median(route.pages):g} pages)",
                "DOCX + PDF",
                _ms(route.wall()),
                _ms(route.cpu()),
            ),
            (
                "of which LibreOffice alone (per PDF)",
                "PDF",
                _ms(per_pdf),
                _ms(_median(route.convert_cpu) / count),
            ),
            ("`packs build --jobs 2` (all formats, above)", names, _ms(ours_wall), _ms(ours_cpu)),
        ],
    )
    say(
        f"Split per pack: our DOCX build {_ms(_median(route.fill) / count)} wall "
        f"({_ms(_median(route.fill_cpu) / count)} CPU, a fresh process, start-up included), "
        f"LibreOffice {_ms(per_pdf)} wall ({_ms(_median(route.convert_cpu) / count)} CPU) per "
        "PDF, converting the forms one after another on one core."
    )
    say()
    say(
        f"Ratio ours / LibreOffice (above 1 means we are slower): `packs build --jobs 2`, all "
        f"four formats, {_ms(ours_wall)} per pack against LibreOffice's {_ms(per_pdf)} per PDF: "
        f"**{ours_wall / per_pdf:.2f}×**; against the whole route (our DOCX build and the "
        f"conversion, {_ms(route.wall())} per pack): {ours_wall / route.wall():.2f}×."
    )
    say()


def _route_problem(pdf: Path, frames: ProfileFrames) -> str | None:
    """Why a route's PDF is not the profile's document (a tag left unrendered, no title)."""
    from pypdf import PdfReader

    text = " ".join(page.extract_text() or "" for page in PdfReader(pdf).pages)
    if "{{" in text or "{%" in text:
        return f"left template tags in {pdf.name}"
    if frames.page_title.split()[0] not in text:
        return f"did not print the profile's title in {pdf.name}"
    return None


def _pdf_pages(path: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(path).pages)


# --- the report -----------------------------------------------------------------------------------


def _spin(count: int) -> int:
    """A pure-Python CPU loop: no I/O, no shared state, nothing for a pool to get wrong."""
    total = 0
    for i in range(count):
        total += i * i % 7
    return total


def cpu_scaling(repeats: int, count: int) -> float:
    """Throughput of two processes spinning at once over one alone: what two cores of this
    machine can give any process pool (a VM's vCPUs may share a physical core)."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        pool.map(_spin, [1000, 1000], 1)  # both workers up before timing
        one = [_time(pool.map, _spin, [count], 1) for _ in range(repeats)]
        two = [_time(pool.map, _spin, [count, count], 1) for _ in range(repeats)]
    return 2 * _median(one) / _median(two)


def machine() -> list[tuple[str, str]]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    libs = []
    for name in LIBRARIES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            libs.append(f"{name} {metadata.version(name)}")
    office = "not installed"
    binary = shutil.which("soffice")
    if binary:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            office = (
                subprocess.run(
                    [binary, "--version"], capture_output=True, text=True, timeout=60
                ).stdout.strip()
                or "installed"
            )
    return [
        ("cores (os.cpu_count / usable)", f"{os.cpu_count()} / {default_jobs()}"),
        ("CPU", cpu),
        ("RAM", ram),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("libraries", ", ".join(libs)),
        (
            "libharfbuzz-subset",
            "found" if ctypes.util.find_library("harfbuzz-subset") else "MISSING",
        ),
        ("LibreOffice", office),
        ("load average at start (1/5/15 min)", " ".join(f"{x:.2f}" for x in os.getloadavg())),
    ]


class Report:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str = "") -> None:
        self.lines.append(line)
        print(line, flush=True)

    def table(self, head: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self("| " + " | ".join(head) + " |")
        self("|" + "|".join("---" for _ in head) + "|")
        for row in rows:
            self("| " + " | ".join(row) + " |")
        self()


def _formats() -> tuple[list[Format], list[str]]:
    """Registered formats whose renderer imports; the others are reported, not fatal."""
    ok, missing = [], []
    for fmt in FORMATS.values():
        try:
            fmt.renderer()
        except Exception as exc:  # an in-progress renderer must not stop the benchmark
            missing.append(f"{fmt.name} ({type(exc).__name__}: {exc})")
        else:
            ok.append(fmt)
    return ok, missing


@contextlib.contextmanager
def _workdir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="packs-bench-")).resolve()
    if path.is_relative_to(REPO):
        raise SystemExit(f"bench: refusing to work inside the repository ({path})")
    try:
        yield path
    finally:
        if keep:
            print(f"(kept {path})", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--profiles", type=int, default=None, metavar="N", help="canon size (1000)")
    p.add_argument("--repeats", type=int, default=3, metavar="K", help="repeats per measure (3)")
    p.add_argument(
        "--sample",
        type=int,
        default=None,
        metavar="M",
        help="profiles in the --jobs 1 / --jobs 2 builds and the LibreOffice routes (min(N, 60))",
    )
    p.add_argument(
        "--per-format",
        type=int,
        default=None,
        metavar="S",
        help="profiles timed per format in-process (min(N, 20))",
    )
    p.add_argument("--quick", action="store_true", help="a smoke run: 5 profiles, 1 repeat")
    p.add_argument(
        "--office",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure the LibreOffice route (default: on, off with --quick)",
    )
    p.add_argument("--out", type=Path, default=None, metavar="FILE", help="write the report here")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each timed build, wait up to this long for the other processes on the "
        "machine to go quiet (a shared machine; default: do not wait)",
    )
    return p


@dataclass(frozen=True)
class Plan:
    """What one benchmark run measures."""

    profiles: int
    repeats: int
    sample: int
    per_format: int
    office: bool
    wait_idle: float
    command: str


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    n = max(1, args.profiles or (5 if args.quick else 1000))
    repeats = 1 if args.quick else max(1, args.repeats)
    sample = max(1, min(n, args.sample or (2 if args.quick else 60)))
    per_format = max(1, min(n, args.per_format or (1 if args.quick else 20)))
    office = (not args.quick) if args.office is None else args.office
    plan = Plan(
        n,
        repeats,
        sample,
        per_format,
        office,
        max(0.0, args.wait_idle),
        " ".join(argv or sys.argv[1:]),
    )
    say = Report()
    with _workdir(args.keep) as work:
        _bench(say, work, plan)
    if args.out is not None:
        args.out.write_text("\n".join(say.lines) + "\n", encoding="utf-8")
    return 0


def _bench(say: Report, work: Path, plan: Plan) -> None:
    n, repeats, sample, per_format = plan.profiles, plan.repeats, plan.sample, plan.per_format
    office, command = plan.office, plan.command
    say("# Benchmark")
    say()
    say(
        f"Command: `python3 tasks.py bench {command}`".rstrip() + f" — {n} profiles, "
        f"medians over {repeats} repeat{'s' if repeats != 1 else ''}, SOURCE_DATE_EPOCH={EPOCH}."
    )
    say()
    code = snapshot(work)
    env = _env(code)
    say(f"Code: `{_revision()}`, copied to a snapshot that every build subprocess runs.")
    say()
    say("## Machine")
    say()
    facts = machine()
    ceiling = cpu_scaling(max(3, repeats), 2_000_000 if n <= 5 else 10_000_000)
    facts.append(
        ("two processes of a pure-Python CPU loop vs one", f"{ceiling:.2f}× the throughput")
    )
    say.table(("what", "value"), facts)

    formats, missing = _formats()
    if missing:
        say(f"Formats not measured (renderer not available): {'; '.join(missing)}")
        say()
    names = ",".join(f.name for f in formats)

    start = time.perf_counter()
    canon_dir = synthetic_canon(work, n)
    generated = time.perf_counter() - start
    loads = [_time(load_canon, canon_dir) for _ in range(repeats)]
    canon = load_canon(canon_dir)
    sizes = [len(p.responsibilities) or len(p.components.responsibilities) for p in canon.profiles]
    say("## Canon")
    say()
    say.table(
        ("what", "value"),
        [
            ("profiles", str(len(canon.profiles))),
            (
                "responsibilities per profile",
                f"{min(sizes)}–{max(sizes)} (median {_median(sizes):g})",
            ),
            ("generated in", f"{generated:.2f} s (seed {SEED}, in {work})"),
            ("load_canon (in process)", f"{_median(loads):.2f} s"),
        ],
    )

    lay = load_layout("default")
    options = RenderOptions(page_size="A4", timestamp=EPOCH, generator="jobframe-packs bench")
    step = max(1, len(canon.profiles) // per_format)
    chosen = list(canon.profiles[::step][:per_format])
    frames_list = [compose_profile(p, canon.digest(p.id)) for p in chosen]

    # Per-profile time per format, in one warm process (imports and caches paid before timing).
    first: dict[str, float] = {}
    for fmt in formats:
        first[fmt.name] = _time(fmt.renderer(), frames_list[0], lay, options)
    times: dict[str, list[float]] = {f.name: [] for f in formats}
    compose_times: list[float] = []
    for _ in range(repeats):
        for profile, frames in zip(chosen, frames_list, strict=True):
            compose_times.append(_time(compose_profile, profile, canon.digest(profile.id)))
            for fmt in formats:
                render = fmt.renderer()
                times[fmt.name].append(_time(render, frames, lay, options))
    say("## Per profile, per format (one warm process)")
    say()
    say(f"{len(chosen)} profiles spread over the canon × {repeats} repeats; median per document.")
    say()
    rows = [("compose (all frames)", _ms(_median(compose_times)), "–")]
    rows += [(f.name, _ms(_median(times[f.name])), _ms(first[f.name])) for f in formats]
    pack_sum = _median(compose_times) + sum(_median(times[f.name]) for f in formats)
    rows.append(("**pack (sum)**", f"**{_ms(pack_sum)}**", "–"))
    say.table(("format", "median per profile", "first render in the process (cold caches)"), rows)

    # Overhead over the bare library calls on the same content.
    say("## Pipeline overhead over the bare library calls")
    say()
    overhead_rows: list[tuple[str, str, str, str]] = []
    pdf = _pdf_compare(frames_list, lay, options, repeats) if "pdf" in names else "no pdf format"
    if isinstance(pdf, PdfSplit):
        ours_pdf = _median(pdf.pipeline)
        overhead_rows.append(
            (
                "pdf: to_pdf.render vs the same HTML through WeasyPrint `write_pdf` as installed "
                "(shared CSS and FontConfiguration; its own HTML parser and user-agent "
                "stylesheet, without the handout's three workarounds; untagged, no attachment)",
                _ms(ours_pdf),
                _ms(_median(pdf.bare)),
                f"{(ours_pdf / _median(pdf.bare) - 1) * 100:+.0f}%",
            )
        )
        overhead_rows.append(
            (
                "pdf: the same, but bare WeasyPrint also asked for `pdf_tags=True` and the frames "
                "JSON attachment (what the handout asks for)",
                _ms(ours_pdf),
                _ms(_median(pdf.bare_tagged)),
                f"{(ours_pdf / _median(pdf.bare_tagged) - 1) * 100:+.0f}%",
            )
        )
    docx_fmt = FORMATS.get("docx")
    if docx_fmt is not None and docx_fmt in formats:
        ours, bare = [], []
        _docx_bare(frames_list[0])
        for _ in range(repeats):
            for frames in frames_list:
                ours.append(_time(docx_fmt.renderer(), frames, lay, options))
                bare.append(_time(_docx_bare, frames))
        overhead_rows.append(
            (
                "docx: to_docx.render vs the same text through python-docx's ordinary API "
                "(headings, paragraphs, tables; no content controls)",
                _ms(_median(ours)),
                _ms(_median(bare)),
                f"{(_median(ours) / _median(bare) - 1) * 100:+.0f}%",
            )
        )
    xlsx_fmt = FORMATS.get("xlsx")
    if xlsx_fmt is not None and xlsx_fmt in formats:
        ours, bare = [], []
        contents = [_xlsx_content(frames, lay) for frames in frames_list]
        _xlsx_bare(contents[0], options)
        for _ in range(repeats):
            for frames, content in zip(frames_list, contents, strict=True):
                ours.append(_time(xlsx_fmt.renderer(), frames, lay, options))
                bare.append(_time(_xlsx_bare, content, options))
        overhead_rows.append(
            (
                "xlsx: to_xlsx.render vs the same workbook through openpyxl's ordinary API (the "
                "same sheets, cells, styles, checks, names and protection; cell by cell, "
                "`Workbook.save`)",
                _ms(_median(ours)),
                _ms(_median(bare)),
                f"{(_median(ours) / _median(bare) - 1) * 100:+.0f}%",
            )
        )
    say.table(("comparison", "pipeline", "bare library", "overhead"), overhead_rows)
    if isinstance(pdf, PdfSplit):
        pages = _median(pdf.pages)
        say(
            f"Handout: median {pages:g} pages; WeasyPrint layout {_ms(_median(pdf.layout))} "
            f"({_ms(_median(pdf.layout) / max(pages, 1))} per page), PDF writing "
            f"{_ms(_median(pdf.write))} (the same HTML through WeasyPrint with the handout's "
            "three workarounds; no tags or attachment)."
        )
        say()
    else:
        say(f"PDF overhead: {pdf}")
        say()

    # Whole packs at --jobs 1 and --jobs 2 as a user runs them: fresh processes, imports included.
    sample_root = work / "sample"
    sample_canon = synthetic_canon(sample_root, sample)
    runs: dict[int, list[Run]] = {1: [], 2: []}
    for _ in range(repeats):
        for jobs in (1, 2):
            cmd = _build_cmd(sample_canon, sample_root / f"out-{jobs}", jobs, "--force")
            wait_idle(plan.wait_idle)
            runs[jobs].append(_checked(run_sampled(cmd, env), f"build --jobs {jobs}"))
    one, two = (_median([r.seconds for r in runs[j]]) for j in (1, 2))
    say("## Whole packs (formats: " + names + ")")
    say()
    say(
        f"`packs build --force` of a {sample}-profile canon in a fresh process (imports and "
        "worker start-up included), medians; CPU is the build's whole process tree; 'others' is "
        "what every other process on the machine used meanwhile, in cores (contention):"
    )
    say()
    pack_rows = []
    for jobs, wall in ((1, one), (2, two)):
        cpu = _median([r.cpu for r in runs[jobs]])
        others = _median([r.others_cpu / r.seconds for r in runs[jobs]])
        peak = max(r.peak_pss_kib for r in runs[jobs])
        pack_rows.append(
            (
                str(jobs),
                f"{wall:.2f} s",
                _ms(wall / sample),
                f"{sample / wall:.2f} packs/s",
                _ms(cpu / sample),
                f"{others:.2f} of {os.cpu_count()}",
                f"{peak / 1024:.0f} MiB",
            )
        )
    say.table(
        ("jobs", "wall", "per pack", "throughput", "CPU per pack", "others", "peak PSS sum"),
        pack_rows,
    )
    say(f"Scaling --jobs 2 / --jobs 1: **{one / two:.2f}×** throughput.")
    say()

    # The full canon once at the default jobs, then no-op rebuilds.
    full_out = work / "out"
    jobs = default_jobs()
    wait_idle(plan.wait_idle)
    full = _checked(run_sampled(_build_cmd(canon_dir, full_out, jobs), env), "full build")
    noops = [
        _checked(run_sampled(_build_cmd(canon_dir, full_out, jobs), env), "no-op build")
        for _ in range(repeats)
    ]
    loader = [
        sys.executable,
        "-c",
        "import sys; from pipeline.extract import load_canon; load_canon(sys.argv[1])",
        str(canon_dir),
    ]
    loads_fresh = [_checked(run_sampled(loader, env), "canon load").seconds for _ in range(repeats)]
    say(f"## Full canon ({n} profiles, --jobs {jobs})")
    say()
    say.table(
        ("measure", "value"),
        [
            (
                "full build wall time",
                f"{full.seconds:.1f} s ({full.seconds / n * 1000:.0f} ms per pack)",
            ),
            (
                "CPU of the build's process tree; other processes meanwhile",
                f"{full.cpu:.0f} s ({full.cpu / n * 1000:.0f} ms per pack); "
                f"{full.others_cpu / full.seconds:.2f} cores busy with other work",
            ),
            (
                "peak memory, whole process tree",
                f"{full.peak_pss_kib / 1024:.0f} MiB PSS ({full.peak_rss_kib / 1024:.0f} MiB RSS "
                f"sum; up to {full.peak_processes} processes)",
            ),
            ("no-op rebuild", f"{_median([r.seconds for r in noops]):.2f} s"),
            ("no-op build report", noops[-1].stdout.strip()),
            ("load the canon in a fresh process", f"{_median(loads_fresh):.2f} s"),
            ("build report", full.stdout.strip()),
        ],
    )

    # LibreOffice converting our own review forms, against our packs of the same profiles.
    _versus_own_form(say, plan, work, sample_canon, jobs, env, runs[2], names)

    # The docxtpl user's route, side by side with ours on the same profiles and deliverables.
    say("## Versus the docxtpl route (fill a DOCX, LibreOffice batch conversion to PDF)")
    say()
    if not office:
        say("Not measured (--no-office or --quick).")
        say()
        return
    sample_profiles = load_canon(sample_canon)
    route_frames = [
        compose_profile(p, sample_profiles.digest(p.id)) for p in sample_profiles.profiles
    ]
    routes: dict[str, RouteResult] = {}
    for office_route in OFFICE_ROUTES:
        measured = _office_route(
            office_route, sample_canon, route_frames, work, repeats, plan.wait_idle, env
        )
        if isinstance(measured, str):
            say(measured)
            say()
            return
        routes[office_route.name] = measured
    route = routes["docxtpl"]
    # Ours with the route's deliverables (review form + handout), as a user runs it: a fresh
    # `packs build`, imports and workers included, at --jobs 1 and at the default (one per core).
    docpdf: dict[int, list[Run]] = {1: [], jobs: []}
    for _ in range(repeats):
        for count in docpdf:
            cmd = _build_cmd(
                sample_canon,
                sample_root / f"docpdf-{count}",
                count,
                "--force",
                "--formats",
                "docx,pdf",
            )
            wait_idle(plan.wait_idle)
            docpdf[count].append(_checked(run_sampled(cmd, env), f"docx,pdf --jobs {count}"))

    def wall_per(runs_: list[Run]) -> float:
        return _median([r.seconds for r in runs_]) / sample

    def cpu_per(runs_: list[Run]) -> float:
        return _median([r.cpu for r in runs_]) / sample

    route_rows: list[tuple[str, str, str, str]] = [
        (
            f"{name}: fill a .docx per profile, then one soffice call for {sample} files "
            f"(PDF median {_median(measured.pages):g} pages)",
            "DOCX + PDF",
            _ms(measured.wall()),
            _ms(measured.cpu()),
        )
        for name, measured in routes.items()
    ]
    route_rows += [
        (
            "`packs build --formats docx,pdf --jobs 1`",
            "DOCX + PDF",
            _ms(wall_per(docpdf[1])),
            _ms(cpu_per(docpdf[1])),
        ),
    ]
    if jobs != 1:
        route_rows.append(
            (
                f"`packs build --formats docx,pdf` (default --jobs {jobs})",
                "DOCX + PDF",
                _ms(wall_per(docpdf[jobs])),
                _ms(cpu_per(docpdf[jobs])),
            )
        )
    route_rows.append(
        (
            "`packs build --jobs 2` (all formats, above)",
            names,
            _ms(two / sample),
            _ms(_median([r.cpu for r in runs[2]]) / sample),
        )
    )
    say.table(("route", "files per profile", "wall per pack", "CPU per pack"), route_rows)
    say(
        "Split per pack: "
        + "; ".join(
            f"{name}: fill {_ms(_median(m.fill) / m.count)} wall "
            f"({_ms(_median(m.fill_cpu) / m.count)} CPU), LibreOffice "
            f"{_ms(_median(m.convert) / m.count)} wall "
            f"({_ms(_median(m.convert_cpu) / m.count)} CPU)"
            for name, m in routes.items()
        )
        + ". Both steps run in fresh processes, as `packs build` does: the fill script starts "
        "Python, imports, reads the canon and composes the frames (with our composers) before "
        "it fills. One soffice call converts its files one after another on one core; "
        "`packs build` renders on every core. The docxtpl template loops over frames, blocks and "
        "lines "
        "(benchmarks/bench.py, TEMPLATE_PARAGRAPHS); the python-docx table route is the stand-in "
        "earlier runs used."
    )
    say()
    table_route = routes["python-docx table"]
    say(
        f"Ratio docxtpl route / ours (above 1 means we are faster): wall per pack "
        f"**{route.wall() / wall_per(docpdf[jobs]):.2f}×** at the default --jobs {jobs}, "
        f"**{route.wall() / wall_per(docpdf[1]):.2f}×** at --jobs 1; CPU per pack "
        f"**{route.cpu() / cpu_per(docpdf[1]):.2f}×**. Against the python-docx table stand-in: "
        f"wall {table_route.wall() / wall_per(docpdf[jobs]):.2f}× at the default --jobs, "
        f"CPU {table_route.cpu() / cpu_per(docpdf[1]):.2f}×."
    )
    say()


if __name__ == "__main__":
    sys.exit(main())
