"""The run's HTTP session against the emulator: more threads than connections wait for one, quietly."""

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from gitlab.http import make_session
from gitlab.run_stats import GitLabRunStats
from gitlab.settings import REST_CONNECTIONS
from gitlab_emulator import TOKENS, GitLabEmulator

LATENCY_SECONDS = 0.2  # long enough for every thread to be asking at once


def test_more_threads_than_connections_wait_for_one_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    stats = GitLabRunStats()
    session = make_session(stats)
    senders = 3 * REST_CONNECTIONS
    with GitLabEmulator(latency_seconds=LATENCY_SECONDS) as emu, ThreadPoolExecutor(senders) as pool:
        url = f"{emu.base_url}/api/v4/projects"
        with caplog.at_level(logging.WARNING):
            answers = list(
                pool.map(
                    lambda _: session.get(url, headers={"PRIVATE-TOKEN": TOKENS["maintainer"]}, timeout=30).status_code,
                    range(senders),
                )
            )
        assert answers == [200] * senders and stats.requests == senders
        assert emu.peak_in_flight == REST_CONNECTIONS  # every connection in use, and not one more
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING] == []
