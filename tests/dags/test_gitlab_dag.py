"""The Airflow DAG in dags/, run by a real Airflow 3 in its own venv: it parses cleanly and loads the emulator exactly.

The dags folder is laid out as docs/composer.md tells users to upload it, the token and the destination's
credentials reach dlt through the `dlt_secrets_toml` Airflow Variable (as Secret Manager would hand them over),
and `dag.test()` runs every task in one process: into DuckDB, and into AlloyDB's path (dlt's postgres
destination under `[destination.alloydb]`, the DAG's default) on a real PostgreSQL server.
"""

import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import pytest

from gitlab.settings import START_DATE
from gitlab_emulator import TOKENS
from tests.utils import DATASET, REPO, LeakSearch, Workspace, assert_load_equals_truth, requested_ids

MAKE_VENV = REPO / "tools" / "airflow" / "make_venv.sh"
DRIVER = Path(__file__).resolve().with_name("dag_driver.py")
DAG_ID = "gitlab_pipeline"
# Guards against a hang, not performance bounds: the first build downloads Airflow from PyPI (3 to 5 minutes
# on a busy 2-core machine), and one DAG run takes 40 to 100 s there.
VENV_BUILD_TIMEOUT_SECONDS = 900
DAG_RUN_TIMEOUT_SECONDS = 600
MAX_VARIABLES_ASKED_PER_PARSE = 50
DESTINATIONS = ["duckdb", "alloydb"]  # alloydb: dlt's postgres destination under [destination.alloydb]
# What docs/composer.md uploads into the bucket's dags/ folder, relative to the repo
COMPOSER_UPLOADS = ("dags/gitlab_dag.py", "dags/.airflowignore", "dags/.dlt", "gitlab", "rest_api", "schemas/import")
SCOPE_TASK = "gitlab_pipeline.gitlab_groups-projects-group_members-project_members"
FINGERPRINT_KEY = "dags-test-fingerprint-key-from-the-secrets-backend"
PIPELINE_NAMES = {
    "gitlab_pipeline",
    "gitlab_pipeline_ci",
    "gitlab_pipeline_issues",
    "gitlab_pipeline_merge_requests",
    "gitlab_pipeline_repository",
}


@pytest.fixture(scope="module")
def airflow_python() -> Path:
    """The Airflow venv's interpreter; make_venv.sh builds the venv in the user's cache on first use."""
    proc = subprocess.run(["bash", str(MAKE_VENV)], capture_output=True, text=True, timeout=VENV_BUILD_TIMEOUT_SECONDS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Path(proc.stdout.strip()) / "bin" / "python"


def composer_dags_folder(root: Path) -> Path:
    """A dags folder holding exactly what docs/composer.md uploads, at the paths it uploads them to."""
    dags = root / "dags"
    for relative in COMPOSER_UPLOADS:
        source = REPO / relative
        target = dags / relative.removeprefix("dags/")
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "generated"))
        elif source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dags


class AirflowHome:
    """A throwaway Airflow: SQLite metadata in `root`, the Composer-like dags folder, and a destination.

    `destination` is "duckdb" (a file under `root`) or "alloydb" with `database_dsn` pointing at a real
    PostgreSQL server. `loaded` reads what the DAG loaded, as the CLI's tests read their destination.
    """

    def __init__(
        self,
        root: Path,
        python: Path,
        base_url: str,
        token: str,
        destination: str = "duckdb",
        database_dsn: Optional[str] = None,
    ) -> None:
        self.root = root
        self.python = python
        self.loaded = Workspace(root / "destination", None, destination, database_dsn)
        credentials = database_dsn or self.loaded.duckdb_path
        (root / "tmp").mkdir()
        self.env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("SOURCES__", "DESTINATION__", "GITLAB_", "AIRFLOW", "DLT_", "PYTHONPATH"))
            },
            "AIRFLOW_HOME": str(root / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(composer_dags_folder(root)),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # where Composer's Secret Manager backend sits: asked first for every Variable (finds none here)
            "AIRFLOW__SECRETS__BACKEND": "recording_secrets.RecordingSecretsBackend",
            # the secrets arrive as an Airflow Variable, which dlt's Airflow provider reads
            "AIRFLOW_VAR_DLT_SECRETS_TOML": (
                f'[sources.gitlab]\naccess_token = "{token}"\nfingerprint_key = "{FINGERPRINT_KEY}"\n\n'
                f'[destination.{destination}]\ncredentials = "{credentials}"\n'
            ),
            "SOURCES__GITLAB__GROUPS": '["acme"]',
            "SOURCES__GITLAB__BASE_URL": base_url,
            "GITLAB_PIPELINE__DESTINATION": destination,
            "TMPDIR": str(root / "tmp"),  # the helper's per-task dlt data folders
        }

    def run_dag(self, logical_date: str, *flags: str, unset: Tuple[str, ...] = (),
                command_prefix: Tuple[str, ...] = ()) -> Dict[str, Any]:
        """Parses the dags folder and runs the DAG once with `dag.test()`; returns the driver's report.

        Args:
            logical_date (str): ISO date of the DAG run.
            *flags (str): Driver flags, e.g. `--parse-only`.
            unset (Tuple[str, ...]): Environment variables to leave out for this run.
            command_prefix (Tuple[str, ...]): Runs the driver through this command, e.g. `read_only_dags(...)`.
        """
        report_path = self.root / f"report-{logical_date[:10]}{''.join(flags)}.json"
        proc = subprocess.run(
            [*command_prefix, str(self.python), str(DRIVER), DAG_ID, logical_date, str(report_path), *flags],
            env={k: v for k, v in self.env.items() if k not in unset},
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=DAG_RUN_TIMEOUT_SECONDS,
        )
        assert proc.returncode == 0 and report_path.exists(), proc.stdout[-4000:] + proc.stderr[-4000:]
        report: Dict[str, Any] = json.loads(report_path.read_text())
        report["log"] = proc.stdout + proc.stderr
        return report


def assert_run_succeeded(report: Dict[str, Any]) -> None:
    assert report["import_errors"] == {}, report["import_errors"]
    failed = {task: state for task, state in report["task_states"].items() if state != "success"}
    assert report["state"] == "success" and not failed, f"{failed}\n{report['log'][-6000:]}"


def read_only_dags(dags: Path) -> Tuple[str, ...]:
    """A command prefix under which `dags` is read-only even for root, as a deployed DAG bucket is for the DAG.

    As root (CI), a private mount namespace remounts the folder read-only; otherwise its files lose write permission.
    """
    if os.geteuid() == 0:
        return ("unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"', str(dags))
    for path in (dags, *dags.rglob("*")):
        path.chmod(path.stat().st_mode & ~0o222)
    return ()


def assert_fingerprinted_with(home: AirflowHome, emulator, key: str) -> None:
    """The findings' fingerprints are keyed with `key`, the one the secrets backend holds."""
    planted = {(s.job_id, hmac.new(key.encode(), s.value.encode(), hashlib.sha256).hexdigest()[:32])
               for s in emulator.planted_secrets}
    found = set(home.loaded.query(f"select job_id, fingerprint from {DATASET}.secret_findings"))
    assert found and found <= planted


# the first use builds the venv; DuckDB runs the DAG a third time, without the fingerprint key
@pytest.mark.timeout(VENV_BUILD_TIMEOUT_SECONDS + 3 * DAG_RUN_TIMEOUT_SECONDS)
@pytest.mark.parametrize("destination", DESTINATIONS)
def test_dag_parses_and_loads_the_emulator_then_resumes_incrementally(
    airflow_python, emulator, tmp_path, destination, request
):
    """Two daily runs from a read-only dags folder (as a deployed bucket is) load the emulator exactly, the second
    incrementally, with the fingerprint key from the secrets backend; nothing is written into the dags folder.
    On DuckDB, a third run without the key fails the job-log task only, saying where the key goes."""
    token = TOKENS["maintainer"]
    dsn = request.getfixturevalue("postgres_dsn") if destination == "alloydb" else None
    home = AirflowHome(tmp_path, airflow_python, emulator.base_url, token, destination, dsn)
    dags = Path(home.env["AIRFLOW__CORE__DAGS_FOLDER"])
    deployed = {path: path.read_bytes() for path in dags.rglob("*") if path.is_file()}
    read_only = read_only_dags(dags)

    first = home.run_dag("2024-06-01T00:00:00+00:00", command_prefix=read_only)
    # parsed with the network off, so building the source did no I/O; the scope task comes first
    assert first["import_errors"] == {}
    families = [task for task in first["tasks"] if task != SCOPE_TASK]
    assert first["tasks"][SCOPE_TASK] == [] and len(families) == len(PIPELINE_NAMES) - 1
    assert all(first["tasks"][task] == [SCOPE_TASK] for task in families), first["tasks"]
    # dlt asked Airflow for dlt_secrets_toml and its sections only: each name asked goes to Secret Manager
    # on every parse on Airflow 3 (607 names without dags/.dlt/config.toml's [providers.airflow_secrets], 37 with it)
    asked = set(first["variables_asked"])
    assert "dlt_secrets_toml" in asked and len(asked) <= MAX_VARIABLES_ASKED_PER_PARSE, sorted(asked)
    assert_run_succeeded(first)
    assert_load_equals_truth(home.loaded, emulator)
    assert_fingerprinted_with(home, emulator, FINGERPRINT_KEY)
    assert {
        name for (name,) in home.loaded.query(f"select pipeline_name from {DATASET}._dlt_pipeline_state")
    } == PIPELINE_NAMES

    # the next day, with the local dlt folders wiped after every task
    before = emulator.now
    emulator.advance(hours=24)
    emulator.reset_counters()
    second = home.run_dag("2024-06-02T00:00:00+00:00", command_prefix=read_only)
    assert_run_succeeded(second)
    assert_load_equals_truth(home.loaded, emulator)
    # each family resumed from the state its own pipeline left in the destination
    commit_cursors = {
        r.query.get("since")
        for r in emulator.requests
        if re.fullmatch(r"/api/v4/projects/\d+/repository/commits", r.path)
    }
    assert commit_cursors - {START_DATE}, commit_cursors
    changed_pipelines = {(p,) for p in emulator.changed_since("pipelines", before)}
    assert changed_pipelines
    assert requested_ids(emulator, r"/api/v4/projects/\d+/pipelines/(\d+)/jobs") == changed_pipelines
    for table in ("issues", "merge_requests"):
        changed = emulator.changed_since(table, before)
        assert changed
        assert requested_ids(emulator, rf"/api/v4/projects/(\d+)/{table}/(\d+)/notes") == changed, table

    logs = {"first run's log": first["log"], "second run's log": second["log"]}
    if destination == "duckdb":
        logs["keyless run's log"] = assert_a_run_without_the_key_fails_the_job_log_task_only(home, emulator, read_only)

    assert {path: path.read_bytes() for path in dags.rglob("*") if path.is_file()} == deployed
    assert not any(FINGERPRINT_KEY in log for log in logs.values())
    # the token went to GitLab only: not into the task logs, Airflow's database, dlt's folders or the data
    LeakSearch(
        logs,
        folders=[tmp_path],
        duckdb_files=[] if dsn else [home.loaded.duckdb_path],
        postgres_dsns=[dsn] if dsn else [],
    ).assert_nowhere([token])


def assert_a_run_without_the_key_fails_the_job_log_task_only(home: AirflowHome, emulator, read_only) -> str:
    """The next day, with no fingerprint key in the secrets backend (and new logs to fingerprint): the job-log
    task fails, saying to put the key into `dlt_secrets_toml`; every other task loads. Returns the run's log."""
    secrets_toml = home.env["AIRFLOW_VAR_DLT_SECRETS_TOML"]
    without_key = secrets_toml.replace(f'fingerprint_key = "{FINGERPRINT_KEY}"\n', "")
    assert FINGERPRINT_KEY in secrets_toml and FINGERPRINT_KEY not in without_key
    home.env["AIRFLOW_VAR_DLT_SECRETS_TOML"] = without_key
    emulator.advance(hours=24)
    failed = home.run_dag("2024-06-03T00:00:00+00:00", command_prefix=read_only)
    states = failed["task_states"]
    job_log_tasks = {task for task in states if "jobs" in task}
    assert job_log_tasks and all(states[task] == "failed" for task in job_log_tasks), states
    assert all(state == "success" for task, state in states.items() if task not in job_log_tasks), states
    reasons = {line.strip() for line in failed["log"].splitlines() if "fingerprint_key" in line and "Error" in line}
    assert reasons and all("dlt_secrets_toml" in line for line in reasons), reasons
    return failed["log"]


@pytest.mark.timeout(VENV_BUILD_TIMEOUT_SECONDS + DAG_RUN_TIMEOUT_SECONDS)
def test_dag_without_the_secret_does_not_import_and_says_what_to_set(airflow_python, emulator, tmp_path):
    home = AirflowHome(tmp_path, airflow_python, emulator.base_url, TOKENS["maintainer"])
    parsed = home.run_dag("2024-06-01T00:00:00+00:00", "--parse-only", unset=("AIRFLOW_VAR_DLT_SECRETS_TOML",))
    assert [Path(path).name for path in parsed["import_errors"]] == ["gitlab_dag.py"], parsed["import_errors"]
    assert "no GitLab token: set sources.gitlab.access_token" in next(iter(parsed["import_errors"].values()))
