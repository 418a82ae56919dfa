"""After an interrupted run (SIGKILL in extract, normalize or the middle of load; Ctrl-C), the next single run
finishes what was pending, does its own load, and leaves the tables exact (issue 11)."""

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import pytest

from gitlab_emulator import GitLabEmulator
from tests.utils import (
    CLI,
    DATASET,
    CliResult,
    Workspace,
    assert_children_carry_parent_keys,
    assert_job_logs_equal_truth,
    assert_load_equals_truth,
)

SCOPE = ("--group", "acme/data")
TRUTH_SCOPE = {"groups": ("acme/data",)}
LATENCY_SECONDS = 0.05  # stretches the extract, so that it can be caught half-way (normalize and load need not wait)
POLL_SECONDS = 0.005
LOAD_ID = "[0-9]*.[0-9]*"


def _package_dirs(workspace: Workspace, pattern: str) -> List[Path]:
    return sorted((workspace.data_dir / "pipelines" / "gitlab_pipeline").glob(pattern))


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def extracting(workspace: Workspace, emulator: GitLabEmulator) -> Optional[str]:
    """A package being extracted (not yet in `normalize/extracted`), while job logs are being fetched."""
    packages = [p for p in _package_dirs(workspace, f"normalize/*/{LOAD_ID}") if p.parent.name != "extracted"]
    return packages[0].name if packages and emulator.request_count(r"/trace$") >= 5 else None


def normalizing(workspace: Workspace, emulator: GitLabEmulator) -> Optional[str]:
    """An extracted package whose normalized files are being written into `load/new`."""
    packages = [p for p in _package_dirs(workspace, f"load/new/{LOAD_ID}") if _has_files(p / "new_jobs")]
    return packages[0].name if packages else None


def loading(workspace: Workspace, emulator: GitLabEmulator) -> Optional[str]:
    """A normalized package with some load jobs done and others still to do."""
    for package in _package_dirs(workspace, f"load/normalized/{LOAD_ID}"):
        if _has_files(package / "completed_jobs") and (
            _has_files(package / "new_jobs") or _has_files(package / "started_jobs")
        ):
            return package.name
    return None


STEPS = {"extract": extracting, "normalize": normalizing, "load": loading}


def run_until(
    workspace: Workspace, emulator: GitLabEmulator, step: Callable[[Workspace, GitLabEmulator], Optional[str]],
    signum: int,
) -> tuple:
    """Starts the CLI, sends `signum` once `step` finds its package, and returns (load id, result)."""
    process = subprocess.Popen(
        [sys.executable, str(CLI), "--base-url", emulator.base_url, *SCOPE],
        cwd=workspace.root, env=workspace.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    load_id = None
    while process.poll() is None and load_id is None:
        load_id = step(workspace, emulator)
        if load_id is None:
            time.sleep(POLL_SECONDS)
    if load_id is not None:
        process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=600)
    assert load_id is not None, f"the run ended before reaching the step:\n{stdout}\n{stderr}"
    return load_id, CliResult(process.returncode, stdout, stderr)


def loaded_ids(workspace: Workspace) -> List[str]:
    return [load_id for (load_id,) in workspace.query(f"select load_id from {DATASET}._dlt_loads where status = 0")]


def assert_exact(workspace: Workspace, emulator: GitLabEmulator) -> None:
    assert_load_equals_truth(workspace, emulator, **TRUTH_SCOPE)
    assert_children_carry_parent_keys(workspace)
    assert_job_logs_equal_truth(workspace, emulator, **TRUTH_SCOPE)


@pytest.fixture
def step_emulator(step: str) -> Iterator[GitLabEmulator]:
    """An emulator for a run cut short at `step`: slowed down only when the cut comes in the extract."""
    with GitLabEmulator(latency_seconds=LATENCY_SECONDS if step == "extract" else 0.0) as emu:
        yield emu


def cut_short(workspace: Workspace, load_id: str) -> bool:
    """True when the package was killed with load jobs under way: they may have written rows already."""
    started = _package_dirs(workspace, f"load/normalized/{load_id}/started_jobs")
    return bool(started) and _has_files(started[0])


@pytest.mark.parametrize("step", list(STEPS))
def test_the_run_after_a_sigkill_finishes_the_pending_load_and_its_own(step_emulator, workspace, step):
    emulator = step_emulator
    killed_load_id, killed = run_until(workspace, emulator, STEPS[step], signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    redo = step == "extract" or (step == "load" and cut_short(workspace, killed_load_id))
    emulator.advance(hours=24)  # the next run has data of its own to load

    result = workspace.run("--base-url", emulator.base_url, *SCOPE)

    assert result.returncode == 0, result.output
    assert "Traceback" not in result.output
    assert_exact(workspace, emulator)
    if redo:  # nothing to finish, or a half-loaded package dropped: its data was extracted again
        assert len(loaded_ids(workspace)) == 1 and killed_load_id not in loaded_ids(workspace)
        assert step == "extract" or f"Dropped load package(s) {killed_load_id}" in result.stdout
    else:
        assert killed_load_id in loaded_ids(workspace), "the killed run's package was not loaded"
        assert len(loaded_ids(workspace)) == 2


@pytest.mark.parametrize("step, kept", [("extract", "nothing"), ("load", "kept")])
def test_ctrl_c_exits_130_with_one_line_and_the_next_run_completes(step_emulator, workspace, step, kept):
    emulator = step_emulator
    interrupted_load_id, interrupted = run_until(workspace, emulator, STEPS[step], signal.SIGINT)

    assert interrupted.returncode == 130, interrupted.output
    assert "Traceback" not in interrupted.output
    assert "never awaited" not in interrupted.output and "RuntimeWarning" not in interrupted.output
    assert "error:" not in interrupted.stderr
    lines = [line for line in interrupted.stderr.splitlines() if line.startswith("interrupted")]
    assert len(lines) == 1 and interrupted.stderr.rstrip().endswith(lines[0]), interrupted.stderr
    assert kept in lines[0] and (kept == "nothing" or "nothing" not in lines[0])

    emulator.advance(hours=24)
    result = workspace.run("--base-url", emulator.base_url, *SCOPE)

    assert result.returncode == 0, result.output
    assert_exact(workspace, emulator)
    if step == "load":  # dlt let the jobs under way finish: the package is loaded as it was
        assert interrupted_load_id in loaded_ids(workspace), "the interrupted run's package was not loaded"
