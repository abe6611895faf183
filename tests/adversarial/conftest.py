"""Builds shared by the adversarial modules, made once per session through the real CLI.

LibreOffice is slow to start, so every office file these modules want printed goes through ONE
`soffice --convert-to pdf` call (`office_pdfs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest

from pipeline.extract.yamlwrite import quote
from pipeline.render import FORMATS, to_pdf
from tests.adversarial.support import environment, run_cli, write_tree
from tests.conftest import FIXED_EPOCH, Converter, warnings_of

PROFILE = "OPS.TEST.M4"

#: Canon text that is code somewhere (issue 8): each must show literally in every format.
CODE_TEXTS: tuple[str, ...] = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<style>@import "http://example.invalid/a.css";</style> url(file:///etc/passwd)',
    "@import url(http://example.invalid/b.css); p { background: url(http://x.invalid/x.png) }",
    "file:///etc/passwd",
    '<img src="http://example.invalid/x.png"> http://example.invalid/x.png',
    '<link rel=stylesheet href="file:///etc/passwd">',
    '{ HYPERLINK "http://x" }',
    '<w:fldSimple w:instr="HYPERLINK http://x"/><w:t>injected</w:t>',
    "]]> <![CDATA[x]]> &amp; &lt; &#x41; &e;",
    '=HYPERLINK("http://x","y")',
    "+1",
    "-2",
    "@SUM(A1)",
    "\t=1",
    "=cmd|' /C calc'!A0",
    "{{ 7*7 }} {% raw %} ${x}",
)

#: One hostile text per canon field kind (beside the responsibilities, which take all of them).
FIELD_TEXTS: dict[str, str] = {
    "function name": '<b>Ops</b> & "Co" =1',
    "focus name": "R&D &P &[Page] <i>x</i>",
    "level title": "@Director <title>",
    "dimension": '=HYPERLINK("http://x","scope")',
    "complexity rubric": "<script>rubric()</script> +1",
    "knowledge rubric": "{ MERGEFIELD x } ]]>",
    "core output": "-1 <img src=x onerror=alert(2)>",
    "component responsibility": "@import url(http://example.invalid/c.css);",
    "job description item": '<a href="javascript:alert(3)">jd</a> =1+1',
    "badge": "&lt;status&gt; =2",
}

LONG_SENTENCE = (
    " ".join(f"word{i % 97}" for i in range(1_500)).replace("word0 ", "Plans, ")[:9_999] + "."
)


def _list(items: tuple[str, ...] | list[str], indent: int) -> str:
    pad = " " * indent
    return "".join(f"{pad}- {quote(t)}\n" for t in items)


def hostile_canon(root: Path) -> Path:
    f = FIELD_TEXTS
    dims = "".join(
        f"      {key}: {quote(f['dimension'] + ' ' + key)}\n"
        for key in ("scope", "autonomy", "complexity", "impact", "decision_rights", "leadership")
    )
    return write_tree(
        root,
        {
            "levels.yaml": "canon: 1\nlevels:\n  M4:\n"
            f"    title: {quote(f['level title'])}\n    track: management\n"
            f"    dimensions:\n{dims}",
            "focuses/OPS.TEST.yaml": "canon: 1\n"
            f"function: {{code: OPS, name: {quote(f['function name'])}}}\n"
            f"focus: {{code: TEST, name: {quote(f['focus name'])}}}\n"
            "profiles:\n  M4:\n"
            f"    status: {quote(f['badge'])}\n"
            f"    core_outputs:\n{_list([f['core output']], 6)}"
            f"    responsibilities:\n{_list(CODE_TEXTS, 6)}"
            "    rubrics:\n"
            f"      complexity/problem-solving: {quote(f['complexity rubric'])}\n"
            f"      knowledge-application: {quote(f['knowledge rubric'])}\n"
            "    components:\n"
            f"      responsibilities:\n{_list([f['component responsibility']], 8)}",
            "job-descriptions/hostile.yaml": "canon: 1\n"
            f"title: {quote('<h1>Hostile</h1>')}\n"
            f"profile: {PROFILE}\n"
            f"role_definition:\n{_list([f['job description item']], 2)}"
            f"hard_skills:\n{_list(CODE_TEXTS[:3], 2)}",
        },
    )


def long_canon(root: Path) -> Path:
    return write_tree(
        root,
        {
            "levels.yaml": "canon: 1\nlevels:\n  M4:\n    title: Director\n    track: management\n"
            f"    dimensions:\n      scope: {quote(LONG_SENTENCE)}\n",
            "focuses/OPS.TEST.yaml": "canon: 1\nfunction: {code: OPS, name: Operations}\n"
            "focus: {code: TEST, name: Test}\nprofiles:\n  M4:\n"
            f"    responsibilities:\n      - {quote(LONG_SENTENCE)}\n",
        },
    )


class RecordingFetcher(to_pdf.LayoutFetcher):
    """The handout's own fetcher, noting every URL WeasyPrint asks it for."""

    calls: ClassVar[list[str]] = []

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> object:
        RecordingFetcher.calls.append(url)
        return super().fetch(url, headers)


@dataclass
class Built:
    """A pack built by `packs build`, with what WeasyPrint fetched and logged meanwhile."""

    folder: Path
    fetched: list[str] = field(default_factory=list)
    logged: list[str] = field(default_factory=list)

    def file(self, fmt: str) -> Path:
        return self.folder / FORMATS[fmt].file_name(PROFILE)

    def data(self, fmt: str) -> bytes:
        return self.file(fmt).read_bytes()


def build_recorded(canon: Path, cwd: Path) -> Built:
    """`packs build` (one job, so in this process) with the PDF fetcher and logger observed."""
    RecordingFetcher.calls = []
    with (
        pytest.MonkeyPatch.context() as mp,
        environment(SOURCE_DATE_EPOCH=str(FIXED_EPOCH)),
        warnings_of("weasyprint") as handler,
    ):
        mp.setattr(to_pdf, "LayoutFetcher", RecordingFetcher)
        mp.setattr(to_pdf, "_TYPESETTERS", {})  # a fresh typesetter takes the recording fetcher
        done = run_cli(["build", "--canon", str(canon), "--out", "out", "--jobs", "1"], cwd)
    assert done.code == 0, done.err
    assert "Traceback" not in done.err
    return Built(cwd / "out" / PROFILE, list(RecordingFetcher.calls), handler.messages)


@pytest.fixture(scope="session")
def hostile_build(tmp_path_factory: pytest.TempPathFactory) -> Built:
    work = tmp_path_factory.mktemp("hostile")
    return build_recorded(hostile_canon(work / "canon"), work)


@pytest.fixture(scope="session")
def long_build(tmp_path_factory: pytest.TempPathFactory) -> Built:
    work = tmp_path_factory.mktemp("long")
    return build_recorded(long_canon(work / "canon"), work)


@pytest.fixture(scope="session")
def office_pdfs(
    hostile_build: Built,
    long_build: Built,
    soffice_convert: Converter,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Path]:
    """LibreOffice's print of every office file the adversarial tests look at: ONE call."""
    inputs = {
        "hostile-form.docx": hostile_build.file("docx"),
        "hostile-tracker.xlsx": hostile_build.file("xlsx"),
        "long-form.docx": long_build.file("docx"),
        "long-tracker.xlsx": long_build.file("xlsx"),
    }
    folder = tmp_path_factory.mktemp("office-in")
    staged = []
    for name, path in inputs.items():  # distinct stems: LibreOffice names outputs by stem
        staged.append(folder / name)
        staged[-1].write_bytes(path.read_bytes())
    return dict(zip(inputs, soffice_convert(staged, "pdf"), strict=True))
