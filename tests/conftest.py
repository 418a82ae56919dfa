"""Fixtures: a GitLab emulator on 127.0.0.1 and a workspace where the CLI runs as a user would."""

from typing import Iterator

import pytest

from gitlab_emulator import TOKENS, GitLabEmulator
from tests.utils import Workspace


@pytest.fixture
def emulator() -> Iterator[GitLabEmulator]:
    """A fresh default-world emulator, private to the test (tests may advance it)."""
    with GitLabEmulator() as emu:
        yield emu


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    """A folder with the repo's .dlt config and a maintainer token in GITLAB_TOKEN."""
    return Workspace(tmp_path, TOKENS["maintainer"])
