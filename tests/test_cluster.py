"""`packs build --cluster`: Dask workers render, the client commits; byte-identical to a local
build. LocalClusters of 2 worker processes on 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.build import build, select
from pipeline.extract import load_canon
from pipeline.layout import RenderOptions, load_layout
from pipeline.render import FORMATS, Format
from tests.conftest import CANON_DIR

EPOCH = 1_700_000_000
import distributed  # noqa: E402  (the [cluster] extra; the test extras install it)


def local_cluster(workers: int, silence_logs: int = 40) -> Any:
    """A LocalCluster of worker processes on loopback only."""
    return distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
        silence_logs=silence_logs,
    )


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with local_cluster(2, silence_logs=40) as cluster:
        yield str(cluster.scheduler_address)


def files_of(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.name != ".packs-build.lock"
    }


def run_build(
    canon_dir: Path, out: Path, formats: list[Format] | None = None, **kwargs: Any
) -> Any:
    canon = load_canon(canon_dir)
    return build(
        canon,
        select(canon, []),
        formats or list(FORMATS.values()),
        out,
        load_layout("default"),
        RenderOptions(timestamp=EPOCH),
        **kwargs,
    )


def test_a_cluster_build_is_byte_identical_to_a_local_one(tmp_path: Path, scheduler: str) -> None:
    local = run_build(CANON_DIR, tmp_path / "local", jobs=1)
    remote = run_build(CANON_DIR, tmp_path / "cluster", cluster=scheduler)
    assert (local.built, remote.built, remote.failed) == (6, 6, ())
    assert files_of(tmp_path / "cluster") == files_of(tmp_path / "local")
    again = run_build(CANON_DIR, tmp_path / "cluster", cluster=scheduler)
    assert (again.built, again.skipped) == (0, 6)  # incremental: decided by the client


def test_a_synthetic_canon_too(tmp_path: Path, scheduler: str) -> None:
    from benchmarks.bench import synthetic_canon

    canon_dir = synthetic_canon(tmp_path / "synthetic", 8)
    formats = [FORMATS["docx"], FORMATS["xlsx"], FORMATS["txt"]]
    run_build(canon_dir, tmp_path / "local", formats, jobs=1)
    report = run_build(canon_dir, tmp_path / "cluster", formats, cluster=scheduler, zip=True)
    assert report.built == 8
    run_build(canon_dir, tmp_path / "local", formats, jobs=1, zip=True)
    assert files_of(tmp_path / "cluster") == files_of(tmp_path / "local")


def test_a_pack_that_fails_on_every_try_is_reported_and_the_others_built(
    tmp_path: Path, scheduler: str
) -> None:
    broken = Format("broken", ".broken.txt", "tests.cluster_faults", "text/plain")
    report = run_build(CANON_DIR, tmp_path / "out", [broken], cluster=scheduler)
    assert report.built == 5
    [(pid, message)] = report.failed
    assert pid == "ENGR.GEN.M2"
    assert "RuntimeError: this renderer always fails for ENGR.GEN.M2 (failed on every try)" in (
        message
    )
    assert not (tmp_path / "out" / "ENGR.GEN.M2").exists()
    assert (tmp_path / "out" / "ENGR.PLATFORM.P2" / "manifest.json").is_file()


class KillOnFirstPack(io.StringIO):
    """The progress stream: after the first pack is reported, one worker process is killed."""

    def __init__(self, scheduler: str) -> None:
        super().__init__()
        self.scheduler = scheduler
        self.killed = False

    def write(self, text: str) -> int:
        if not self.killed and "built" in text:
            self.killed = True
            with distributed.Client(self.scheduler, timeout=30) as other:
                victim = sorted(other.scheduler_info()["workers"])[0]
                with contextlib.suppress(Exception):  # the worker dies before it can answer
                    other.run(os._exit, 1, workers=[victim])
        return super().write(text)


def test_a_worker_killed_mid_build_still_builds_every_pack_once(tmp_path: Path) -> None:
    with local_cluster(2, silence_logs=50) as cluster:
        progress = KillOnFirstPack(str(cluster.scheduler_address))
        report = run_build(
            CANON_DIR,
            tmp_path / "cluster",
            cluster=str(cluster.scheduler_address),
            progress=progress,
            tty=False,
        )
    assert progress.killed
    assert (report.built, report.failed) == (6, ())
    run_build(CANON_DIR, tmp_path / "local", jobs=1)
    assert files_of(tmp_path / "cluster") == files_of(tmp_path / "local")


def test_workers_of_another_version_are_refused(
    tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.build import cluster

    monkeypatch.setattr(cluster, "worker_identity", lambda: ("9.9.9", "sha256:" + "0" * 64))
    with pytest.raises(cluster.PacksError) as caught:
        run_build(CANON_DIR, tmp_path / "out", cluster=scheduler)
    message = str(caught.value)
    assert "runs jobframe-packs 0.1.0" in message and "this client 9.9.9" in message
    assert not any((tmp_path / "out").glob("*/manifest.json"))


def test_an_unreachable_scheduler_and_bad_addresses_are_clear_errors(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "pipeline", "build", "--canon", str(CANON_DIR), "--out"]
    done = subprocess.run(
        [*cmd, str(tmp_path / "a"), "--cluster", "tcp://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr
    done = subprocess.run(
        [*cmd, str(tmp_path / "b"), "--cluster", "local:zero"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "expected local:N" in done.stderr


def test_without_cluster_dask_is_not_imported(tmp_path: Path) -> None:
    from tests.test_cycle_build import roster_rows, write_roster

    roster = tmp_path / "roster.csv"
    write_roster(roster, roster_rows(["ENGR.GEN.M2"], count=3))
    probe = (
        "import sys\n"
        "from pipeline.cli import main\n"
        f"code = main(['build', 'ENGR.GEN.M2', '--canon', {str(CANON_DIR)!r}, '--out', "
        f"{str(tmp_path / 'out')!r}, '--formats', 'txt', '--jobs', '1'])\n"
        "assert code == 0, code\n"
        f"code = main(['cycle', {str(roster)!r}, '--name', 'c', '--period', "
        f"'2027-01-01/2027-12-31', '--canon', {str(CANON_DIR)!r}, '--out', "
        f"{str(tmp_path / 'out')!r}, '--formats', 'docx', '--jobs', '1'])\n"
        "assert code == 0, code\n"
        "print('distributed' in sys.modules, 'dask' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split()[-2:] == ["False", "False"]


class StopSchedulerOnFirstPack(io.StringIO):
    """The progress stream: after the first pack is reported, the whole cluster is stopped."""

    def __init__(self, cluster: Any) -> None:
        super().__init__()
        self.cluster = cluster
        self.stopped = False

    def write(self, text: str) -> int:
        if not self.stopped and "built" in text:
            self.stopped = True
            self.cluster.close()
        return super().write(text)


def test_the_scheduler_going_away_ends_the_build_with_a_clear_error(tmp_path: Path) -> None:
    from pipeline.diagnostics import PacksError

    cluster = local_cluster(1, silence_logs=50)
    progress = StopSchedulerOnFirstPack(cluster)
    try:
        with pytest.raises(PacksError) as caught:
            run_build(
                CANON_DIR,
                tmp_path / "out",
                cluster=str(cluster.scheduler_address),
                progress=progress,
                tty=False,
            )
    finally:
        cluster.close()
    assert "lost the Dask scheduler" in str(caught.value)
    committed = list((tmp_path / "out").glob("*/manifest.json"))
    assert 1 <= len(committed) < 6  # what was committed is complete; the rest comes next run


# --- packs cycle --cluster ------------------------------------------------------------------------


def test_a_cycle_on_the_cluster_is_byte_identical_to_jobs_1(
    tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from pipeline.cycle import cluster as cycle_cluster
    from pipeline.cycle.run import CYCLES
    from tests.test_cycle_build import NAME, roster_rows, run_cycle, write_roster
    from tests.test_cycle_build import files_of as cycle_files

    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    # a profile's people in parts of 4: one profile spread over several tasks and workers
    monkeypatch.setattr(cycle_cluster, "PEOPLE_PER_TASK", 4)
    canon = load_canon(CANON_DIR)
    rows = roster_rows(sorted(p.id for p in canon.profiles), count=40)
    roster = tmp_path / "roster.csv"
    write_roster(roster, rows)
    assert run_cycle(roster, tmp_path / "local", "--zip", "--jobs", "1") == 0
    local = tmp_path / "local" / CYCLES / NAME
    remote = tmp_path / "cluster" / CYCLES / NAME
    remote.mkdir(parents=True)
    shutil.copy(local / ".cycle-secret", remote / ".cycle-secret")  # seals are per secret
    out = io.StringIO()
    code = main_with(out, roster, tmp_path / "cluster", "--zip", "--cluster", scheduler)
    assert code == 0
    assert out.getvalue().startswith(f"built {len(rows)}, skipped 0, failed 0")
    assert cycle_files(remote) == cycle_files(local)
    out = io.StringIO()  # incremental: decided by the client
    assert main_with(out, roster, tmp_path / "cluster", "--zip", "--cluster", scheduler) == 0
    assert out.getvalue().startswith(f"built 0, skipped {len(rows)}, failed 0")


def main_with(out: io.StringIO, roster: Path, where: Path, *extra: str) -> int:
    from pipeline.cli import main
    from tests.test_cycle_build import NAME, PERIOD

    argv = ["cycle", str(roster), "--name", NAME, "--period", PERIOD, "--canon", str(CANON_DIR)]
    return main([*argv, "--out", str(where), *extra], out=out)


def test_the_cycle_secret_stays_on_the_client() -> None:
    from dataclasses import fields

    from pipeline.cycle.groups import CycleJob, GroupTask

    sent = {f.name for f in fields(CycleJob)} | {f.name for f in fields(GroupTask)}
    assert "secret" not in sent and "identities" in sent  # sealed here, the lines are sent


# --- faults through the command line (subprocesses: a hang fails the test at its timeout) ---------

#: `packs` with the test build's `probe` format registered, as a command.
PROBE_CLI = "import sys, tests.test_build as t; sys.exit(t.cli_with_probe(sys.argv[1:]))"


def probe_command(out: Path, *extra: str) -> list[str]:
    from tests.test_build import probe_build

    return [sys.executable, "-c", PROBE_CLI, *probe_build(out, 1), *extra]


def probe_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH), **extra}


def test_a_pack_that_kills_its_worker_on_every_try_fails_alone(tmp_path: Path) -> None:
    from tests.conftest import REPO
    from tests.test_build import PROBE_CRASH, SEED_ID, check_manifests

    out = tmp_path / "out"
    # the probe kills the worker process rendering the seed profile, every time it is tried
    argv = probe_command(out, "--form-password", PROBE_CRASH, "--cluster", "local:2")
    done = subprocess.run(
        argv, cwd=REPO, env=probe_env(), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 1, done.stderr
    assert f"FAILED {SEED_ID}: worker process died on every try (4 workers)" in done.stderr
    assert "Traceback" not in done.stderr and "ERROR" not in done.stderr, done.stderr
    assert done.stdout.startswith("built 5, skipped 0, failed 1 in "), done.stdout
    assert check_manifests(out) == 5
    assert not (out / SEED_ID).exists()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ctrl_c_cancels_the_build_and_leaves_no_worker_behind(tmp_path: Path) -> None:
    import signal
    import time

    from benchmarks.bench import synthetic_canon
    from tests.conftest import REPO
    from tests.test_build import PROBE_SLEEP, check_manifests, temps

    canon_dir = synthetic_canon(tmp_path / "canon", total := 24)
    out = tmp_path / "out"
    # Ctrl-C as a terminal delivers it: a job started in the background by a non-interactive
    # shell (a CI runner's `cmd &`) inherits SIGINT *ignored*, and Python then never raises
    # KeyboardInterrupt; the command a user runs from a terminal has the default disposition.
    with_ctrl_c = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    argv = [
        sys.executable,
        "-c",
        with_ctrl_c + PROBE_CLI,
        "build",
        "--canon",
        str(canon_dir),
        "--out",
        str(out),
        "--formats",
        "txt,probe",
        "--cluster",
        "local:2",
    ]
    proc = subprocess.Popen(
        argv,
        cwd=REPO,
        env=probe_env(**{PROBE_SLEEP: "1"}),  # slow packs: Ctrl-C lands mid-build
        start_new_session=True,  # its own process group, as a terminal's foreground job
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300  # a bound on a hang, not a timed assertion
        while not any(out.glob("*/manifest.json")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no pack was committed in time"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: the whole foreground group
        _, stderr = proc.communicate(timeout=120)
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        stray = _group_alive(proc.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode != 0
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert not stray, "a worker process outlived the build"
    committed = check_manifests(out)  # every committed pack is complete
    assert 1 <= committed < total
    assert temps(out) == []
