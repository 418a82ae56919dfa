"""The docs tell the truth: their config examples parse, their commands run the project's virtualenv, and every
flag they name exists."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from tests.utils import CLI, REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
CONFIG_FILES = [
    REPO / ".dlt" / "config.toml",
    REPO / ".dlt" / "secrets.toml.example",
    REPO / "dags" / ".dlt" / "config.toml",
]
# commands that need the project's packages: from a fresh clone they work only with the virtualenv's tools
PROJECT_COMMAND = re.compile(
    r"(?:^|[\s`(])((?:\S*/)?(?:python3?|pytest|streamlit|dlt)\b)\s+(?:-m\s+\S+|\S*\.py|run|pipeline)"
)


def _blocks(doc: Path, *languages: str) -> Iterator[Tuple[str, str]]:
    for match in re.finditer(r"```(\w*)\n(.*?)```", doc.read_text(), re.S):
        if match.group(1) in languages:
            yield match.group(1), match.group(2)


def _code(doc: Path) -> List[str]:
    """Every line of a shell block, and every inline code span outside blocks."""
    text = doc.read_text()
    lines = [line for _, block in _blocks(doc, "sh", "bash", "shell", "") for line in block.splitlines()]
    outside = re.sub(r"```.*?```", "", text, flags=re.S)
    return lines + re.findall(r"`([^`\n]+)`", outside)


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_toml_example_parses_and_its_patterns_compile(doc):
    for _, block in _blocks(doc, "toml"):
        parsed = tomllib.loads(block)
        for pattern in parsed.get("sources", {}).get("gitlab", {}).get("secret_patterns", {}).values():
            re.compile(pattern)


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda path: str(path.relative_to(REPO)))
def test_the_shipped_config_files_parse(path):
    tomllib.loads(path.read_text())


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_commands_use_the_virtualenv(doc):
    system_tools = [
        code
        for code in _code(doc)
        for tool in PROJECT_COMMAND.findall(code)
        if not tool.startswith(".venv/bin/")
        and "/.venv/bin:" not in code
        and "python3 -m venv" not in code
        and not re.search(r"python3 tools/\w+\.py", code)  # the tools' own scripts need only the standard library
    ]
    assert system_tools == [], "use .venv/bin/..., or put .venv/bin first on PATH"


def test_every_flag_the_readme_names_exists():
    help_text = subprocess.run([sys.executable, str(CLI), "--help"], capture_output=True, text=True).stdout
    erase_help = subprocess.run(
        [sys.executable, str(CLI), "erase-leaky-jobs", "--help"], capture_output=True, text=True
    ).stdout
    readme = REPO / "README.md"
    named = {
        flag
        for code in _code(readme)
        if "gitlab_pipeline.py" in code or code.startswith("--")
        for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]+", code)
    }
    assert named, "the README names no flag"
    missing = sorted(flag for flag in named if flag not in help_text + erase_help)
    assert missing == []
