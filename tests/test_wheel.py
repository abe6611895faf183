"""The installed package stands alone: a wheel built from the repo carries its layouts and renders
a pack from an empty folder, with no checkout beside it.

A subprocess is the point here (a fresh interpreter in a fresh virtual environment). Cost is
bounded: the wheel is built offline from a copy of the files it needs (no build isolation, so
nothing is downloaded), the venv has no pip of its own (this venv's pip installs into it), and
its dependencies are this venv's packages, put on its path by one `.pth` file.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from pipeline.layout import LAYOUTS_DIR
from tests.conftest import CANON_DIR, FIXED_EPOCH, REPO, SEED_ID

#: What the wheel is built from (the rest of the repo is tests, benchmarks and docs).
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "pipeline", "layouts")


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{argv}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    dist = work / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    _run(
        [
            *pip,
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(dist),
            str(src),
        ],
        work,
    )
    (built,) = dist.glob("jobframe_packs-*.whl")
    return built


def test_a_checkout_reads_the_layouts_where_they_are_edited() -> None:
    assert LAYOUTS_DIR == REPO / "layouts"


def test_the_wheel_carries_every_layout_file(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    layouts = REPO / "layouts"
    expected = {
        "pipeline/layouts/" + p.relative_to(layouts).as_posix()
        for p in layouts.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")
    }
    assert expected and expected <= names, sorted(expected - names)


def test_an_installed_wheel_renders_a_pack_from_an_empty_folder(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path
    ).strip()
    # The dependencies: this venv's site-packages on the new venv's path (its .pth files, such
    # as the editable install's finder, are not run from there, so `pipeline` is the wheel's).
    (Path(purelib) / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    _run(
        [*pip, "--python", str(python), "install", "-q", "--no-index", "--no-deps", str(wheel)],
        tmp_path,
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {
        key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env["SOURCE_DATE_EPOCH"] = str(FIXED_EPOCH)
    where = _run([str(python), "-c", "import pipeline.layout as l; print(l.LAYOUTS_DIR)"], empty)
    assert Path(where.strip()) == Path(purelib) / "pipeline" / "layouts"
    packs = env_dir / "bin" / "packs"
    _run([str(packs), "build", SEED_ID, "--canon", str(CANON_DIR), "--out", "out"], empty, env)
    pack = empty / "out" / SEED_ID
    manifest = json.loads((pack / "manifest.json").read_text(encoding="utf-8"))
    names = sorted(f["path"] for f in manifest["files"])
    assert names == sorted(
        f"{SEED_ID}.{suffix}"
        for suffix in ("review-form.docx", "handout.pdf", "mbo-tracker.xlsx", "goal-templates.txt")
    )
    assert all((pack / name).stat().st_size > 0 for name in names)
    assert sorted(p.name for p in empty.iterdir()) == ["out"]
