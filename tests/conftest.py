"""Shared fixtures: the bundled canon, fixed render options, and real readers (LibreOffice)."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from pipeline.compose import compose_profile
from pipeline.extract import load_canon
from pipeline.layout import Layout, RenderOptions, load_layout
from pipeline.model import Canon, ProfileFrames

REPO = Path(__file__).resolve().parent.parent
CANON_DIR = REPO / "canon"
#: The reference pages, copied into the repo (see tests/cases/seed/README.md).
SEED_DIR = REPO / "tests" / "cases" / "seed"
SEED_ID = "CLINIC.CLINICAL90BC.M4"
#: 2023-11-14T22:13:20Z, the example build time of design.md §6.
FIXED_EPOCH = 1_700_000_000

settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "fuzz", max_examples=2_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def seed_path(name: str) -> Path:
    """A reference page of tests/cases/seed/ (fixtures; never edited to make a test pass)."""
    path = SEED_DIR / name
    if not path.is_file():
        pytest.fail(f"reference seed {path} is missing (see tests/cases/seed/README.md)")
    return path


@pytest.fixture(scope="session")
def canon() -> Canon:
    return load_canon(CANON_DIR)


@pytest.fixture(scope="session")
def layout() -> Layout:
    return load_layout("default")


@pytest.fixture(scope="session")
def options() -> RenderOptions:
    return RenderOptions(page_size="A4", timestamp=FIXED_EPOCH, generator="jobframe-packs test")


@pytest.fixture(scope="session")
def all_frames(canon: Canon) -> dict[str, ProfileFrames]:
    return {p.id: compose_profile(p, canon.digest(p.id)) for p in canon.profiles}


@pytest.fixture(scope="session")
def seed_frames(all_frames: dict[str, ProfileFrames]) -> ProfileFrames:
    return all_frames[SEED_ID]


#: The LibreOffice the tests drive: the environment variable's program, else the system's
#: `soffice` (README "Tests": how to run them against another LibreOffice).
SOFFICE_SWITCH = "PACKS_SOFFICE"


def soffice_binary() -> str | None:
    chosen = os.environ.get(SOFFICE_SWITCH)
    if chosen:
        return chosen
    return shutil.which("soffice") or shutil.which("libreoffice")


Converter = Callable[[Sequence[Path], str], list[Path]]


@pytest.fixture(scope="session")
def soffice_convert(tmp_path_factory: pytest.TempPathFactory) -> Converter:
    """Convert many files in ONE LibreOffice call (about 0.2 s/doc instead of 1 s).

    `target` is a LibreOffice filter spec such as "pdf" or "docx:MS Word 2007 XML". Returns the
    output paths in input order. Skips (locally) when LibreOffice is absent; CI installs it.
    """
    binary = soffice_binary()
    profile = tmp_path_factory.mktemp("lo-profile")

    def convert(paths: Sequence[Path], target: str) -> list[Path]:
        if binary is None:
            if os.environ.get("CI"):
                pytest.fail("LibreOffice is required in CI (python3 tasks.py setup installs it)")
            pytest.skip("LibreOffice (soffice) is not installed")
        outdir = tmp_path_factory.mktemp("lo-out")
        env = {**os.environ, "HOME": str(profile)}
        cmd = [
            binary,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--norestore",
            "--convert-to",
            target,
            "--outdir",
            str(outdir),
            *[str(p) for p in paths],
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
        ext = target.split(":")[0]
        outs = [outdir / f"{Path(p).stem}.{ext}" for p in paths]
        missing = [o for o in outs if not o.is_file()]
        if done.returncode != 0 or missing:
            pytest.fail(
                f"LibreOffice could not convert {missing or paths}:\n{done.stdout}\n{done.stderr}"
            )
        return outs

    return convert


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--accept",
        action="store_true",
        default=False,
        help="write the current output as the new expected golden files",
    )


@pytest.fixture(scope="session")
def accept(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--accept")) or bool(os.environ.get("ACCEPT_GOLDEN"))


class WarningLog(logging.Handler):
    """What a library logged at WARNING or above while installed (see `warnings_of`)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.levelname}: {record.getMessage()}")

    def take(self) -> list[str]:
        """The messages so far, emptying the log."""
        out, self.messages = self.messages, []
        return out


@contextlib.contextmanager
def warnings_of(logger_name: str = "weasyprint") -> Iterator[WarningLog]:
    """Collect a library's warnings: WeasyPrint only logs a missing glyph or refused fetch."""
    handler = WarningLog()
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def font_files(family: str = "DejaVu Sans") -> list[Path]:
    """The files fontconfig gives WeasyPrint for the handout's family in each face it uses."""
    tool = shutil.which("fc-match")
    assert tool, "fc-match (fontconfig) is required; python3 tasks.py setup installs it"
    out = []
    for face in ("regular", "bold", "oblique", "bold:oblique"):
        done = subprocess.run(
            [tool, "-f", "%{file}", f"{family}:{face}"], capture_output=True, text=True, check=True
        )
        out.append(Path(done.stdout))
    return out


@functools.cache
def font_coverage() -> frozenset[int]:
    """Code points every face of the handout's font has a glyph for (read from the fonts' cmaps
    with fontTools, which WeasyPrint installs): text of these logs no missing glyph."""
    from fontTools.ttLib import TTFont

    covered: set[int] | None = None
    for path in font_files():
        with TTFont(path, lazy=True) as font:
            cmap = set(font.getBestCmap())
        covered = cmap if covered is None else covered & cmap
    assert covered, "no font coverage found"
    return frozenset(covered)
