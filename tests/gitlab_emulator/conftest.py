"""Fixtures for the emulator tests: a shared read-only emulator and HTTP helpers.

Tests that change the world (advance, erase, drift) take the private `emulator` of tests/conftest.py.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest
import requests

from gitlab_emulator import TOKENS, GitLabEmulator


@pytest.fixture(scope="session")
def shared_emulator() -> Iterator[GitLabEmulator]:
    """A default-world emulator shared by tests that only read (never advance, erase or drift it)."""
    with GitLabEmulator() as emu:
        yield emu


def _session_for(token: str = "maintainer") -> requests.Session:
    """A requests session sending one of the emulator's tokens as PRIVATE-TOKEN (or Bearer for oauth)."""
    session = requests.Session()
    if token == "oauth":
        session.headers["Authorization"] = f"Bearer {TOKENS['oauth']}"
    elif token == "job":
        session.headers["JOB-TOKEN"] = TOKENS["job"]
    else:
        session.headers["PRIVATE-TOKEN"] = TOKENS[token]
    return session


@pytest.fixture(scope="session")
def api() -> requests.Session:
    """A maintainer session."""
    return _session_for("maintainer")


@pytest.fixture(scope="session")
def session_for() -> Callable[[str], requests.Session]:
    """Builds a session for one of the TOKENS names ("maintainer", "reporter", "oauth", "job")."""
    return _session_for


@pytest.fixture(scope="session")
def follow() -> Callable[..., tuple[list[dict], int]]:
    """The Link-following collector (see `_follow`)."""
    return _follow


def _follow(session: requests.Session, url: str, params: dict[str, Any] | None = None) -> tuple[list[dict], int]:
    """GETs a collection and follows Link rel="next" to the end; returns the rows and the number of pages."""
    response = session.get(url, params=params)
    rows: list[dict] = []
    pages = 0
    while True:
        assert response.status_code == 200, response.text
        rows.extend(response.json())
        pages += 1
        following = response.links.get("next")
        if not following:
            return rows, pages
        response = session.get(following["url"])
