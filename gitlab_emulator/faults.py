"""Server-side misbehaviour: a fixed-window rate limit with GitLab.com's headers, per-endpoint limits, faults.

Rate-limit headers follow https://docs.gitlab.com/user/gitlab_com/#rate-limits-on-gitlabcom:
RateLimit-Limit, RateLimit-Observed, RateLimit-Remaining, RateLimit-Reset (unix seconds) and
RateLimit-ResetTime (HTTP date) on every response, plus Retry-After on a 429. Per-endpoint limits
follow GitLab's application rate limits (e.g. `GET /groups/:id/projects`, project members): their 429
carries neither RateLimit-* headers nor Retry-After, only a JSON message.
"""

from __future__ import annotations

import math
import random
import re
import time
from dataclasses import dataclass, field
from typing import Callable

from gitlab_emulator.clock import http_date

FAULT_KINDS = ("500", "502", "503", "drop")
"""What a fault can be: an error status, or a connection closed without any response."""

FAULT_BODIES: dict[str, tuple[str, str]] = {
    "401": ('{"message":"401 Unauthorized"}', "application/json"),  # outages only: a token revoked mid-run
    "500": ('{"message":"500 Internal Server Error"}', "application/json"),
    "502": ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway"
            "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", "text/html"),
    "503": ("<!DOCTYPE html>\n<html><head><title>GitLab is not responding (503)</title></head>\n<body><h1>503</h1>"
            "<p>GitLab is not responding. Please retry later.</p></body></html>\n", "text/html"),
}


@dataclass
class RateDecision:
    """The outcome of counting one request: whether it is over the limit, and the headers to send."""

    limited: bool
    headers: dict[str, str] = field(default_factory=dict)


class RateLimiter:
    """A fixed window of `max_requests` per `window_seconds`, on the real clock.

    Every request counts, including rejected ones (as Rack::Attack counts them), so
    RateLimit-Observed may exceed the limit.

    Args:
        max_requests (int): Requests allowed per window.
        window_seconds (float): Window length.
        monotonic (Callable[[], float]): Clock for the window. Defaults to time.monotonic.
        wall (Callable[[], float]): Unix clock for RateLimit-Reset. Defaults to time.time.
    """

    def __init__(self, max_requests: int, window_seconds: float, monotonic: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        if max_requests < 1 or window_seconds <= 0:
            raise ValueError(f"rate_limit needs max_requests >= 1 and window_seconds > 0, got "
                             f"({max_requests}, {window_seconds})")
        self.max_requests = max_requests
        self.window_seconds = window_seconds
        self._monotonic = monotonic
        self._wall = wall
        self._window_end = -math.inf
        self._observed = 0

    def hit(self) -> RateDecision:
        """Counts one request and returns whether it is limited, with the headers for its response."""
        now = self._monotonic()
        if now >= self._window_end:
            self._window_end = now + self.window_seconds
            self._observed = 0
        self._observed += 1
        left = self._window_end - now
        reset = math.ceil(self._wall() + left)
        headers = {
            "RateLimit-Limit": str(self.max_requests), "RateLimit-Observed": str(self._observed),
            "RateLimit-Remaining": str(max(0, self.max_requests - self._observed)),
            "RateLimit-Reset": str(reset), "RateLimit-ResetTime": http_date(reset),
        }
        limited = self._observed > self.max_requests
        if limited:
            headers["Retry-After"] = str(max(1, math.ceil(left)))
        return RateDecision(limited, headers)


ROUTE_LIMITED_BODY = '{"message":{"error":"This endpoint has been requested too many times. Try again later."}}'
"""The body of GitLab's application rate limit answer (Gitlab::ApplicationRateLimiter)."""


class RouteLimiter:
    """Per-endpoint fixed windows: each `(path_regex, max_requests, window_seconds)` counts the paths it matches.

    Args:
        limits (list[tuple[str, int, float]]): Regexes searched in the path, with their limit and window.
        monotonic (Callable[[], float]): Clock for the windows. Defaults to time.monotonic.
    """

    def __init__(self, limits: list[tuple[str, int, float]],
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._limits = [(re.compile(pattern), RateLimiter(count, window, monotonic))
                        for pattern, count, window in limits]

    def limited(self, path: str) -> bool:
        """Counts the request in every window its path matches; True when one of them is exceeded."""
        return any([limiter.hit().limited for pattern, limiter in self._limits if pattern.search(path)])


class FaultInjector:
    """Decides, with a seeded generator, which requests fail and how.

    Args:
        rate (float): Probability that a matching request faults.
        path_pattern (str, optional): Regex searched in the path; only matching paths fault. None = all.
        seed (int): Seed of the generator.
    """

    def __init__(self, rate: float, path_pattern: str | None, seed: int) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault_rate must be within [0, 1], got {rate}")
        self.rate = rate
        self.pattern = re.compile(path_pattern) if path_pattern else None
        self._rng = random.Random(f"{seed}:faults")

    def draw(self, path: str) -> str | None:
        """Returns one of FAULT_KINDS for a faulting request, or None."""
        if self.rate <= 0.0 or (self.pattern is not None and not self.pattern.search(path)):
            return None
        if self._rng.random() >= self.rate:
            return None
        return self._rng.choice(FAULT_KINDS)


OUTAGE_STATUSES = (401, 429, 500, 502, 503)
"""What an outage answers: too many requests, or one of the server errors of FAULT_BODIES."""


class Outage:
    """Scripted failures counted in requests, not time: after `after` matching requests, the next `count` fail.

    Unlike `FaultInjector`, nothing is random: a test knows which requests fail, e.g. "every page of an
    endpoint after the third fails on every try" (count None), or "a burst of 30 answers 429".

    Args:
        path_pattern (str): Regex searched in the path; only matching requests are counted and failed.
        after (int): Matching requests served normally first.
        count (int, optional): Matching requests failed after those; None = every later one.
        status (int): One of OUTAGE_STATUSES.
        retry_after_seconds (int): `Retry-After` of a 429.
    """

    def __init__(self, path_pattern: str, after: int = 0, count: int | None = None, status: int = 500,
                 retry_after_seconds: int = 1) -> None:
        if status not in OUTAGE_STATUSES:
            raise ValueError(f"an outage answers one of {OUTAGE_STATUSES}, got {status}")
        if after < 0 or (count is not None and count < 1):
            raise ValueError(f"an outage needs after >= 0 and count >= 1 or None, got {after} and {count}")
        self.pattern = re.compile(path_pattern)
        self.after = after
        self.count = count
        self.status = status
        self.retry_after_seconds = retry_after_seconds
        self.matched = 0
        self.failed = 0

    def strikes(self, path: str) -> bool:
        """Counts a request and returns whether it must fail."""
        if not self.pattern.search(path):
            return False
        self.matched += 1
        failing = self.matched > self.after and (self.count is None or self.failed < self.count)
        self.failed += failing
        return failing

    def answer(self) -> tuple[int, str, str, dict[str, str]]:
        """Status, body, content type and extra headers of a failed request."""
        if self.status == 429:
            return 429, "Retry later\n", "text/plain", {"Retry-After": str(self.retry_after_seconds)}
        body, content_type = FAULT_BODIES[str(self.status)]
        return self.status, body, content_type, {}
