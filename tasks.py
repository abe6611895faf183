#!/usr/bin/env python3
"""Project tasks for jobframe-packs: bootstrap, build, test. Standard library only.

Run with any Python 3.11+ (``python3 tasks.py COMMAND``), from any directory:

  setup          Install the Debian packages the project needs (runtime: Pango, HarfBuzz subset,
                 DejaVu fonts; tests: poppler-utils, qpdf, fontconfig, LibreOffice Writer/Calc,
                 Chromium) when running as root, or print the ``sudo apt-get install`` line to
                 run. Then create ``.venv`` and ``pip install -e ".[test]"`` into it (skipped
                 while ``.venv/.jobframe-setup`` holds the sha256 of pyproject.toml and the venv
                 can import ``pipeline``). Then ``npm ci`` the browser tests' axe-core (locked in
                 tests/browser/) into ``.venv/node``.
  build [ARGS]   setup (runtime packages only), then ``python -m pipeline build --out out ARGS``.
                 SOURCE_DATE_EPOCH defaults to the committer time of HEAD, for reproducible packs.
  test [ARGS]    setup, then ``ruff check``, ``ruff format --check``, ``mypy`` and
                 ``pytest ARGS``; stops at the first failure and returns its exit code.
                 pytest collecting no test (exit 5) fails.
                 PYTHONHASHSEED=0; with CI set, HYPOTHESIS_PROFILE=ci.
  bench [ARGS]   setup, then ``python -m benchmarks ARGS`` (outside the product package);
                 ``bench cycle|harvest|serve|cluster ARGS`` run those benchmarks.
  fuzz [ARGS]    setup, then pytest on tests/ with HYPOTHESIS_PROFILE=fuzz and -m "not office".
  clean [--all]  Remove out/* (but out/.keep), tool caches and __pycache__; --all also .venv.

Everything after build/test/bench/fuzz is passed through unchanged, options included, e.g.
``python3 tasks.py build --formats txt`` or ``python3 tasks.py test -k manifest -x``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".jobframe-setup"
PYPROJECT = ROOT / "pyproject.toml"
OUT = ROOT / "out"
#: Browser-side test tools (axe-core) from the npm registry: `npm ci` of tests/browser/'s lock
#: into .venv/node, redone when package.json or the lock changes.
NODE_TOOLS = ROOT / "tests" / "browser"
NODE_DIR = VENV / "node"
NODE_STAMP = NODE_DIR / ".jobframe-setup"

RUNTIME_PACKAGES = (
    "libpango-1.0-0",
    "libpangoft2-1.0-0",
    "libharfbuzz-subset0",
    "fonts-dejavu-core",
)
TEST_PACKAGES = (
    "poppler-utils",
    "qpdf",
    "fontconfig",  # fc-match: which font files the handout's faces resolve to (tests/conftest.py)
    "libreoffice-writer-nogui",
    "libreoffice-calc-nogui",
    "python3-uno",  # the UNO bridge the LibreOffice typing tests drive (/usr/bin/python3 only)
    "chromium",  # the real browser of tests/test_serve_browser.py (Playwright drives it)
)

APT_LOCK_MARKERS = (
    "Could not get lock",
    "Unable to lock",
    "Unable to acquire the dpkg frontend lock",
    "is another process using it?",
)
APT_LOCK_WAIT_SECONDS = 300.0
APT_LOCK_RETRY_SECONDS = 10.0


class TaskError(Exception):
    """A setup step failed in a way the user has to fix; carries the exit code to return."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# --- helpers -------------------------------------------------------------------------------------


def venv_exe(name: str) -> Path:
    """Path of an executable inside .venv."""
    return VENV_BIN / (f"{name}.exe" if os.name == "nt" else name)


def show(
    cmd: Sequence[str | os.PathLike[str]], env_changes: Mapping[str, str] | None = None
) -> None:
    """Print a command the way a person could paste it into a shell."""
    prefix = "".join(f"{key}={shlex.quote(value)} " for key, value in (env_changes or {}).items())
    print(f"+ {prefix}{shlex.join(str(part) for part in cmd)}", flush=True)


def run(
    cmd: Sequence[str | os.PathLike[str]],
    env_changes: Mapping[str, str] | None = None,
    check: bool = True,
) -> int:
    """Print and run a command in the repo root; return its exit code."""
    show(cmd, env_changes)
    env = {**os.environ, **env_changes} if env_changes else None
    return subprocess.run([str(part) for part in cmd], cwd=ROOT, env=env, check=check).returncode


def run_apt(cmd: Sequence[str]) -> None:
    """Run an apt-get command, retrying while another apt/dpkg process holds the lock."""
    deadline = time.monotonic() + APT_LOCK_WAIT_SECONDS
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    while True:
        show(cmd, {"DEBIAN_FRONTEND": "noninteractive"})
        with subprocess.Popen(
            list(cmd),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as proc:
            assert proc.stdout is not None
            output: list[str] = []
            for line in proc.stdout:
                print(line, end="", flush=True)
                output.append(line)
        if proc.returncode == 0:
            return
        locked = any(marker in line for line in output for marker in APT_LOCK_MARKERS)
        if not locked or time.monotonic() + APT_LOCK_RETRY_SECONDS > deadline:
            raise subprocess.CalledProcessError(proc.returncode, list(cmd))
        print(f"apt is locked by another process; retrying in {APT_LOCK_RETRY_SECONDS:.0f} s")
        time.sleep(APT_LOCK_RETRY_SECONDS)


def is_root() -> bool:
    geteuid: Callable[[], int] | None = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0


def missing_debian_packages(names: Sequence[str]) -> list[str]:
    """Names among `names` that dpkg does not report as installed."""
    missing = []
    for name in names:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True, check=False
        )
        if result.returncode != 0 or result.stdout.strip() != "install ok installed":
            missing.append(name)
    return missing


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def git_commit_time() -> str | None:
    """Committer time of HEAD as a Unix timestamp, or None without git or commits."""
    if shutil.which("git") is None:
        return None
    result = subprocess.run(
        ["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    stamp = result.stdout.strip()
    return stamp if result.returncode == 0 and stamp.isdigit() else None


# --- setup ---------------------------------------------------------------------------------------


def ensure_system_packages(names: Sequence[str]) -> None:
    """Install missing Debian packages as root, or say exactly what to run and fail."""
    if shutil.which("dpkg-query") is None:
        print(
            "warning: not a Debian-based system (no dpkg); make sure the equivalents of these "
            f"are installed: {' '.join(names)}",
            file=sys.stderr,
        )
        return
    missing = missing_debian_packages(names)
    if not missing:
        print(f"system packages: all {len(names)} present")
        return
    install = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if not is_root():
        raise TaskError(
            f"missing system packages: {' '.join(missing)}\n"
            f"run:  sudo {shlex.join(install)}\n"
            "then run this command again."
        )
    if shutil.which("apt-get") is None:
        raise TaskError(
            f"missing system packages and no apt-get to install them: {' '.join(missing)}"
        )
    run_apt(["apt-get", "update"])
    run_apt(install)
    still_missing = missing_debian_packages(missing)
    if still_missing:
        raise TaskError(f"apt-get did not install: {' '.join(still_missing)}")


def venv_python_works() -> bool:
    """The venv's interpreter runs and is Python 3.11+."""
    python = venv_exe("python")
    if not python.exists():
        return False
    result = subprocess.run(
        [str(python), "-c", "import sys; sys.exit(sys.version_info < (3, 11))"],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def venv_imports_pipeline() -> bool:
    """The venv imports `pipeline` from this work tree's pipeline/__init__.py.

    A flat-layout editable install maps only the packages it found when it was made: one made
    before pipeline/__init__.py existed misses the package, or sees it as a namespace, and must
    be redone. Checked from outside the repo root, so the current directory does not help.
    """
    init = ROOT / "pipeline" / "__init__.py"
    if not init.exists():
        return True
    probe = (
        "import importlib.util, os, sys\n"
        "spec = importlib.util.find_spec('pipeline')\n"
        "origin = spec.origin if spec is not None else None\n"
        "ok = origin is not None and os.path.exists(origin)\n"
        "sys.exit(not (ok and os.path.samefile(origin, sys.argv[1])))"
    )
    result = subprocess.run(
        [str(venv_exe("python")), "-c", probe, str(init)],
        cwd=VENV,
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def ensure_venv(venv_ok: bool) -> None:
    """Create .venv and install the project with its test extras, unless already up to date."""
    if not venv_ok:
        run([sys.executable, "-m", "venv", "--clear", VENV])
    digest = sha256_of(PYPROJECT)
    stamp = STAMP.read_text(encoding="utf-8").strip() if STAMP.exists() else ""
    if stamp == digest and venv_imports_pipeline():
        print("python environment: up to date (.venv)")
        return
    STAMP.unlink(missing_ok=True)
    run([venv_exe("python"), "-m", "pip", "install", "-q", "-e", ".[test]"])
    STAMP.write_text(digest + "\n", encoding="utf-8")


def ensure_node_tools() -> None:
    """`npm ci` the browser tests' tools (axe-core) into .venv/node, unless up to date."""
    files = ("package.json", "package-lock.json")
    digest = hashlib.sha256(b"".join((NODE_TOOLS / name).read_bytes() for name in files))
    stamp = NODE_STAMP.read_text(encoding="utf-8").strip() if NODE_STAMP.exists() else ""
    if stamp == digest.hexdigest() and (NODE_DIR / "node_modules").is_dir():
        print("browser test tools: up to date (.venv/node)")
        return
    if shutil.which("npm") is None:
        ensure_system_packages(("npm",))
    npm = shutil.which("npm")
    if npm is None:
        raise TaskError("npm is needed to install axe-core for the browser tests")
    NODE_STAMP.unlink(missing_ok=True)
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    for name in files:
        shutil.copyfile(NODE_TOOLS / name, NODE_DIR / name)
    run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", NODE_DIR])
    NODE_STAMP.write_text(digest.hexdigest() + "\n", encoding="utf-8")


def setup(runtime_only: bool = False) -> None:
    """Bring the machine and .venv to what the project needs; raises on failure."""
    packages = RUNTIME_PACKAGES if runtime_only else RUNTIME_PACKAGES + TEST_PACKAGES
    venv_ok = venv_python_works()
    if not venv_ok and importlib.util.find_spec("ensurepip") is None:
        # Debian's own python3 keeps ensurepip, which `venv` needs for pip, in python3-venv.
        packages += ("python3-venv",)
    ensure_system_packages(packages)
    ensure_venv(venv_ok)
    if not runtime_only:
        ensure_node_tools()


# --- commands ------------------------------------------------------------------------------------


def cmd_build(extra: list[str]) -> int:
    setup(runtime_only=True)
    env: dict[str, str] = {}
    if "SOURCE_DATE_EPOCH" not in os.environ:
        commit_time = git_commit_time()
        if commit_time is not None:
            env["SOURCE_DATE_EPOCH"] = commit_time
    return run(
        [venv_exe("python"), "-m", "pipeline", "build", "--out", "out", *extra], env, check=False
    )


def check_env(profile: str | None = None) -> dict[str, str]:
    """Environment for the checks: fixed hash seed; a Hypothesis profile for CI or fuzzing."""
    env = {"PYTHONHASHSEED": "0"}
    if profile is not None:
        env["HYPOTHESIS_PROFILE"] = profile
    elif os.environ.get("CI"):
        env["HYPOTHESIS_PROFILE"] = "ci"
    return env


def cmd_test(extra: list[str]) -> int:
    setup()
    env = check_env()
    sources = ["pipeline", "benchmarks", "tests", "tasks.py"]
    for step in (
        [venv_exe("ruff"), "check", *sources],
        [venv_exe("ruff"), "format", "--check", *sources],
        [venv_exe("mypy")],
    ):
        code = run(step, env, check=False)
        if code != 0:
            return code
    return run_pytest([*extra], env)


def run_pytest(args: list[str], env: Mapping[str, str]) -> int:
    """Run the venv's pytest; exit 5 (no tests collected) stays a failure."""
    code = run([venv_exe("pytest"), *args], env, check=False)
    if code == 5:
        print("error: pytest collected no tests, which counts as a failure", file=sys.stderr)
    return code


def cmd_bench(extra: list[str]) -> int:
    setup(runtime_only=True)
    return run([venv_exe("python"), "-m", "benchmarks", *extra], check=False)


def cmd_fuzz(extra: list[str]) -> int:
    setup()
    return run_pytest(["tests", "-m", "not office", *extra], check_env("fuzz"))


def remove(path: Path) -> None:
    print(f"removing {path.relative_to(ROOT)}")
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def cmd_clean(all_: bool) -> int:
    if OUT.is_dir():
        for entry in sorted(OUT.iterdir()):
            if entry.name != ".keep":
                remove(entry)
    for name in (".pytest_cache", ".mypy_cache", ".ruff_cache"):
        if (ROOT / name).exists():
            remove(ROOT / name)
    skip = {ROOT / ".venv", ROOT / ".git"}
    for directory, subdirs, _files in os.walk(ROOT):
        current = Path(directory)
        subdirs[:] = sorted(d for d in subdirs if current / d not in skip)
        if "__pycache__" in subdirs:
            subdirs.remove("__pycache__")
            remove(current / "__pycache__")
    if all_ and VENV.exists():
        remove(VENV)
    return 0


# --- command line --------------------------------------------------------------------------------

# Commands whose trailing arguments go, unparsed, to the tool they run.
PASS_THROUGH: dict[str, Callable[[list[str]], int]] = {
    "build": cmd_build,
    "test": cmd_test,
    "bench": cmd_bench,
    "fuzz": cmd_fuzz,
}


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tasks.py",
        description="Bootstrap, build and test jobframe-packs (standard library only).",
        epilog="Arguments after build/test/bench/fuzz are passed through unchanged.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "setup", help="install system packages, create .venv, pip install -e .[test]"
    )
    commands.add_parser(
        "build", help="build packs into out/ (ARGS go to `python -m pipeline build`)"
    )
    commands.add_parser("test", help="ruff check, mypy, pytest (ARGS go to pytest)")
    commands.add_parser("bench", help="run `python -m benchmarks` (ARGS go to it)")
    commands.add_parser("fuzz", help='pytest with HYPOTHESIS_PROFILE=fuzz, -m "not office"')
    clean = commands.add_parser("clean", help="remove out/*, caches and __pycache__")
    clean.add_argument("--all", action="store_true", help="also remove .venv")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # tasks.py is run by whatever `python3` is on PATH, which the project's floor does not bind.
    if sys.version_info < (3, 11):  # noqa: UP036
        print(f"error: Python 3.11+ is required, this is {sys.version.split()[0]}", file=sys.stderr)
        return 2
    args = list(sys.argv[1:] if argv is None else argv)
    # Split off pass-through arguments by hand: argparse would try to parse `--formats txt`.
    extra: list[str] = []
    for index, arg in enumerate(args):
        if not arg.startswith("-"):
            if arg in PASS_THROUGH:
                args, extra = args[: index + 1], args[index + 1 :]
            break
    namespace = make_parser().parse_args(args)
    try:
        if namespace.command == "setup":
            setup()
            return 0
        if namespace.command == "clean":
            return cmd_clean(namespace.all)
        return PASS_THROUGH[namespace.command](extra)
    except TaskError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.code
    except subprocess.CalledProcessError as error:
        print(f"error: command failed with exit code {error.returncode}", file=sys.stderr)
        return error.returncode or 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
