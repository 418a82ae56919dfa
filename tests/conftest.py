"""Fixtures: a GitLab emulator on 127.0.0.1 and a workspace where the CLI runs as a user would."""

import itertools
import re
from typing import Iterator

import pytest

from gitlab_emulator import TOKENS, GitLabEmulator
from tests.postgres_server import PostgresServer
from tests.utils import Workspace

DESTINATIONS = ["duckdb", "postgres"]
_DATABASE_NUMBERS = itertools.count()


@pytest.fixture
def emulator() -> Iterator[GitLabEmulator]:
    """A fresh default-world emulator, private to the test (tests may advance it)."""
    with GitLabEmulator() as emu:
        yield emu


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL cluster on 127.0.0.1 for the whole run."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_dsn(postgres_server, request) -> str:
    """A fresh database of the throwaway server, owned by a least-privilege role, for one test."""
    name = "t_" + re.sub(r"\W+", "_", request.node.name).lower()[-40:] + f"_{next(_DATABASE_NUMBERS)}"
    postgres_server.create_role(name, password=f"pw-{name}")
    postgres_server.create_database(name, owner=name)
    return postgres_server.dsn(name, user=name, password=f"pw-{name}")


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    """A folder with the repo's .dlt config and a maintainer token in GITLAB_TOKEN; loads DuckDB."""
    return Workspace(tmp_path, TOKENS["maintainer"])


@pytest.fixture(params=DESTINATIONS)
def any_workspace(request, tmp_path) -> Workspace:
    """Like `workspace`, once per destination: DuckDB, and PostgreSQL on a real server."""
    if request.param == "duckdb":
        return Workspace(tmp_path, TOKENS["maintainer"])
    return Workspace(tmp_path, TOKENS["maintainer"], "postgres", request.getfixturevalue("postgres_dsn"))
