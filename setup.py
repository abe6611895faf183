"""Layouts ship inside the wheel: `layouts/` (the developers' home of presentation, beside
`pipeline/`) is copied into the built package as `pipeline/layouts/`, where
`pipeline.layout.LAYOUTS_DIR` finds it when the package is installed. Everything else about the
build is in pyproject.toml."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

LAYOUTS = Path(__file__).resolve().parent / "layouts"


class BuildWithLayouts(build_py):  # type: ignore[misc]
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "pipeline" / "layouts"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
        shutil.copytree(LAYOUTS, target, ignore=ignore, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithLayouts})
