"""The HTTP session every GitLab request of a run goes through: the request budget, dlt's retries, metering,
and the endpoints of a project that keep failing, skipped for this run instead of ending it."""

import re
import threading
from typing import Any, Callable, Optional

from dlt.common import json
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException
from requests import HTTPError, PreparedRequest, Response, Session
from requests.adapters import HTTPAdapter
from requests.exceptions import ChunkedEncodingError, ConnectionError, Timeout

from gitlab.rate_limit import RequestBudget, api_route
from gitlab.run_stats import GitLabRunStats
from gitlab.settings import (
    REQUEST_BACKOFF_FACTOR,
    REQUEST_MAX_ATTEMPTS,
    REQUEST_MAX_RETRY_DELAY_SECONDS,
    REQUEST_TIMEOUT_SECONDS,
    REST_CONNECTIONS,
    USER_AGENT,
)

# A part of one project (or a group's members): skipped when it keeps failing. Finding the groups and
# projects to load is not: without it, nothing can be loaded.
SKIPPABLE = re.compile(r"^/(projects/[^/]+/.+|groups/[^/]+/members)$")

TFailedPart = Callable[[str, str], None]


class _OrjsonResponse(Response):
    """A response whose `json()` is dlt's orjson: requests picks simplejson when it is installed, which decodes a
    page of 100 jobs (~200 KB) 2.5 times slower, and a first load decodes one such page per 100 jobs."""

    def json(self, **kwargs: Any) -> Any:
        if not kwargs:
            try:
                return json.loadb(self.content)
            except ValueError:
                pass  # not UTF-8 JSON: requests decodes it, or raises the error dlt expects
        return super().json(**kwargs)


class _BudgetedAdapter(HTTPAdapter):
    """Sends each request in its turn of the run's budget and counts it; after a 429, sends it again in a
    later turn, so that a 429 never reaches dlt's retries, which would give up on it."""

    def __init__(self, stats: GitLabRunStats, budget: RequestBudget, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stats = stats
        self.budget = budget
        self._lock = threading.Lock()  # parallelized resources send from dlt's worker threads

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        while True:
            with self.budget.request(request.url or "") as turn:
                with self._lock:
                    self.stats.requests += 1
                response = super().send(request, *args, **kwargs)
                turn.observe(response.status_code, response.headers)
            if response.status_code != 429:
                if not kwargs.get("stream"):  # read now, giving the connection back to the pool: requests reads
                    _ = response.content  # the body after the response hooks, and one that raises would keep it
                return response
            response.close()

    def build_response(self, req: PreparedRequest, resp: Any) -> Response:
        response = super().build_response(req, resp)
        response.__class__ = _OrjsonResponse
        return response


def _gave_up_on(error: Exception) -> Optional[str]:
    """Why dlt's retries gave up, when it is GitLab failing (5xx, 408, timeouts, dropped connections)."""
    if isinstance(error, HTTPError):
        response = error.response
        if response is not None and (response.status_code >= 500 or response.status_code == 408):
            return f"HTTP {response.status_code} {response.reason}".strip()
        return None
    return type(error).__name__


def _skipping_failed_parts(send: Callable[..., Response], on_failed: TFailedPart) -> Callable[..., Response]:
    """Wraps the session's `send`, dlt's retries included: a skippable endpoint that still fails is handed to
    `on_failed(url, reason)` and ends its pagination without data, as dlt's rest_api does for an ignored answer."""

    def send_or_skip(request: PreparedRequest, **kwargs: Any) -> Response:
        try:
            return send(request, **kwargs)
        except (HTTPError, ConnectionError, Timeout, ChunkedEncodingError) as error:
            url = request.url or ""
            reason = _gave_up_on(error)
            if reason is None or not SKIPPABLE.match(api_route(url)):
                raise
            on_failed(url, reason)
            raise IgnoreResponseException from error

    return send_or_skip


def make_session(
    stats: GitLabRunStats,
    budget: Optional[RequestBudget] = None,
    on_failed: Optional[TFailedPart] = None,
) -> Session:
    """Builds a requests session with dlt's retries (5xx, timeouts, dropped connections) inside the run's budget.

    Args:
        stats (GitLabRunStats): Where requests are counted.
        budget (RequestBudget, optional): When each request may go; the source shares its own with the job
            logs. None: a budget of this session's, without caps, that follows GitLab's answers.
        on_failed (Callable[[str, str], None], optional): Takes (url, reason) of a project's endpoint that still
            fails after the retries; that endpoint is then skipped. None: such a failure ends the run.

    Returns:
        Session: Shared by the declarative resources and the discovery of groups and projects.
    """
    session = Client(
        request_timeout=REQUEST_TIMEOUT_SECONDS,
        raise_for_status=False,
        request_max_attempts=REQUEST_MAX_ATTEMPTS,
        request_backoff_factor=REQUEST_BACKOFF_FACTOR,
        request_max_retry_delay=REQUEST_MAX_RETRY_DELAY_SECONDS,
    ).session
    # dlt's extract workers and the lists' own threads can ask more at once than a pool of connections holds:
    # blocking bounds the connections to GitLab, where urllib3 would open more and throw them away with a warning
    adapter = _BudgetedAdapter(stats, budget or RequestBudget(), pool_maxsize=REST_CONNECTIONS, pool_block=True)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = f"{USER_AGENT} {session.headers.get('User-Agent', '')!s}".strip()
    if on_failed is not None:
        session.send = _skipping_failed_parts(session.send, on_failed)  # type: ignore[method-assign]
    return session
