"""When `job_logs` retries a trace request and how long it waits, apart from the fetching.

A 429 is not retried here: every request waits for its turn in the run's request budget
(`gitlab.rate_limit`), which also learns from the 429 how long everyone must wait.
"""

import random
import time
from dataclasses import dataclass
from typing import Mapping, Optional

from gitlab.rate_limit import retry_after_seconds
from gitlab.settings import (
    TRACE_BACKOFF_BASE_SECONDS,
    TRACE_BACKOFF_CAP_SECONDS,
    TRACE_MAX_ATTEMPTS,
    TRACE_MAX_WAIT_SECONDS,
)


@dataclass(frozen=True)
class GitLabRetryPolicy:
    """Retried: 5xx, 408, timeouts and dropped connections, up to `max_attempts`."""

    max_attempts: int = TRACE_MAX_ATTEMPTS
    backoff_base_seconds: float = TRACE_BACKOFF_BASE_SECONDS
    backoff_cap_seconds: float = TRACE_BACKOFF_CAP_SECONDS
    max_wait_seconds: float = TRACE_MAX_WAIT_SECONDS

    def is_retryable(self, status: Optional[int]) -> bool:
        """True for a dropped connection or timeout (status None), 408 and every 5xx."""
        return status is None or status == 408 or status >= 500

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half of min(cap, base * 2^(attempt-1)) plus a random other half."""
        ceiling = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def retry_delay(self, headers: Optional[Mapping[str, str]], attempt: int) -> float:
        """Seconds to wait before the next attempt, after `attempt` failures: `Retry-After` if the answer had one
        (a 503 may), else exponential backoff. A little jitter spreads the retries out."""
        told = retry_after_seconds(headers, time.time()) if headers is not None else None
        if told is None:
            return self.backoff(attempt)
        return min(told, self.max_wait_seconds) + random.uniform(0, self.backoff_base_seconds / 2)
