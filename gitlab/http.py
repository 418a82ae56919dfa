"""The HTTP session every GitLab request of a run goes through: retries, metering, skipped endpoints."""

import threading
from typing import Any

from dlt.sources.helpers.requests import Client
from requests import PreparedRequest, Response, Session
from requests.adapters import HTTPAdapter

from gitlab.run_stats import GitLabRunStats
from gitlab.settings import (
    REQUEST_BACKOFF_FACTOR,
    REQUEST_MAX_ATTEMPTS,
    REQUEST_MAX_RETRY_DELAY_SECONDS,
    REQUEST_TIMEOUT_SECONDS,
    USER_AGENT,
)


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
