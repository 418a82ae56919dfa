"""One request budget for everything a run sends to GitLab: the REST lists (requests) and the job logs (aiohttp).

GitLab counts every API request of a user against the same limits
(https://docs.gitlab.com/user/gitlab_com/#rate-limits-on-gitlabcom), so both HTTP clients wait here: under
caps kept by pacing (the gitlab.com preset, GitLab's default job-list limit elsewhere, and your own), slower as
`RateLimit-Remaining` runs low, as long as `Retry-After` / `RateLimit-Reset` say after a 429, and with a
per-endpoint backoff after a 429 without those headers (GitLab's per-endpoint limits send none). A 429 never
ends a run; `max_run_minutes` may.
"""

import asyncio
import email.utils
import logging
import math
import random
import re
import threading
import time
from collections import deque
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from typing import AsyncIterator, Callable, Deque, Dict, Iterator, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.configuration.specs import BaseConfiguration

from gitlab.errors import GitLabSourceError
from gitlab.settings import (
    API_PREFIX,
    GITLAB_COM_HOSTS,
    PROJECT_JOBS_REQUESTS_PER_MINUTE,
    RATE_LIMIT_BACKOFF_CAP_SECONDS,
    RATE_LIMIT_BACKOFF_FIRST_SECONDS,
    RATE_LIMIT_HEADROOM,
    RATE_LIMIT_LOW_FRACTION,
    RATE_LIMIT_MAX_NAP_SECONDS,
    RATE_LIMIT_RESET_MARGIN_SECONDS,
    RATE_LIMIT_WAIT_LINE_MIN_SECONDS,
    RATE_LIMIT_WAIT_LINE_PERIOD_SECONDS,
)

logger = logging.getLogger(__name__)

MINUTE_SECONDS = 60.0
HOUR_SECONDS = 3600.0
_ID_SEGMENT = re.compile(r"/(\d+|[^/]*%2[Ff][^/]*)(?=/|$)")


@dataclass(frozen=True)
class RouteCap:
    """At most `per_minute` requests in any minute to the API paths (below /api/v4) that `pattern` matches."""

    pattern: str
    per_minute: int


@dataclass(frozen=True)
class RequestLimits:
    """Caps a run keeps by pacing itself, before GitLab has to say anything. None: no such cap."""

    per_minute: Optional[int] = None
    per_hour: Optional[int] = None
    routes: Tuple[RouteCap, ...] = ()

    def with_headroom(self, share: float) -> "RequestLimits":
        """The same caps at `share` of their size."""
        return RequestLimits(
            per_minute=int(self.per_minute * share) if self.per_minute else None,
            per_hour=int(self.per_hour * share) if self.per_hour else None,
            routes=tuple(replace(cap, per_minute=int(cap.per_minute * share)) for cap in self.routes),
        )


# GitLab's default limit of `GET /projects/:id/jobs` per user (`project_jobs_api_rate_limit`, Admin > Settings >
# Network), self-managed too: https://gitlab.com/gitlab-org/gitlab/-/issues/395702
PROJECT_JOBS_CAP = RouteCap(r"^/projects/[^/]+/jobs$", PROJECT_JOBS_REQUESTS_PER_MINUTE)
SELF_MANAGED_LIMITS = RequestLimits(routes=(PROJECT_JOBS_CAP,))

# gitlab.com's documented limits per user: https://docs.gitlab.com/user/gitlab_com/#rate-limits-on-gitlabcom,
# https://docs.gitlab.com/administration/settings/rate_limit_on_groups_api/ (and .../projects_api/), and the
# Free plan's announced 5,000 requests an hour. A paid plan may raise `requests_per_hour`.
GITLAB_COM_LIMITS = RequestLimits(
    per_minute=2_000,
    per_hour=5_000,
    routes=(
        RouteCap(r"^/groups$", 50),
        RouteCap(r"^/groups/[^/]+$", 400),
        RouteCap(r"^/groups/[^/]+/projects$", 600),
        RouteCap(r"^/projects/[^/]+$", 400),
        PROJECT_JOBS_CAP,
        RouteCap(r"^/projects/[^/]+/members(/all)?$", 200),
    ),
)
GITLAB_COM_PRESET = GITLAB_COM_LIMITS.with_headroom(RATE_LIMIT_HEADROOM)
NO_CAPS = RequestLimits()


@configspec
class RequestBudgetConfiguration(BaseConfiguration):
    """How a run paces itself, read from `[sources.gitlab]` (or `SOURCES__GITLAB__<NAME>`)."""

    requests_per_minute: Optional[int] = None
    """Cap on all requests a minute. None: none, or the gitlab.com preset there; 0: none."""
    requests_per_hour: Optional[int] = None
    """Cap on all requests an hour. None: none, or the gitlab.com preset (Free plan) there; 0: none."""
    max_run_minutes: Optional[float] = None
    """A run GitLab's rate limit would keep going past this many minutes ends with one line. None: never."""


def api_route(url: str) -> str:
    """The path below /api/v4 of `url`, e.g. `/projects/12/jobs/3/trace`."""
    path = urlsplit(url).path
    return path.split(API_PREFIX, 1)[-1] if API_PREFIX in path else path


def route_template(route: str) -> str:
    """`/projects/12/issues/3/notes` → `/projects/:id/issues/:id/notes`: one endpoint, whatever the ids."""
    return _ID_SEGMENT.sub("/:id", route)


def make_budget(api_url: str, config: Optional[RequestBudgetConfiguration] = None) -> "RequestBudget":
    """The run's budget for GitLab at `api_url`: the gitlab.com preset there, GitLab's default job-list cap
    elsewhere, and the caps configured.

    Args:
        api_url (str): GitLab's API root.
        config (RequestBudgetConfiguration, optional): The caps; resolved from `[sources.gitlab]` when omitted.

    Returns:
        RequestBudget: To share between every HTTP client of the run.
    """
    if config is None:
        config = resolve_configuration(RequestBudgetConfiguration(), sections=("sources", "gitlab"))
    on_gitlab_com = (urlsplit(api_url).hostname or "").lower() in GITLAB_COM_HOSTS
    preset = GITLAB_COM_PRESET if on_gitlab_com else SELF_MANAGED_LIMITS
    for name in ("requests_per_minute", "requests_per_hour", "max_run_minutes"):
        value = getattr(config, name)
        if value is not None and value < 0:
            raise GitLabSourceError(f"sources.gitlab.{name} must be 0 or more, not {value}")
    limits = RequestLimits(
        per_minute=preset.per_minute if config.requests_per_minute is None else config.requests_per_minute or None,
        per_hour=preset.per_hour if config.requests_per_hour is None else config.requests_per_hour or None,
        routes=preset.routes,
    )
    return RequestBudget(limits, config.max_run_minutes)


class RequestBudget:
    """When each request of a run may go: from the caps, and from what GitLab answered. Thread- and asyncio-safe.

    Every request waits for its turn (`request` from threads, `request_async` on an event loop) and hands
    the answer's status and headers back, which moves the turns of the others.

    Args:
        limits (RequestLimits): Caps kept by pacing.
        max_run_minutes (float, optional): A wait that would end later than this many minutes after the
            budget was made ends the run instead (GitLabSourceError). None: waits as long as GitLab says.
        clock (Callable[[], float]): Monotonic seconds. Defaults to time.monotonic.
        wall (Callable[[], float]): Unix seconds, to read `RateLimit-Reset`. Defaults to time.time.
        sleep (Callable[[float], None]): How a thread waits. Defaults to time.sleep.
    """

    def __init__(
        self,
        limits: RequestLimits = NO_CAPS,
        max_run_minutes: Optional[float] = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = limits
        self.max_run_minutes = max_run_minutes
        self._clock, self._wall, self._sleep = clock, wall, sleep
        self._deadline = clock() + max_run_minutes * 60 if max_run_minutes else math.inf
        self._spacing = 60.0 / limits.per_minute if limits.per_minute else 0.0
        self._routes = [re.compile(cap.pattern) for cap in limits.routes]
        self._lock = threading.Lock()
        self._next_start = -math.inf
        self._route_starts: List[Deque[float]] = [deque() for _ in limits.routes]  # per cap: its last minute
        self._last_hour: Deque[float] = deque()
        self._paused_until, self._pause_reason = -math.inf, ""
        self._backoffs: Dict[str, Tuple[int, float, float]] = {}  # endpoint → (429s in a row, since, held until)
        self._window_limit: Optional[int] = None
        self._remaining: Optional[int] = None
        self._reset_at: Optional[float] = None
        self._last_sent = -math.inf
        self._in_flight = 0
        self._last_line = -math.inf
        self._waited_until = -math.inf
        self._closed = False
        self.rate_limited = 0
        """429 answers seen."""
        self.waited_seconds = 0.0
        """Time during which some request waited for the rate limit."""

    @contextmanager
    def request(self, url: str) -> Iterator["BudgetSlot"]:
        """Waits for the turn of a request to `url` in this thread; the slot takes its answer."""
        route = api_route(url)
        while True:
            wait = self._take_turn(route)
            if wait <= 0:
                break
            self._sleep(min(wait, RATE_LIMIT_MAX_NAP_SECONDS))
        try:
            yield BudgetSlot(self, route, self._clock())
        finally:
            self._release()

    @asynccontextmanager
    async def request_async(self, url: str) -> AsyncIterator["BudgetSlot"]:
        """Waits for the turn of a request to `url` on the running event loop; the slot takes its answer."""
        route = api_route(url)
        while True:
            wait = self._take_turn(route)
            if wait <= 0:
                break
            await asyncio.sleep(min(wait, RATE_LIMIT_MAX_NAP_SECONDS))
        try:
            yield BudgetSlot(self, route, self._clock())
        finally:
            self._release()

    def close(self) -> None:
        """Ends every wait: a request still waiting for its turn raises, so that no thread outlives the run.

        Takes no lock, so that a signal handler may call it.
        """
        self._closed = True

    def summary_line(self) -> Optional[str]:
        """One line for the run's summary when the rate limit slowed it down."""
        if not self.rate_limited and self.waited_seconds < RATE_LIMIT_WAIT_LINE_MIN_SECONDS:
            return None
        return (
            f"GitLab's rate limit: waited {self.waited_seconds:.0f} s in all,"
            f" {self.rate_limited} answer(s) 429 Too Many Requests"
        )

    def _take_turn(self, route: str) -> float:
        """0 when the request may go now (it is then counted as sent), else the seconds it must still wait."""
        with self._lock:
            if self._closed:
                raise GitLabSourceError("the run ended while a request to GitLab waited for its turn")
            now, caps = self._clock(), self._caps_of(route)
            wait, why = self._wait_for(route, caps, now)
            if wait <= 0:
                self._count_sent(caps, now)
                return 0.0
            if now + wait > self._deadline:
                raise GitLabSourceError(
                    f"GitLab's rate limit would keep this run waiting past sources.gitlab.max_run_minutes"
                    f" ({self.max_run_minutes:g}): {why}; nothing of this run was loaded"
                )
            self._account_wait(now, wait, why)
            return wait

    def _wait_for(self, route: str, caps: List[int], now: float) -> Tuple[float, str]:
        """The longest of the waits the caps and GitLab's answers so far impose on a request to `route`.

        `caps` are the indexes of the route caps `route` falls under.
        """
        if self._reset_at is not None and now >= self._reset_at:  # a new window: its budget is whole again
            self._remaining, self._reset_at = self._window_limit, None
        while self._last_hour and self._last_hour[0] <= now - HOUR_SECONDS:
            self._last_hour.popleft()
        template = route_template(route)
        misses, _, held_until = self._backoffs.get(template, (0, -math.inf, -math.inf))
        waits = [
            (self._paused_until, self._pause_reason),
            (held_until, f"{misses} answer(s) 429 on {template} without RateLimit headers; backing off"),
            (self._next_start, f"pacing under {self.limits.per_minute} requests a minute"),
        ]
        for index in caps:
            cap, starts = self.limits.routes[index], self._route_starts[index]
            while starts and starts[0] <= now - MINUTE_SECONDS:
                starts.popleft()
            if len(starts) >= cap.per_minute:
                waits.append((starts[0] + MINUTE_SECONDS, f"pacing {template} under {cap.per_minute} a minute"))
        if self.limits.per_hour and len(self._last_hour) >= self.limits.per_hour:
            waits.append((self._last_hour[0] + HOUR_SECONDS, f"{self.limits.per_hour} requests in the last hour"))
        waits += self._window_waits(now)
        until, why = max(waits, key=lambda wait: wait[0])
        return until - now, why

    def _window_waits(self, now: float) -> List[Tuple[float, str]]:
        """What the window GitLab announced in `RateLimit-*` imposes: nothing, a spread, or its reset."""
        if self._remaining is None or not self._window_limit:
            return []
        resets = f"resets in {self._reset_at - now:.0f} s" if self._reset_at is not None else "resets soon"
        if self._remaining <= 0:
            until = self._reset_at if self._reset_at is not None else now + RATE_LIMIT_MAX_NAP_SECONDS
            return [(until, f"RateLimit-Remaining 0 of {self._window_limit}; the window {resets}")]
        if self._reset_at is not None and self._remaining <= self._window_limit * RATE_LIMIT_LOW_FRACTION:
            spread = self._last_sent + (self._reset_at - now) / self._remaining
            why = f"RateLimit-Remaining {self._remaining} of {self._window_limit}, spread until the window {resets}"
            return [(spread, why)]
        return []

    def _caps_of(self, route: str) -> List[int]:
        """Indexes of the route caps that `route` falls under."""
        return [index for index, pattern in enumerate(self._routes) if pattern.search(route)]

    def _count_sent(self, caps: List[int], now: float) -> None:
        self._next_start = now + self._spacing
        for index in caps:
            self._route_starts[index].append(now)
        if self.limits.per_hour:
            self._last_hour.append(now)
        if self._remaining is not None:
            self._remaining -= 1
        self._last_sent = now
        self._in_flight += 1

    def _account_wait(self, now: float, wait: float, why: str) -> None:
        """Adds the wait to the total, and says it at most once every RATE_LIMIT_WAIT_LINE_PERIOD_SECONDS."""
        self.waited_seconds += max(0.0, now + wait - max(now, self._waited_until))
        self._waited_until = max(self._waited_until, now + wait)
        if wait >= RATE_LIMIT_WAIT_LINE_MIN_SECONDS and now - self._last_line >= RATE_LIMIT_WAIT_LINE_PERIOD_SECONDS:
            self._last_line = now
            logger.info("waiting %d s for GitLab's rate limit (%s)", math.ceil(wait), why)

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _observe(self, route: str, sent_at: float, status: Optional[int], headers: Optional[Mapping[str, str]]) -> None:
        """Learns from one answer: the window's budget from `RateLimit-*`, and a pause or backoff after a 429."""
        with self._lock:
            now = self._clock()
            window = _window(headers, now, self._wall()) if headers is not None else None
            if window is not None:
                self._learn_window(now, *window)
            template = route_template(route)
            if status != 429:
                if status is not None and status < 400:
                    self._backoffs.pop(template, None)
                return
            self.rate_limited += 1
            told = retry_after_seconds(headers, self._wall()) if headers is not None else None
            if told is None and window is not None:
                told = window[2] - now
            if told is not None:
                self._pause(now + told, f"429 Too Many Requests; GitLab asks to wait {told:.0f} s")
                return
            misses, since, _ = self._backoffs.get(template, (0, -math.inf, -math.inf))
            if sent_at < since:
                return  # sent before the backoff began: one more answer to the same excess, not a new one
            backoff = min(RATE_LIMIT_BACKOFF_CAP_SECONDS, RATE_LIMIT_BACKOFF_FIRST_SECONDS * 2**misses)
            self._backoffs[template] = (misses + 1, now, now + backoff * random.uniform(1.0, 1.25))

    def _learn_window(self, now: float, limit: int, remaining: int, reset_at: float) -> None:
        """Keeps the lowest estimate of what is left in the current window, counting requests still in flight."""
        if reset_at <= now:
            return  # an answer from a window that has ended
        others_in_flight = max(self._in_flight - 1, 0)
        estimate = remaining - others_in_flight
        same_window = self._reset_at is not None and abs(reset_at - self._reset_at) < 0.5
        if same_window and self._remaining is not None:
            estimate = min(estimate, self._remaining)
        self._window_limit, self._remaining, self._reset_at = limit, estimate, reset_at

    def _pause(self, until: float, why: str) -> None:
        jittered = until + random.uniform(0.0, 0.5)
        if jittered > self._paused_until:
            self._paused_until, self._pause_reason = jittered, why


class BudgetSlot:
    """One request's turn: hand it the answer."""

    def __init__(self, budget: RequestBudget, route: str, sent_at: float) -> None:
        self._budget = budget
        self._route = route
        self._sent_at = sent_at

    def observe(self, status: Optional[int], headers: Optional[Mapping[str, str]]) -> None:
        """Tells the budget GitLab's answer (`status` None: no answer came)."""
        self._budget._observe(self._route, self._sent_at, status, headers)


def _window(headers: Mapping[str, str], now: float, wall: float) -> Optional[Tuple[int, int, float]]:
    """(limit, remaining, reset as monotonic seconds) from `RateLimit-*`, or None without them."""
    try:
        limit = int(headers["RateLimit-Limit"])
        remaining = int(headers["RateLimit-Remaining"])
        reset = float(headers["RateLimit-Reset"])
    except (KeyError, ValueError):
        return None
    # a request sent right at the reset may still land in the old window: wait a little past it
    return limit, remaining, now + max(reset - wall, 0.0) + RATE_LIMIT_RESET_MARGIN_SECONDS


def retry_after_seconds(headers: Mapping[str, str], wall: float) -> Optional[float]:
    """`Retry-After` in seconds (it may be seconds or an HTTP date; `wall` is the unix time now), or None."""
    value = (headers.get("Retry-After") or "").strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - wall)
    except (TypeError, ValueError):
        return None
