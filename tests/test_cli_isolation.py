"""One GitLab per dataset, one project folder per clone: the demo never mixes with a real load, two clones on one
machine keep their own data and state, and a second GitLab is refused in a dataset that holds another's."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import duckdb

from gitlab.settings import DEMO_DATASET
from gitlab.settings import DEMO_PIPELINE_NAME as DEMO_PIPELINE
from gitlab_emulator import TOKENS, GitLabEmulator
from tests.utils import DATASET, REPO, TABLE_KEYS, Workspace, key_set

GIT = ["git", "-c", "user.name=clone", "-c", "user.email=clone@example.com", "-c", "init.defaultBranch=main"]


def _clone(target: Path) -> Path:
    """The repository's files as a fresh clone has them (the working tree, without ignored files), committed."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for relative in filter(None, listed):
        source = REPO / relative
        if source.is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "clone"]):
        subprocess.run([*GIT, *command], cwd=target, check=True, capture_output=True)
    return target


def _user_env(home: Path, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """A user's shell: their own HOME, no dlt or GitLab settings in the environment."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SOURCES__", "DESTINATION__", "GITLAB_", "DLT_", "PYTHONPATH", "XDG_"))
    }
    env["HOME"] = str(home)
    env.update(extra or {})
    return env


def _run(clone: Path, home: Path, *args: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "gitlab_pipeline.py", *args],
        cwd=clone,
        env=_user_env(home, env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def _keys(database: Path, dataset: str, table: str) -> List[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(f"select {', '.join(TABLE_KEYS[table])} from {dataset}.{table}").fetchall()


def _assert_equals_truth(database: Path, dataset: str, truth: GitLabEmulator, **scope) -> None:
    for table in TABLE_KEYS:
        rows = _keys(database, dataset, table)
        assert len(rows) == len(set(rows)) and key_set(rows) == truth.truth(table, **scope), (dataset, table)


def _git_status(clone: Path) -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout


def test_two_clones_keep_their_own_demo_and_state_and_a_real_load_never_mixes_with_it(tmp_path):
    home = tmp_path / "home"  # one user, one machine
    home.mkdir()
    clones = [_clone(tmp_path / "first"), _clone(tmp_path / "second")]
    demo_world = GitLabEmulator()  # not served: the same seeded world the demo loads, for its truth
    for clone in clones:
        before = {path: path.read_bytes() for path in clones[0].rglob("*.duckdb")} if clone is clones[1] else {}
        demo = _run(clone, home, "--demo")
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "Traceback" not in demo.stderr
        # a normal run prints no library warning; the one line is the demo's project the token may not read
        assert [line for line in demo.stderr.splitlines() if not line.startswith("WARNING: GitLab answered 403")] == []
        _assert_equals_truth(clone / f"{DEMO_PIPELINE}.duckdb", DEMO_DATASET, demo_world)
        assert {path: path.read_bytes() for path in before} == before, "the second clone wrote into the first"
        assert _git_status(clone) == "", "the demo left the clone's tree dirty"

        # the closing hint works as printed, from the folder the demo ran in (`info` stands in for `show`,
        # which serves until stopped)
        hint = demo.stdout.strip().splitlines()[-1]
        assert hint.startswith("Look at it: ") and hint.endswith(f" {DEMO_PIPELINE} show"), hint
        info = subprocess.run(
            ["bash", "-c", re.sub(r" show$", " info", hint.removeprefix("Look at it: "))],
            cwd=clone,
            env=_user_env(home),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert info.returncode == 0 and DEMO_DATASET in info.stdout, info.stdout + info.stderr
    assert not (home / ".dlt" / "pipelines").exists() or not any((home / ".dlt" / "pipelines").iterdir())

    # a real load in the first clone: its own dataset and cursors, nothing of the demo's
    with GitLabEmulator() as gitlab:
        real = _run(
            clones[0],
            home,
            "--base-url",
            gitlab.base_url,
            "--group",
            "acme/data",
            env={"GITLAB_TOKEN": TOKENS["maintainer"]},
        )
        assert real.returncode == 0, real.stdout + real.stderr
        _assert_equals_truth(clones[0] / "gitlab_pipeline.duckdb", DATASET, gitlab, groups=("acme/data",))
    _assert_equals_truth(clones[0] / f"{DEMO_PIPELINE}.duckdb", DEMO_DATASET, demo_world)


def _project_count(workspace: Workspace) -> int:
    return workspace.query(f"select count(*) from {DATASET}.projects")[0][0]


def test_a_second_gitlab_is_refused_in_a_dataset_that_holds_another(emulator, workspace):
    scope = ["--group", "acme/data", "--resources", "projects"]
    assert workspace.run("--base-url", emulator.base_url, *scope).returncode == 0
    loaded = _project_count(workspace)
    with GitLabEmulator() as other:
        refused = workspace.run("--base-url", other.base_url, *scope)
        assert refused.stderr.strip() == refused.error
        for words in (emulator.base_url, other.base_url, "--dataset", "--full-refresh"):
            assert words in refused.error, words
        assert _project_count(workspace) == loaded

        # what the line says to do works: another dataset, or replacing the data with --full-refresh
        elsewhere = workspace.run("--base-url", other.base_url, *scope, "--dataset", "other_gitlab")
        assert elsewhere.returncode == 0, elsewhere.output
        assert workspace.query("select count(*) from other_gitlab.projects")[0][0] == loaded
        replaced = workspace.run("--base-url", other.base_url, *scope, "--full-refresh")
        assert replaced.returncode == 0, replaced.output
        # the same GitLab written another way is the same GitLab
        assert workspace.run("--base-url", other.base_url + "/api/v4/", *scope).returncode == 0


def test_a_second_gitlab_is_refused_from_another_machine(emulator, postgres_dsn, tmp_path):
    scope = ["--project", "acme/website", "--resources", "projects"]
    first = Workspace(tmp_path / "first", TOKENS["maintainer"], "postgres", postgres_dsn)
    assert first.run("--base-url", emulator.base_url, *scope).returncode == 0
    second = Workspace(tmp_path / "second", TOKENS["maintainer"], "postgres", postgres_dsn)  # no local state
    with GitLabEmulator() as other:
        refused = second.run("--base-url", other.base_url, *scope)
        assert emulator.base_url in refused.error and refused.stderr.strip() == refused.error
    assert second.run("--base-url", emulator.base_url, *scope).returncode == 0
