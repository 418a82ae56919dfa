"""Lint and types of the product code, as configured in pyproject.toml: ruff and mypy must be clean."""

import subprocess
import sys

import pytest

from tests.utils import REPO

PRODUCT = ["gitlab", "rest_api", "gitlab_pipeline.py", "dags", "app"]


@pytest.mark.parametrize(
    "tool, args",
    [("ruff", ["check", *PRODUCT]), ("ruff", ["format", "--check", *PRODUCT]), ("mypy", [])],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_the_product_code_is_clean(tool, args):
    result = subprocess.run(
        [sys.executable, "-m", tool, *args], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
