"""Rate limiting, fault injection, latency, server-side concurrency and the request counters."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from gitlab_emulator import TOKENS, GitLabEmulator
from gitlab_emulator.clock import ManualClock
from gitlab_emulator.faults import Outage, RateLimiter

HEADERS = {"PRIVATE-TOKEN": TOKENS["maintainer"]}


def test_rate_limit_answers_429_with_headers() -> None:
    clock = ManualClock(1_700_000_000.0)
    with GitLabEmulator(rate_limit=(5, 30), rate_limit_clock=clock) as emu:
        url = f"{emu.base_url}/api/v4/projects"
        answers = [requests.get(url, headers=HEADERS) for _ in range(7)]
        clock.advance(29)
        still = requests.get(url, headers=HEADERS)
        clock.advance(1)
        fresh = requests.get(url, headers=HEADERS)
    assert [r.status_code for r in answers] == [200] * 5 + [429] * 2
    ok, limited = answers[0], answers[5]
    assert ok.headers["RateLimit-Limit"] == "5" and ok.headers["RateLimit-Observed"] == "1"
    assert ok.headers["RateLimit-Remaining"] == "4" and "Retry-After" not in ok.headers
    assert limited.text == "Retry later\n" and limited.headers["RateLimit-Remaining"] == "0"
    assert limited.headers["RateLimit-Observed"] == "6" and limited.headers["Retry-After"] == "30"
    assert limited.headers["RateLimit-Reset"] == "1700000030"
    assert limited.headers["RateLimit-ResetTime"] == "Tue, 14 Nov 2023 22:13:50 GMT"
    assert still.status_code == 429 and still.headers["Retry-After"] == "1"
    assert fresh.status_code == 200 and fresh.headers["RateLimit-Observed"] == "1"
    assert fresh.headers["RateLimit-Reset"] == "1700000060"
    assert [r.status for r in emu.requests] == [200] * 5 + [429] * 3 + [200]


def test_rate_limit_window_resets() -> None:
    clock = [100.0]
    limiter = RateLimiter(2, 10, monotonic=lambda: clock[0], wall=lambda: 1_700_000_000 + clock[0])
    assert [limiter.hit().limited for _ in range(3)] == [False, False, True]
    clock[0] += 9.5
    denied = limiter.hit()
    assert denied.limited and denied.headers["Retry-After"] == "1"
    clock[0] += 0.5
    fresh = limiter.hit()
    assert not fresh.limited and fresh.headers["RateLimit-Observed"] == "1"
    assert fresh.headers["RateLimit-Reset"] == str(1_700_000_000 + 120)


def test_faults_hit_only_matching_paths_and_are_recorded() -> None:
    with GitLabEmulator(fault_rate=0.6, fault_path_pattern=r"/trace$") as emu:
        api_id = emu.world.project_by_path["acme/platform/api"].id
        job = next(j for j in emu.world.project_jobs[api_id] if j.status == "success")
        trace_url = f"{emu.base_url}/api/v4/projects/{job.project_id}/jobs/{job.id}/trace"
        outcomes = []
        for _ in range(40):
            try:
                outcomes.append(requests.get(trace_url, headers=HEADERS, timeout=5).status_code)
            except requests.ConnectionError:
                outcomes.append(0)
        others = [requests.get(f"{emu.base_url}/api/v4/projects/{api_id}/jobs", headers=HEADERS).status_code
                  for _ in range(10)]
        records = emu.requests
    assert others == [200] * 10
    assert 200 in outcomes and {0, 500, 502, 503} & set(outcomes)
    assert set(outcomes) <= {0, 200, 500, 502, 503}
    assert [r.status for r in records if r.path.endswith("/trace")] == outcomes
    assert emu.request_count(r"/trace$") == 40 and emu.request_count(rf"^/api/v4/projects/{api_id}/jobs$") == 10


def test_server_error_bodies() -> None:
    with GitLabEmulator(fault_rate=1.0) as emu:
        seen: dict[int, requests.Response] = {}
        for _ in range(30):
            try:
                response = requests.get(f"{emu.base_url}/api/v4/version", headers=HEADERS, timeout=5)
                seen[response.status_code] = response
            except requests.ConnectionError:
                seen[0] = None  # type: ignore[assignment]
    assert set(seen) == {0, 500, 502, 503}
    assert seen[500].json() == {"message": "500 Internal Server Error"}
    assert "502 Bad Gateway" in seen[502].text and seen[503].headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("max_concurrency", [None, 2])
def test_peak_in_flight_and_queueing(max_concurrency: int | None) -> None:
    with GitLabEmulator(latency_seconds=0.05, max_concurrency=max_concurrency) as emu:
        url = f"{emu.base_url}/api/v4/version"
        emu.reset_counters()
        emu.hold_until_in_flight(8)
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: requests.get(url, headers=HEADERS).status_code, range(8)))
        assert statuses == [200] * 8
        # all eight arrived together; the worker pool lets only max_concurrency of them be served at once
        assert emu.peak_in_flight == 8 and emu.peak_serving == (max_concurrency or 8)
        emu.reset_counters()
        assert emu.requests == [] and emu.peak_in_flight == 0 and emu.peak_serving == 0


def test_a_gathering_that_never_fills_lets_requests_go() -> None:
    with GitLabEmulator() as emu:
        emu.hold_until_in_flight(2, timeout_seconds=0.2)
        assert requests.get(f"{emu.base_url}/api/v4/version", headers=HEADERS).status_code == 200
        assert requests.get(f"{emu.base_url}/api/v4/version", headers=HEADERS).status_code == 200
        assert emu.peak_in_flight == 1


def test_an_outage_fails_the_requests_it_counts_and_ends_with_its_block() -> None:
    with GitLabEmulator() as emu:
        jobs = f"{emu.base_url}/api/v4/projects/acme%2Fplatform%2Fapi/jobs"
        with emu.outage(r"/jobs$", after=2, count=3, status=503) as burst:
            during = [requests.get(jobs, headers=HEADERS).status_code for _ in range(6)]
            other = requests.get(f"{emu.base_url}/api/v4/version", headers=HEADERS).status_code
        assert during == [200, 200, 503, 503, 503, 200] and other == 200
        assert (burst.matched, burst.failed) == (6, 3)
        with emu.outage(r"/jobs$", after=1, status=429, retry_after_seconds=7):
            limited = [requests.get(jobs, headers=HEADERS) for _ in range(4)]
        assert [r.status_code for r in limited] == [200, 429, 429, 429]
        assert limited[1].text == "Retry later\n" and limited[1].headers["Retry-After"] == "7"
        assert requests.get(jobs, headers=HEADERS).status_code == 200
        assert [r.status for r in emu.requests] == [*during, other, *(r.status_code for r in limited), 200]
    with pytest.raises(ValueError, match="answers one of"):
        Outage(r"/jobs$", status=418)
        assert emu.requests == [] and emu.peak_in_flight == 0


def test_route_limits_answer_429_like_gitlab_application_limits() -> None:
    with GitLabEmulator(rate_limit=(100, 60), route_limits=[(r"/members$", 2, 30)]) as emu:
        api_id = emu.world.project_by_path["acme/platform/api"].id
        members = [requests.get(f"{emu.base_url}/api/v4/projects/{api_id}/members", headers=HEADERS)
                   for _ in range(3)]
        other = requests.get(f"{emu.base_url}/api/v4/projects/{api_id}/labels", headers=HEADERS)
    assert [r.status_code for r in members] == [200, 200, 429] and other.status_code == 200
    limited = members[2]
    assert limited.json() == {"message": {"error": "This endpoint has been requested too many times. Try again later."}}
    assert not any(name.lower().startswith("ratelimit-") for name in limited.headers)
    assert "Retry-After" not in limited.headers
    assert members[0].headers["RateLimit-Limit"] == "100", "other answers keep the global limit's headers"
    assert other.headers["RateLimit-Observed"] == "4", "a request refused by a route limit counts globally too"


def test_faults_can_be_changed_while_serving() -> None:
    with GitLabEmulator(fault_rate=1.0, fault_path_pattern=r"/labels$") as emu:
        api_id = emu.world.project_by_path["acme/platform/api"].id
        url = f"{emu.base_url}/api/v4/projects/{api_id}/labels"

        def status() -> int:
            try:
                return requests.get(url, headers=HEADERS, timeout=5).status_code
            except requests.ConnectionError:
                return 0

        storm = [status() for _ in range(5)]
        emu.set_faults(0)
        healed = [status() for _ in range(5)]
    assert set(storm) <= {0, 500, 502, 503} and healed == [200] * 5
