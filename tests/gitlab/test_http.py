"""The run's HTTP session against the emulator: more threads than connections wait for one, quietly, and every
answer gives its connection back."""

import logging
from concurrent.futures import ThreadPoolExecutor
from threading import Thread
from typing import Any

import pytest
from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException
from requests import Response

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
        emu.hold_until_in_flight(REST_CONNECTIONS)  # the first answers wait until the pool is all in use
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


def test_a_response_hook_that_raises_gives_its_connection_back() -> None:
    def refuse(response: Response, *args: Any, **kwargs: Any) -> None:
        raise IgnoreResponseException  # as dlt's rest_api does for an answer its config ignores

    session = make_session(GitLabRunStats())
    refused = []
    with GitLabEmulator() as emu:

        def ask() -> None:
            for _ in range(2 * REST_CONNECTIONS):  # more than the pool holds: a kept connection would block the rest
                try:
                    session.get(f"{emu.base_url}/api/v4/projects/999999/jobs", hooks={"response": refuse}, timeout=30)
                except IgnoreResponseException:
                    refused.append(True)

        asking = Thread(target=ask, daemon=True)
        asking.start()
        asking.join(timeout=30)
    assert not asking.is_alive() and len(refused) == 2 * REST_CONNECTIONS
