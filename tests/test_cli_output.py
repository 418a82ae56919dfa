"""What a run prints: no library warning, progress that means something (periodic lines in a log, a live line on a
terminal), and a summary whose numbers are what was loaded."""

import os
import pty
import re
import subprocess
import sys

from tests.utils import CLI, DATASET

PROGRESS_EVERY = {"GITLAB_PIPELINE__PROGRESS_SECONDS": "0.2"}  # often enough that a short load shows some lines
DLT_STAGE_NOISE = re.compile(r"Resources: \d+/\d+|in \d{9,}\.\d+|-{5,}")  # dlt's own collector: stages, load ids


def test_a_normal_run_is_quiet_and_its_progress_lines_mean_something(emulator, workspace):
    args = ["--base-url", emulator.base_url, "--group", "acme/platform"]
    for run in ("first", "incremental"):
        result = workspace.run(*args, env=PROGRESS_EVERY)
        assert result.returncode == 0, result.output
        assert result.stderr == "", f"{run} run: {result.stderr}"
        progress = [line for line in result.stdout.splitlines() if line.startswith("Progress: ")]
        assert progress, result.stdout
        assert not DLT_STAGE_NOISE.search(result.stdout), result.stdout
        assert all(
            re.search(r"\d+ rows in \d+ tables", line) and re.search(r"\d+ requests", line) for line in progress
        ), progress
        if run == "first":
            assert any(re.search(r"job logs \d+ of \d+", line) for line in progress), progress
    totals = re.search(r"Loaded (\d+) rows into (\d+) tables in [\d.]+ s", result.stdout)
    assert totals, result.stdout
    rerun = workspace.run(*args)  # nothing changed in GitLab since: nothing to load, and the summary says so
    assert rerun.returncode == 0, rerun.output
    assert re.search(r"Loaded 0 rows into 0 tables in [\d.]+ s with \d+ GitLab requests: nothing changed", rerun.stdout)


def test_on_a_terminal_progress_is_one_live_line(emulator, workspace):
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(CLI), "--base-url", emulator.base_url, "--project", "acme/website"],
        cwd=workspace.root,
        env=workspace.env(PROGRESS_EVERY),
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert proc.wait(timeout=300) == 0, output.decode(errors="replace")
    text = output.decode()
    redraws = [part for part in text.split("\r") if re.search(r"\d+ rows in \d+ tables", part)]
    assert len(redraws) > 1, text  # the same line drawn again, not a scrolling log
    assert "Progress: " not in text and "WARNING" not in text and "Traceback" not in text
    assert f"dataset {DATASET}" in text
