"""How `job_logs` retries and paces trace requests: a retry policy and a request gate, apart from the fetching.

See https://docs.gitlab.com/user/gitlab_com/#rate-limits-on-gitlabcom for GitLab's rate-limit headers.
"""

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass
from typing import Mapping, Optional

from gitlab.settings import (
    TRACE_BACKOFF_BASE_SECONDS,
    TRACE_BACKOFF_CAP_SECONDS,
    TRACE_MAX_ATTEMPTS,
    TRACE_MAX_RATE_LIMIT_WAITS,
    TRACE_MAX_WAIT_SECONDS,
)


@dataclass(frozen=True)
class GitLabRetryPolicy:
    """When to retry a trace request and how long to wait: kept apart from the code that fetches.

    Retried: 5xx, 408, timeouts and dropped connections (up to `max_attempts`), and 429 (up to
    `max_rate_limit_waits`, waiting as GitLab says).
    """

    max_attempts: int = TRACE_MAX_ATTEMPTS
    max_rate_limit_waits: int = TRACE_MAX_RATE_LIMIT_WAITS
    backoff_base_seconds: float = TRACE_BACKOFF_BASE_SECONDS
    backoff_cap_seconds: float = TRACE_BACKOFF_CAP_SECONDS
    max_wait_seconds: float = TRACE_MAX_WAIT_SECONDS

    def is_retryable(self, status: Optional[int]) -> bool:
        """True for a dropped connection or timeout (status None), 408, 429 and every 5xx."""
        return status is None or status in (408, 429) or status >= 500

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half of min(cap, base * 2^(attempt-1)) plus a random other half."""
        ceiling = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def retry_delay(self, status: Optional[int], headers: Optional[Mapping[str, str]], attempt: int) -> float:
        """Seconds to wait before the next attempt, after `attempt` failures answered with `status`.

        A 429 waits what `Retry-After` or `RateLimit-Reset` say, and any answer with `Retry-After`
        waits that long; otherwise exponential backoff. A little jitter spreads the retries out.
        """
        told = None
        if headers is not None:
            told = _told_wait_seconds(headers, reset_too=status == 429)
        if told is None:
            return self.backoff(attempt)
        return min(told, self.max_wait_seconds) + random.uniform(0, self.backoff_base_seconds / 2)


def _told_wait_seconds(headers: Mapping[str, str], reset_too: bool) -> Optional[float]:
    """The wait GitLab asks for: `Retry-After` (seconds or HTTP date), else `RateLimit-Reset` (unix seconds)."""
    retry_after = headers.get("Retry-After")
    if retry_after:
        if retry_after.strip().isdigit():
            return float(retry_after)
        try:
            return max(0.0, email.utils.parsedate_to_datetime(retry_after).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    reset = headers.get("RateLimit-Reset")
    if reset_too and reset and reset.strip().isdigit():
        return max(0.0, int(reset) - time.time())
    return None


class GitLabRequestGate:
    """Spaces trace requests: a fixed cap a minute, a pause after a 429, and slower as the budget runs low."""

    def __init__(self, requests_per_minute: Optional[int], low_fraction: float) -> None:
        self._cap_interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._budget_interval = 0.0
        self._low_fraction = low_fraction
        self._next_start = 0.0
        self._paused_until = 0.0

    async def wait(self) -> None:
        """Waits for this request's turn; a sleeper looks again on waking, so a recovered budget frees it early."""
        while True:
            now = time.monotonic()
            start = max(self._next_start, self._paused_until)
            if start <= now:
                self._next_start = now + max(self._cap_interval, self._budget_interval)
                return
            await asyncio.sleep(start - now)

    def pause(self, seconds: float) -> None:
        """Holds every request for `seconds`, after a 429."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Reads `RateLimit-*`: below `low_fraction` of the limit, the rest of the budget is spread until reset."""
        try:
            limit = int(headers["RateLimit-Limit"])
            remaining = int(headers["RateLimit-Remaining"])
            reset = int(headers["RateLimit-Reset"])
        except (KeyError, ValueError):
            return
        if remaining > limit * self._low_fraction:
            self._budget_interval = 0.0
            self._next_start = min(self._next_start, time.monotonic() + self._cap_interval)
            return
        seconds_left = max(reset - time.time(), 0.0)
        if remaining <= 0:
            self.pause(seconds_left)
        self._budget_interval = seconds_left / max(remaining, 1)
