"""What one run did, for the CLI's summary: requests sent, endpoints denied or failing, job logs fetched and failed."""

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Set, Tuple

from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException
from requests import Response

from gitlab.errors import strip_query
from gitlab.rate_limit import api_route, route_template
from gitlab.settings import API_PREFIX, TRACE_PENDING_MAX_RUNS

logger = logging.getLogger(__name__)

_PROJECT_IN_PATH = re.compile(r"/projects/([^/]+)")
_OWNER_AND_ENDPOINT = re.compile(r"^/(project|group)s/([^/]+)/(.+)$")


@dataclass
class JobLogStats:
    """What `job_logs` did in one run, for the summary: counts, and every log it could not fetch."""

    requests: int = 0
    queued: int = 0  # logs this run set out to fetch, for the progress line
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
    failed: List[Tuple[str, str, str]] = field(default_factory=list)
    """(owner, endpoint, reason) of each request that still failed after its retries, e.g.
    ("project 12", "issues/:id/notes", "HTTP 503 Service Unavailable"); appended from several threads."""
    job_logs: JobLogStats = field(default_factory=JobLogStats)

    @property
    def skipped(self) -> bool:
        """True when something of this run was not read and waits for the next run."""
        return bool(self.failed or self.job_logs.failed or self.job_logs.given_up)

    def record_failed(self, url: str, reason: str) -> None:
        """Counts an endpoint of a project (or group) that still failed after its retries; warns once per owner."""
        route = api_route(url)
        match = _OWNER_AND_ENDPOINT.match(route)
        if match:
            owner, endpoint = f"{match.group(1)} {match.group(2)}", route_template(f"/{match.group(3)}")[1:]
        else:
            owner, endpoint = "GitLab", route_template(route)
        if not any(failure[0] == owner for failure in self.failed):
            logger.warning(
                "GitLab kept failing on %s (%s) after the retries: this and any other failing endpoint of %s"
                " are skipped in this run, listed in the summary and read again on the next run",
                route,
                reason,
                owner,
            )
        self.failed.append((owner, endpoint, reason))

    def failed_summary(self) -> List[str]:
        """One line per project (or group) some endpoint of which still failed: the endpoints, how often, why."""
        lines = []
        for owner in sorted({failure[0] for failure in self.failed}):
            mine = [failure for failure in self.failed if failure[0] == owner]
            counts = Counter(endpoint for _, endpoint, _ in mine)
            endpoints = ", ".join(
                f"{endpoint} ({count}x)" if count > 1 else endpoint for endpoint, count in sorted(counts.items())
            )
            reasons = ", ".join(sorted({reason for _, _, reason in mine}))
            lines.append(f"{owner}: {endpoints}; {reasons}")
        return lines

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
