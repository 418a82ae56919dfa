"""What one run did, for the CLI's summary: requests sent, endpoints denied, job logs fetched and failed."""

import logging
import re
from dataclasses import dataclass, field
from typing import Dict, List, Set

from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException
from requests import Response

from gitlab.errors import strip_query
from gitlab.settings import API_PREFIX, TRACE_PENDING_MAX_RUNS

logger = logging.getLogger(__name__)

_PROJECT_IN_PATH = re.compile(r"/projects/([^/]+)")


@dataclass
class JobLogStats:
    """What `job_logs` did in one run, for the summary: counts, and every log it could not fetch."""

    requests: int = 0
    fetched: int = 0
    missing: int = 0
    retries: int = 0
    rate_limited: int = 0
    skipped_unfinished: int = 0
    skipped_fetched_before: int = 0
    findings: int = 0
    failed: Dict[int, str] = field(default_factory=dict)
    denied_projects: Dict[int, str] = field(default_factory=dict)
    given_up: Dict[int, str] = field(default_factory=dict)

    def summary_lines(self) -> List[str]:
        """Lines for the CLI: totals, then one line per failed log and per denied project."""
        lines = [
            (
                f"Job logs: {self.fetched} fetched ({self.missing} without a log), {self.findings} secret"
                f" finding(s), {self.requests} trace requests ({self.retries} retried, {self.rate_limited}"
                f" rate-limited); skipped {self.skipped_fetched_before} fetched before and"
                f" {self.skipped_unfinished} unfinished"
            )
        ]
        if self.failed:
            lines.append(f"Job logs not fetched, kept to fetch on the next run ({len(self.failed)}):")
            lines += [f"  job {job_id}: {reason}" for job_id, reason in sorted(self.failed.items())]
        if self.denied_projects:
            lines.append(f"Job logs the token may not read ({len(self.denied_projects)} project(s)):")
            lines += [f"  project {project}: {reason}" for project, reason in sorted(self.denied_projects.items())]
        if self.given_up:
            lines.append(f"Job logs given up after {TRACE_PENDING_MAX_RUNS} runs ({len(self.given_up)}):")
            lines += [f"  job {job_id}: {reason}" for job_id, reason in sorted(self.given_up.items())]
        return lines


@dataclass
class GitLabRunStats:
    """What one run asked of GitLab: requests sent (retries included), endpoints denied, job logs."""

    requests: int = 0
    denied: Dict[str, Set[str]] = field(default_factory=dict)
    job_logs: JobLogStats = field(default_factory=JobLogStats)

    def record_denied(self, response: Response) -> None:
        """Counts a 403/404 on a project's endpoint, warns once per project, then skips the page.

        Used as a `response_actions` hook: raising `IgnoreResponseException` makes dlt's
        REST client end that endpoint's pagination without data.
        """
        path = strip_query(response.url).split(API_PREFIX, 1)[-1]
        match = _PROJECT_IN_PATH.search(path)
        project = match.group(1) if match else path
        if project not in self.denied:
            logger.warning(
                "GitLab answered %s on %s: the token may not read it; this and any other denied"
                " endpoint of project %s are skipped and listed in the summary",
                response.status_code,
                path,
                project,
            )
        self.denied.setdefault(project, set()).add(f"{response.status_code} {path}")
        raise IgnoreResponseException

    def denied_summary(self) -> List[str]:
        """One line per project some endpoint of which was denied."""
        return [
            f"project {project}: {len(paths)} endpoint(s) denied ({', '.join(sorted(paths)[:3])}"
            f"{', ...' if len(paths) > 3 else ''})"
            for project, paths in sorted(self.denied.items())
        ]
