"""Erasing the jobs whose logs leaked secrets, as found in the destination's `secret_findings`.

See https://docs.gitlab.com/api/jobs/#erase-a-job
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Dict, List, Optional, Set, Tuple

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation, DestinationUndefinedEntity
from dlt.pipeline.pipeline import Pipeline
from requests import RequestException, Session

from gitlab.credentials import GitLabCredentials
from gitlab.errors import GitLabSourceError
from gitlab.http import make_session
from gitlab.job_logs.rows import FINDINGS_TABLE
from gitlab.run_stats import GitLabRunStats

logger = logging.getLogger(__name__)

ERASURES_TABLE = "job_erasures"
DONE_OUTCOMES = ("erased", "already_erased", "gone")  # a job recorded with one of these is not listed again
NOT_ERASABLE = b"not erasable"


@dataclass(frozen=True)
class LeakyJob:
    """A job with at least one secret finding."""

    job_id: int
    project_id: int
    web_url: Optional[str]
    kinds: Tuple[str, ...]
    finding_count: int


@dataclass(frozen=True)
class EraseResult:
    """What GitLab answered to erasing one job."""

    job: LeakyJob
    outcome: str  # "erased", "already_erased", "gone", "forbidden" or "failed"
    status: Optional[int]
    message: str


@dataclass
class EraseReport:
    """The jobs listed and, unless it was a dry run, what happened to each."""

    jobs: List[LeakyJob]
    dry_run: bool
    results: List[EraseResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when every listed job is erased (or nothing was asked), 1 when some were not."""
        return 1 if any(result.outcome in ("forbidden", "failed") for result in self.results) else 0

    def lines(self) -> List[str]:
        """What the CLI prints: one line per job, and one line per project the token may not erase in."""
        if not self.jobs:
            return ["No job with secret findings left to erase."]
        if self.dry_run:
            return [
                f"Dry run: {len(self.jobs)} job(s) with secret findings; run again with --yes to erase their logs:",
                *(
                    (
                        f"  job {job.job_id} (project {job.project_id}): {job.finding_count} finding(s),"
                        f" {', '.join(job.kinds)} {job.web_url or ''}"
                    ).rstrip()
                    for job in self.jobs
                ),
            ]
        if all(result.outcome == "forbidden" for result in self.results):
            projects = sorted({result.job.project_id for result in self.results})
            return [
                (
                    f"GitLab answered 403 Forbidden to every erase (projects {', '.join(map(str, projects))}):"
                    f" the token may not erase jobs there (it needs the Maintainer role and the api scope);"
                    f" nothing was erased"
                )
            ]
        lines: List[str] = []
        forbidden: Dict[int, List[EraseResult]] = {}
        for result in self.results:
            if result.outcome == "forbidden":
                forbidden.setdefault(result.job.project_id, []).append(result)
            else:
                detail = f": {result.message}" if result.message else ""
                lines.append(f"  {result.outcome.replace('_', ' ')}: job {result.job.job_id}"
                             f" (project {result.job.project_id}){detail}")
        for project, results in sorted(forbidden.items()):
            lines.append(f"  {results[0].message}; {len(results)} job(s) of project {project} not erased")
        erased = sum(1 for result in self.results if result.outcome in DONE_OUTCOMES)
        return [f"Erased {erased} of {len(self.jobs)} job(s) with secret findings:", *lines]


def _table(client: Any, name: str) -> str:
    return str(client.make_qualified_table_name(name))


def leaky_jobs(pipeline: Pipeline) -> List[LeakyJob]:
    """The jobs `secret_findings` names that `job_erasures` does not record as erased, by job id.

    Args:
        pipeline (Pipeline): The pipeline that loaded `job_logs`; its destination is read.

    Returns:
        List[LeakyJob]: One entry per job; empty when nothing was found (or nothing loaded yet).
    """
    with pipeline.sql_client() as client:
        try:
            findings = client.execute_sql(
                f"SELECT job_id, project_id, web_url, kind FROM {_table(client, FINDINGS_TABLE)}"
            )
        except (DatabaseUndefinedRelation, DestinationUndefinedEntity):
            return []
        try:
            done = {
                row[0]
                for row in client.execute_sql(
                    f"SELECT job_id FROM {_table(client, ERASURES_TABLE)}"
                    f" WHERE outcome IN ({', '.join(repr(outcome) for outcome in DONE_OUTCOMES)})"
                )
                or []
            }
        except (DatabaseUndefinedRelation, DestinationUndefinedEntity):
            done = set()
    by_job: Dict[int, Tuple[int, Optional[str], Set[str], List[int]]] = {}
    for job_id, project_id, web_url, kind in findings or []:
        if job_id in done:
            continue
        entry = by_job.setdefault(job_id, (project_id, web_url, set(), [0]))
        entry[2].add(kind)
        entry[3][0] += 1
    return [
        LeakyJob(job_id, project_id, web_url, tuple(sorted(kinds)), count[0])
        for job_id, (project_id, web_url, kinds, count) in sorted(by_job.items())
    ]


def _erase_one(session: Session, credentials: GitLabCredentials, job: LeakyJob) -> EraseResult:
    """POSTs the erase of one job and classifies GitLab's answer; a 401 ends the command."""
    path = f"/projects/{job.project_id}/jobs/{job.job_id}/erase"
    try:
        response = session.post(credentials.api_url + path, headers=credentials.headers())
    except RequestException as exc:
        return EraseResult(job, "failed", None, f"cannot reach GitLab for POST {path} ({type(exc).__name__})")
    status = response.status_code
    if status in (200, 201):
        return EraseResult(job, "erased", status, "")
    if status == 401:
        raise GitLabSourceError(
            f"GitLab answered 401 Unauthorized on POST {path}: check sources.gitlab.access_token"
            " (erasing needs a valid token with the api scope)"
        )
    if status == 403 and NOT_ERASABLE in response.content.lower():
        return EraseResult(job, "already_erased", status, "GitLab says it is not erasable (already erased)")
    if status == 403:
        return EraseResult(
            job, "forbidden", status,
            f"GitLab answered 403 Forbidden on POST {path}: the token may not erase jobs in project"
            f" {job.project_id} (it needs the Maintainer role and the api scope)",
        )
    if status == 404:
        return EraseResult(job, "gone", status, "GitLab has no such job any more")
    return EraseResult(job, "failed", status, f"GitLab answered {status} on POST {path}; run again to retry")


def _record(pipeline: Pipeline, results: List[EraseResult]) -> None:
    """Loads the outcomes into `job_erasures` (merge on job_id), so a second run skips what is done."""
    now = datetime.now(UTC)
    rows = [
        {
            "job_id": result.job.job_id,
            "project_id": result.job.project_id,
            "web_url": result.job.web_url,
            "outcome": result.outcome,
            "status_code": result.status,
            "message": result.message,
            "attempted_at": now,
        }
        for result in results
    ]
    resource = dlt.resource(
        rows,
        name=ERASURES_TABLE,
        write_disposition="merge",
        primary_key="job_id",
        columns={"status_code": {"data_type": "bigint", "nullable": True}},
    )
    if pipeline.default_schema_name:  # into the schema that holds secret_findings
        pipeline.run(resource, schema=pipeline.default_schema)
    else:
        pipeline.run(resource)


def erase_leaky_jobs(
    pipeline: Pipeline,
    credentials: GitLabCredentials,
    yes: bool = False,
) -> EraseReport:
    """Lists the jobs with secret findings and, with `yes`, erases each one's log and artifacts.

    A dry run (the default) only reads the destination. With `yes`, each job is erased through
    `POST /projects/:id/jobs/:job_id/erase`; after a 403 (the token may not erase there) the rest of
    that project's jobs are skipped. Every outcome is loaded into `job_erasures`, and jobs recorded
    as erased are not listed again, so a second run does nothing.

    Args:
        pipeline (Pipeline): The pipeline whose destination holds `secret_findings`.
        credentials (GitLabCredentials): The GitLab, and a token with the api scope of a user who may
            erase the jobs.
        yes (bool): Erase for real. Defaults to False (dry run).

    Returns:
        EraseReport: The jobs and the outcome for each.
    """
    jobs = leaky_jobs(pipeline)
    report = EraseReport(jobs, dry_run=not yes)
    if not yes or not jobs:
        return report
    http = make_session(GitLabRunStats())
    forbidden: Dict[int, EraseResult] = {}
    try:
        for job in jobs:
            if job.project_id in forbidden:
                report.results.append(EraseResult(job, "forbidden", 403, forbidden[job.project_id].message))
                continue
            result = _erase_one(http, credentials, job)
            if result.outcome == "forbidden":
                forbidden[job.project_id] = result
            report.results.append(result)
    finally:
        if report.results:
            _record(pipeline, report.results)
    return report
