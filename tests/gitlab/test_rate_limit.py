"""The request budget on a simulated clock, against the emulator's own fixed-window limiter: caps, headers, 429s."""

import bisect
import logging
import re
from typing import Dict, List, Optional, Tuple

import pytest

from gitlab.errors import GitLabSourceError
from gitlab.rate_limit import (
    GITLAB_COM_LIMITS,
    GITLAB_COM_PRESET,
    NO_CAPS,
    RequestBudget,
    RequestBudgetConfiguration,
    RequestLimits,
    make_budget,
)
from gitlab_emulator.faults import RateLimiter

API = "https://gitlab.example.com/api/v4"
WAITING = re.compile(r"^waiting \d+ s for GitLab's rate limit \(.+\)$")


class SimulatedClock:
    """Monotonic and unix time that only move when a request takes time or a caller sleeps."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def simulated_budget(clock: SimulatedClock, limits: RequestLimits = NO_CAPS,
                     max_run_minutes: Optional[float] = None) -> RequestBudget:
    return RequestBudget(limits, max_run_minutes, clock=clock, wall=clock.wall, sleep=clock.sleep)


def send(budget: RequestBudget, clock: SimulatedClock, path: str, server: Optional[RateLimiter] = None,
         with_headers: bool = True, sent: Optional[List[Tuple[float, str]]] = None) -> int:
    """One request through the budget to a GitLab limited by `server` (that sends RateLimit-* headers, unless
    it is a per-endpoint limit); it takes 50 ms. When it went is added to `sent`."""
    with budget.request(API + path) as slot:
        if sent is not None:
            sent.append((clock.now, path))
        decision = server.hit() if server is not None else None
        clock.now += 0.05
        status = 429 if decision is not None and decision.limited else 200
        slot.observe(status, decision.headers if decision is not None and with_headers else {})
    return status


def most_in_any_window(times: List[float], seconds: float) -> int:
    """The most requests sent less than `seconds` apart."""
    return max((bisect.bisect_left(times, start + seconds) - index for index, start in enumerate(times)), default=0)


def test_the_gitlab_com_preset_stays_inside_its_documented_limits_with_headroom():
    clock = SimulatedClock()
    budget = simulated_budget(clock, GITLAB_COM_PRESET)
    one_group = [
        "/groups", "/groups/7", "/groups/7/projects", *["/projects/3", "/projects/3/members"] * 5,
        *["/projects/3/jobs", "/projects/3/pipelines/5/jobs"] * 20, *["/projects/3/jobs/9/trace"] * 100,
    ]
    sent: List[Tuple[float, str]] = []
    for number in range(10_000):
        send(budget, clock, one_group[number % len(one_group)], sent=sent)

    times = [at for at, _ in sent]
    assert most_in_any_window(times, 60) <= 0.8 * GITLAB_COM_LIMITS.per_minute
    assert most_in_any_window(times, 3_600) <= 0.8 * GITLAB_COM_LIMITS.per_hour
    assert clock.now - 1_000 > 3_600, "10,000 requests take more than an hour under the Free plan's 5,000"
    for cap in GITLAB_COM_LIMITS.routes:
        matching = [at for at, path in sent if re.search(cap.pattern, path)]
        assert most_in_any_window(matching, 60) <= 0.8 * cap.per_minute, cap.pattern


def test_it_paces_before_the_window_runs_out_and_gets_no_429():
    clock = SimulatedClock()
    server = RateLimiter(5, 10, monotonic=clock, wall=clock.wall)
    budget = simulated_budget(clock)
    statuses = [send(budget, clock, "/projects/3/issues", server) for _ in range(40)]
    assert statuses.count(429) == 0
    assert clock.now - 1_000 >= 70, "40 requests at 5 per 10 s need seven more windows"


def test_a_429_with_retry_after_holds_every_endpoint():
    clock = SimulatedClock()
    budget = simulated_budget(clock)
    with budget.request(API + "/projects/3/issues") as slot:
        slot.observe(429, {"Retry-After": "30"})
    started = clock.now
    send(budget, clock, "/projects/4/labels")
    assert clock.now - started >= 30
    assert budget.rate_limited == 1


def test_a_429_without_headers_backs_off_that_endpoint_only():
    clock = SimulatedClock()
    per_endpoint = RateLimiter(1, 10, monotonic=clock, wall=clock.wall)
    budget = simulated_budget(clock)
    statuses = []
    while 200 not in statuses[1:]:
        statuses.append(send(budget, clock, f"/projects/{len(statuses)}/members", per_endpoint, with_headers=False))
        other = clock.now
        send(budget, clock, "/projects/3/labels")
        assert clock.now - other < 1, "another endpoint does not wait for the members' backoff"
    assert statuses[0] == 200 and 429 in statuses
    assert len(statuses) < 10, "the backoff grows until the endpoint's window has passed"


def test_a_wait_past_the_deadline_ends_the_run_at_once():
    clock = SimulatedClock()
    budget = simulated_budget(clock, max_run_minutes=5)
    with budget.request(API + "/projects/3/issues") as slot:
        slot.observe(429, {"Retry-After": "3600"})
    started = clock.now
    with pytest.raises(GitLabSourceError, match=r"max_run_minutes \(5\).*429 Too Many Requests"):
        send(budget, clock, "/projects/3/issues")
    assert clock.now == started, "it did not wait for a turn it could never get"


def test_waiting_is_said_at_most_every_ten_seconds(caplog):
    clock = SimulatedClock()
    server = RateLimiter(2, 10, monotonic=clock, wall=clock.wall)
    budget = simulated_budget(clock)
    with caplog.at_level(logging.INFO, logger="gitlab.rate_limit"):
        for _ in range(30):
            send(budget, clock, "/projects/3/issues", server)
    lines = [record.getMessage() for record in caplog.records if record.name == "gitlab.rate_limit"]
    assert lines and all(WAITING.match(line) for line in lines), lines
    assert len(lines) <= 1 + (clock.now - 1_000) / 10
    assert "RateLimit-Remaining 0 of 2" in lines[0]


@pytest.mark.parametrize("api_url, most", [("https://gitlab.example.com/api/v4", 600), ("https://gitlab.com/api/v4", 480)])
def test_on_every_host_the_job_list_keeps_to_gitlabs_600_a_minute(api_url, most, caplog):
    clock = SimulatedClock()
    budget = simulated_budget(clock, make_budget(api_url, RequestBudgetConfiguration()).limits)
    project_jobs_limit = RateLimiter(600, 60, monotonic=clock, wall=clock.wall)  # GitLab's own: no RateLimit headers
    sent: List[Tuple[float, str]] = []
    with caplog.at_level(logging.INFO, logger="gitlab.rate_limit"):
        statuses = [send(budget, clock, "/projects/3/jobs", project_jobs_limit, with_headers=False, sent=sent)
                    for _ in range(3 * most)]
        other = clock.now
        send(budget, clock, "/projects/3/pipelines/5/jobs")

    times = [at for at, _ in sent]
    assert statuses.count(429) == 0
    assert most_in_any_window(times, 60) == most
    assert times[most - 1] - times[0] == pytest.approx((most - 1) * 0.05), "up to the cap, nothing waits"
    assert clock.now - other < 1, "a pipeline's jobs are another endpoint, not held by the list's cap"
    lines = [record.getMessage() for record in caplog.records if record.name == "gitlab.rate_limit"]
    assert lines and all(WAITING.match(line) for line in lines), lines
    assert f"pacing /projects/:id/jobs under {most} a minute" in lines[0]


@pytest.mark.parametrize(
    "api_url, settings, expected",
    [
        ("https://gitlab.com/api/v4", {}, (1_600, 4_000, len(GITLAB_COM_LIMITS.routes))),
        ("https://gitlab.com/api/v4", {"requests_per_hour": 0, "requests_per_minute": 600}, (600, None, 6)),
        ("https://gitlab.example.com/api/v4", {}, (None, None, 1)),
        ("https://gitlab.example.com/api/v4", {"requests_per_minute": 30}, (30, None, 1)),
    ],
)
def test_make_budget_presets_gitlab_com_and_takes_your_caps(api_url, settings: Dict, expected):
    budget = make_budget(api_url, RequestBudgetConfiguration(**settings))
    assert (budget.limits.per_minute, budget.limits.per_hour, len(budget.limits.routes)) == expected


def test_make_budget_refuses_a_negative_cap():
    with pytest.raises(GitLabSourceError, match="requests_per_minute"):
        make_budget(API, RequestBudgetConfiguration(requests_per_minute=-1))
