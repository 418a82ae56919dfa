"""Helpers for the tests of gitlab/: jobs listed from the emulator, and `job_logs` loaded into a DuckDB of their own."""

from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

import dlt
import requests

from gitlab.credentials import gitlab_credentials
from gitlab.job_logs import job_logs
from gitlab.job_logs.config import JobLogsConfiguration
from gitlab.run_stats import JobLogStats
from gitlab_emulator import TOKENS, GitLabEmulator
from tests.utils import FINISHED_JOB_STATUSES

KEY = "fingerprint-key-of-the-job-logs-tests"
TJob = Dict[str, Any]


def list_jobs(emu: GitLabEmulator, per_page: int = 20) -> List[List[TJob]]:
    """Every job of the projects in scope, in pages of `per_page`, listed over HTTP like GitLab serves them."""
    pages = []
    for (project_id,) in sorted(emu.truth("projects")):
        url: Optional[str] = f"{emu.base_url}/api/v4/projects/{project_id}/jobs"
        params: Optional[Dict[str, Any]] = {"per_page": per_page}
        while url:
            response = requests.get(url, headers={"PRIVATE-TOKEN": TOKENS["maintainer"]}, params=params, timeout=30)
            if response.status_code == 403:  # a project whose CI the token may not read: `jobs` skips it
                break
            assert response.status_code == 200, response.text
            if response.json():
                pages.append(response.json())
            url, params = response.links.get("next", {}).get("url"), None
    return pages


def finished_job_ids(pages: Iterable[List[TJob]]) -> Set[int]:
    """Ids of the jobs that have a final log."""
    return {job["id"] for page in pages for job in page if job["status"] in FINISHED_JOB_STATUSES}


def duckdb_path(tmp_path: Path, name: str) -> Path:
    return tmp_path / f"{name}.duckdb"


def job_logs_pipeline(tmp_path: Path, name: str = "job_logs_test") -> dlt.Pipeline:
    """A pipeline of its own under `tmp_path`: its DuckDB file and its dlt folder."""
    return dlt.pipeline(
        name,
        destination=dlt.destinations.duckdb(str(duckdb_path(tmp_path, name))),
        dataset_name="gitlab_data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )


def run_job_logs(
    pipeline: dlt.Pipeline,
    emu: GitLabEmulator,
    pages: List[List[TJob]],
    token: str = TOKENS["maintainer"],
    **config: Any,
) -> JobLogStats:
    """Loads `job_logs` fed by `pages` (a stand-in `jobs` resource that is not loaded itself)."""
    stats = JobLogStats()
    settings = JobLogsConfiguration(fingerprint_key=KEY, **config)
    jobs = dlt.resource(pages, name="jobs", selected=False)
    credentials = gitlab_credentials(access_token=token, base_url=emu.base_url)
    pipeline.run(job_logs(jobs, credentials, config=settings, stats=stats)).raise_on_failed_jobs()
    return stats


def query(pipeline: dlt.Pipeline, sql: str) -> List[Tuple[Any, ...]]:
    with pipeline.sql_client() as client:
        return [tuple(row) for row in client.execute_sql(sql)]
