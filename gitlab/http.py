"""The HTTP session every GitLab request of a run goes through: retries, metering, skipped endpoints."""

import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Set

from requests import PreparedRequest, Response, Session
from requests.adapters import HTTPAdapter

from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException

from gitlab.errors import strip_query
from gitlab.job_logs import JobLogStats
from gitlab.settings import (
    REQUEST_BACKOFF_FACTOR,
    REQUEST_MAX_ATTEMPTS,
    REQUEST_MAX_RETRY_DELAY_SECONDS,
    REQUEST_TIMEOUT_SECONDS,
)

logger = logging.getLogger(__name__)

USER_AGENT = "gitlab-dlt"
_PROJECT_IN_PATH = re.compile(r"/projects/([^/]+)")


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
        path = strip_query(response.url).split("/api/v4", 1)[-1]
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


class _MeteredAdapter(HTTPAdapter):
    """Counts every request that goes on the wire, retries included."""

    def __init__(self, stats: GitLabRunStats, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stats = stats
        self._lock = threading.Lock()  # parallelized resources send from dlt's worker threads

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        with self._lock:
            self.stats.requests += 1
        return super().send(request, *args, **kwargs)


def make_session(stats: GitLabRunStats, max_attempts: int = REQUEST_MAX_ATTEMPTS) -> Session:
    """Builds a requests session with dlt's retries (429 with Retry-After, 5xx, dropped connections).

    Args:
        stats (GitLabRunStats): Where requests are counted.
        max_attempts (int): Attempts per request before giving up.

    Returns:
        Session: Shared by the declarative resources and the discovery of groups and projects.
    """
    session = Client(
        request_timeout=REQUEST_TIMEOUT_SECONDS,
        raise_for_status=False,
        request_max_attempts=max_attempts,
        request_backoff_factor=REQUEST_BACKOFF_FACTOR,
        request_max_retry_delay=REQUEST_MAX_RETRY_DELAY_SECONDS,
    ).session
    adapter = _MeteredAdapter(stats, pool_maxsize=16)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = f"{USER_AGENT} {session.headers.get('User-Agent', '')}".strip()
    return session
