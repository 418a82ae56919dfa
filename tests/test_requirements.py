"""The locks: every installed distribution is the one the development lock pins, and the runtime, UI and
development locks agree on every version and hold what their `.in` files ask for (see tools/lock.sh)."""

import re
from importlib.metadata import distributions
from pathlib import Path
from typing import Dict

import pytest
from packaging.requirements import Requirement

from tests.utils import REPO

LOCKS = ("requirements", "requirements-ui", "requirements-dev")  # each constrained by the one before it
INSTALLER = {"pip"}  # comes with the venv, and is what installs the lock


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path, this_platform_only: bool = False) -> Dict[str, str]:
    """{distribution: version} of a lock; with `this_platform_only`, those whose environment marker holds here."""
    pinned = {}
    for line in lock.read_text().splitlines():
        if not re.match(r"[A-Za-z0-9]", line):
            continue  # comments and the "# via" annotations
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", line
        if this_platform_only and requirement.marker and not requirement.marker.evaluate():
            continue
        pinned[canonical(requirement.name)] = specifier.version
    return pinned


def test_every_installed_distribution_is_the_one_the_dev_lock_pins():
    installed = {canonical(d.metadata["Name"]): d.version for d in distributions()}
    locked = pins(REPO / "requirements-dev.txt", this_platform_only=True)
    unlocked = {name: version for name, version in installed.items()
                if locked.get(name) != version and name not in INSTALLER}
    missing = {name: version for name, version in locked.items() if installed.get(name) != version}
    assert not unlocked and not missing, (
        f"installed but not as locked: {unlocked}; locked but not installed: {missing}."
        " ./run_tests.sh makes .venv equal to requirements-dev.txt"
    )


@pytest.mark.parametrize("smaller, larger", list(zip(LOCKS, LOCKS[1:])))
def test_each_lock_holds_the_one_before_it_at_the_same_versions(smaller, larger):
    inner, outer = pins(REPO / f"{smaller}.txt"), pins(REPO / f"{larger}.txt")
    assert {name: (version, outer.get(name)) for name, version in inner.items() if outer.get(name) != version} == {}


@pytest.mark.parametrize("name", LOCKS)
def test_each_lock_pins_what_its_in_file_pins(name):
    locked = pins(REPO / f"{name}.txt")
    for line in (REPO / f"{name}.in").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue  # -r / -c lines: the files they name are checked on their own
        requirement = Requirement(line)
        version = locked.get(canonical(requirement.name))
        assert version and requirement.specifier.contains(version), (line, version)

