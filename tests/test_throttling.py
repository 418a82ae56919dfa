"""Throttling only slows a run down: the REST lists and the job logs share one request budget that follows
GitLab's rate limits, says why it waits, and the load ends exact (issue 11)."""

import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

from gitlab_emulator import GitLabEmulator, World, seed_tiny_world, seed_world
from tests.utils import assert_children_carry_parent_keys, assert_job_logs_equal_truth, assert_load_equals_truth

FAULT_RATE = 0.05
WAITING = re.compile(r"waiting \d+ s for GitLab's rate limit \(.+\)")
WAIT_LINE_PERIOD_SECONDS = 10


@dataclass(frozen=True)
class Throttle:
    """A GitLab that limits requests: the world, its limits and what to load from it."""

    world: Callable[[], World]
    rate_limit: Tuple[int, float]
    args: Tuple[str, ...]
    scope: Dict[str, Any]
    route_limits: Optional[List[Tuple[str, int, float]]] = None


# A self-managed GitLab's admin sets requests per period; these are 60 a minute and 300 a minute over 5-second
# periods (a group's first load lists jobs per project: about 100 requests, two periods' worth). Periods shorter
# than the 10 s between two "waiting" lines make the run wait more often than it may say so.
THROTTLES = {
    "one project at 60 requests a minute": Throttle(
        seed_tiny_world, (5, 5), ("--project", "acme/app"), {"groups": (), "projects": ("acme/app",)}
    ),
    "a group at 300 requests a minute, members limited per endpoint without RateLimit headers": Throttle(
        seed_world, (25, 5), ("--group", "acme/data"), {"groups": ("acme/data",)},
        route_limits=[(r"/members$", 1, 10), (r"^/api/v4/groups/[^/]+/projects$", 1, 10)],
    ),
}


@pytest.mark.parametrize("name", list(THROTTLES))
def test_a_throttled_gitlab_with_faults_is_loaded_exactly(workspace, name):
    throttle = THROTTLES[name]
    with GitLabEmulator(world=throttle.world(), rate_limit=throttle.rate_limit,
                        route_limits=throttle.route_limits, fault_rate=FAULT_RATE) as emulator:
        started = time.monotonic()
        result = workspace.run("--base-url", emulator.base_url, *throttle.args, timeout=900)
        elapsed = time.monotonic() - started

        assert result.returncode == 0, result.output
        assert "Traceback" not in result.output
        assert_load_equals_truth(workspace, emulator, **throttle.scope)
        assert_children_carry_parent_keys(workspace)
        assert_job_logs_equal_truth(workspace, emulator, **throttle.scope)
        statuses = Counter(record.status for record in emulator.requests)

    limit, _ = throttle.rate_limit
    assert sum(statuses.values()) > 2 * limit, "the load must need more than one period's requests"
    waits = [line for line in result.stderr.splitlines() if WAITING.search(line)]
    assert waits, f"no line said the run was waiting:\n{result.stderr}"
    assert len(waits) <= 1 + elapsed / WAIT_LINE_PERIOD_SECONDS, waits
    # paced before the limit from RateLimit-Remaining, rather than answered 429 and retried
    assert statuses[429] <= sum(statuses.values()) // 5, statuses


def test_a_deadline_ends_a_run_the_rate_limit_would_keep_waiting(workspace):
    with GitLabEmulator(world=seed_tiny_world(), rate_limit=(3, 3600)) as emulator:
        result = workspace.run("--base-url", emulator.base_url, "--project", "acme/app",
                               env={"SOURCES__GITLAB__MAX_RUN_MINUTES": "0.2"})
        requests_sent = len(emulator.requests)
    assert "max_run_minutes" in result.error and "rate limit" in result.error
    assert requests_sent < 10, "it stopped asking once it knew the wait would pass the deadline"
    assert not workspace.duckdb_path.exists() or not workspace.tables()
